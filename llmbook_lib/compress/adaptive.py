"""Models that learn the file being coded: byte-context counts, a match model, and the mixer
that combines them with the GPT.

A pretrained model knows only what it has seen; the text being coded has its own names, terms
and repeats that no training set had. Three classical compression models (PPM: Cleary & Witten
1984; the match model and context mixing of PAQ: Mahoney 2005) learn them online, from the bytes
already coded, so the decoder, which has decoded exactly those bytes, replays every update:

- ``ContextCounts``: for the orders k in ``orders``, how often each byte followed each k-byte
  context, in tables of integer counts; ``witten_bell`` turns them into one distribution per
  order by interpolation down the orders (as ``ngram.ByteNGram``, but counted on the file
  itself);
- ``MatchModel``: the longest earlier occurrence of the current context predicts the byte that
  followed it, with a confidence learned per match length (long repeats: xz's strength);
- ``Mixer``: geometric mixing ``p(x) ∝ exp(Σ_i w_i log p_i(x))`` of all of them and the GPT,
  with the weights ``w`` following the gradient of the code length ``-log p(x)`` of every coded
  byte, one weight vector per small context (match length, highest order seen, byte classes).

``AdaptiveModel`` holds the three and runs one step for all parallel streams at once (NumPy
over the streams). The statistics are shared by the streams (updated in stream order, which the
decoder repeats), so every stream learns from all of them. Everything is integer counts and
float64 NumPy, the same operations in the same order in both directions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _last_wins(index: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each distinct value in ``index``: for assignments
    with repeated indices, made explicit (NumPy does not promise an order)."""
    rev = index[::-1]
    _, first = np.unique(rev, return_index=True)
    return len(index) - 1 - first


def _hash(keys: np.ndarray, salt: int, bits: int) -> np.ndarray:
    """Multiplicative hash of uint64 ``keys`` to ``bits`` bits."""
    with np.errstate(over="ignore"):
        h = (keys + np.uint64(salt) * np.uint64(0x2545F4914F6CDD1D)) * _GOLDEN
    return (h >> np.uint64(64 - bits)).astype(np.int64)


@dataclass(frozen=True)
class AdaptiveConfig:
    """Settings of ``AdaptiveModel``; the blob stores them (``pack``), the decoder rebuilds it.

    ``orders``: context lengths of the counts (1..7 bytes; empty: no context counts);
    ``table_bits``: at most 2**bits hashed contexts per order (fewer for short inputs);
    ``count_limit``: a context's counts are halved when one reaches it (recent bytes weigh
    more); ``match_min``: bytes that must agree before the match model predicts (0: no match
    model); ``lr``: the mixer's learning rate; ``shared``: one set of
    statistics for all streams (False: each stream learns only from itself).
    """

    orders: tuple[int, ...] = (1, 2, 3, 4, 6)
    table_bits: int = 16
    count_limit: int = 255
    match_min: int = 6
    lr: float = 0.005
    shared: bool = True

    _STRUCT = struct.Struct("<BBHBfB")          # orders bitmask, table bits, limit, match_min, lr, shared

    def __post_init__(self):
        if any(not 1 <= k <= 7 for k in self.orders) or len(set(self.orders)) != len(self.orders):
            raise ValueError(f"orders must be distinct context lengths in 1..7, got {self.orders}")
        if not 8 <= self.table_bits <= 22 or not 2 <= self.count_limit <= 1023:
            raise ValueError(f"table_bits must lie in 8..22 and count_limit in 2..1023, got "
                             f"{self.table_bits}, {self.count_limit}")
        if not (self.match_min == 0 or 2 <= self.match_min <= 32) or not 0 < self.lr < 1e3:
            raise ValueError(f"match_min must be 0 (off) or lie in 2..32, and lr be positive, got "
                             f"{self.match_min}, {self.lr}")

    def pack(self) -> bytes:
        mask = sum(1 << (k - 1) for k in self.orders)
        return self._STRUCT.pack(mask, self.table_bits, self.count_limit, self.match_min, self.lr, self.shared)

    @classmethod
    def unpack_from(cls, buf: bytes, pos: int) -> AdaptiveConfig:
        mask, bits, limit, match_min, lr, shared = cls._STRUCT.unpack_from(buf, pos)
        return cls(tuple(k for k in range(1, 8) if mask >> (k - 1) & 1), bits, limit, match_min, lr, bool(shared))

    @classmethod
    def size(cls) -> int:
        return cls._STRUCT.size


class ContextCounts:
    """Byte counts after every context of the given orders, in tables of 2**bits rows shared by
    all streams: a context of k bytes is its own row where 8k <= bits (orders 1 and 2), and is
    hashed otherwise; a row remembers its context's full key and is cleared when another takes it."""

    def __init__(self, orders: tuple[int, ...], bits: int, limit: int, streams: int, shared: bool):
        self.orders, self.limit, self.shared = orders, limit, shared
        self.direct = [shared and 8 * k <= bits for k in orders]
        self.bits = [8 * k if d else bits for k, d in zip(orders, self.direct)]
        # uint16: all streams may add to one count in the same step, far past the limit
        self.counts = [np.zeros((1 << b, 256), dtype=np.uint16) for b in self.bits]
        self.keys = [np.full(1 << b, np.uint64(2 ** 64 - 1), dtype=np.uint64) for b in self.bits]
        self.masks = [np.uint64((1 << (8 * k)) - 1) for k in orders]
        self.stream_salt = np.arange(streams, dtype=np.uint64) << np.uint64(56)

    def _keys(self, h: np.ndarray, i: int, rows: slice) -> np.ndarray:
        key = h & self.masks[i]
        if not self.shared:
            key = key | self.stream_salt[rows]
        return key

    def lookup(self, h: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each order: (bucket, key) of every stream's current context."""
        rows = slice(0, len(h))
        out = []
        for i, k in enumerate(self.orders):
            key = self._keys(h, i, rows)
            out.append((key.astype(np.int64) if self.direct[i] else _hash(key, k, self.bits[i]), key))
        return out

    def gather(self, where: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """The (N, 256) counts of each order's contexts (zeros where a bucket holds another)."""
        out = []
        for (bucket, key), table, keys in zip(where, self.counts, self.keys):
            c = table[bucket].astype(np.float64)
            c[keys[bucket] != key] = 0.0
            out.append(c)
        return out

    def update(self, where: list[tuple[np.ndarray, np.ndarray]], symbols: np.ndarray) -> None:
        for (bucket, key), table, keys in zip(where, self.counts, self.keys):
            stale = keys[bucket] != key
            if stale.any():                               # a new context takes the bucket
                sb, sk = bucket[stale], key[stale]
                last = _last_wins(sb)
                table[sb[last]] = 0
                keys[sb[last]] = sk[last]
            ok = keys[bucket] == key                      # two new contexts in one bucket: the last wins
            b, s = bucket[ok], symbols[ok]
            np.add.at(table, (b, s), 1)
            full = b[table[b, s] >= self.limit]
            if len(full):
                full = np.unique(full)
                table[full] >>= 1


def witten_bell(counts: list[np.ndarray], base: np.ndarray) -> list[np.ndarray]:
    """Per order, ``p_k = (c_k + u_k p_{k-1}) / (n_k + u_k)`` from ``base`` upwards, where
    ``n_k`` counts the bytes seen after the context and ``u_k`` the distinct ones; an unseen
    context keeps ``p_{k-1}``. Returns [p_1, ..., p_K], each (N, 256)."""
    out, p = [], base
    for c in counts:
        n = c.sum(axis=1, keepdims=True)
        u = np.count_nonzero(c, axis=1)[:, None].astype(np.float64)
        p = np.where(n > 0, (c + u * p) / np.maximum(n + u, 1.0), p)
        out.append(p)
    return out


class MatchModel:
    """The longest earlier occurrence of the last ``min_len`` bytes (in any stream) predicts
    the byte that followed it; the probability of a hit is counted per match-length bucket."""

    BUCKETS = 16
    VERIFY = 32                  # bytes compared backwards to measure a new match's length

    def __init__(self, min_len: int, bits: int, streams: int):
        self.min_len, self.bits = min_len, bits
        self.table_s = np.full(1 << bits, -1, dtype=np.int64)       # stream of an earlier occurrence
        self.table_c = np.zeros(1 << bits, dtype=np.int64)          # column of the byte after it
        self.ptr_s = np.zeros(streams, dtype=np.int64)
        self.ptr_c = np.zeros(streams, dtype=np.int64)
        self.length = np.zeros(streams, dtype=np.int64)             # 0: no match
        self.hits = np.ones(self.BUCKETS)                           # hit / miss counts per bucket
        self.tries = np.full(self.BUCKETS, 2.0)
        self.expected = np.zeros(streams, dtype=np.int64)

    def bucket(self, n: int) -> np.ndarray:
        L = self.length[:n]
        return np.minimum(np.where(L < 8, L, 8 + (L - 8) // 4), self.BUCKETS - 1)

    def predict(self, t: int, hist: np.ndarray, n: int) -> np.ndarray:
        """(N, 256) log-probabilities, all zeros (no opinion) for streams without a match."""
        on = (self.length[:n] > 0) & (self.min_len > 0)
        logp = np.zeros((n, 256))
        if on.any():
            rows = np.flatnonzero(on)
            self.expected[rows] = hist[self.ptr_s[rows], self.ptr_c[rows]]
            q = self.hits[self.bucket(n)[rows]] / self.tries[self.bucket(n)[rows]]
            logp[rows] = np.log((1 - q) / 255)[:, None]
            logp[rows, self.expected[rows]] = np.log(q)
        self._on = on
        return logp

    def update(self, t: int, hist: np.ndarray, symbols: np.ndarray) -> None:
        n = len(symbols)
        on = self._on
        hit = on & (self.expected[:n] == symbols)
        b = self.bucket(n)
        np.add.at(self.tries, b[on], 1.0)
        np.add.at(self.hits, b[hit], 1.0)
        self.length[:n] = np.where(hit, np.minimum(self.length[:n] + 1, 65535), 0)
        self.ptr_c[:n] += hit
        col = t + 1                                    # the column just coded
        if col < self.min_len or self.min_len == 0:
            return
        window = hist[:n, col + 1 - self.min_len:col + 1].astype(np.uint64)
        key = np.zeros(n, dtype=np.uint64)
        for j in range(self.min_len):
            with np.errstate(over="ignore"):
                key = key * np.uint64(257) + window[:, j]
        h = _hash(key, 99, self.bits)
        find = np.flatnonzero((self.length[:n] == 0) & (self.table_s[h] >= 0))
        if len(find):
            cs, cc = self.table_s[h[find]], self.table_c[h[find]]
            j = np.arange(self.VERIFY)
            a_col, b_col = col - j[None, :], cc[:, None] - 1 - j[None, :]
            valid = (a_col >= 1) & (b_col >= 1)
            same = valid & (hist[find[:, None], np.maximum(a_col, 0)] == hist[cs[:, None], np.maximum(b_col, 0)])
            length = np.cumprod(same, axis=1).sum(axis=1)
            good = length >= self.min_len
            self.length[find[good]] = length[good]
            self.ptr_s[find[good]], self.ptr_c[find[good]] = cs[good], cc[good]
        last = _last_wins(h)
        self.table_s[h[last]] = last
        self.table_c[h[last]] = col + 1


class Mixer:
    """Geometric mixing of M models: ``p ∝ exp(Σ_i w_i log p_i)``, one weight vector per
    context set, trained online on the code length ``-ln p(x)`` of every coded byte, whose
    gradient is ``∂/∂w_i = -(log p_i(x) - Σ_y p(y) log p_i(y))``: a model gains weight when it
    gave the actual byte more log-probability than the mixture expected. The step is divided by
    a running RMS of the gradient (RMSprop), so one learning rate suits inputs of any scale."""

    def __init__(self, n_sets: int, lr: float, init: np.ndarray):
        self.w = np.tile(np.asarray(init, dtype=np.float64), (n_sets, 1))     # (S, M)
        self.g2 = np.zeros_like(self.w)
        self.lr = lr

    def mix(self, logps: np.ndarray, sets: np.ndarray) -> np.ndarray:
        """``logps`` (N, M, 256), ``sets`` (N,) -> probabilities (N, 256)."""
        z = np.einsum("nm,nmv->nv", self.w[sets], logps)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        self._logps, self._p, self._sets = logps, p, sets
        return p

    def update(self, symbols: np.ndarray) -> None:
        n = len(symbols)
        logps, p = self._logps[:n], self._p[:n]
        expect = np.einsum("nmv,nv->nm", logps, p)
        grad = np.zeros_like(self.w)
        np.add.at(grad, self._sets[:n], expect - logps[np.arange(n), :, symbols])
        self.g2 *= 0.999
        self.g2 += 0.001 * grad * grad
        self.w -= self.lr * grad / np.sqrt(self.g2 + 1e-3)


def _byte_classes() -> np.ndarray:
    """A class per byte value: letter, digit, blank, newline, other ASCII, UTF-8 lead, continuation."""
    cls = np.zeros(256, dtype=np.int64)
    for b in range(256):
        c = chr(b)
        cls[b] = (0 if b < 128 and c.isalpha() else 1 if c.isdigit() else 2 if c in " \t" else 3 if c == "\n"
                  else 4 if b < 128 else 5 if b >= 0xC0 else 6)
    return cls


BYTE_CLASSES = _byte_classes()
N_CLASSES = 7


class AdaptiveModel:
    """The GPT's probabilities in, the mixture of the GPT, the context counts and the match
    model out: one ``predict`` / ``update`` pair per coding step, for all streams at once.

    Two mixers see the same inputs with different weight sets: one chosen by the match length
    and the highest order whose context was seen before (how much the file itself knows here),
    one by the classes of the last two bytes and that order (inside a word, a UTF-8 character,
    after a newline, ...); a final two-input mixer combines them.
    """

    LOG_FLOOR = 1e-6          # a GPT probability that underflowed still has a finite log

    def __init__(self, config: AdaptiveConfig, streams: int, length: int, start_byte: int):
        self.config = c = config
        bits = max(10, min(c.table_bits, int(length).bit_length() + 1))
        self.counts = ContextCounts(c.orders, bits, c.count_limit, streams, c.shared)
        self.match = MatchModel(c.match_min, bits, streams)
        self.h = np.full(streams, start_byte, dtype=np.uint64)       # the last 8 bytes of each stream
        K = len(c.orders)
        self.n_seen = K + 1                                           # 0 (none seen) .. K
        init = np.zeros(K + 2)                                        # inputs: GPT, orders, match
        init[K] = 0.3                                                 # the highest order
        init[0] = 1.0                                                 # the GPT
        self.by_match = Mixer(MatchModel.BUCKETS * self.n_seen, c.lr, init)
        self.by_class = Mixer(N_CLASSES * N_CLASSES * self.n_seen, c.lr, init)
        self.final = Mixer(1, c.lr, np.array([0.5, 0.5]))

    def predict(self, t: int, hist: np.ndarray, n: int, p_gpt: np.ndarray) -> np.ndarray:
        """Probabilities (n, 256) of the next byte of the first ``n`` streams; ``hist`` is the
        (streams, steps + 1) byte history, known up to column ``t``."""
        self._where = self.counts.lookup(self.h[:n])
        counts = self.counts.gather(self._where)
        ppm = witten_bell(counts, np.full((n, 256), 1 / 256))
        seen = np.zeros(n, dtype=np.int64)                            # highest order with a context seen
        for i, c in enumerate(counts):
            seen = np.where(c.sum(axis=1) > 0, i + 1, seen)
        logps = np.stack([np.log(np.maximum(p_gpt[:n], self.LOG_FLOOR))] + [np.log(p) for p in ppm]
                         + [self.match.predict(t, hist, n)], axis=1)                   # (n, M, 256)
        last = BYTE_CLASSES[(self.h[:n] & np.uint64(255)).astype(np.int64)]
        prev = BYTE_CLASSES[((self.h[:n] >> np.uint64(8)) & np.uint64(255)).astype(np.int64)]
        p1 = self.by_match.mix(logps, self.match.bucket(n) * self.n_seen + seen)
        p2 = self.by_class.mix(logps, (last * N_CLASSES + prev) * self.n_seen + seen)
        both = np.log(np.maximum(np.stack([p1, p2], axis=1), 1e-300))
        return self.final.mix(both, np.zeros(n, dtype=np.int64))

    def update(self, t: int, hist: np.ndarray, symbols: np.ndarray) -> None:
        """Learn from the bytes just coded (``symbols``, already in ``hist[:n, t + 1]``)."""
        n = len(symbols)
        for mixer in (self.by_match, self.by_class, self.final):
            mixer.update(symbols)
        self.counts.update(self._where, symbols)
        self.match.update(t, hist, symbols)
        with np.errstate(over="ignore"):
            self.h[:n] = (self.h[:n] << np.uint64(8)) | symbols.astype(np.uint64)
