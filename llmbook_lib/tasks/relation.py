"""Sentence-level relation extraction with entity markers (Baldini Soares et al., 2019).

Each ordered pair of mentions in a sentence is one classification: insert a marker character
before and after the head and the tail (``『张三』生于《桐浦》``), run the character encoder,
concatenate the final states of the two opening markers and map them to a relation or
``NO_RELATION`` (the "entity start" variant of the paper). A sentence with n mentions gives
n (n - 1) pairs; most of them are no relation (the reverse direction, unrelated mentions).

- ``insert_markers``: the marked text and where every original character went, for mentions
  that are apart, adjacent, nested or crossing;
- ``mention_pairs`` / ``pair_labels``: the ordered pairs of a sentence and their gold labels;
- ``RelationClassifier`` (encoder + linear layer on the two marker states), ``fit_relations``
  (the book's loop, ``training.train``), ``predict_pairs``;
- ``relation_scores``: micro-F1 over the real relations (no-relation excluded, as in TACRED) and
  per relation, with scikit-learn; ``triple_scores`` / ``attribute_errors`` for a pipeline that
  starts from predicted mentions (NER -> RE), scoring (head span, relation, tail span) triples.

A mention is anything with ``start`` and ``end`` (character offsets, end exclusive) or a tuple
``(start, end, ...)``, so gold ``Mention`` records and the NER model's spans both work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.batches import pad_rows, step_generator
from ..runtime.device import eval_mode
from ..runtime.inputs import check_texts
from ..training.train import History, TrainConfig, train
from .tagger import encode_chars, encoder_states

NO_RELATION = "none"
MARKERS = ("『", "』", "《", "》")     # head open, head close, tail open, tail close


def span_of(mention) -> tuple[int, int]:
    """(start, end) of a mention record or a ``(start, end, ...)`` tuple."""
    if hasattr(mention, "start") and hasattr(mention, "end"):
        return int(mention.start), int(mention.end)
    if isinstance(mention, (tuple, list)) and len(mention) >= 2:
        return int(mention[0]), int(mention[1])
    raise TypeError(f"a mention needs start and end offsets, got {mention!r}")


# ---- markers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Marked:
    """A sentence with markers: ``head`` / ``tail`` are the positions of the opening markers in
    ``text``; ``index[i]`` is where original character i went (``index[n]`` = len(text))."""
    text: str
    head: int
    tail: int
    index: tuple[int, ...]


def insert_markers(text: str, head, tail, markers: Sequence[str] = MARKERS) -> Marked:
    """Put ``markers`` (head open/close, tail open/close; one character each) around two mentions.

    At one position closing markers come before opening ones (adjacent mentions stay apart:
    ``『A』《B》``), an outer mention opens before and closes after an inner one (nested), and
    crossing mentions get crossing markers. Head and tail must be different, non-empty spans."""
    if len(markers) != 4 or any(not isinstance(m, str) or len(m) != 1 for m in markers):
        raise ValueError(f"markers must be four single characters, got {markers!r}")
    (hs, he), (ts, te) = span_of(head), span_of(tail)
    for name, (s, e) in (("head", (hs, he)), ("tail", (ts, te))):
        if not 0 <= s < e <= len(text):
            raise ValueError(f"{name} span {s}:{e} is empty or outside the text of {len(text)} characters")
    if (hs, he) == (ts, te):
        raise ValueError(f"head and tail are the same span {hs}:{he}; a pair needs two mentions")
    # (position, closing first, outer first, marker, which opening)
    events = [(hs, 1, -he, markers[0], "head"), (he, 0, -hs, markers[1], None),
              (ts, 1, -te, markers[2], "tail"), (te, 0, -ts, markers[3], None)]
    events.sort(key=lambda ev: ev[:3])
    out, index, where, k = [], [], {}, 0
    for i in range(len(text) + 1):
        while k < len(events) and events[k][0] == i:
            if events[k][4]:
                where[events[k][4]] = len(out)
            out.append(events[k][3])
            k += 1
        index.append(len(out))
        if i < len(text):
            out.append(text[i])
    return Marked("".join(out), where["head"], where["tail"], tuple(index))


# ---- pairs and labels ----------------------------------------------------------------------------
def mention_pairs(n: int) -> list[tuple[int, int]]:
    """Every ordered pair (head, tail) of n mentions, head != tail: n (n - 1) of them."""
    if n < 0:
        raise ValueError(f"number of mentions must be >= 0, got {n}")
    return [(i, j) for i in range(n) for j in range(n) if i != j]


def pair_labels(example) -> list[tuple[int, int, str]]:
    """(head, tail, relation or NO_RELATION) for every ordered mention pair of a
    ``RelationExample`` (``mentions``, ``relations`` with head/tail indices)."""
    n = len(example.mentions)
    gold: dict[tuple[int, int], str] = {}
    for r in example.relations:
        if not (0 <= r.head < n and 0 <= r.tail < n) or r.head == r.tail:
            raise ValueError(f"relation {r.relation!r} joins mentions {r.head} and {r.tail}, "
                             f"but the sentence has mentions 0..{n - 1}")
        if gold.get((r.head, r.tail), r.relation) != r.relation:
            raise ValueError(f"mentions {r.head} -> {r.tail} carry two relations: "
                             f"{gold[(r.head, r.tail)]!r} and {r.relation!r}")
        gold[(r.head, r.tail)] = r.relation
    return [(i, j, gold.get((i, j), NO_RELATION)) for i, j in mention_pairs(n)]


def encode_pair(vocab, text: str, head, tail, max_len: int,
                markers: Sequence[str] = MARKERS) -> tuple[list[int], int, int]:
    """``[CLS] marked text [SEP]`` ids and the positions of the head and tail opening markers."""
    m = insert_markers(text, head, tail, markers)
    if len(m.text) + 2 > max_len:
        raise ValueError(f"the marked sentence has {len(m.text) + 2} tokens, more than the encoder's "
                         f"max_len {max_len}; cut the text around the two mentions first")
    ids = [vocab.cls_id] + encode_chars(vocab, m.text) + [vocab.sep_id]
    return ids, m.head + 1, m.tail + 1


# ---- the model -----------------------------------------------------------------------------------
class RelationClassifier(nn.Module):
    """Encoder + dropout + linear layer on [head marker state; tail marker state]."""

    def __init__(self, encoder: nn.Module, relations: Sequence[str], dropout: float = 0.1,
                 d_model: int | None = None, head_lr_mult: float = 1.0):
        super().__init__()
        relations = [r for r in relations if r != NO_RELATION]
        if not relations:
            raise ValueError("give at least one relation besides NO_RELATION")
        d_model = d_model or getattr(getattr(encoder, "config", None), "d_model", None)
        if d_model is None:
            raise ValueError("cannot read d_model from the encoder's config; pass d_model=<state width>")
        self.encoder, self.labels = encoder, (NO_RELATION, *relations)
        self.max_len = getattr(getattr(encoder, "config", None), "max_len", 512)
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(2 * d_model, len(self.labels))
        self.lr_scales = {"proj": head_lr_mult}

    def forward(self, ids: torch.Tensor, pos: torch.Tensor, labels: torch.Tensor | None = None):
        """ids (B, T), pos (B, 2) marker positions -> (logits (B, K), loss or None)."""
        states = encoder_states(self.encoder, ids)                        # (B, T, d)
        rows = torch.arange(ids.shape[0], device=ids.device)
        pair = torch.cat([states[rows, pos[:, 0]], states[rows, pos[:, 1]]], dim=-1)   # (B, 2d)
        logits = self.proj(self.dropout(pair))
        loss = None if labels is None else F.cross_entropy(logits.float(), labels)
        return logits, loss


def encode_examples(model: RelationClassifier, vocab, examples: Sequence,
                    markers: Sequence[str] = MARKERS) -> list[tuple[list[int], int, int, int]]:
    """(ids, head pos, tail pos, label id) for every ordered mention pair of every example."""
    index = {r: i for i, r in enumerate(model.labels)}
    out = []
    for ex in examples:
        for i, j, rel in pair_labels(ex):
            if rel not in index:
                raise ValueError(f"relation {rel!r} is not among the model's labels {model.labels}")
            ids, h, t = encode_pair(vocab, ex.text, ex.mentions[i], ex.mentions[j], model.max_len, markers)
            out.append((ids, h, t, index[rel]))
    return out


class PairBatches:
    """``batches(step) -> (ids, pos, labels)``: random encoded pairs; depends only on (seed, step)."""

    def __init__(self, encoded: Sequence[tuple[list[int], int, int, int]], batch_size: int,
                 seed: int = 0, pad_id: int = 0):
        if not encoded:
            raise ValueError("no mention pairs to train on: give sentences with at least two mentions")
        self.encoded, self.batch_size, self.seed, self.pad_id = list(encoded), batch_size, seed, pad_id

    def __call__(self, step: int):
        pick = torch.randint(len(self.encoded), (self.batch_size,), generator=step_generator(self.seed, step))
        rows = [self.encoded[i] for i in pick.tolist()]
        return (pad_rows([r[0] for r in rows], self.pad_id),
                torch.tensor([[r[1], r[2]] for r in rows]), torch.tensor([r[3] for r in rows]))


def fit_relations(model: RelationClassifier, examples: Sequence, vocab, config: TrainConfig,
                  batch_size: int = 32, seed: int = 0,
                  on_step: Callable[[int, float], None] | None = None) -> History:
    """Fine-tune the whole classifier (encoder included) on every mention pair of ``examples``."""
    batches = PairBatches(encode_examples(model, vocab, examples), batch_size, seed, vocab.pad_id)
    return train(model, batches, config, on_step=on_step)


@torch.no_grad()
def predict_pairs(model: RelationClassifier, vocab, items: Sequence[tuple[str, object, object]],
                  batch_size: int = 128, markers: Sequence[str] = MARKERS) -> list[str]:
    """The relation (or NO_RELATION) of each (text, head mention, tail mention)."""
    enc = [encode_pair(vocab, t, h, tl, model.max_len, markers) for t, h, tl in items]
    device = next(model.parameters()).device
    out: list[str] = []
    with eval_mode(model):
        for b in range(0, len(enc), batch_size):
            part = enc[b:b + batch_size]
            ids = pad_rows([e[0] for e in part], vocab.pad_id).to(device)
            pos = torch.tensor([[e[1], e[2]] for e in part], device=device)
            out += [model.labels[k] for k in model(ids, pos)[0].argmax(-1).tolist()]
    return out


def predict_examples(model: RelationClassifier, vocab, examples: Sequence) -> tuple[list[str], list[str]]:
    """(gold, predicted) labels of every ordered gold-mention pair of ``examples``."""
    gold, items = [], []
    for ex in examples:
        for i, j, rel in pair_labels(ex):
            gold.append(rel)
            items.append((ex.text, ex.mentions[i], ex.mentions[j]))
    return gold, predict_pairs(model, vocab, items)


def pair_features(text: str, head, tail) -> str:
    """The baseline's view of a pair: the two entity types and their order, then the characters
    between the two mentions, space-separated (``"PER>LOC 生 于"``). Needs typed mentions
    (``label`` or a third tuple item)."""
    (hs, he), (ts, te) = span_of(head), span_of(tail)
    types = [getattr(m, "label", None) or (m[2] if isinstance(m, (tuple, list)) and len(m) > 2 else "?")
             for m in (head, tail)]
    order = ">" if hs < ts else "<"
    between = text[he:ts] if hs < ts else text[te:hs]
    return " ".join([f"{types[0]}{order}{types[1]}", *between])


# ---- scores --------------------------------------------------------------------------------------
def relation_scores(gold: Sequence[str], pred: Sequence[str], relations: Sequence[str] | None = None) -> dict:
    """{"micro": {precision, recall, f1}, relation: {precision, recall, f1, support}, ...}: micro
    over the real relations only, so NO_RELATION counts neither as a hit nor as a class."""
    from sklearn.metrics import precision_recall_fscore_support

    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions; give one per pair")
    if relations is None:
        relations = sorted(set(gold) - {NO_RELATION})
    relations = [r for r in relations if r != NO_RELATION]
    p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=relations, average="micro", zero_division=0)
    out = {"micro": {"precision": float(p), "recall": float(r), "f1": float(f)}}
    ps, rs, fs, ns = precision_recall_fscore_support(gold, pred, labels=relations, zero_division=0)
    for k, rel in enumerate(relations):
        out[rel] = {"precision": float(ps[k]), "recall": float(rs[k]), "f1": float(fs[k]), "support": int(ns[k])}
    return out


Triple = tuple[int, tuple[int, int, str], str, tuple[int, int, str]]   # (sentence, head, relation, tail)


def triple_scores(gold: set[Triple], pred: set[Triple]) -> dict:
    """Precision, recall and F1 of predicted (sentence, head span, relation, tail span) triples:
    a triple counts only when both spans (with their types) and the relation are right."""
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "tp": tp, "fp": len(pred - gold), "fn": len(gold - pred)}


def attribute_errors(gold: set[Triple], pred: set[Triple], gold_mentions: set, pred_mentions: set) -> dict:
    """Blame each pipeline error on one stage. A missed gold triple is NER's fault when NER did not
    find one of its two mentions exactly, else RE's; a spurious triple is NER's fault when one of
    its mentions is not a gold mention, else RE's. Mentions are (sentence, (start, end, type))."""
    out = {"fn_ner": 0, "fn_re": 0, "fp_ner": 0, "fp_re": 0}
    for s, h, _, t in gold - pred:
        out["fn_ner" if (s, h) not in pred_mentions or (s, t) not in pred_mentions else "fn_re"] += 1
    for s, h, _, t in pred - gold:
        out["fp_ner" if (s, h) not in gold_mentions or (s, t) not in gold_mentions else "fp_re"] += 1
    return out


def gold_triples(examples: Sequence) -> tuple[set[Triple], set]:
    """The stated triples and the mentions of ``examples``, keyed by sentence index."""
    triples, mentions = set(), set()
    for k, ex in enumerate(examples):
        spans = [(m.start, m.end, m.label) for m in ex.mentions]
        mentions |= {(k, s) for s in spans}
        triples |= {(k, spans[r.head], r.relation, spans[r.tail]) for r in ex.relations}
    return triples, mentions


def extract(model: RelationClassifier, vocab, texts: Sequence[str],
            spans: Sequence[Sequence[tuple[int, int, str]]]) -> set[Triple]:
    """Triples found in ``texts`` given the mentions of each (from NER or gold): every ordered
    pair of mentions is classified and the pairs with a real relation are kept."""
    texts = check_texts(texts, "extract(model, vocab, [text], [mentions])")
    if isinstance(spans, (str, bytes)) or not isinstance(spans, Sequence):
        raise TypeError(f"spans must be a list with one list of (start, end, type) mentions per text, "
                        f"not {type(spans).__name__}")
    if len(texts) != len(spans):
        raise ValueError(f"{len(texts)} texts but {len(spans)} mention lists; give one list per text")
    keys, items = [], []
    for k, (text, ms) in enumerate(zip(texts, spans)):
        ms = [tuple(m) for m in ms]
        for i, j in mention_pairs(len(ms)):
            keys.append((k, ms[i], ms[j]))
            items.append((text, ms[i], ms[j]))
    labels = predict_pairs(model, vocab, items) if items else []
    return {(k, h, rel, t) for (k, h, t), rel in zip(keys, labels) if rel != NO_RELATION}


__all__ = ["MARKERS", "Marked", "NO_RELATION", "PairBatches", "RelationClassifier", "Triple", "attribute_errors",
           "encode_examples", "encode_pair", "extract", "fit_relations", "gold_triples", "insert_markers",
           "mention_pairs", "pair_features", "pair_labels", "predict_examples", "predict_pairs",
           "relation_scores", "span_of", "triple_scores"]
