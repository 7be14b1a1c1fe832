"""Entity linking: which entity of a knowledge base does a mention in a text mean?

Two stages, as in BLINK (Wu et al., 2020):

- a **bi-encoder** retrieves. One encoder reads the mention in its context, the mention marked
  ``『…』``, and is averaged over the marked span; a second reads an entity's one-line
  description and is averaged over all of it. Both vectors are L2-normalised and the score is
  their dot product times a fixed scale, so every entity of the knowledge base is embedded once,
  ahead of time, and a query costs one encoder pass plus one matrix product. It is trained
  contrastively: the right entity against the other entities of the batch (in-batch negatives)
  and the example's hard candidates (namesakes and look-alikes), a softmax over all of them.
- a **cross-encoder** re-ranks the bi-encoder's top k. It reads ``[CLS] context [SEP]
  description [SEP]`` as one sequence, so attention compares the two character by character
  (birth year against birth year), and a linear head gives one score per pair. It costs k
  encoder passes per query, which is why it only sees the short list; whether it is also more
  accurate depends on how long it trained (section 6.2.1 measures a 60-step run).

Both start from the book's character encoder (``hub.pretrained("bert-zh-mlm")``; the tasks
layer does not import ``hub``, the caller passes the ``BertLike`` and its vocabulary). The two
simple baselines, exact name match and the popularity prior p(entity | mention), are here
too. Ranking metrics (rank, MRR, Hits@k) are in ``tasks.ranking``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.batches import pad_rows
from ..models.bertlike import BertLike
from ..runtime.device import eval_mode
from ..text.tokenize import BertVocab
from ..training.train import History, TrainConfig, train
from .tagger import encode_chars

MARKS = ("『", "』")                  # around the mention; in bert-zh-mlm's vocabulary, absent from the data
CONTEXT_CHARS = 40                    # characters of context around a mention (markers excluded)
DESCRIPTION_CHARS = 30
PRETRAINING_ONLY = ("mlm_bias", "pooler", "nsp_head", "query_start")   # BertLike heads unused here


# ------------------------------------------------------------------------------ inputs

def mark_mention(text: str, start: int, end: int, window: int = CONTEXT_CHARS) -> str:
    """The text around ``text[start:end]`` with the mention in marks: about ``window``
    characters, centred on the mention (a mention longer than the window is kept whole)."""
    if not 0 <= start < end <= len(text):
        raise ValueError(f"mention span {start}:{end} does not lie inside a text of {len(text)} characters")
    if window < 1:
        raise ValueError(f"window must be at least 1 character, got {window}")
    room = max(0, window - (end - start))
    left = max(0, start - room // 2)
    right = min(len(text), end + room - (start - left))
    left = max(0, min(left, right - window))
    return f"{text[left:start]}{MARKS[0]}{text[start:end]}{MARKS[1]}{text[end:right]}"


def _ids(vocab: BertVocab, text: str, max_chars: int) -> list[int]:
    return [vocab.cls_id, *encode_chars(vocab, text[:max_chars]), vocab.sep_id]


def encode_mention(vocab: BertVocab, example, window: int = CONTEXT_CHARS) -> list[int]:
    """``[CLS] context with 『mention』 [SEP]`` for a ``LinkingExample`` (or anything with
    ``.text`` and ``.mention.start/.end``)."""
    m = example.mention
    return _ids(vocab, mark_mention(example.text, m.start, m.end, window), window + 2)


def encode_entity(vocab: BertVocab, description: str, max_chars: int = DESCRIPTION_CHARS) -> list[int]:
    """``[CLS] description [SEP]``, the description cut to ``max_chars`` characters."""
    if not description:
        raise ValueError("empty entity description: the bi-encoder has nothing to read")
    return _ids(vocab, description, max_chars)


def encode_pair(mention_ids: Sequence[int], entity_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """Cross-encoder input ``[CLS] context [SEP] description [SEP]`` and its segment ids (0 for
    the context, 1 for the description), from the two single encodings."""
    ids = list(mention_ids) + list(entity_ids[1:])                 # drop the description's [CLS]
    return ids, [0] * len(mention_ids) + [1] * (len(entity_ids) - 1)


# ------------------------------------------------------------------------------ baselines

def name_match(example) -> str:
    """The first candidate whose name equals the mention text, else the first candidate. Among
    namesakes this is the candidate list's order, i.e. a guess."""
    if not example.candidates:
        raise ValueError(f"example {example.id!r} has no candidates")
    return next((c.id for c in example.candidates if c.name == example.mention.text), example.candidates[0].id)


def link_counts(examples) -> Counter:
    """How often each (mention text, gold entity) pair occurs in ``examples``: the statistics of
    the prior p(entity | mention), as counted from Wikipedia's anchor links in real systems."""
    return Counter((e.mention.text, e.gold) for e in examples)


def prior_link(example, counts: Counter) -> str:
    """The candidate this mention text linked to most often in training; when none of the
    candidates was ever its target, or the top count is shared, ``name_match`` among the tied."""
    if not example.candidates:
        raise ValueError(f"example {example.id!r} has no candidates")
    seen = [counts.get((example.mention.text, c.id), 0) for c in example.candidates]
    tied = [c for c, n in zip(example.candidates, seen) if n == max(seen)]
    return next((c.id for c in tied if c.name == example.mention.text), tied[0].id)


# ------------------------------------------------------------------------------ bi-encoder

def mean_pool(ids: torch.Tensor, states: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T, d) -> (B, d): the mean over the non-pad positions."""
    real = (ids != pad_id).unsqueeze(-1).to(states.dtype)             # (B, T, 1)
    return (states * real).sum(1) / real.sum(1).clamp(min=1)


def span_pool(ids: torch.Tensor, states: torch.Tensor, open_id: int, close_id: int) -> torch.Tensor:
    """(B, T, d) -> (B, d): the mean over the marked mention, marks included. Every row must hold
    exactly one ``『`` before one ``』``."""
    pos = torch.arange(ids.size(1), device=ids.device)
    opens, closes = ids == open_id, ids == close_id
    if not (opens.sum(1) == 1).all() or not (closes.sum(1) == 1).all():
        raise ValueError(f"every mention input needs exactly one {MARKS[0]} and one {MARKS[1]}; "
                         "encode it with encode_mention")
    start = (opens.long() * pos).sum(1, keepdim=True)
    end = (closes.long() * pos).sum(1, keepdim=True)
    inside = ((pos >= start) & (pos <= end)).unsqueeze(-1).to(states.dtype)   # (B, T, 1)
    return (states * inside).sum(1) / inside.sum(1)


class BiEncoder(nn.Module):
    """Two copies of one ``BertLike``: ``mentions`` reads marked contexts and is pooled over the
    marked mention (its states have attended to the context), ``entities`` reads descriptions and
    is mean-pooled. Both vectors are L2-normalised, so the dot product is a cosine in [-1, 1],
    and multiplied by ``scale`` (a softmax temperature of 1 / scale): without it the raw dot
    products of the pretrained states start in the hundreds and the first steps only shrink them.
    ``forward(m_ids, e_ids)`` gives the (B, N) scores."""

    def __init__(self, encoder: BertLike, vocab: BertVocab, scale: float = 20.0):
        super().__init__()
        self.mentions = copy.deepcopy(encoder)
        self.entities = copy.deepcopy(encoder)
        for enc in (self.mentions, self.entities):
            enc.requires_grad_(True)
            for name in PRETRAINING_ONLY:
                if hasattr(enc, name):
                    getattr(enc, name).requires_grad_(False)
        self.marks = tuple(vocab.encode(m)[0] for m in MARKS)
        if vocab.unk_id is not None and vocab.unk_id in self.marks:
            raise ValueError(f"the vocabulary lacks the mention marks {MARKS}")
        self.scale = scale

    @property
    def pad_id(self) -> int:
        return self.mentions.config.pad_id

    def embed_mentions(self, ids: torch.Tensor) -> torch.Tensor:
        v = span_pool(ids, self.mentions.states(ids), *self.marks)           # (B, d)
        return F.normalize(v, dim=-1)

    def embed_entities(self, ids: torch.Tensor) -> torch.Tensor:
        v = mean_pool(ids, self.entities.states(ids), self.pad_id)           # (N, d)
        return F.normalize(v, dim=-1)

    def forward(self, m_ids: torch.Tensor, e_ids: torch.Tensor) -> torch.Tensor:
        return self.scale * self.embed_mentions(m_ids) @ self.embed_entities(e_ids).T   # (B, N)


def contrastive_loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row's softmax over all entities of the batch: row i's right entity
    is column ``target[i]``, every other column a negative."""
    if scores.dim() != 2 or target.shape != (scores.size(0),):
        raise ValueError(f"scores must be (B, N) and target (B,), got {tuple(scores.shape)} "
                         f"and {tuple(target.shape)}")
    return F.cross_entropy(scores, target)


class ContrastiveBatches:
    """``batches(step)`` for ``train``: B examples (a fresh seeded permutation each epoch), the
    union of their gold entities and hard candidates as columns (each entity once, so a repeated
    gold is never its own negative), and each row's gold column. Returns (m_ids, e_ids, target)."""

    def __init__(self, mention_ids: Sequence[Sequence[int]], golds: Sequence[str],
                 hard: Sequence[Sequence[str]], entity_ids: dict[str, Sequence[int]],
                 batch_size: int, seed: int = 0, pad_id: int = BertVocab.pad_id):
        if not mention_ids:
            raise ValueError("no training examples")
        if not len(mention_ids) == len(golds) == len(hard):
            raise ValueError(f"{len(mention_ids)} mentions, {len(golds)} golds and {len(hard)} "
                             "candidate lists: give one of each per example")
        missing = sorted({g for g in golds if g not in entity_ids}
                         | {c for cs in hard for c in cs if c not in entity_ids})
        if missing:
            raise ValueError(f"{len(missing)} entities have no encoded description, e.g. {missing[0]!r}")
        self.m, self.golds, self.hard, self.e = list(mention_ids), list(golds), list(hard), entity_ids
        self.batch_size, self.seed, self.pad_id = batch_size, seed, pad_id

    def __call__(self, step: int):
        index = batch_index(len(self.m), step, self.batch_size, self.seed)
        columns = list(dict.fromkeys([self.golds[i] for i in index]
                                     + [c for i in index for c in self.hard[i]]))
        where = {c: j for j, c in enumerate(columns)}
        m_ids = pad_rows([self.m[i] for i in index], self.pad_id)
        e_ids = pad_rows([self.e[c] for c in columns], self.pad_id)
        return m_ids, e_ids, torch.tensor([where[self.golds[i]] for i in index])


def batch_index(n: int, step: int, batch_size: int, seed: int) -> list[int]:
    """Example indices of batch ``step``: a fresh seeded permutation of 0..n-1 each epoch, so a
    batch depends only on its step (what makes resumed training exact)."""
    perms: dict[int, torch.Tensor] = {}
    out = []
    for k in range(step * batch_size, (step + 1) * batch_size):
        epoch = k // n
        if epoch not in perms:
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            perms[epoch] = torch.randperm(n, generator=g)
        out.append(int(perms[epoch][k % n]))
    return out


def biencoder_loss(model: BiEncoder, batch) -> torch.Tensor:
    m_ids, e_ids, target = batch
    return contrastive_loss(model(m_ids, e_ids), target)


def fit_biencoder(model: BiEncoder, batches: ContrastiveBatches, config: TrainConfig) -> History:
    """Train the bi-encoder with the book's loop (``training.train``)."""
    return train(model, batches, config, loss_fn=biencoder_loss)


@torch.no_grad()
def embed(model: BiEncoder, ids: Sequence[Sequence[int]], side: str, batch_size: int = 128) -> torch.Tensor:
    """Vectors (n, d) of encoded mentions (``side="mention"``) or descriptions (``"entity"``),
    in input order, batched by length so little is padding."""
    if side not in ("mention", "entity"):
        raise ValueError(f"side must be 'mention' or 'entity', got {side!r}")
    if not ids:
        raise ValueError("nothing to embed")
    fn = model.embed_mentions if side == "mention" else model.embed_entities
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.empty(len(ids), model.mentions.config.d_model)
    with eval_mode(model):
        for k in range(0, len(order), batch_size):
            chunk = order[k:k + batch_size]
            out[chunk] = fn(pad_rows([ids[i] for i in chunk], model.pad_id)).float()
    return out


def retrieve(mention_vecs: torch.Tensor, entity_vecs: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k entities by dot product: (scores (B, k), indices (B, k)), best first."""
    if not 1 <= k <= entity_vecs.size(0):
        raise ValueError(f"k must lie in 1..{entity_vecs.size(0)} (the knowledge base's size), got {k}")
    return (mention_vecs @ entity_vecs.T).topk(k, dim=1)


# ------------------------------------------------------------------------------ cross-encoder

class CrossEncoder(nn.Module):
    """``BertLike`` (a copy) over ``[CLS] context [SEP] description [SEP]`` -> pooled -> linear
    -> one score per pair. ``pool="span"`` averages the marked mention's states, which have
    attended to the description; ``"mean"`` averages every real position."""

    def __init__(self, encoder: BertLike, vocab: BertVocab, pool: str = "span"):
        super().__init__()
        if pool not in ("span", "mean"):
            raise ValueError(f"pool must be 'span' or 'mean', got {pool!r}")
        self.encoder, self.pool = copy.deepcopy(encoder), pool
        self.encoder.requires_grad_(True)
        for name in PRETRAINING_ONLY:
            if hasattr(self.encoder, name):
                getattr(self.encoder, name).requires_grad_(False)
        self.marks = tuple(vocab.encode(m)[0] for m in MARKS)
        self.head = nn.Linear(encoder.config.d_model, 1)

    @property
    def pad_id(self) -> int:
        return self.encoder.config.pad_id

    def forward(self, ids: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        if ids.shape != segments.shape:
            raise ValueError(f"ids {tuple(ids.shape)} and segments {tuple(segments.shape)} differ in shape")
        states = self.encoder.states(ids, segments)                       # (P, T, d)
        if self.pool == "span":
            pooled = span_pool(ids, states, *self.marks)
        else:
            pooled = mean_pool(ids, states, self.pad_id)
        return self.head(pooled).squeeze(-1)                              # (P,)


class ListwiseBatches:
    """``batches(step)`` for ``train``: B mentions, each with the same number n of candidate
    descriptions (the gold among them at ``target``). Returns (ids, segments, target) with ids
    and segments (B * n, T): row b * n + j is mention b's j-th pair."""

    def __init__(self, mention_ids: Sequence[Sequence[int]], candidates: Sequence[Sequence[str]],
                 golds: Sequence[str], entity_ids: dict[str, Sequence[int]], batch_size: int, seed: int = 0):
        if not mention_ids:
            raise ValueError("no training examples")
        sizes = {len(c) for c in candidates}
        if len(sizes) != 1 or min(sizes) < 2:
            raise ValueError(f"every example needs the same number (≥ 2) of candidates, got sizes {sorted(sizes)}")
        bad = [i for i, (cs, g) in enumerate(zip(candidates, golds)) if g not in cs]
        if bad:
            raise ValueError(f"example {bad[0]}: the gold entity is not among its candidates")
        self.m, self.c, self.g, self.e = list(mention_ids), list(candidates), list(golds), entity_ids
        self.batch_size, self.seed = batch_size, seed

    def __call__(self, step: int):
        index = batch_index(len(self.m), step, self.batch_size, self.seed)
        ids, segs, target = [], [], []
        for i in index:
            for c in self.c[i]:
                a, s = encode_pair(self.m[i], self.e[c])
                ids.append(a)
                segs.append(s)
            target.append(self.c[i].index(self.g[i]))
        return pad_rows(ids, BertVocab.pad_id), pad_rows(segs, 0), torch.tensor(target)


def crossencoder_loss(model: CrossEncoder, batch) -> torch.Tensor:
    ids, segs, target = batch
    return F.cross_entropy(model(ids, segs).view(len(target), -1), target)   # softmax over each list


def fit_crossencoder(model: CrossEncoder, batches: ListwiseBatches, config: TrainConfig) -> History:
    """Train the cross-encoder with the book's loop (``training.train``)."""
    return train(model, batches, config, loss_fn=crossencoder_loss)


@torch.no_grad()
def rerank_scores(model: CrossEncoder, mention_ids: Sequence[Sequence[int]],
                  candidate_ids: Sequence[Sequence[Sequence[int]]], batch_size: int = 256) -> torch.Tensor:
    """Cross-encoder scores (B, k): mention i (encoded) against its k encoded descriptions
    ``candidate_ids[i]`` (the same k for every mention)."""
    if len(mention_ids) != len(candidate_ids) or not mention_ids:
        raise ValueError(f"{len(mention_ids)} mentions but {len(candidate_ids)} candidate lists")
    k = len(candidate_ids[0])
    if k < 1 or any(len(c) != k for c in candidate_ids):
        raise ValueError("give every mention the same number (≥ 1) of candidates")
    pairs = [encode_pair(m, e) for m, cs in zip(mention_ids, candidate_ids) for e in cs]
    out = torch.empty(len(pairs))
    with eval_mode(model):
        for a in range(0, len(pairs), batch_size):
            chunk = pairs[a:a + batch_size]
            out[a:a + len(chunk)] = model(pad_rows([p[0] for p in chunk], model.pad_id),
                                          pad_rows([p[1] for p in chunk], 0)).float()
    return out.view(len(mention_ids), k)


# ------------------------------------------------------------------------------ knowledge base

def knowledge_base(world, lang: str = "zh") -> list:
    """Every entity of a synthetic world as a ``Candidate`` (id, name, one-line description),
    in id order: the table the bi-encoder retrieves from."""
    from ..data.world.records import Candidate
    from ..data.world.tasks import describe
    corpus = world.corpus
    return [Candidate(e.id, e.name(lang), describe(e, corpus, lang))
            for e in sorted(corpus.entities.values(), key=lambda e: e.id)]
