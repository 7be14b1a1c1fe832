"""A byte-level n-gram model with Witten–Bell interpolation: the classical predictor that a
small GPT has to beat, and a partner to mix with it (``LMCompressor(side=...)``).

The counts of every (context, next byte) pair seen in the training bytes are kept in sorted
NumPy tables, one per context length 1..n-1, built in a few seconds for megabytes of text.
``probs(context)`` starts from the add-one unigram and walks up the context lengths; at each
length whose context was seen, it interpolates (Witten & Bell 1991)

    p_k(x) = (c(ctx, x) + u(ctx) * p_{k-1}(x)) / (c(ctx) + u(ctx)),

where u(ctx) is the number of distinct bytes seen after ctx: a context followed by many
different bytes trusts the shorter context more. An unseen context stops the walk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class ByteNGram:
    """Witten–Bell interpolated byte n-gram over ``train`` (contexts of up to ``n - 1`` bytes).

    ``probs(context)`` -> float64 array (256,) that sums to 1 and is > 0 everywhere; it reads
    only the last ``n - 1`` bytes of ``context`` (``context_bytes``). ``n`` may be lowered after
    building (``ngram.n = 4``) to use fewer tables. ``fingerprint()`` identifies the counts and
    ``n``, so a compressed blob can check it is decoded with the same side model.
    """

    def __init__(self, train: bytes, n: int = 6):
        if not 1 <= n <= 7:
            raise ValueError(f"n must lie in 1..7 (1 = unigram; a context plus the next byte is packed into "
                             f"one int64), got {n}")
        if len(train) < n:
            raise ValueError(f"{len(train)} training bytes are too few for a {n}-gram")
        a = np.frombuffer(bytes(train), dtype=np.uint8).astype(np.int64)
        self.max_n, self.n = n, n
        self._train_hash = hashlib.sha256(bytes(train)).digest()
        self.p0 = (np.bincount(a, minlength=256) + 1) / (len(a) + 256)     # add-one unigram (256,)
        self.tables = []
        for k in range(1, n):                          # key = (k context bytes, next byte) as one integer
            key = np.zeros(len(a) - k, dtype=np.int64)
            for j in range(k + 1):
                key = key * 256 + a[j:len(a) - k + j]
            pairs, counts = np.unique(key, return_counts=True)      # sorted by context, then next byte
            ctx, start = np.unique(pairs >> 8, return_index=True)
            self.tables.append((ctx, start, np.append(start[1:], len(pairs)), pairs & 255, counts))

    @property
    def context_bytes(self) -> int:
        return self.n - 1

    def _order(self, n: int | None) -> int:
        n = self.n if n is None else n
        if not 1 <= n <= self.max_n:
            raise ValueError(f"n must lie in 1..{self.max_n} (the n this model was built with), got {n}")
        return n

    def probs(self, context: bytes, n: int | None = None) -> np.ndarray:
        n = self._order(n)
        p = self.p0
        for k, (ctx, start, end, nxt, cnt) in enumerate(self.tables[:n - 1], 1):
            if len(context) < k:
                break
            c = int.from_bytes(context[-k:], "big")
            i = np.searchsorted(ctx, c)
            if i == len(ctx) or ctx[i] != c:           # unseen context: stay with the shorter one
                break
            s, e = start[i], end[i]
            counts = np.zeros(256)
            counts[nxt[s:e]] = cnt[s:e]
            u = e - s                                  # distinct bytes seen after this context
            p = (counts + u * p) / (counts.sum() + u)
        return p

    def probs_many(self, contexts: Sequence[bytes], n: int | None = None) -> np.ndarray:
        """``probs`` for several contexts at once -> (len(contexts), 256), bit for bit the same
        numbers (the same float operations per row), with one NumPy call per table, not per row."""
        n = self._order(n)
        p = np.tile(self.p0, (len(contexts), 1))                              # (B, 256)
        alive = np.arange(len(contexts))                 # rows whose walk has not stopped yet
        for k, (ctx, start, end, nxt, cnt) in enumerate(self.tables[:n - 1], 1):
            alive = alive[[len(contexts[i]) >= k for i in alive]]
            if not len(alive):
                break
            keys = np.array([int.from_bytes(contexts[i][-k:], "big") for i in alive], dtype=np.int64)
            j = np.searchsorted(ctx, keys)
            seen = ctx[np.minimum(j, len(ctx) - 1)] == keys
            alive, j = alive[seen], j[seen]
            s, e = start[j], end[j]
            u = e - s                                    # distinct bytes seen after each context
            rows = np.repeat(np.arange(len(alive)), u)   # all successors of every context, flat
            flat = np.repeat(s - np.cumsum(u) + u, u) + np.arange(u.sum())
            counts = np.zeros((len(alive), 256))
            counts[rows, nxt[flat]] = cnt[flat]
            p[alive] = (counts + u[:, None] * p[alive]) / (counts.sum(axis=1, keepdims=True) + u[:, None])
        return p

    def table_entries(self, n: int | None = None) -> int:
        """Stored (context, next byte) counts for contexts up to ``n - 1`` bytes, plus the unigram."""
        n = self.n if n is None else n
        return sum(len(t[3]) for t in self.tables[:n - 1]) + 256

    def fingerprint(self) -> bytes:
        return hashlib.sha256(self._train_hash + f"ByteNGram n={self.n}".encode()).digest()[:8]
