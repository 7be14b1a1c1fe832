"""Sequence labelling (NER) on a pretrained character encoder: one tag per character.

``Tagger`` = encoder (the book's ``BertLike``, or any module mapping ids (B, T) to states
(B, T, d)) + dropout + a linear layer giving each character a score per BIO tag, then either
``head="linear"`` (each character takes its best tag, trained with cross-entropy) or
``head="crf"`` (``crf.CRF``: the best whole sequence, BIO-constrained, trained with the CRF's
negative log-likelihood). Inputs are ``[CLS] characters [SEP]``; the tags cover the characters.

``fit_tagger`` trains it with the book's loop (``training.train``) on paragraphs cut into pieces
that fit the encoder, never inside an entity. ``NERModel`` is what a reader calls:
``predict(texts) -> [[(start, end, "PER"), ...], ...]`` on texts of any length, ``save`` and
``load``. ``evaluate_spans`` scores predictions with seqeval (strict entity match, IOB2), the
standard CoNLL metric: an entity counts only when both its boundaries and its type are right.

The encoder is passed in: the tasks layer does not import ``hub``; ``hub.pretrained("bert-zh-char")``
gives one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.batches import pad_rows, step_generator
from ..data.ner import ENTITY_TYPES, TAGS, Example, Span, bio_to_spans, spans_to_bio
from ..models.bertlike import BertConfig, BertLike
from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from ..runtime.device import eval_mode
from ..runtime.inputs import check_texts
from ..text.tokenize import BertVocab
from ..training.train import History, TrainConfig, train
from .crf import CRF

IGNORE = -100                   # label of [CLS], [SEP] and padding
HEADS = ("linear", "crf")
FORMAT = "llmbook-ner/1"
KIND = "ner-tagger"             # the hub family that reads these files
_SENTENCE_END = set("。！？；!?;")


def encoder_states(encoder: nn.Module, ids: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """(B, T) ids -> (B, T, d) states. A ``BertLike`` runs ``states`` (its encoder, the text as
    segment A, no MLM/NSP heads); any other module is called as ``encoder(ids)`` and must return
    the states (or a tuple whose first item they are)."""
    if isinstance(encoder, BertLike):
        if encoder.config.pad_id != pad_id:
            raise ValueError(f"pad_id {pad_id} differs from the encoder's pad_id {encoder.config.pad_id}")
        return encoder.states(ids)
    out = encoder(ids)
    return out[0] if isinstance(out, (tuple, list)) else out


class Tagger(nn.Module):
    """Encoder + dropout + linear emissions, then a linear or CRF head (module docstring)."""

    def __init__(self, encoder: nn.Module, tags: Sequence[str] = TAGS, head: str = "linear",
                 dropout: float = 0.1, d_model: int | None = None, pad_id: int = BertVocab.pad_id,
                 head_lr_mult: float = 1.0):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        if d_model is None:
            d_model = getattr(getattr(encoder, "config", None), "d_model", None)
            if d_model is None:
                raise ValueError("cannot read d_model from the encoder's config; pass d_model=<state width>")
        self.encoder, self.tags, self.head, self.pad_id = encoder, tuple(tags), head, pad_id
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(d_model, len(self.tags))
        self.crf = CRF.for_bio(self.tags) if head == "crf" else None
        # ``training.make_optimizer`` multiplies the learning rate of these new layers: they start
        # from scratch while the encoder only needs nudging
        self.lr_scales = {"proj": head_lr_mult, "crf": head_lr_mult}

    def emissions(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T, K) tag scores at every position, [CLS] and [SEP] included."""
        return self.proj(self.dropout(encoder_states(self.encoder, ids, self.pad_id)))

    def forward(self, ids: torch.Tensor, labels: torch.Tensor | None = None):
        """Returns (emissions (B, T, K), loss or None). ``labels`` (B, T): tag ids on the
        characters, ``IGNORE`` on [CLS], [SEP] and padding."""
        em = self.emissions(ids)
        if labels is None:
            return em, None
        if self.crf is None:
            return em, F.cross_entropy(em.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE)
        mask = labels[:, 1:] != IGNORE                                      # characters: positions 1..n
        return em, self.crf.nll(em[:, 1:], labels[:, 1:].clamp_min(0), mask, reduction="mean")

    @torch.no_grad()
    def decode(self, ids: torch.Tensor, lengths: Sequence[int]) -> list[list[int]]:
        """Tag ids of the characters of each row: ``lengths[b]`` characters after [CLS]."""
        n = max(lengths)
        em = self.emissions(ids)[:, 1:n + 1]
        if self.crf is not None:
            mask = torch.arange(n, device=ids.device)[None, :] < torch.tensor(lengths, device=ids.device)[:, None]
            return self.crf.decode(em, mask)
        best = em.argmax(-1).tolist()
        return [row[:k] for row, k in zip(best, lengths)]


# ---- data: chunks, ids, batches ------------------------------------------------------------------
def encode_chars(vocab, text: str) -> list[int]:
    """One id per character. A character outside the vocabulary maps to <unk>, except an ASCII
    one whose full-width form is in it (``1`` -> ``１``): People's Daily writes full-width."""
    ids = vocab.encode(text)
    unk = vocab.unk_id
    if unk is not None and unk in ids:
        for i, c in enumerate(text):
            if ids[i] == unk and (c == " " or "!" <= c <= "~"):
                wide = "\u3000" if c == " " else chr(ord(c) + 0xFEE0)
                if not vocab.unknown(wide):
                    ids[i] = vocab.encode(wide)[0]
    return ids


def chunk_bounds(text: str, spans: Sequence[Span], max_chars: int) -> list[tuple[int, int]]:
    """Cut a paragraph into pieces of at most ``max_chars`` characters, never inside an entity:
    after the last sentence end (。！？；) that fits, else at the last position outside an entity."""
    inside = [False] * (len(text) + 1)               # inside[i]: a cut before character i splits an entity
    for start, end, _ in spans:
        for i in range(start + 1, end):
            inside[i] = True
    pieces, start = [], 0
    while len(text) - start > max_chars:
        limit = start + max_chars
        cuts = [i for i in range(limit, start, -1) if not inside[i]]
        ends = [i for i in cuts if text[i - 1] in _SENTENCE_END]
        cut = ends[0] if ends else (cuts[0] if cuts else limit)
        pieces.append((start, cut))
        start = cut
    pieces.append((start, len(text)))
    return pieces


def example_chunks(examples: Sequence[Example], max_chars: int) -> list[tuple[str, tuple[str, ...]]]:
    """(text, tags) pieces of at most ``max_chars`` characters from paragraph examples."""
    out = []
    for e in examples:
        for a, b in chunk_bounds(e.text, e.spans, max_chars):
            out.append((e.text[a:b], e.tags[a:b]))
    return out


def encode_tagged(pieces: Sequence[tuple[str, Sequence[str]]], vocab: BertVocab,
                  tags: Sequence[str] = TAGS) -> list[tuple[list[int], list[int]]]:
    """(ids, labels) per piece: [CLS] chars [SEP] and IGNORE, tag ids, IGNORE."""
    index = {t: i for i, t in enumerate(tags)}
    out = []
    for text, tag_seq in pieces:
        if len(text) != len(tag_seq):
            raise ValueError(f"text of {len(text)} characters has {len(tag_seq)} tags; give one tag per character")
        try:
            labels = [index[t] for t in tag_seq]
        except KeyError as e:
            raise ValueError(f"tag {e.args[0]!r} is not among the tagger's tags {tuple(tags)}") from None
        out.append(([vocab.cls_id] + encode_chars(vocab, text) + [vocab.sep_id], [IGNORE] + labels + [IGNORE]))
    return out


class TaggingBatches:
    """``batches(step) -> (ids, labels)``: ``batch_size`` random encoded pieces, padded to the
    longest; the draw depends only on (seed, step), as ``train`` requires."""

    def __init__(self, encoded: Sequence[tuple[list[int], list[int]]], batch_size: int, seed: int = 0,
                 pad_id: int = BertVocab.pad_id):
        if not encoded:
            raise ValueError("no training pieces: pass at least one example with text")
        self.encoded, self.batch_size, self.seed, self.pad_id = list(encoded), batch_size, seed, pad_id

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.randint(len(self.encoded), (self.batch_size,), generator=step_generator(self.seed, step))
        rows = [self.encoded[i] for i in pick.tolist()]
        return pad_rows([r[0] for r in rows], self.pad_id), pad_rows([r[1] for r in rows], IGNORE)


def max_chars_of(tagger: Tagger) -> int:
    """Characters that fit the encoder: its ``max_len`` minus [CLS] and [SEP] (126 for bert-zh-char)."""
    max_len = getattr(getattr(tagger.encoder, "config", None), "max_len", None)
    if max_len is None:
        raise ValueError("cannot read max_len from the encoder's config; pass max_chars=")
    return max_len - 2


def fit_tagger(tagger: Tagger, examples: Sequence[Example], vocab: BertVocab, config: TrainConfig,
               batch_size: int = 32, max_chars: int | None = None, seed: int = 0,
               on_step: Callable[[int, float], None] | None = None) -> History:
    """Fine-tune the whole tagger (encoder included) on paragraph examples with ``training.train``."""
    max_chars = max_chars_of(tagger) if max_chars is None else max_chars
    encoded = encode_tagged(example_chunks(examples, max_chars), vocab, tagger.tags)
    batches = TaggingBatches(encoded, batch_size, seed, vocab.pad_id)
    return train(tagger, batches, config, on_step=on_step)


# ---- the model a reader calls --------------------------------------------------------------------
def windows(n: int, size: int) -> list[tuple[int, int]]:
    """[start, end) windows of at most ``size`` covering n characters, each half overlapping the next."""
    if size < 1:
        raise ValueError(f"window size must be at least 1, got {size}")
    if n <= size:
        return [(0, n)]
    stride = max(1, size // 2)
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] + size < n:
        starts.append(n - size)
    return [(s, s + size) for s in starts]


def window_owner(n: int, wins: Sequence[tuple[int, int]]) -> list[int]:
    """For each character, the window where it is most central (nearest the window's middle;
    on a tie the earlier window): it sees the most context on both sides there."""
    best = [float("inf")] * n
    owner = [-1] * n
    for w, (s, e) in enumerate(wins):
        mid = (s + e - 1) / 2
        for i in range(s, e):
            if abs(i - mid) < best[i]:
                best[i], owner[i] = abs(i - mid), w
    return owner


class NERModel:
    """A trained tagger and its vocabulary: ``predict(texts)`` gives character spans per text."""

    def __init__(self, tagger: Tagger, vocab: BertVocab, max_chars: int | None = None):
        self.tagger, self.vocab = tagger.eval(), vocab
        self.max_chars = max_chars_of(tagger) if max_chars is None else max_chars
        self.labels = tuple(t for t in ENTITY_TYPES if f"B-{t}" in tagger.tags)

    @property
    def tags(self) -> tuple[str, ...]:
        return self.tagger.tags

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Span]]:
        """Entities of each text as (start, end, type) character spans, [start, end), type in
        ``labels``. Texts longer than the encoder are tagged in half-overlapping windows; each
        character keeps the tag from the window where it is most central (``window_owner``)."""
        texts = check_texts(texts, "predict([text])")
        jobs = []                                     # (text index, start, end) of every window
        for k, t in enumerate(texts):
            if t.strip():
                jobs += [(k, s, e) for s, e in windows(len(t), self.max_chars)]
        tagged = []
        device = next(self.tagger.parameters()).device
        with eval_mode(self.tagger):
            for b in range(0, len(jobs), batch_size):
                part = jobs[b:b + batch_size]
                rows = [[self.vocab.cls_id] + encode_chars(self.vocab, texts[k][s:e]) + [self.vocab.sep_id]
                        for k, s, e in part]
                tagged += self.tagger.decode(pad_rows(rows, self.vocab.pad_id).to(device), [e - s for _, s, e in part])
        out: list[list[Span]] = [[] for _ in texts]
        j = 0
        for k, t in enumerate(texts):
            if not t.strip():
                continue
            wins = windows(len(t), self.max_chars)
            owner = window_owner(len(t), wins)
            tags = [self.tags[tagged[j + owner[i]][i - wins[owner[i]][0]]] for i in range(len(t))]
            out[k] = bio_to_spans(tags)
            j += len(wins)
        return out

    def state(self) -> dict:
        """What the model's file stores besides the weights (JSON metadata)."""
        enc = self.tagger.encoder
        if not isinstance(enc, BertLike):
            raise ValueError(f"save() stores BertLike encoders only, not {type(enc).__name__}; "
                             "save the state_dict yourself for other encoders")
        return {"kind": KIND, "format": FORMAT, "tags": list(self.tags), "head": self.tagger.head,
                "dropout": self.tagger.dropout.p, "max_chars": self.max_chars,
                "encoder": enc.config.to_dict(), "vocab": self.vocab.to_json()}

    def save(self, path: str | os.PathLike) -> None:
        """One safetensors file (written atomically): weights + tagger config + vocabulary as JSON."""
        save_checkpoint(path, self.tagger, state=self.state(), rng=False)

    @classmethod
    def from_state(cls, state: dict) -> "NERModel":
        """An untrained model shaped as ``state`` (from ``state()``) describes."""
        if state.get("format") != FORMAT:
            raise ValueError(f"not a saved NERModel (format {state.get('format')!r}, expected {FORMAT!r})")
        try:
            tagger = Tagger(BertLike(BertConfig(**state["encoder"])), state["tags"], state["head"], state["dropout"])
            return cls(tagger, BertVocab.from_json(state["vocab"]), state["max_chars"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"incomplete NER model metadata ({e!r}); save it again") from None

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> "NERModel":
        """A model saved with ``save``; the file's sha256 is checked and nothing is unpickled."""
        ckpt = load_checkpoint(path)
        try:
            model = cls.from_state(ckpt.state)
        except ValueError as e:
            raise ValueError(f"{path} is {e}") from None
        ckpt.apply(model.tagger)
        model.tagger.to(device).eval()
        return model


# ---- evaluation ----------------------------------------------------------------------------------
def evaluate_spans(examples: Sequence[Example], predicted: Sequence[Sequence[Span]]) -> dict:
    """seqeval's strict entity scores (IOB2): {type or "micro": {precision, recall, f1, support}}."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(examples) != len(predicted):
        raise ValueError(f"{len(examples)} examples but {len(predicted)} predictions; give one per example")
    gold = [list(e.tags) for e in examples]
    pred = [spans_to_bio(len(e.text), p) for e, p in zip(examples, predicted)]
    report = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    out = {t: {k.replace("f1-score", "f1"): float(v) for k, v in report[t].items()}
           for t in ENTITY_TYPES if t in report}
    out["micro"] = {k.replace("f1-score", "f1"): float(v) for k, v in report["micro avg"].items()}
    return out


def evaluate_ner(model: NERModel, examples: Sequence[Example], batch_size: int = 64) -> dict:
    """``evaluate_spans`` of the model's predictions on whole paragraphs."""
    return evaluate_spans(examples, model.predict([e.text for e in examples], batch_size))


__all__ = ["HEADS", "IGNORE", "NERModel", "Tagger", "TaggingBatches", "chunk_bounds", "encode_chars",
           "encode_tagged", "encoder_states", "evaluate_ner", "evaluate_spans", "example_chunks",
           "fit_tagger", "max_chars_of", "window_owner", "windows"]
