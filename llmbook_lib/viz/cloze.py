"""Cloze: a masked language model fills in the blanks of a sentence.

A blank is written ``＿`` (full-width low line), ``_`` or ``[MASK]``; each blank is one
character. The sentence goes in as ``[CLS] text [SEP]`` and every blank is predicted in one
forward pass, independently of the others, as BERT does. Works with ``bertlike.BertLike`` and
its ``BertVocab`` (e.g. ``pretrained("bert-zh-char")``).

``cloze_input`` checks what a reader typed and returns a Chinese message instead of raising,
so that the widget (``cloze_widget``) can show it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import torch

from ..runtime.device import eval_mode
from ..text.tokenize import BertVocab

BLANK = re.compile(r"\[MASK\]|[＿_]")


@dataclass
class Cloze:
    text: str                                   # the input, blanks included
    pieces: list[str]                           # characters and "[MASK]" blanks, in order
    blanks: list[int]                           # indices into ``pieces`` of the blanks
    candidates: list[list[tuple[str, float]]]   # per blank: top-k (character, probability)
    unknown: list[str]                          # characters read as <unk>

    @property
    def filled(self) -> str:
        """The sentence with every blank replaced by its most probable character."""
        out = list(self.pieces)
        for b, cands in zip(self.blanks, self.candidates):
            out[b] = cands[0][0]
        return "".join(out)

    def to_text(self) -> str:
        lines = [f"输入：{self.text}", f"补全：{self.filled}"]
        for k, cands in enumerate(self.candidates, 1):
            lines.append(f"  第 {k} 个空：" + "  ".join(f"{c} {p:.2f}" for c, p in cands))
        if self.unknown:
            lines.append("（词表外的字按 <unk> 处理：" + "".join(f"「{c}」" for c in self.unknown) + "）")
        return "\n".join(lines)

    def to_html(self) -> str:
        """The filled sentence with the model's characters highlighted, and a table of candidates."""
        shown = []
        blank_no = {b: k for k, b in enumerate(self.blanks)}
        for i, piece in enumerate(self.pieces):
            if i in blank_no:
                c, p = self.candidates[blank_no[i]][0]
                shown.append(f'<span style="background:#fde2b8;border-bottom:2px solid #d9822b;padding:0 1px" '
                             f'title="p = {p:.2f}">{html.escape(c)}</span>')
            else:
                shown.append(html.escape(piece))
        rows = "".join(
            f"<tr><td style='padding:1px 8px'>第 {k} 个空</td>" + "".join(
                f"<td style='padding:1px 8px'>{html.escape(c)} <span style='color:#57606a'>{p:.2f}</span></td>"
                for c, p in cands) + "</tr>"
            for k, cands in enumerate(self.candidates, 1))
        note = ("<div style='color:#57606a;font-size:90%'>词表外的字按 &lt;unk&gt; 处理："
                + "".join(f"「{html.escape(c)}」" for c in self.unknown) + "</div>") if self.unknown else ""
        return (f"<div style='font-size:115%;margin:4px 0'>{''.join(shown)}</div>"
                f"<table style='font-size:95%'>{rows}</table>{note}")


def cloze_input(text: str, vocab: BertVocab, max_len: int):
    """Parse a sentence with blanks: returns ``(ids, pieces, blanks, unknown, message)``.

    ``ids`` is [CLS] text [SEP] with [MASK] at the blanks. On bad input ``ids`` is None and
    ``message`` says in Chinese what to change; otherwise ``message`` is "".
    """
    text = (text or "").strip()
    if not text:
        return None, [], [], [], "请输入一句话，并用 ＿ 或 [MASK] 标出要模型填的字。"
    pieces: list[str] = []
    pos = 0
    for m in BLANK.finditer(text):
        pieces.extend(text[pos:m.start()])
        pieces.append("[MASK]")
        pos = m.end()
    pieces.extend(text[pos:])
    blanks = [i for i, p in enumerate(pieces) if p == "[MASK]"]
    if not blanks:
        return None, pieces, [], [], "句子里没有空：请用 ＿（全角下划线）、_ 或 [MASK] 标出要填的字，每个记号代表一个字。"
    if len(blanks) == len(pieces):
        return None, pieces, blanks, [], "句子里只有空、没有别的字：模型需要上下文，请至少写出几个字。"
    if len(pieces) + 2 > max_len:
        return None, pieces, blanks, [], (f"句子有 {len(pieces)} 个字（含空），加上 [CLS] 和 [SEP] 超过了模型的"
                                          f"最大长度 {max_len}；请缩短到 {max_len - 2} 个字以内。")
    unknown = vocab.unknown("".join(p for p in pieces if p != "[MASK]"))
    if unknown and vocab.unk_id is None:
        return None, pieces, blanks, unknown, ("以下字符不在模型的词表中：" + "".join(f"「{c}」" for c in unknown)
                                               + "。请删去或替换这些字符。")
    ids = [vocab.cls_id] + [vocab.mask_id if p == "[MASK]" else vocab.encode(p)[0] for p in pieces] + [vocab.sep_id]
    return ids, pieces, blanks, unknown, ""


@torch.no_grad()
def fill_blanks(model, vocab: BertVocab, text: str, top_k: int = 5) -> Cloze:
    """Predict every blank of ``text``; raises ``ValueError`` (with the Chinese message) on bad input.

    Candidates never include the special tokens or <unk>.
    """
    ids, pieces, blanks, unknown, message = cloze_input(text, vocab, model.config.max_len)
    if message:
        raise ValueError(message)
    device = next(model.parameters()).device
    with eval_mode(model):
        x = torch.tensor([ids], device=device)
        logits = model(x, torch.zeros_like(x)).mlm_logits[0]              # (T, V)
    logits[:, list(vocab.non_word_ids)] = float("-inf")
    probs = torch.softmax(logits[[b + 1 for b in blanks]], dim=-1)     # +1: [CLS] in front
    top = probs.topk(top_k, dim=-1)
    candidates = [[(vocab.decode([j]), float(p)) for p, j in zip(ps.tolist(), js.tolist())]
                  for ps, js in zip(top.values, top.indices)]
    return Cloze(text.strip(), pieces, blanks, candidates, unknown)


def cloze_widget(model, vocab: BertVocab, text: str = "中华人民共和国于一九四九年十＿一日成立。", top_k: int = 5):
    """A text box and a button: the model fills in the blanks of whatever the reader types."""
    import ipywidgets as W
    from IPython.display import HTML, display

    box = W.Text(value=text, description="句子：", layout=W.Layout(width="80%"), continuous_update=False,
                 placeholder="用 ＿ 或 [MASK] 标出要填的字，例如：今天天气很＿。")
    button = W.Button(description="填空")
    out = W.Output()

    def run(_=None):
        with out:
            out.clear_output()
            try:
                display(HTML(fill_blanks(model, vocab, box.value, top_k).to_html()))
            except ValueError as e:
                display(HTML(f"<div style='color:#b42318'>{html.escape(str(e))}</div>"))

    button.on_click(run)
    box.observe(run, names="value")                 # Enter or leaving the box
    run()
    return W.VBox([W.HBox([box, button]), out])


__all__ = ["BLANK", "Cloze", "cloze_input", "cloze_widget", "fill_blanks"]
