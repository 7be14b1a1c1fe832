"""The attention explorer: look at attention weights [layers, heads, T_q, T_k] token by token.

Two front ends share one drawing code (``static/attention_explorer.js``):

- ``show_attention(tokens, weights)`` returns an object whose ``_repr_html_`` is one
  self-contained HTML block (script, style and the weights inlined; no CDN, no require.js), so
  it stays interactive on the static website without a kernel: sentence, layer, head or the
  average of heads, a display temperature, heatmap or lines, hover/click a token for its top-k.
  Self-attention (queries and keys are the same tokens) and cross-attention
  (``query_tokens=...``: e.g. target tokens of a decoder attending to source tokens) both work.
- ``attention_explorer(model, tokenizer)`` is the live version for a kernel (ipywidgets): type
  a sentence, the ``GPT`` recomputes its weights; ``attention_explorer(attend)`` does the same
  for any model through a function ``attend(text) -> (tokens, weights)``.

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

from ..runtime.device import eval_mode
from ..text.tokenize import Tokenizer

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


def _as_tokens(tokens, what: str = "tokens") -> list[str]:
    if isinstance(tokens, str) or not hasattr(tokens, "__len__"):
        raise ValueError(f"{what} must be a list of strings, one per position, e.g. list('你好') "
                         f"(got {type(tokens).__name__})")
    return [str(t) for t in tokens]


def _as_weights(tokens, weights, query_tokens=None) -> tuple[list[str], np.ndarray, list[str]]:
    """Validate one sentence; return (key tokens, float64 weights [L, H, Tq, Tk], query tokens).

    Without ``query_tokens`` this is self-attention: the weights must be square and the queries
    are the key tokens."""
    tokens = _as_tokens(tokens)
    queries = tokens if query_tokens is None else _as_tokens(query_tokens, "query_tokens")
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().float().cpu().numpy()
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2:
        w = w[None, None]
    elif w.ndim == 3:
        w = w[None]
    if w.ndim != 4:
        hint = (" GPT(..., need_weights=True) returns [layers, batch, heads, T, T]: pick one "
                "sequence, e.g. weights[:, 0]." if w.ndim == 5 else "")
        raise ValueError(f"weights must have shape [layers, heads, T, T] (or [heads, T, T] or "
                         f"[T, T]), got {w.ndim} dimensions {tuple(w.shape)}.{hint}")
    L, H, Tq, Tk = w.shape
    if query_tokens is None and Tq != Tk:
        raise ValueError(f"self-attention weights must be square in the last two dimensions, got "
                         f"{Tq} queries x {Tk} keys; for cross-attention pass the query tokens too: "
                         "show_attention(key_tokens, weights, query_tokens=...)")
    if Tk != len(tokens):
        raise ValueError(f"weights cover T={Tk} positions but {len(tokens)} tokens were given; "
                         "pass exactly one token string per position")
    if Tq != len(queries):
        raise ValueError(f"weights have {Tq} query rows but {len(queries)} query_tokens were given; "
                         "weights are [layers, heads, queries, keys]: pass one query token per row")
    if min(L, H, Tq, Tk) == 0:
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
    return tokens, w, queries


def _encode_rows(w: np.ndarray) -> list:
    """[L, H, Tq, Tk] weights -> nested lists of rows of round(SCALE * ln w), null for 0."""
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
    return (resources.files("llmbook_lib.viz") / "static" / name).read_text(encoding="utf-8")


def _json_for_html(obj) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' characters."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _joined(tokens: list[str]) -> str:
    """Tokens as one line of text for a default title: characters and tokens that carry their
    own spaces are concatenated, word pieces are separated by spaces."""
    if all(len(t) <= 1 for t in tokens) or any(t[:1].isspace() for t in tokens):
        return "".join(tokens)
    return " ".join(tokens)


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


def show_attention(tokens, weights=None, *, query_tokens=None, titles: list[str] | None = None,
                   title: str | None = None, layer: int = 0, head: int | str = "mean",
                   temperature: float = 1.0, view: str = "heatmap", top_k: int = 5,
                   controls: bool = True) -> AttentionView:
    """An interactive, self-contained view of attention weights.

    Self-attention: ``show_attention(tokens, weights)`` for one sentence (weights [layers, heads,
    T, T], numpy or torch; [heads, T, T] and [T, T] also work).

    Cross-attention: ``show_attention(key_tokens, weights, query_tokens=query_tokens)`` with
    weights [layers, heads, T_q, T_k]: row i holds how query i (e.g. a target token of a
    decoder) spreads its attention over the T_k keys (e.g. the source tokens). The heatmap has
    one row per query and one column per key; the lines view puts the queries on the left and
    the keys on the right.

    Several prepared sentences with the same number of layers and heads:
    ``show_attention([(tokens, weights), ...], titles=[...])``; a cross-attention item is a
    triple ``(key_tokens, weights, query_tokens)``. The two kinds may be mixed.

    ``layer``, ``head`` (an index or "mean"), ``temperature`` and ``view`` ("heatmap" or
    "lines") set what is shown first; ``controls=False`` hides the controls (the live widget
    brings its own).
    """
    if weights is None:
        if query_tokens is not None:
            raise ValueError("with several sentences, give each its query tokens in the list: "
                             "show_attention([(key_tokens, weights, query_tokens), ...])")
        items = list(tokens)
        if not items or not all(isinstance(p, (tuple, list)) and len(p) in (2, 3) for p in items):
            raise ValueError("pass show_attention(tokens, weights), show_attention(key_tokens, weights, "
                             "query_tokens=...) or show_attention([(tokens, weights), ...]) with "
                             "(key_tokens, weights, query_tokens) triples for cross-attention")
    else:
        items = [(tokens, weights, query_tokens)]
    sentences = [_as_weights(*item) for item in items]
    shapes = {w.shape[:2] for _, w, _ in sentences}
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

    def entry(i, t, w, q):
        cross = q is not t                  # cross-attention: the rows belong to other tokens
        default = _joined(q) + " → " + _joined(t) if cross else _joined(t)
        e = {"title": titles[i] if titles else default[:40], "tokens": t,
             "L": int(w.shape[0]), "H": int(w.shape[1]), "logw": _encode_rows(w)}
        if cross:
            e["queries"] = q
        return e

    payload = {
        "format": "llmbook-attention/1", "scale": SCALE, "top_k": int(top_k), "controls": bool(controls),
        "init": {"layer": int(layer), "head": head if head == "mean" else int(head),
                 "temperature": float(temperature), "view": view},
        "sentences": [entry(i, t, w, q) for i, (t, w, q) in enumerate(sentences)],
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
    T = [len(t) if q is t else (len(q), len(t)) for t, _, q in sentences]
    return AttentionView(block, f"{len(sentences)} sentence(s), {L} layer(s) x {H} head(s), T={T}")


# ---------------------------------------------------------------------------------------------
# Live explorer (a kernel is needed): recompute the weights for any typed sentence.
# ---------------------------------------------------------------------------------------------
def attention_input(text: str, tokenizer: Tokenizer, max_len: int):
    """Check and encode a sentence for the live explorer.

    Returns ``(ids, tokens, message)``: on success ``message`` is ``""``; otherwise ``ids`` is
    None and ``message`` says in Chinese what is wrong (the widget shows it instead of a
    traceback).
    """
    if not text or not text.strip():
        return None, [], "请输入一句话：输入为空。"
    if tokenizer.unk_id is None:                    # tokenize.Tokenizer: name what encode would refuse
        unknown = tokenizer.unknown(text)
        if unknown:
            shown = "".join(f"「{c}」" if c.strip() else f"「U+{ord(c):04X}」" for c in unknown[:10])
            more = f" 等 {len(unknown)} 个" if len(unknown) > 10 else ""
            return None, [], (f"以下字符不在模型的词表中：{shown}{more}。这个分词器没有 <unk>，"
                              "请删去或替换这些字符。")
    try:
        ids = tokenizer.encode(text)
    except ValueError as e:
        return None, [], f"无法分词：{e}"
    if len(ids) > max_len:
        return None, [], (f"输入有 {len(ids)} 个词元，超过了模型的上下文长度 max_len = {max_len}；"
                          f"请缩短到 {max_len} 个词元以内。")
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
    with eval_mode(model):
        idx = torch.as_tensor([list(ids)], dtype=torch.long, device=device)
        _, _, weights = model(idx, need_weights=True)        # (L, B, H, T, T)
    return weights[:, 0].float().cpu().numpy()


def top_attended(tokens: list[str], row, k: int = 5) -> list[tuple[int, str, float]]:
    """The k keys with the largest weight in one attention row: [(position, token, weight)];
    keys with weight 0 (masked) are left out."""
    row = np.asarray(row, dtype=np.float64)
    order = sorted((j for j in range(len(row)) if row[j] > 0), key=lambda j: (-row[j], j))[:k]
    return [(j, tokens[j], float(row[j])) for j in order]


def gpt_attend(model, tokenizer):
    """``attend(text) -> (tokens, weights [L, H, T, T])`` for a ``GPT`` and its tokenizer; bad
    input raises ValueError with a message in Chinese (see ``attention_input``)."""
    def attend(text: str):
        ids, tokens, err = attention_input(text, tokenizer, model.config.max_len)
        if err:
            raise ValueError(err)
        return tokens, model_attention(model, ids)
    return attend


def attention_explorer(model, tokenizer=None, text: str = "", top_k: int = 5):
    """Live explorer: a text box, layer/head dropdowns (with the average of heads), a
    temperature slider and a heatmap/lines toggle; returns an ipywidgets ``VBox``.

    ``attention_explorer(gpt, tokenizer)`` for the book's ``GPT``; for any other model pass a
    function instead: ``attention_explorer(attend)`` where ``attend(text)`` returns
    ``(tokens, weights)`` with weights [layers, heads, T, T] (numpy or torch), or
    ``(key_tokens, weights, query_tokens)`` for cross-attention [layers, heads, T_q, T_k].
    When the text is unusable, ``attend`` raises ValueError with a message for the reader; the
    widget shows that message instead of a traceback. The layer and head menus follow the shape
    of the weights.
    """
    import ipywidgets as W
    from IPython.display import display

    if isinstance(model, torch.nn.Module):
        if tokenizer is None:
            raise ValueError("attention_explorer(model, tokenizer): a GPT needs its tokenizer")
        attend = gpt_attend(model, tokenizer)
    elif callable(model) and tokenizer is None:
        attend = model
    else:
        raise ValueError("pass attention_explorer(gpt, tokenizer) or attention_explorer(attend) with a "
                         "function attend(text) -> (tokens, weights [layers, heads, T, T])")

    text_w = W.Text(value=text, description="句子", continuous_update=False,
                    placeholder="输入一句话，回车后重新计算", layout=W.Layout(width="95%"))
    layer_w = W.Dropdown(description="层")
    head_w = W.Dropdown(description="头")
    tau_w = W.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.02, description="温度 τ",
                             readout_format=".2f")
    view_w = W.ToggleButtons(options=[("热力图", "heatmap"), ("连线", "lines")], value="heatmap")
    msg = W.HTML()
    out = W.Output()
    state: dict = {"tokens": None, "queries": None, "weights": None, "shape": None}

    def set_menus(L: int, H: int):
        if state["shape"] == (L, H):
            return
        state["shape"] = (L, H)
        layer, head = layer_w.value, head_w.value
        state["quiet"] = True                    # no redraw per option while the menus change
        layer_w.options = [(f"第 {l + 1} 层", l) for l in range(L)]
        head_w.options = [("各头平均", "mean")] + [(f"头 {h + 1}", h) for h in range(H)]
        layer_w.value = layer if isinstance(layer, int) and layer < L else 0
        head_w.value = head if head == "mean" or (isinstance(head, int) and head < H) else "mean"
        state["quiet"] = False

    def fail(message: str):
        state["weights"] = None
        msg.value = f'<span style="color:#b42318">{html.escape(message)}</span>'
        out.clear_output()

    def recompute(_=None):
        try:
            result = attend(text_w.value)
        except ValueError as e:              # the input cannot be used: say why
            return fail(str(e))
        except Exception as e:               # shown in the widget, never as a traceback
            return fail(f"计算注意力时出错：{type(e).__name__}: {e}")
        try:
            if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
                raise ValueError("attend(text) must return (tokens, weights) or (key_tokens, weights, query_tokens)")
            keys, w, queries = _as_weights(*result)
        except ValueError as e:
            return fail(f"attend 的返回值不能显示：{e}")
        state.update(tokens=keys, queries=queries, weights=w)
        set_menus(*w.shape[:2])
        redraw()

    def redraw(_=None):
        if state["weights"] is None or state.get("quiet"):
            return
        keys, queries = state["tokens"], state["queries"]
        cross = queries is not keys
        w = apply_temperature(state["weights"][layer_w.value], tau_w.value)      # (H, Tq, Tk)
        w = w.mean(0) if head_w.value == "mean" else w[head_w.value]
        best = top_attended(keys, w[-1], top_k)
        msg.value = (f"{len(queries)} 个查询词元、{len(keys)} 个键词元。" if cross else f"{len(keys)} 个词元。")
        msg.value += (f"最后一个{'查询' if cross else ''}词元「{html.escape(queries[-1])}」最关注："
                      + "，".join(f"「{html.escape(t)}」{v:.3f}" for _, t, v in best)
                      + "（悬停或点击图中的词元看其他位置）")
        with out:
            out.clear_output(wait=True)
            display(show_attention(keys, w, query_tokens=queries if cross else None, top_k=top_k,
                                   view=view_w.value, controls=False))

    text_w.observe(recompute, names="value")
    for wdg in (layer_w, head_w, tau_w, view_w):
        wdg.observe(redraw, names="value")
    if isinstance(model, torch.nn.Module):                       # menus known before any input
        set_menus(model.config.n_layer, model.config.n_head)
    note = W.HTML('<span style="font-size:12px;color:#57606a">温度 τ 作用于算出的权重：w^(1/τ) 逐行归一化，'
                  "等价于把注意力分数除以 τ 后重新做 softmax；“各头平均”先施加温度再平均。</span>")
    recompute()
    return W.VBox([text_w, W.HBox([layer_w, head_w]), W.HBox([tau_w, view_w]), note, msg, out])
