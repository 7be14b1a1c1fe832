"""The attention explorer: look at attention weights [layers, heads, T, T] token by token.

Two front ends share one drawing code (``static/attention_explorer.js``):

- ``show_attention(tokens, weights)`` returns an object whose ``_repr_html_`` is one
  self-contained HTML block (script, style and the weights inlined; no CDN, no require.js), so
  it stays interactive on the static website without a kernel: sentence, layer, head or the
  average of heads, a display temperature, heatmap or lines, hover/click a token for its top-k.
- ``attention_explorer(model, tokenizer)`` is the live version for a kernel (ipywidgets): type
  a sentence, the ``GPT`` recomputes its weights.

The weights travel as JSON: per row, ``round(1000 * ln w)`` (null for a weight of exactly 0,
trailing nulls dropped). Storing log-weights keeps the display temperature exact even for tiny
weights: ``w^(1/τ)`` renormalised per row equals ``softmax(logits / τ)`` (see
``apply_temperature``), and decoding gives every weight back to within 0.05 % of its value.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
from importlib import resources

import numpy as np
import torch

SCALE = 1000                 # log-weights are stored as integers in units of 1/SCALE nats
_ids = itertools.count()     # explorers shown by this process, for unique element ids


def apply_temperature(weights, tau: float):
    """Display temperature: ``w^(1/τ)`` renormalised along the last axis.

    If ``w = softmax(s)`` then this equals ``softmax(s / τ)`` exactly (the normaliser of the
    first softmax cancels), so a temperature can be applied to stored weights without the
    logits. Zero weights (masked keys) stay zero; an all-zero row stays zero. Accepts a numpy
    array or a torch tensor and returns the same kind.
    """
    if not tau > 0:
        raise ValueError(f"temperature must be > 0, got {tau}")
    if isinstance(weights, torch.Tensor):
        z = torch.log(weights) / tau
        out = torch.softmax(z, dim=-1)
        return torch.nan_to_num(out, nan=0.0)      # rows of -inf (no visible key) -> 0
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore"):
        z = np.log(w) / tau
    m = z.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(z - m)
    s = e.sum(axis=-1, keepdims=True)
    return np.divide(e, s, out=np.zeros_like(e), where=s > 0)


def _as_weights(tokens, weights) -> tuple[list[str], np.ndarray]:
    """Validate one sentence and bring its weights to a float64 array [L, H, T, T]."""
    if isinstance(tokens, str) or not hasattr(tokens, "__len__"):
        raise ValueError("tokens must be a list of strings, one per position, e.g. list('你好') "
                         f"(got {type(tokens).__name__})")
    tokens = [str(t) for t in tokens]
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2:
        w = w[None, None]
    elif w.ndim == 3:
        w = w[None]
    if w.ndim != 4:
        hint = (" GPT(..., return_attention=True) returns [layers, batch, heads, T, T]: pick one "
                "sequence, e.g. weights[:, 0]." if w.ndim == 5 else "")
        raise ValueError(f"weights must have shape [layers, heads, T, T] (or [heads, T, T] or "
                         f"[T, T]), got {w.ndim} dimensions {tuple(w.shape)}.{hint}")
    L, H, Tq, Tk = w.shape
    if Tq != Tk:
        raise ValueError(f"self-attention weights must be square in the last two dimensions, got "
                         f"{Tq} queries x {Tk} keys")
    if Tq != len(tokens):
        raise ValueError(f"weights cover T={Tq} positions but {len(tokens)} tokens were given; "
                         "pass exactly one token string per position")
    if min(L, H, Tq) == 0:
        raise ValueError(f"nothing to show: weights have shape {tuple(w.shape)}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative (attention weights after softmax)")
    sums = w.sum(-1)
    bad = (np.abs(sums - 1) > 1e-2) & (sums > 0)
    if bad.any():
        l, h, i = np.argwhere(bad)[0]
        raise ValueError(f"each row of attention weights must sum to 1 (or be all 0); row {i} of layer "
                         f"{l}, head {h} sums to {sums[l, h, i]:.4f}. Pass weights after softmax, "
                         "not scores")
    return tokens, w


def _encode_rows(w: np.ndarray) -> list:
    """[L, H, T, T] weights -> nested lists of rows of round(SCALE * ln w), null for 0."""
    with np.errstate(divide="ignore"):
        q = np.round(np.log(w) * SCALE)
    out = []
    for layer in q:
        heads = []
        for mat in layer:
            rows = []
            for row in mat:
                finite = np.flatnonzero(np.isfinite(row))
                n = finite[-1] + 1 if len(finite) else 0
                rows.append([int(v) if np.isfinite(v) else None for v in row[:n]])
            heads.append(rows)
        out.append(heads)
    return out


def _static(name: str) -> str:
    return (resources.files("llmbook_lib") / "static" / name).read_text(encoding="utf-8")


def _json_for_html(obj) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' characters."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class AttentionView:
    """What ``show_attention`` returns: displays itself as the explorer in a notebook."""

    def __init__(self, html_block: str, summary: str):
        self.html = html_block
        self._summary = summary

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<AttentionView: {self._summary}>"

    def save(self, path) -> None:
        """Write a standalone HTML page (opens in any browser, offline)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write('<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
                    f"<title>注意力浏览器</title></head><body>\n{self.html}\n</body></html>\n")


def show_attention(tokens, weights=None, *, titles: list[str] | None = None, title: str | None = None,
                   layer: int = 0, head: int | str = "mean", temperature: float = 1.0,
                   view: str = "heatmap", top_k: int = 5, controls: bool = True) -> AttentionView:
    """An interactive, self-contained view of attention weights.

    ``show_attention(tokens, weights)`` for one sentence (weights [layers, heads, T, T], numpy
    or torch; [heads, T, T] and [T, T] also work), or ``show_attention([(tokens, weights), ...],
    titles=[...])`` for several prepared sentences with the same number of layers and heads.
    ``layer``, ``head`` (an index or "mean"), ``temperature`` and ``view`` ("heatmap" or
    "lines") set what is shown first; ``controls=False`` hides the controls (the live widget
    brings its own).
    """
    if weights is None:
        pairs = list(tokens)
        if not pairs or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
            raise ValueError("pass show_attention(tokens, weights) or show_attention([(tokens, weights), ...])")
    else:
        pairs = [(tokens, weights)]
    sentences = [_as_weights(t, w) for t, w in pairs]
    shapes = {w.shape[:2] for _, w in sentences}
    if len(shapes) > 1:
        raise ValueError(f"all sentences must have the same [layers, heads]; got {sorted(shapes)}")
    L, H = sentences[0][1].shape[:2]
    if titles is not None and len(titles) != len(sentences):
        raise ValueError(f"{len(titles)} titles for {len(sentences)} sentences")
    if not 0 <= layer < L:
        raise ValueError(f"layer must lie in 0..{L - 1}, got {layer}")
    if head != "mean" and not (isinstance(head, (int, np.integer)) and 0 <= head < H):
        raise ValueError(f"head must be 'mean' or an index in 0..{H - 1}, got {head!r}")
    if view not in ("heatmap", "lines"):
        raise ValueError(f"view must be 'heatmap' or 'lines', got {view!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    payload = {
        "format": "llmbook-attention/1", "scale": SCALE, "top_k": int(top_k), "controls": bool(controls),
        "init": {"layer": int(layer), "head": head if head == "mean" else int(head),
                 "temperature": float(temperature), "view": view},
        "sentences": [{"title": (titles[i] if titles else "".join(t)[:40]), "tokens": t,
                       "L": int(w.shape[0]), "H": int(w.shape[1]), "logw": _encode_rows(w)}
                      for i, (t, w) in enumerate(sentences)],
    }
    data = _json_for_html(payload)
    uid = f"llmb-attn-{hashlib.sha1(data.encode()).hexdigest()[:10]}-{next(_ids)}"
    head_html = f'<div class="llmb-attn-title">{html.escape(title)}</div>' if title else ""
    block = (
        f'<div class="llmb-attn" id="{uid}">{head_html}'
        f"<style>{_static('attention_explorer.css')}</style>"
        '<div class="llmb-attn-app"><div class="llmb-attn-fallback">（交互式注意力浏览器需要 JavaScript。'
        "在 JupyterLab 或 Notebook 中看不到它时，请信任本笔记本或重新运行这一格。）</div></div>"
        f'<script type="application/json" class="llmb-attn-data">{data}</script>'
        f"<script>{_static('attention_explorer.js')}\n"
        f'LLMBookAttention.mount(document.getElementById("{uid}") || '
        "(document.currentScript && document.currentScript.parentNode));</script></div>"
    )
    T = [len(t) for t, _ in sentences]
    return AttentionView(block, f"{len(sentences)} sentence(s), {L} layer(s) x {H} head(s), T={T}")


# ---------------------------------------------------------------------------------------------
# Live explorer (a kernel is needed): recompute the weights of a GPT for any typed sentence.
# ---------------------------------------------------------------------------------------------
def attention_input(text: str, tokenizer, block_size: int):
    """Check and encode a sentence for the live explorer.

    Returns ``(ids, tokens, message)``: on success ``message`` is ``""``; otherwise ``ids`` is
    None and ``message`` says in Chinese what is wrong (the widget shows it instead of a
    traceback).
    """
    if not text or not text.strip():
        return None, [], "请输入一句话：输入为空。"
    stoi = getattr(tokenizer, "stoi", None)
    if stoi is not None and getattr(tokenizer, "unk_id", None) is None:
        unknown = sorted({c for c in text if c not in stoi}, key=text.index)
        if unknown:
            shown = "".join(f"「{c}」" if c.strip() else f"「U+{ord(c):04X}」" for c in unknown[:10])
            more = f" 等 {len(unknown)} 个" if len(unknown) > 10 else ""
            return None, [], (f"以下字符不在模型的词表中：{shown}{more}。这个分词器没有 <unk>，"
                              "请删去或替换这些字符。")
    try:
        ids = tokenizer.encode(text)
    except ValueError as e:
        return None, [], f"无法分词：{e}"
    if len(ids) > block_size:
        return None, [], (f"输入有 {len(ids)} 个词元，超过了模型的上下文长度 block_size = {block_size}；"
                          f"请缩短到 {block_size} 个词元以内。")
    tokens = []
    for i in ids:
        try:
            tokens.append(tokenizer.decode([i]))
        except (ValueError, UnicodeDecodeError):
            tokens.append(f"<{i}>")
    return ids, tokens, ""


@torch.no_grad()
def model_attention(model, ids) -> np.ndarray:
    """Attention weights [layers, heads, T, T] of a ``GPT`` on one sequence of token ids."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    idx = torch.as_tensor([list(ids)], dtype=torch.long, device=device)
    _, _, weights = model(idx, return_attention=True)        # (L, B, H, T, T)
    model.train(was_training)
    return weights[:, 0].float().cpu().numpy()


def top_attended(tokens: list[str], row, k: int = 5) -> list[tuple[int, str, float]]:
    """The k keys with the largest weight in one attention row: [(position, token, weight)];
    keys with weight 0 (masked) are left out."""
    row = np.asarray(row, dtype=np.float64)
    order = sorted((j for j in range(len(row)) if row[j] > 0), key=lambda j: (-row[j], j))[:k]
    return [(j, tokens[j], float(row[j])) for j in order]


def attention_explorer(model, tokenizer, text: str = "", top_k: int = 5):
    """Live explorer for a ``GPT``: a text box, layer/head dropdowns (with the average of heads),
    a temperature slider and a heatmap/lines toggle; returns an ipywidgets ``VBox``."""
    import ipywidgets as W
    from IPython.display import display

    cfg = model.config
    text_w = W.Text(value=text, description="句子", continuous_update=False,
                    placeholder="输入一句话，回车后重新计算", layout=W.Layout(width="95%"))
    layer_w = W.Dropdown(options=[(f"第 {l + 1} 层", l) for l in range(cfg.n_layer)], description="层")
    head_w = W.Dropdown(options=[("各头平均", "mean")] + [(f"头 {h + 1}", h) for h in range(cfg.n_head)],
                        description="头")
    tau_w = W.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.02, description="温度 τ",
                             readout_format=".2f")
    view_w = W.ToggleButtons(options=[("热力图", "heatmap"), ("连线", "lines")], value="heatmap")
    msg = W.HTML()
    out = W.Output()
    state: dict = {"tokens": None, "weights": None}

    def recompute(_=None):
        ids, tokens, err = attention_input(text_w.value, tokenizer, cfg.block_size)
        if err:
            state["weights"] = None
            msg.value = f'<span style="color:#b42318">{html.escape(err)}</span>'
            out.clear_output()
            return
        try:
            state["tokens"], state["weights"] = tokens, model_attention(model, ids)
        except Exception as e:   # shown in the widget, never as a traceback
            state["weights"] = None
            msg.value = f'<span style="color:#b42318">计算注意力时出错：{html.escape(str(e))}</span>'
            out.clear_output()
            return
        redraw()

    def redraw(_=None):
        if state["weights"] is None:
            return
        tokens = state["tokens"]
        w = apply_temperature(state["weights"][layer_w.value], tau_w.value)      # (H, T, T)
        w = w.mean(0) if head_w.value == "mean" else w[head_w.value]
        best = top_attended(tokens, w[-1], top_k)
        msg.value = (f"{len(tokens)} 个词元。最后一个词元「{html.escape(tokens[-1])}」最关注："
                     + "，".join(f"「{html.escape(t)}」{v:.3f}" for _, t, v in best)
                     + "（悬停或点击图中的词元看其他位置）")
        with out:
            out.clear_output(wait=True)
            display(show_attention(tokens, w, top_k=top_k, view=view_w.value, controls=False))

    text_w.observe(recompute, names="value")
    for wdg in (layer_w, head_w, tau_w, view_w):
        wdg.observe(redraw, names="value")
    note = W.HTML('<span style="font-size:12px;color:#57606a">温度 τ 作用于算出的权重：w^(1/τ) 逐行归一化，'
                  "等价于把注意力分数除以 τ 后重新做 softmax；“各头平均”先施加温度再平均。</span>")
    recompute()
    return W.VBox([text_w, W.HBox([layer_w, head_w]), W.HBox([tau_w, view_w]), note, msg, out])
