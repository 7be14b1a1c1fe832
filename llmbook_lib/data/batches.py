"""Deterministic splits and random-batch samplers for language modelling."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..text.tokenize import BOS_ID, EOS_ID, PAD_ID


def encode_corpus(text: str, tokenizer) -> torch.Tensor:
    """Encode a whole corpus into one 1-D LongTensor of token ids."""
    return torch.tensor(tokenizer.encode(text), dtype=torch.long)


def split_train_val(data: Sequence | torch.Tensor, val_fraction: float = 0.1):
    """Contiguous split: the first (1 - val_fraction) for training, the rest for validation.

    Contiguous (not shuffled) so that validation text was never seen, not even as a neighbour
    of a training window.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    n = int(len(data) * (1.0 - val_fraction))
    return data[:n], data[n:]


def pad_rows(rows: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """Right-pad rows of token ids of different lengths into one (len(rows), longest) LongTensor."""
    if len(rows) == 0:
        raise ValueError("pad_rows needs at least one row")
    out = torch.full((len(rows), max(len(r) for r in rows)), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random generator of batch ``step`` of a sampler seeded with ``seed``: it depends only
    on (seed, step), which is what makes resumed runs and validation batches repeatable."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


class RandomBatches:
    """Random windows of a token stream: ``batches(step) -> (x, y)``, y = x shifted by one.

    The batch for a given ``step`` depends only on ``(seed, step)``, so a resumed run sees
    exactly the batches it would have seen, and data-parallel workers can each take their
    slice of the same global batch.
    """

    def __init__(self, data: torch.Tensor, max_len: int, batch_size: int, seed: int = 0,
                 device: torch.device | str | None = None):
        data = torch.as_tensor(data, dtype=torch.long)
        if data.dim() != 1:
            raise ValueError(f"data must be a 1-D tensor of token ids, got shape {tuple(data.shape)}")
        if len(data) < max_len + 1:
            raise ValueError(f"data has {len(data)} tokens, fewer than max_len + 1 = {max_len + 1}; "
                             "use a smaller max_len or more text")
        self.data, self.max_len, self.batch_size = data, max_len, batch_size
        self.seed, self.device = seed, device
        self._offsets = torch.arange(max_len + 1)

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = step_generator(self.seed, step)
        starts = torch.randint(len(self.data) - self.max_len, (self.batch_size,), generator=g)
        windows = self.data[starts[:, None] + self._offsets]        # (B, T + 1)
        x, y = windows[:, :-1], windows[:, 1:]
        if self.device is not None and torch.device(self.device).type != "cpu":
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        return x, y


def pad_pairs(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int = PAD_ID, bos_id: int = BOS_ID,
              eos_id: int = EOS_ID) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad (source ids, target ids) pairs for teacher forcing: returns src (B, S),
    tgt_in = [BOS] y (B, T) and tgt_out = y [EOS] (B, T), padded with ``pad_id``. The ids default
    to the book's convention (``tokenize.PAD_ID`` ...); pass ``vocab.pad_id`` etc. for another."""
    if not pairs:
        raise ValueError("pad_pairs needs at least one (source, target) pair")
    S = max(len(s) for s, _ in pairs)
    T = max(len(t) for _, t in pairs) + 1
    src = torch.full((len(pairs), S), pad_id, dtype=torch.long)
    tgt_in = torch.full((len(pairs), T), pad_id, dtype=torch.long)
    tgt_out = torch.full((len(pairs), T), pad_id, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        if not len(s):
            raise ValueError(f"pair {i} has an empty source; every source needs at least one token")
        src[i, :len(s)] = torch.as_tensor(s)
        tgt_in[i, :len(t) + 1] = torch.as_tensor([bos_id, *t])
        tgt_out[i, :len(t) + 1] = torch.as_tensor([*t, eos_id])
    return src, tgt_in, tgt_out


class PairBatches:
    """Random batches of sequence pairs: ``batches(step) -> (src, tgt_in, tgt_out)``.

    Like ``RandomBatches``, the batch depends only on ``(seed, step)``, so training resumes
    exactly. Pairs are id lists (encode them first).
    """

    def __init__(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int,
                 seed: int = 0, pad_id: int = PAD_ID, bos_id: int = BOS_ID, eos_id: int = EOS_ID):
        if not pairs:
            raise ValueError("PairBatches needs at least one (source, target) pair")
        self.pairs, self.batch_size, self.seed = list(pairs), batch_size, seed
        self.ids = (pad_id, bos_id, eos_id)

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = step_generator(self.seed, step)
        picks = torch.randint(len(self.pairs), (self.batch_size,), generator=g).tolist()
        return pad_pairs([self.pairs[i] for i in picks], *self.ids)
