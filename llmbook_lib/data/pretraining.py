"""Pretraining data: what the batches of MLM, NSP, PLM and causal LM look like, and the
samplers that draw them from People's Daily.

The objectives (each random choice takes a ``torch.Generator``, so a pipeline seeded the same
way gives the same batches):

- MLM (BERT): ``mlm_mask`` picks about 15% of the ordinary tokens; of those 80% become
  [MASK], 10% a random token, 10% stay as they are. Labels are -100 everywhere else.
- NSP (BERT): ``nsp_pairs`` draws sentence pairs, half of them consecutive, half with B from
  another document; ``pack_pairs`` lays them out as [CLS] A [SEP] B [SEP] with segment ids.
- PLM (XLNet): ``permutation_masks`` turns a factorisation order into the content-stream and
  query-stream masks (``models.bertlike.two_stream_layer`` runs both streams).
- Causal LM (GPT): ``causal_lm_batch`` shifts windows into (inputs, targets).

The samplers: a corpus becomes *documents* (lists of sentences): for People's Daily, one
paragraph per document, cut after 。！？ by ``split_sentences``. They follow ``RandomBatches``:
``batches(step)`` depends only on ``(seed, step)``, so training resumes exactly and a
validation sampler gives the same batches every time it is called.

- ``BertBatches``: pairs from ``nsp_pairs``, packed as [CLS] A [SEP] B [SEP] by ``pack_pairs``,
  then masked by ``mlm_mask``: ``(inputs, segments, mlm_labels, is_next)``, the arguments of
  ``BertLike.forward``.
- ``MLMWindows``: RoBERTa's MLM without NSP: [CLS] and then contiguous text, masked by
  ``mlm_mask``: ``(inputs, segments, mlm_labels)``.
- ``PLMBatches``: windows of a token stream, a random factorisation order per window and
  labels on its last positions (XLNet's partial prediction): ``(ids, orders, labels)``, the
  arguments of ``BertLike.plm``.

The model that consumes these batches is ``llmbook_lib.models.bertlike.BertLike``. This module
builds data, not networks: it imports no ``nn`` layers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

import torch

from ..text.tokenize import BertVocab
from .batches import split_train_val, step_generator
from .corpora import peoples_daily_text

S = TypeVar("S")
IGNORE = -100  # label of positions that carry no loss (F.cross_entropy's ignore_index)



def mlm_mask(tokens: torch.Tensor, *, mask_id: int, vocab_size: int, special_ids: Sequence[int],
             p: float = 0.15, split: tuple[float, float, float] = (0.8, 0.1, 0.1),
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: returns (inputs, labels), both shaped like ``tokens``.

    Each ordinary token (not in ``special_ids``, not ``mask_id``) is selected independently with
    probability ``p``; a selected token becomes ``mask_id``, a uniformly drawn ordinary token or
    itself with probabilities ``split``. ``labels`` holds the original id at selected positions and
    -100 elsewhere, so the loss is taken only where the model had to predict.
    """
    if tokens.dtype not in (torch.long, torch.int32, torch.int16, torch.uint8):
        raise ValueError(f"tokens must be an integer tensor of ids, got dtype {tokens.dtype}")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p is the fraction of tokens to select and must lie in (0, 1], got {p}")
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1.0) > 1e-6:
        raise ValueError(f"split = (mask, random, keep) must be three non-negative numbers summing to 1, got {split}")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id {mask_id} lies outside the vocabulary 0..{vocab_size - 1}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}, got {int(tokens.min())}..{int(tokens.max())}")
    tokens = tokens.long()
    ordinary = torch.ones(vocab_size, dtype=torch.bool)
    ordinary[torch.as_tensor(list(special_ids) + [mask_id], dtype=torch.long)] = False
    pool = ordinary.nonzero().squeeze(1)                            # ids a random replacement may take
    if len(pool) == 0:
        raise ValueError("every id is special: there is no ordinary token to mask or to draw")
    u = torch.rand(tokens.shape, generator=generator).to(tokens.device)
    v = torch.rand(tokens.shape, generator=generator).to(tokens.device)
    r = pool[torch.randint(len(pool), tokens.shape, generator=generator)].to(tokens.device)
    selected = ordinary.to(tokens.device)[tokens] & (u < p)
    to_mask = selected & (v < split[0])
    to_random = selected & (v >= split[0]) & (v < split[0] + split[1])
    inputs = torch.where(to_mask, torch.full_like(tokens, mask_id), tokens)
    inputs = torch.where(to_random, r, inputs)
    labels = torch.where(selected, tokens, torch.full_like(tokens, IGNORE))
    return inputs, labels


_SENTENCE = re.compile(r"[^。！？!?]*[。！？!?]+[”’」』）)]*|[^。！？!?]+$")


def split_sentences(paragraph: str) -> list[str]:
    """Cut a paragraph after 。！？ (keeping closing quotes with their sentence)."""
    return [s for s in (m.strip() for m in _SENTENCE.findall(paragraph)) if s]


def nsp_pairs(documents: Sequence[Sequence[S]], n: int, *, p_next: float = 0.5,
              generator: torch.Generator | None = None) -> tuple[list[S], list[S], torch.Tensor]:
    """Draw ``n`` NSP examples: (A, B, is_next (n,) long).

    A is a sentence (not the last) of a random document with at least two sentences. With
    probability ``p_next`` B is the sentence that follows it (is_next = 1); otherwise B is a random
    sentence of a different document (is_next = 0), as in BERT.
    """
    eligible = [d for d, doc in enumerate(documents) if len(doc) >= 2]
    nonempty = [d for d, doc in enumerate(documents) if len(doc) >= 1]
    if not eligible or len(nonempty) < 2:
        raise ValueError("nsp_pairs needs a document with at least two sentences and at least two "
                         "non-empty documents (B of a negative pair comes from another document)")
    if not 0.0 <= p_next <= 1.0:
        raise ValueError(f"p_next must lie in [0, 1], got {p_next}")
    slot = {d: k for k, d in enumerate(nonempty)}
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64).tolist()
    a, b, is_next = [], [], []
    for ud, ui, unext, uo, uj in u:
        d = eligible[int(ud * len(eligible))]
        i = int(ui * (len(documents[d]) - 1))
        a.append(documents[d][i])
        if unext < p_next:
            b.append(documents[d][i + 1])
            is_next.append(1)
        else:
            k = int(uo * (len(nonempty) - 1))                        # another document: skip d
            o = nonempty[k + (k >= slot[d])]
            b.append(documents[o][int(uj * len(documents[o]))])
            is_next.append(0)
    return a, b, torch.tensor(is_next, dtype=torch.long)


def pack_pairs(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]], *, max_len: int, cls_id: int,
               sep_id: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] A [SEP] B [SEP], padded: returns ids (N, L) and segment ids (N, L), 0 for the
    [CLS] A [SEP] part and 1 for B [SEP] (padding 0); L is the longest packed pair.

    Pairs longer than ``max_len`` lose tokens from the start of A and the end of B, so the text on
    both sides of the A|B boundary, the evidence for NSP, is kept.
    """
    if len(a) != len(b) or not len(a):
        raise ValueError(f"pack_pairs needs equally many A and B sentences (at least one), got {len(a)} and {len(b)}")
    if max_len < 5:
        raise ValueError(f"max_len {max_len} leaves no room for text beside [CLS] [SEP] [SEP]")
    rows = []
    for x, y in zip(a, b):
        x, y = list(x), list(y)
        while len(x) + len(y) > max_len - 3:
            if len(x) > len(y):
                x.pop(0)
            else:
                y.pop()
        rows.append(([cls_id, *x, sep_id], [*y, sep_id]))
    L = max(len(x) + len(y) for x, y in rows)
    ids = torch.full((len(rows), L), pad_id, dtype=torch.long)
    seg = torch.zeros(len(rows), L, dtype=torch.long)
    for k, (x, y) in enumerate(rows):
        ids[k, :len(x) + len(y)] = torch.tensor(x + y)
        seg[k, len(x):len(x) + len(y)] = 1
    return ids, seg


def random_orders(batch: int, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(batch, T) factorisation orders, each a uniformly random permutation of 0..T-1."""
    return torch.rand(batch, T, generator=generator).argsort(dim=-1)


def permutation_masks(order: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """XLNet's masks for a factorisation order z (a permutation of 0..T-1, shape (T,) or (B, T)).

    With rank[z_t] = t: the content stream at position i may attend to j when
    rank[j] <= rank[i] (it sees its own token), the query stream when rank[j] < rank[i] (it must
    predict its own token). Returns (content, query), bool (..., T, T), True = may attend.
    """
    order = torch.as_tensor(order)
    if order.dim() not in (1, 2) or order.dtype not in (torch.long, torch.int32):
        raise ValueError(f"order must be an integer tensor of shape (T,) or (B, T), got {order.dtype} {tuple(order.shape)}")
    T = order.size(-1)
    ar = torch.arange(T, device=order.device)
    if not (order.sort(dim=-1).values == ar).all():
        raise ValueError(f"order must be a permutation of 0..{T - 1} (each position exactly once), got {order.tolist()}")
    rank = torch.empty_like(order).scatter_(-1, order, ar.expand_as(order).clone())
    content = rank[..., None, :] <= rank[..., :, None]           # [i, j]: rank j <= rank i
    query = rank[..., None, :] < rank[..., :, None]
    return content, query


def causal_lm_batch(windows: torch.Tensor, pad_id: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T + 1) windows -> inputs (B, T), targets (B, T) with targets[t] = windows[t + 1].

    Targets equal to ``pad_id`` become -100, so padding carries no loss.
    """
    if windows.dim() != 2 or windows.size(1) < 2:
        raise ValueError(f"windows must be (B, T + 1) with T >= 1, got shape {tuple(windows.shape)}")
    inputs, targets = windows[:, :-1], windows[:, 1:]
    if pad_id is not None:
        targets = targets.masked_fill(targets == pad_id, IGNORE)
    return inputs, targets


def sentence_documents(paragraphs: Sequence[str]) -> list[list[str]]:
    """One document per non-empty paragraph, as its list of sentences."""
    return [s for s in (split_sentences(p) for p in paragraphs) if s]


def split_documents(text: str, val_fraction: float = 0.1) -> tuple[list[list[str]], list[list[str]]]:
    """A text with one paragraph per line as (train, val) documents: the first paragraphs for
    training, the last ``val_fraction`` for validation (a contiguous split, as ``split_train_val``)."""
    train, val = split_train_val(text.splitlines(), val_fraction)
    return sentence_documents(train), sentence_documents(val)


def peoples_daily_documents(val_fraction: float = 0.1) -> tuple[list[list[str]], list[list[str]]]:
    """People's Daily as (train, val) documents (``split_documents``)."""
    return split_documents(peoples_daily_text(), val_fraction)


def encode_documents(documents: Sequence[Sequence[str]], vocab: BertVocab) -> list[list[list[int]]]:
    """Token ids of every sentence of every document."""
    return [[vocab.encode(s) for s in doc] for doc in documents]


class BertBatches:
    """BERT's pretraining batches: ``batches(step) -> (inputs, segments, mlm_labels, is_next)``.

    inputs, segments, mlm_labels: (B, L) with L the longest packed pair of the batch (at most
    ``max_len``); is_next: (B,). Half the pairs (``p_next``) are consecutive sentences.
    """

    def __init__(self, documents: Sequence[Sequence[Sequence[int]]], vocab: BertVocab, batch_size: int,
                 max_len: int, seed: int = 0, mlm_p: float = 0.15, p_next: float = 0.5):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.documents, self.vocab = documents, vocab
        self.batch_size, self.max_len, self.seed = batch_size, max_len, seed
        self.mlm_p, self.p_next = mlm_p, p_next

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        g = step_generator(self.seed, step)
        v = self.vocab
        a, b, is_next = nsp_pairs(self.documents, self.batch_size, p_next=self.p_next, generator=g)
        ids, segments = pack_pairs(a, b, max_len=self.max_len, cls_id=v.cls_id, sep_id=v.sep_id, pad_id=v.pad_id)
        inputs, labels = mlm_mask(ids, mask_id=v.mask_id, vocab_size=v.vocab_size,
                                  special_ids=v.non_word_ids, p=self.mlm_p, generator=g)
        return inputs, segments, labels, is_next


class MLMWindows:
    """RoBERTa-style MLM batches: ``batches(step) -> (inputs, segments, mlm_labels)``, each (B, max_len).

    Each row is [CLS] and then max_len - 1 contiguous tokens of the training stream (every
    document's sentences joined, [SEP] after each document), masked by ``mlm_mask``: full-length
    text and no sentence pairs, as RoBERTa trains without NSP. Segments are all 0 (sentence A).
    Like ``BertBatches``, ``batches(step)`` depends only on ``(seed, step)``.
    """

    def __init__(self, documents, vocab: BertVocab, batch_size: int, max_len: int, seed: int = 0,
                 mlm_p: float = 0.15):
        ids: list[int] = []
        for doc in documents:
            for sentence in doc:
                ids.extend(sentence)
            ids.append(vocab.sep_id)
        if len(ids) < max_len:
            raise ValueError(f"the documents hold {len(ids)} tokens, fewer than max_len={max_len}")
        self.stream = torch.tensor(ids, dtype=torch.long)
        self.vocab, self.batch_size, self.max_len, self.seed, self.mlm_p = vocab, batch_size, max_len, seed, mlm_p

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = step_generator(self.seed, step)
        v, B, T = self.vocab, self.batch_size, self.max_len - 1
        starts = torch.randint(len(self.stream) - T, (B,), generator=g)
        ids = torch.cat([torch.full((B, 1), v.cls_id), self.stream[starts[:, None] + torch.arange(T)]], dim=1)
        inputs, labels = mlm_mask(ids, mask_id=v.mask_id, vocab_size=v.vocab_size, special_ids=v.non_word_ids,
                                  p=self.mlm_p, generator=g)
        return inputs, torch.zeros_like(inputs), labels


class PLMBatches:
    """XLNet's batches: ``batches(step) -> (ids, orders, labels)``, each (B, max_len).

    ids are random windows of the 1-D ``stream``; orders[b] is a uniformly random permutation;
    labels hold the token at the last ``predict`` positions of each order and -100 elsewhere
    (XLNet's partial prediction: early positions of an order have too little context).
    """

    def __init__(self, stream: torch.Tensor, max_len: int, batch_size: int, predict: int, seed: int = 0):
        stream = torch.as_tensor(stream, dtype=torch.long)
        if stream.dim() != 1 or len(stream) <= max_len:
            raise ValueError(f"stream must be a 1-D tensor of more than max_len={max_len} ids, "
                             f"got shape {tuple(stream.shape)}")
        if not 1 <= predict <= max_len:
            raise ValueError(f"predict must lie in 1..max_len={max_len}, got {predict}")
        self.stream, self.max_len, self.batch_size = stream, max_len, batch_size
        self.predict, self.seed = predict, seed

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = step_generator(self.seed, step)
        T = self.max_len
        starts = torch.randint(len(self.stream) - T, (self.batch_size,), generator=g)
        ids = self.stream[starts[:, None] + torch.arange(T)]                  # (B, T)
        orders = random_orders(self.batch_size, T, generator=g)               # (B, T)
        last = orders[:, -self.predict:]                                      # positions predicted
        labels = torch.full_like(ids, IGNORE).scatter(1, last, ids.gather(1, last))
        return ids, orders, labels


__all__ = ["IGNORE", "BertBatches", "BertVocab", "MLMWindows", "PLMBatches", "causal_lm_batch", "encode_documents",
           "mlm_mask", "nsp_pairs", "pack_pairs", "peoples_daily_documents", "permutation_masks", "random_orders",
           "sentence_documents", "split_documents", "split_sentences"]
