"""Prompt-based classification on the book's BERT-style encoder: cloze templates, PET, soft prompts.

A classification task is rewritten as the fill-in-the-blank task the encoder was pretrained on.
A ``Template`` wraps the input, ``"{x}。总之很[MASK]。"``, and a ``Verbaliser`` gives each class
one character, negative -> 差, positive -> 好. The score of class k is the MLM logit of its
character at the [MASK] position (``BertLike.mlm_logits`` on ``BertLike.states``, restricted to
the verbaliser's characters); the prediction is the class whose character the model would rather
fill in. Nothing new is learned for that: it works zero-shot, with the pretrained MLM head.

``PromptClassifier`` has two ways to train (``mode``):

- ``"pet"``: Pattern-Exploiting Training (Schick & Schuetze, 2021): the encoder and its MLM head
  train on a few labelled examples with cross-entropy over the verbaliser characters at the mask.
  Every encoder weight trains, but no new layer is added: the first step starts from the
  zero-shot model, where a new classification head would start from chance. (PET also adds the
  MLM loss on unlabelled text and distils several templates into one model; not done here.)
- ``"soft"``: prompt tuning (Lester et al., 2021): the encoder is frozen and runs as at inference
  (eval mode); only a few continuous vectors train, placed where words would be
  (``soft="template"``: the template's own characters, e.g. 。总之很 and 。, become vectors that
  start at those characters' embeddings, so step 0 is exactly the hard template) or prepended
  after [CLS] (``soft="prefix"``: ``n_prompt`` vectors in front of a fixed hard template, as in
  the paper, started at the embeddings of randomly drawn vocabulary characters). Objective: the
  verbaliser cross-entropy, not a new classification head. A head on frozen states is a probe
  (``classifier`` mode ``"probe"``), which needs no prompt at all; the verbaliser keeps the
  pretrained MLM head as the output layer, so the prompt vectors alone must steer the frozen
  model, which is what prompt tuning claims they can. The vectors are stored as the embedding
  they started from (a buffer) plus a trainable difference, so that weight decay pulls them
  back toward those characters rather than toward the zero vector.

Long inputs: the template is always kept whole. The input x is cut to its head, to the
``max_len`` - 2 ([CLS], [SEP]) - (template characters) - 1 ([MASK]) - ``n_prompt`` characters
that are left; a template that leaves no room for even one character is a ValueError.

Training uses the book's loop (``training.train``) through ``fit_prompt``, with the batches and
the loss of ``tasks.classifier`` (``ShuffledBatches``, ``classification_loss``): the model maps
ids (B, T) to class scores (B, K) like a ``Classifier``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.batches import pad_rows
from ..models.bertlike import BertLike
from ..runtime.device import eval_mode
from ..text.tokenize import BertVocab
from ..training.train import History, TrainConfig, train
from .classifier import ShuffledBatches, classification_loss
from .lora import count_trainable
from .tagger import encode_chars

MASK, SLOT = "[MASK]", "{x}"
MODES = ("pet", "soft")
SOFT = ("template", "prefix")
# BertLike parts that the cloze path never uses: frozen in "pet", so the parameter counts are honest
UNUSED = ("pooler", "nsp_head", "query_start")


@dataclass(frozen=True)
class Template:
    """A pattern with one input slot ``{x}`` and one ``[MASK]``, e.g. ``"{x}。总之很[MASK]。"``.

    Either may come first (``"[MASK]评：{x}"``). Everything else is literal text: ``prefix``
    (before the first of the two), ``middle`` (between them) and ``suffix`` (after both).
    """

    text: str

    def __post_init__(self):
        if not isinstance(self.text, str):
            raise TypeError(f"a template is a string, got {type(self.text).__name__}")
        for token, what in ((SLOT, "the input slot"), (MASK, "the blank the model fills in")):
            n = self.text.count(token)
            if n != 1:
                raise ValueError(f"template {self.text!r} must contain {token} ({what}) exactly once, "
                                 f"found {n}; e.g. '{{x}}。总之很[MASK]。'")

    @property
    def x_first(self) -> bool:
        return self.text.index(SLOT) < self.text.index(MASK)

    @property
    def parts(self) -> tuple[str, str, str]:
        """(prefix, middle, suffix): the literal text around the slot and the mask."""
        first, second = (SLOT, MASK) if self.x_first else (MASK, SLOT)
        prefix, rest = self.text.split(first)
        middle, suffix = rest.split(second)
        return prefix, middle, suffix

    @property
    def literal(self) -> str:
        """Every literal character, in order: what ``soft="template"`` turns into vectors."""
        return "".join(self.parts)

    def fill(self, x: str, blank: str = "＿") -> str:
        """The prompt as text, for display: x in the slot, ``blank`` for the mask."""
        return self.text.replace(SLOT, x).replace(MASK, blank)

    def check(self, vocab: BertVocab) -> None:
        """ValueError when a literal character would read as <unk>: the model would see a
        different template than the one written (an input character may be <unk>, a template's
        may not)."""
        missing = [c for c in dict.fromkeys(self.literal) if vocab.unk_id in encode_chars(vocab, c)]
        if missing:
            raise ValueError(f"template {self.text!r}: characters {missing} are not in the vocabulary "
                             "and would read as <unk>; choose other words")

    def encode(self, vocab: BertVocab, x: str, max_len: int, n_prompt: int = 0,
               prompt_ids: Sequence[int] = ()) -> list[int]:
        """``[CLS] (prompt) prefix x middle [MASK] suffix [SEP]`` (or with [MASK] before x), x cut
        to its head so that the whole row fits ``max_len``. ``prompt_ids``: ``n_prompt`` ids that
        hold the places of prepended soft-prompt vectors."""
        if len(prompt_ids) != n_prompt:
            raise ValueError(f"{len(prompt_ids)} prompt ids for n_prompt={n_prompt}")
        room = max_len - 3 - n_prompt - len(self.literal)
        if room < 1:
            raise ValueError(f"template {self.text!r} ({len(self.literal)} characters) and {n_prompt} "
                             f"prompt vectors leave no room for the input within max_len={max_len}")
        prefix, middle, suffix = (encode_chars(vocab, p) for p in self.parts)
        xs = encode_chars(vocab, x[:room])
        a, b = (xs, [vocab.mask_id]) if self.x_first else ([vocab.mask_id], xs)
        return [vocab.cls_id, *prompt_ids, *prefix, *a, *middle, *b, *suffix, vocab.sep_id]


class Verbaliser:
    """Class -> one character: ``Verbaliser({"negative": "差", "positive": "好"})``. The order of
    the mapping is the order of the classes (label k scores the k-th character)."""

    def __init__(self, words: Mapping[str, str]):
        words = dict(words)
        if len(words) < 2:
            raise ValueError(f"a verbaliser needs at least 2 classes, got {words}")
        for label, w in words.items():
            if not isinstance(w, str) or len(w) != 1:
                raise ValueError(f"verbaliser word {w!r} for {label!r} must be exactly one character "
                                 "(the model fills one [MASK] with one character)")
        if len(set(words.values())) != len(words):
            raise ValueError(f"verbaliser {words} gives two classes the same character")
        self.labels, self.words = tuple(str(k) for k in words), tuple(words.values())

    def __repr__(self) -> str:
        return f"Verbaliser({dict(zip(self.labels, self.words))})"

    def token_ids(self, vocab: BertVocab) -> list[int]:
        """The ids of the words; ValueError for a word outside the vocabulary (it would be <unk>)."""
        missing = [w for w in self.words if vocab.unknown(w) or vocab.unk_id in vocab.encode(w)]
        if missing:
            raise ValueError(f"verbaliser words {missing} are not in the vocabulary: the model "
                             "cannot fill them in; choose characters it knows")
        return [vocab.encode(w)[0] for w in self.words]


class PromptClassifier(nn.Module):
    """A ``BertLike`` (modified in place: pass a copy to keep the original) read through a cloze
    template: ids (B, T) -> verbaliser scores (B, K). See the module docstring for ``mode``,
    ``soft`` and ``n_prompt``; ``seed`` draws the characters a prefix prompt starts from."""

    def __init__(self, encoder: BertLike, vocab: BertVocab, template: Template | str,
                 verbaliser: Verbaliser | Mapping[str, str], mode: str = "pet", soft: str = "template",
                 n_prompt: int = 0, max_len: int | None = None, seed: int = 0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if soft not in SOFT:
            raise ValueError(f"soft must be one of {SOFT}, got {soft!r}")
        if n_prompt < 0 or (n_prompt and (mode, soft) != ("soft", "prefix")):
            raise ValueError(f"n_prompt={n_prompt}: prepended vectors need mode='soft', soft='prefix'")
        if (mode, soft) == ("soft", "prefix") and n_prompt < 1:
            raise ValueError("soft='prefix' needs n_prompt >= 1 prepended vectors")
        self.template = template if isinstance(template, Template) else Template(template)
        self.verbaliser = verbaliser if isinstance(verbaliser, Verbaliser) else Verbaliser(verbaliser)
        self.template.check(vocab)
        self.encoder, self.vocab, self.mode, self.soft = encoder, vocab, mode, soft
        self.max_len = encoder.config.max_len if max_len is None else max_len
        if self.max_len > encoder.config.max_len:
            raise ValueError(f"max_len {self.max_len} exceeds the encoder's max_len {encoder.config.max_len}")
        self.register_buffer("word_ids", torch.tensor(self.verbaliser.token_ids(vocab)), persistent=False)
        self.n_prompt = n_prompt
        g = torch.Generator().manual_seed(seed)
        ordinary = torch.tensor([i for i in range(vocab.vocab_size) if i not in vocab.non_word_ids])
        self.prompt_ids = ordinary[torch.randint(len(ordinary), (n_prompt,), generator=g)].tolist()

        if mode == "pet":
            encoder.requires_grad_(True)
            for name in UNUSED:
                getattr(encoder, name).requires_grad_(False)
            self.prompt_init = self.prompt_delta = None
        else:
            encoder.requires_grad_(False)
            start = self.prompt_ids if soft == "prefix" else encode_chars(vocab, self.template.literal)
            init = encoder.encoder.embed.tok.weight[torch.tensor(start, dtype=torch.long)].detach().clone()
            self.register_buffer("prompt_init", init)                               # (n, d)
            self.prompt_delta = nn.Parameter(torch.zeros_like(init))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.verbaliser.labels

    @property
    def pad_id(self) -> int:
        return self.encoder.config.pad_id

    def train(self, mode: bool = True) -> PromptClassifier:
        super().train(mode)
        if self.mode == "soft":
            self.encoder.eval()                # a frozen model runs as at inference
        return self

    def prompt_vectors(self) -> torch.Tensor | None:
        """(n, d) soft-prompt vectors in token-embedding units, or None in "pet" mode."""
        return None if self.prompt_delta is None else self.prompt_init + self.prompt_delta

    # -- inputs -------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """One row of ids per text (``Template.encode``)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings: wrap one text as [text]")
        return [self.template.encode(self.vocab, t, self.max_len, self.n_prompt, self.prompt_ids)
                for t in texts]

    def mask_positions(self, ids: torch.Tensor) -> torch.Tensor:
        """(B,) position of the one [MASK] of each row; ValueError when a row has none or two."""
        hits = ids == self.vocab.mask_id
        counts = hits.sum(1)
        if (counts != 1).any():
            row = int((counts != 1).nonzero()[0])
            raise ValueError(f"row {row} has {int(counts[row])} [MASK] tokens, needs exactly 1; "
                             "encode texts with PromptClassifier.encode")
        return hits.float().argmax(1)

    def slots(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, n) positions that hold soft-prompt vectors ("soft" mode). The template's literal
        characters sit at fixed offsets from [CLS], [MASK] or [SEP]; prepended vectors follow [CLS]."""
        B = ids.size(0)
        if self.soft == "prefix":
            return torch.arange(1, 1 + self.n_prompt, device=ids.device).expand(B, -1)
        mask = self.mask_positions(ids)[:, None]                                  # (B, 1)
        sep = (ids != self.pad_id).sum(1, keepdim=True) - 1                       # (B, 1)
        prefix, middle, suffix = (len(p) for p in self.template.parts)
        arange = lambda n: torch.arange(n, device=ids.device)[None]              # noqa: E731
        mid = mask - middle + arange(middle) if self.template.x_first else mask + 1 + arange(middle)
        return torch.cat([(1 + arange(prefix)).expand(B, -1), mid, sep - suffix + arange(suffix)], 1)

    # -- forward ------------------------------------------------------------------------------
    def states(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T, d) final states; in "soft" mode with the prompt vectors in place of
        the token embeddings at ``slots`` (h0 = E'[x] sqrt(d) + P[pos] + S[0], E' = E with those
        rows replaced)."""
        if self.mode == "pet":
            return self.encoder.states(ids)
        enc = self.encoder
        slots = self.slots(ids)                                                   # (B, n)
        d = enc.config.d_model
        idx = slots[..., None].expand(-1, -1, d)
        words = enc.encoder.embed.tok(ids.gather(1, slots))                       # (B, n, d)
        delta = (self.prompt_vectors()[None] - words) * enc.encoder.embed.scale   # (B, n, d)
        x = enc.embed(ids, torch.zeros_like(ids))
        x = x.scatter_add(1, idx, delta)                                          # eval mode: no dropout
        key_mask = (ids != self.pad_id)[:, None, None, :]                         # (B, 1, 1, T)
        return enc.encoder.encode(x, key_mask)[0]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, K): the MLM logits of the verbaliser characters at the [MASK]."""
        h = self.states(ids)                                                      # (B, T, d)
        at = h[torch.arange(len(ids), device=ids.device), self.mask_positions(ids)]  # (B, d)
        E = self.encoder.encoder.embed.tok.weight[self.word_ids]                 # (K, d)
        return F.linear(at, E, self.encoder.mlm_bias[self.word_ids])             # = mlm_logits[..., words]

    # -- what a reader calls ------------------------------------------------------------------
    @torch.no_grad()
    def scores(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Verbaliser logits (n, K) for raw texts, in input order."""
        return predict_logits(self, self.encode(texts), batch_size)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.labels[i] for i in self.scores(texts).argmax(-1).tolist()]


@torch.no_grad()
def predict_logits(model: PromptClassifier, ids: Sequence[Sequence[int]], batch_size: int = 64) -> torch.Tensor:
    """Scores (n, K) of encoded rows, in input order; batches sorted by length (little padding)."""
    device = next(model.parameters()).device
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.empty(len(ids), len(model.labels))
    with eval_mode(model):
        for k in range(0, len(order), batch_size):
            chunk = order[k:k + batch_size]
            out[chunk] = model(pad_rows([ids[i] for i in chunk], model.pad_id).to(device)).float().cpu()
    return out


def accuracy(model: PromptClassifier, ids: Sequence[Sequence[int]], labels: Sequence[int]) -> float:
    """Share of encoded rows whose best-scoring class is the label."""
    if not len(ids):
        raise ValueError("nothing to evaluate: no examples")
    pred = predict_logits(model, ids).argmax(-1)
    return float((pred == torch.as_tensor(list(labels))).float().mean())


def fit_prompt(model: PromptClassifier, ids: Sequence[Sequence[int]], labels: Sequence[int],
               config: TrainConfig, batch_size: int = 16, seed: int = 0) -> History:
    """Train on encoded rows (``model.encode``) and integer labels (index into ``model.labels``)
    with ``training.train``: cross-entropy over the verbaliser characters at the mask."""
    bad = [y for y in labels if not 0 <= int(y) < len(model.labels)]
    if bad:
        raise ValueError(f"label {bad[0]} is outside 0..{len(model.labels) - 1}")
    return train(model, ShuffledBatches(ids, labels, batch_size, seed, model.pad_id), config,
                 loss_fn=classification_loss)


def describe(model: PromptClassifier) -> dict:
    """Trainable and total parameters (the prompt's frozen starting point is a buffer, not counted)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = count_trainable(model)
    return {"mode": model.mode, "trainable": trainable, "total": total, "trainable_fraction": trainable / total}


__all__ = ["PromptClassifier", "Template", "Verbaliser", "accuracy", "describe", "fit_prompt",
           "predict_logits"]
