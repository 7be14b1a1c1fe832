"""Extractive question answering on the book's character encoder: point at the answer's span.

The reader of BERT's SQuAD recipe (Devlin et al., 2019, section 4.2). The question and the
passage (the *context*) are read together as ``[CLS] question [SEP] context [SEP]``, with
segment id 0 on ``[CLS] question [SEP]`` and 1 on ``context [SEP]``, so every position knows
which side it is on (``BertLike.states(ids, segments)``). ``SpanExtractor`` puts one linear
layer on the final states: two numbers per position, the score that the answer *starts* there
and the score that it *ends* there. Positions outside the context are masked out (the answer
is always a piece of the context), and the loss is the mean of two cross-entropies over the
context positions: one for the true start, one for the true end.

Decoding (``best_span``) picks the (start, end) with the highest start score + end score among
spans with start <= end and end - start < ``max_answer_chars``, inside the context: the
brute-force answer over all allowed spans, computed at once as a (T, T) table.

Chinese is read one token per character (``tagger.encode_chars``: ASCII that the vocabulary
lacks reads as its full-width form, ``1`` -> ``１``), so character offsets in the context are
token offsets: no alignment table is needed, and the answer returned is the context's own
text ``context[start:end]`` (characters that read as <unk> come back unchanged). A vocabulary
that does not give one id per character is refused with a ValueError.

A context longer than the room the question leaves (``max_len - len(question) - 3``) is read
in half-overlapping windows (``tagger.windows``); training keeps the windows that hold the
whole answer, prediction takes the best-scoring span over all windows. The answer is assumed
to be in the context: there is no "no answer" (SQuAD 2.0) option.

Metrics (``exact_match``, ``char_f1``, ``evaluate_qa``): SQuAD's, with characters as tokens.
Both sides are normalised first (``normalize_answer``): NFKC (full-width ``１９８５`` reads as
``1985``), lower case, and every whitespace, punctuation, control and format character
(Unicode categories ``Z*``, ``P*``, ``C*``) removed, so ``2,999元`` equals ``2999元`` and
``彼得·马丁`` equals ``彼得马丁``. Exact match
compares the normalised strings; F1 is the harmonic mean of precision and recall of the
characters they share (a multiset, as SQuAD counts tokens).

``QAModel`` is what a reader calls: ``answer(questions, contexts) -> list[str]``, ``spans``
for the offsets and scores, ``save`` and ``load`` (one safetensors file through
``runtime.checkpoint``: weights, config and vocabulary; nothing is unpickled). ``fit_qa``
trains a ``SpanExtractor`` with the book's one loop (``training.train``). The encoder is passed
in: the tasks layer does not import ``hub``; ``hub.pretrained("bert-zh-mlm")`` gives one.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.batches import pad_rows, step_generator
from ..models.bertlike import BertConfig, BertLike
from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from ..runtime.device import eval_mode
from ..text.tokenize import BertVocab
from ..training.train import History, TrainConfig, train
from .classifier import PRETRAINING_ONLY
from .tagger import encode_chars, windows

FORMAT = "llmbook-qa/1"
KIND = "qa-reader"
MAX_ANSWER_CHARS = 16            # longest answer decoding considers (the world's are <= 7)
MAX_QUESTION_CHARS = 64          # longer questions are refused: they would crowd out the context


# ---- the network ---------------------------------------------------------------------------------
class SpanExtractor(nn.Module):
    """BertLike encoder + dropout + ``Linear(d, 2)``: start and end logits per position.

    The encoder is modified in place (its pretraining-only heads are frozen): pass a copy to
    keep the original. ``head_lr_mult`` scales the learning rate of the new head
    (``training.make_optimizer`` reads ``lr_scales``)."""

    def __init__(self, encoder: BertLike, dropout: float = 0.1, head_lr_mult: float = 1.0):
        super().__init__()
        if not isinstance(encoder, BertLike):
            raise TypeError(f"SpanExtractor needs a BertLike encoder (it reads segment ids), "
                            f"not {type(encoder).__name__}")
        self.encoder = encoder
        encoder.requires_grad_(True)
        for name in PRETRAINING_ONLY:              # MLM bias, NSP head, ...: unused here
            getattr(encoder, name).requires_grad_(False)
        self.dropout = nn.Dropout(dropout)
        self.qa_head = nn.Linear(encoder.config.d_model, 2)
        self.lr_scales = {"qa_head": head_lr_mult}

    @property
    def max_len(self) -> int:
        return self.encoder.config.max_len

    def forward(self, ids: torch.Tensor, segments: torch.Tensor,
                context_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids, segments, context_mask (B, T) -> start and end logits (B, T) each, -inf where
        ``context_mask`` is False (not a context character)."""
        h = self.dropout(self.encoder.states(ids, segments))             # (B, T, d)
        start, end = self.qa_head(h).float().unbind(-1)                  # (B, T) each
        start = start.masked_fill(~context_mask, float("-inf"))
        end = end.masked_fill(~context_mask, float("-inf"))
        return start, end


def span_loss(model: nn.Module, batch) -> torch.Tensor:
    """Mean of the start and end cross-entropies; ``batch`` = (ids, segments, context_mask,
    start, end) with start/end the answer's first and last token positions (B,)."""
    ids, segments, mask, start, end = batch
    start_logits, end_logits = model(ids, segments, mask)
    return (F.cross_entropy(start_logits, start) + F.cross_entropy(end_logits, end)) / 2


def best_span(start_logits: torch.Tensor, end_logits: torch.Tensor,
              max_answer_chars: int = MAX_ANSWER_CHARS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The best allowed span of each row: (B, T) logits -> start, end (inclusive), score (B,).

    Allowed: start <= end, end - start < ``max_answer_chars``, both where the logits are finite
    (the context). Score = start logit + end logit. Ties go to the first span in row-major
    (start, end) order. Every row must have at least one finite position."""
    if max_answer_chars < 1:
        raise ValueError(f"max_answer_chars must be at least 1, got {max_answer_chars}")
    T = start_logits.size(-1)
    i = torch.arange(T, device=start_logits.device)
    allowed = (i[None, :] >= i[:, None]) & (i[None, :] - i[:, None] < max_answer_chars)   # (T, T)
    scores = start_logits[:, :, None] + end_logits[:, None, :]                             # (B, T, T)
    scores = scores.masked_fill(~allowed, float("-inf"))
    best, flat = scores.flatten(1).max(-1)
    if torch.isinf(best).any():
        raise ValueError("a row has no context position to answer from")
    return flat // T, flat % T, best


# ---- features: one row per (question, context window) --------------------------------------------
@dataclass
class Feature:
    """One encoder input: ``ids`` and ``segments`` of ``[CLS] q [SEP] context[offset:offset+n] [SEP]``;
    the window's characters are positions ``first .. first + n - 1``."""
    ids: list[int]
    segments: list[int]
    first: int                 # position of the window's first character (len(question) + 2)
    offset: int                # the window's first character in the whole context
    n: int                     # characters in the window


def _char_ids(vocab: BertVocab, text: str, what: str) -> list[int]:
    ids = encode_chars(vocab, text)
    if len(ids) != len(text):
        raise ValueError(f"the vocabulary gives {len(ids)} ids for the {len(text)} characters of "
                         f"the {what}; the QA reader needs a character vocabulary (one id per character)")
    return ids


def context_room(max_len: int, question: str) -> int:
    """Context characters that fit one window beside ``question``: max_len - len(question) - 3."""
    return max_len - len(question) - 3


def features(vocab: BertVocab, question: str, context: str, max_len: int,
             max_question_chars: int = MAX_QUESTION_CHARS) -> list[Feature]:
    """The encoder inputs for one question: the whole context, or half-overlapping windows."""
    if len(question) > max_question_chars:
        raise ValueError(f"question of {len(question)} characters is longer than max_question_chars="
                         f"{max_question_chars}; shorten it")
    room = context_room(max_len, question)
    if room < 1:
        raise ValueError(f"question of {len(question)} characters leaves no room for the context in "
                         f"max_len={max_len}")
    q = _char_ids(vocab, question, "question")
    c = _char_ids(vocab, context, "context")
    head = [vocab.cls_id, *q, vocab.sep_id]
    out = []
    for s, e in windows(len(c), room):
        out.append(Feature(head + c[s:e] + [vocab.sep_id], [0] * len(head) + [1] * (e - s + 1),
                           len(head), s, e - s))
    return out


def collate(feats: Sequence[Feature], pad_id: int = BertVocab.pad_id):
    """(ids, segments, context_mask) (B, T) for a list of features, padded to the longest."""
    ids = pad_rows([f.ids for f in feats], pad_id)
    segments = pad_rows([f.segments for f in feats], 0)
    pos = torch.arange(ids.size(1))
    first = torch.tensor([f.first for f in feats])[:, None]
    n = torch.tensor([f.n for f in feats])[:, None]
    mask = (pos[None, :] >= first) & (pos[None, :] < first + n)
    return ids, segments, mask


def _fields(example) -> tuple[str, str, str, int]:
    """(question, context, answer, answer_start) of a record (attributes or dict keys)."""
    get = example.get if isinstance(example, dict) else lambda k: getattr(example, k)
    return get("question"), get("context"), get("answer"), int(get("answer_start"))


def training_rows(examples: Sequence, vocab: BertVocab, max_len: int,
                  max_question_chars: int = MAX_QUESTION_CHARS) -> list[tuple[Feature, int, int]]:
    """(feature, start position, end position) for every window that holds the whole answer.

    ``examples``: records with question, context, answer and answer_start (the world's
    ``QAExample``, or dicts). A record whose ``context[answer_start:][:len(answer)]`` is not
    ``answer`` raises a ValueError."""
    rows = []
    for k, ex in enumerate(examples):
        question, context, answer, a = _fields(ex)
        if context[a:a + len(answer)] != answer or not answer:
            raise ValueError(f"example {k}: answer {answer!r} is not at character {a} of its context")
        b = a + len(answer) - 1                                      # last answer character
        try:
            feats = features(vocab, question, context, max_len, max_question_chars)
        except ValueError as e:
            raise ValueError(f"example {k}: {e}") from None
        for f in feats:
            if f.offset <= a and b < f.offset + f.n:
                rows.append((f, f.first + a - f.offset, f.first + b - f.offset))
    return rows


class SpanBatches:
    """``batches(step) -> (ids, segments, context_mask, start, end)``: ``batch_size`` random
    training rows; the draw depends only on (seed, step), as ``train`` requires.

    ``length_groups`` > 1 draws that many batches' rows at once, sorts them by length and cuts
    them into batches (in random order): every row is still drawn uniformly, but a batch holds
    rows of similar length, so less of it is padding (the world's QA rows: about 30% padding in
    random batches of 16, far less with groups of 4)."""

    def __init__(self, rows: Sequence[tuple[Feature, int, int]], batch_size: int, seed: int = 0,
                 pad_id: int = BertVocab.pad_id, length_groups: int = 1):
        if not rows:
            raise ValueError("no training rows: pass at least one example whose answer fits a window")
        if length_groups < 1:
            raise ValueError(f"length_groups must be at least 1, got {length_groups}")
        self.rows, self.batch_size, self.seed, self.pad_id = list(rows), batch_size, seed, pad_id
        self.length_groups = length_groups

    def __call__(self, step: int):
        group, k = divmod(step, self.length_groups)
        g = step_generator(self.seed, group)
        pick = torch.randint(len(self.rows), (self.batch_size * self.length_groups,), generator=g)
        if self.length_groups > 1:
            pick = sorted(pick.tolist(), key=lambda i: len(self.rows[i][0].ids))
            order = torch.randperm(self.length_groups, generator=g).tolist()
            pick = pick[order[k] * self.batch_size:(order[k] + 1) * self.batch_size]
        rows = [self.rows[i] for i in torch.as_tensor(pick).tolist()]
        ids, segments, mask = collate([r[0] for r in rows], self.pad_id)
        return (ids, segments, mask, torch.tensor([r[1] for r in rows]), torch.tensor([r[2] for r in rows]))


def fit_qa(model: SpanExtractor, examples: Sequence, vocab: BertVocab, config: TrainConfig,
           batch_size: int = 32, seed: int = 0, length_groups: int = 1) -> History:
    """Fine-tune the whole reader (encoder included) on QA records with ``training.train``;
    ``length_groups``: see ``SpanBatches``."""
    rows = training_rows(examples, vocab, model.max_len)
    batches = SpanBatches(rows, batch_size, seed, vocab.pad_id, length_groups)
    return train(model, batches, config, loss_fn=span_loss)


# ---- the reader a user calls ---------------------------------------------------------------------
def _check_pairs(questions, contexts) -> tuple[list[str], list[str]]:
    """Lists of strings of equal length, or a TypeError / ValueError naming the bad item."""
    for name, xs in (("questions", questions), ("contexts", contexts)):
        if isinstance(xs, (str, bytes)):
            raise TypeError(f"{name} must be a list of strings, not a single {type(xs).__name__}; "
                            f"wrap it: answer([question], [context])")
    questions, contexts = list(questions), list(contexts)
    if len(questions) != len(contexts):
        raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts; give one context per question")
    for name, xs in (("question", questions), ("context", contexts)):
        for i, t in enumerate(xs):
            if not isinstance(t, str):
                raise TypeError(f"{name} {i} is a {type(t).__name__}, not a str")
            if not t.strip():
                raise ValueError(f"{name} {i} is empty or only whitespace")
    return questions, contexts


class QAModel:
    """A trained span extractor and its vocabulary: ``answer(questions, contexts)``."""

    def __init__(self, model: SpanExtractor, vocab: BertVocab, max_answer_chars: int = MAX_ANSWER_CHARS,
                 max_question_chars: int = MAX_QUESTION_CHARS):
        self.model, self.vocab = model.eval(), vocab
        self.max_answer_chars, self.max_question_chars = max_answer_chars, max_question_chars

    @classmethod
    def from_encoder(cls, encoder: BertLike, vocab: BertVocab, dropout: float = 0.1,
                     head_lr_mult: float = 1.0, **options) -> QAModel:
        """A new reader (untrained head) on ``encoder``; ``options``: max_answer_chars, max_question_chars."""
        return cls(SpanExtractor(encoder, dropout, head_lr_mult), vocab, **options)

    def fit(self, examples: Sequence, config: TrainConfig, batch_size: int = 32, seed: int = 0,
            length_groups: int = 1) -> History:
        """``fit_qa`` on this reader's network; it is left in eval mode."""
        history = fit_qa(self.model, examples, self.vocab, config, batch_size, seed, length_groups)
        self.model.eval()
        return history

    @torch.no_grad()
    def spans(self, questions: Sequence[str], contexts: Sequence[str],
              batch_size: int = 64) -> list[tuple[int, int, float]]:
        """(start, end, score) per question: the answer is ``context[start:end]`` (end exclusive);
        score = start logit + end logit, the best over the context's windows."""
        questions, contexts = _check_pairs(questions, contexts)
        jobs = []                                         # (question index, feature)
        for k, (q, c) in enumerate(zip(questions, contexts)):
            try:
                jobs += [(k, f) for f in features(self.vocab, q, c, self.model.max_len, self.max_question_chars)]
            except ValueError as e:
                raise ValueError(f"question {k}: {e}") from None
        jobs.sort(key=lambda job: len(job[1].ids))        # similar lengths together: little padding
        best: list[tuple[int, int, float] | None] = [None] * len(questions)
        device = next(self.model.parameters()).device
        with eval_mode(self.model):
            for b in range(0, len(jobs), batch_size):
                part = jobs[b:b + batch_size]
                ids, segments, mask = (t.to(device) for t in collate([f for _, f in part], self.vocab.pad_id))
                s, e, score = best_span(*self.model(ids, segments, mask), self.max_answer_chars)
                for (k, f), s_, e_, sc in zip(part, s.tolist(), e.tolist(), score.tolist()):
                    start = f.offset + s_ - f.first
                    # the best score over the windows; on a tie the earlier span
                    if best[k] is None or (sc, -start) > (best[k][2], -best[k][0]):
                        best[k] = (start, f.offset + e_ - f.first + 1, sc)
        return best

    def answer(self, questions: Sequence[str], contexts: Sequence[str], batch_size: int = 64) -> list[str]:
        """The answer to each question: a piece of its context, ``context[start:end]``."""
        questions, contexts = _check_pairs(questions, contexts)
        return [c[s:e] for c, (s, e, _) in zip(contexts, self.spans(questions, contexts, batch_size))]

    def state(self) -> dict:
        """What the model's file stores besides the weights (JSON metadata)."""
        return {"kind": KIND, "format": FORMAT, "encoder": self.model.encoder.config.to_dict(),
                "dropout": self.model.dropout.p, "max_answer_chars": self.max_answer_chars,
                "max_question_chars": self.max_question_chars, "vocab": self.vocab.to_json()}

    def save(self, path: str | os.PathLike) -> None:
        """One safetensors file (written atomically): weights + config + vocabulary as JSON."""
        save_checkpoint(path, self.model, state=self.state(), rng=False)

    @classmethod
    def from_state(cls, state: dict) -> QAModel:
        """An untrained reader shaped as ``state`` (from ``state()``) describes."""
        if state.get("format") != FORMAT:
            raise ValueError(f"not a saved QAModel (format {state.get('format')!r}, expected {FORMAT!r})")
        try:
            model = SpanExtractor(BertLike(BertConfig(**state["encoder"])), state["dropout"])
            return cls(model, BertVocab.from_json(state["vocab"]), state["max_answer_chars"],
                       state["max_question_chars"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"incomplete QA model metadata ({e!r}); save it again") from None

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> QAModel:
        """A reader saved with ``save``; the file's sha256 is checked and nothing is unpickled."""
        ckpt = load_checkpoint(path)
        try:
            reader = cls.from_state(ckpt.state)
        except ValueError as e:
            raise ValueError(f"{path} is {e}") from None
        ckpt.apply(reader.model)
        reader.model.to(device).eval()
        return reader


# ---- metrics -------------------------------------------------------------------------------------
def normalize_answer(text: str) -> str:
    """NFKC, lower case, then drop whitespace, punctuation, control and format characters
    (Unicode categories Z*, P*, C*): what SQuAD's metric ignores, on characters."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c)[0] not in "ZPC")


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def char_f1(prediction: str, gold: str) -> float:
    """SQuAD's F1 with characters as tokens: overlap of the two character multisets after
    ``normalize_answer``. Two empty strings score 1, one empty string 0."""
    p, g = normalize_answer(prediction), normalize_answer(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def evaluate_qa(predictions: Sequence[str], golds: Sequence[str]) -> dict:
    """Mean exact match and character F1 over the questions: {"em", "f1", "n"}."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions but {len(golds)} gold answers")
    if not golds:
        raise ValueError("nothing to evaluate: no questions")
    n = len(golds)
    return {"em": sum(map(exact_match, predictions, golds)) / n,
            "f1": sum(map(char_f1, predictions, golds)) / n, "n": n}


__all__ = ["Feature", "MAX_ANSWER_CHARS", "MAX_QUESTION_CHARS", "QAModel", "SpanBatches", "SpanExtractor",
           "best_span", "char_f1", "collate", "context_room", "evaluate_qa", "exact_match", "features",
           "fit_qa", "normalize_answer", "span_loss", "training_rows"]
