"""Batches for pretraining an encoder: MLM + NSP as in BERT, PLM as in XLNet.

A corpus becomes *documents* (lists of sentences): for People's Daily, one paragraph per
document, cut after 。！？ by ``pretrain.split_sentences``. The samplers follow
``RandomBatches``: ``batches(step)`` depends only on ``(seed, step)``, so training resumes
exactly and a validation sampler gives the same batches every time it is called.

- ``BertBatches``: pairs from ``pretrain.nsp_pairs``, packed as [CLS] A [SEP] B [SEP] by
  ``pack_pairs``, then masked by ``mlm_mask``: ``(inputs, segments, mlm_labels, is_next)``,
  the arguments of ``BertLike.forward``.
- ``PLMBatches``: windows of a token stream, a random factorisation order per window and
  labels on its last positions (XLNet's partial prediction): ``(ids, orders, labels)``, the
  arguments of ``BertLike.plm``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..pretrain import IGNORE, BertVocab, mlm_mask, nsp_pairs, pack_pairs, random_orders, split_sentences
from .batches import split_train_val, step_generator
from .corpora import peoples_daily_text


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


class PLMBatches:
    """XLNet's batches: ``batches(step) -> (ids, orders, labels)``, each (B, block_size).

    ids are random windows of the 1-D ``stream``; orders[b] is a uniformly random permutation;
    labels hold the token at the last ``predict`` positions of each order and -100 elsewhere
    (XLNet's partial prediction: early positions of an order have too little context).
    """

    def __init__(self, stream: torch.Tensor, block_size: int, batch_size: int, predict: int, seed: int = 0):
        stream = torch.as_tensor(stream, dtype=torch.long)
        if stream.dim() != 1 or len(stream) <= block_size:
            raise ValueError(f"stream must be a 1-D tensor of more than block_size={block_size} ids, "
                             f"got shape {tuple(stream.shape)}")
        if not 1 <= predict <= block_size:
            raise ValueError(f"predict must lie in 1..block_size={block_size}, got {predict}")
        self.stream, self.block_size, self.batch_size = stream, block_size, batch_size
        self.predict, self.seed = predict, seed

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = step_generator(self.seed, step)
        T = self.block_size
        starts = torch.randint(len(self.stream) - T, (self.batch_size,), generator=g)
        ids = self.stream[starts[:, None] + torch.arange(T)]                  # (B, T)
        orders = random_orders(self.batch_size, T, generator=g)               # (B, T)
        last = orders[:, -self.predict:]                                      # positions predicted
        labels = torch.full_like(ids, IGNORE).scatter(1, last, ids.gather(1, last))
        return ids, orders, labels


__all__ = ["BertBatches", "PLMBatches", "encode_documents", "peoples_daily_documents", "sentence_documents",
           "split_documents"]
