"""Exact integer arithmetic coding, and the quantisation of probabilities to integer frequencies.

A model that assigns probability q(x) to the next symbol can code it in -log2 q(x) bits; an
arithmetic coder realises that to within a few bits for the whole message, with a different
distribution at every step. Everything here is integer arithmetic: 32-bit ``low``/``high``
registers, renormalised bit by bit (Witten, Neal & Cleary 1987, in the formulation of Nayuki's
reference coder), and every distribution quantised to integer frequencies that are all >= 1
and sum to ``2**16``. Given the same frequencies, encoder and decoder agree bit for bit on any
machine; making the *frequencies* agree is the caller's job (see ``llmbook_lib.compress``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
import torch

STATE_BITS = 32
_FULL = 1 << STATE_BITS
_HALF = _FULL >> 1
_QUARTER = _FULL >> 2
_MASK = _FULL - 1
FREQ_BITS = 16                     # every quantised distribution sums to 2**16


class ArithmeticEncoder:
    """Integer arithmetic encoder (32-bit registers, renormalising, exact).

    ``encode(symbol, cdf)`` codes ``symbol`` with the cumulative frequencies ``cdf`` (length
    V + 1, ``cdf[0] == 0``, strictly increasing, ``cdf[-1]`` = total <= 2**30);
    ``encode_range(lo, hi, total)`` does the same from the symbol's interval [lo, hi).
    ``finish()`` returns the code as bytes.
    """

    def __init__(self):
        self.low, self.high = 0, _MASK
        self.pending = 0               # underflow bits waiting for the next decided bit
        self._out = bytearray()
        self._acc, self._nacc = 0, 0
        self.bits_written = 0

    def _bit(self, bit: int) -> None:
        self._acc = (self._acc << 1) | bit
        self._nacc += 1
        if self._nacc == 8:
            self._out.append(self._acc)
            self._acc, self._nacc = 0, 0
        self.bits_written += 1

    def encode_range(self, lo: int, hi: int, total: int) -> None:
        if not 0 <= lo < hi <= total <= _QUARTER:
            raise ValueError(f"invalid symbol interval [{lo}, {hi}) of total {total}")
        low, high = self.low, self.high
        rng = high - low + 1
        high = low + hi * rng // total - 1
        low = low + lo * rng // total
        while True:
            if (low ^ high) & _HALF == 0:              # top bits agree: emit it
                bit = low >> (STATE_BITS - 1)
                self._bit(bit)
                for _ in range(self.pending):
                    self._bit(bit ^ 1)
                self.pending = 0
                low = (low << 1) & _MASK
                high = ((high << 1) & _MASK) | 1
            elif low & ~high & _QUARTER:               # [Q, 3Q): undecided, expand around 1/2
                self.pending += 1
                low = (low << 1) ^ _HALF
                high = ((high ^ _HALF) << 1) | _HALF | 1
            else:
                break
        self.low, self.high = low, high

    def encode(self, symbol: int, cdf: Sequence[int]) -> None:
        self.encode_range(cdf[symbol], cdf[symbol + 1], cdf[-1])

    def finish(self) -> bytes:
        """Flush: one 1-bit puts the code value at 1/2 of the final interval (pending bits
        are the implied zeros that follow). Returns the code, zero-padded to whole bytes."""
        self._bit(1)
        out = bytearray(self._out)
        if self._nacc:
            out.append(self._acc << (8 - self._nacc))
        return bytes(out)


class ArithmeticDecoder:
    """Inverse of ``ArithmeticEncoder``; bits past the end of ``data`` read as 0.

    Each call does a bounded amount of work, so a corrupt input yields garbage symbols (caught
    by the caller's checksum), never an endless loop.
    """

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0                     # next bit to read
        self.low, self.high = 0, _MASK
        self.code = 0
        for _ in range(STATE_BITS):
            self.code = (self.code << 1) | self._bit()

    def _bit(self) -> int:
        i = self.pos
        self.pos += 1
        byte = i >> 3
        if byte >= len(self.data):
            return 0
        return (self.data[byte] >> (7 - (i & 7))) & 1

    def target(self, total: int) -> int:
        """The cumulative frequency the code value points at, in 0..total-1."""
        rng = self.high - self.low + 1
        value = ((self.code - self.low + 1) * total - 1) // rng
        return min(max(value, 0), total - 1)           # clamp: only corrupt input leaves the range

    def update(self, lo: int, hi: int, total: int) -> None:
        low, high, code = self.low, self.high, self.code
        rng = high - low + 1
        high = low + hi * rng // total - 1
        low = low + lo * rng // total
        while True:
            if (low ^ high) & _HALF == 0:
                low = (low << 1) & _MASK
                high = ((high << 1) & _MASK) | 1
                code = ((code << 1) & _MASK) | self._bit()
            elif low & ~high & _QUARTER:
                low = (low << 1) ^ _HALF
                high = ((high ^ _HALF) << 1) | _HALF | 1
                code = (code & _HALF) | ((code << 1) & (_MASK >> 1)) | self._bit()
            else:
                break
        self.low, self.high, self.code = low, high, code

    def decode(self, cdf: Sequence[int]) -> int:
        total = cdf[-1]
        symbol = bisect.bisect_right(cdf, self.target(total)) - 1
        symbol = min(max(symbol, 0), len(cdf) - 2)
        self.update(cdf[symbol], cdf[symbol + 1], total)
        return symbol


def quantize_probs(probs: torch.Tensor, freq_bits: int = FREQ_BITS) -> torch.Tensor:
    """Probabilities (..., V) -> cumulative integer frequencies (..., V + 1), int64.

    Every symbol gets at least 1 (so any byte can still be coded), the total is exactly
    ``2**freq_bits``; the rounding remainder goes to the most probable symbol. Non-finite
    rows (a broken model) become uniform rather than crashing the coder.
    """
    total = 1 << freq_bits
    V = probs.size(-1)
    if V + 1 > total:
        raise ValueError(f"{V} symbols do not fit into 2**{freq_bits} frequencies")
    probs = probs.float()
    bad = ~torch.isfinite(probs).all(dim=-1, keepdim=True)
    probs = torch.where(bad, torch.full_like(probs, 1.0 / V), probs.clamp(min=0.0))
    freq = torch.floor(probs * (total - V)).long() + 1
    deficit = total - freq.sum(dim=-1, keepdim=True)
    freq.scatter_add_(-1, freq.argmax(dim=-1, keepdim=True), deficit)
    cdf = torch.zeros(*freq.shape[:-1], V + 1, dtype=torch.long, device=freq.device)
    cdf[..., 1:] = freq.cumsum(dim=-1)
    return cdf


def cdf_from_probs(probs: Sequence[float], freq_bits: int = FREQ_BITS) -> list[int]:
    """The same rule as ``quantize_probs`` for one distribution (a list or NumPy array, e.g.
    from an n-gram model), computed in float64 NumPy: fast enough to call once per symbol."""
    total = 1 << freq_bits
    p = np.asarray(probs, dtype=np.float64)
    V = p.size
    if V + 1 > total:
        raise ValueError(f"{V} symbols do not fit into 2**{freq_bits} frequencies")
    p = np.clip(p, 0.0, None) if np.isfinite(p).all() else np.full(V, 1.0 / V)
    freq = np.floor(p * (total - V)).astype(np.int64) + 1
    freq[int(freq.argmax())] += total - int(freq.sum())
    cdf = np.zeros(V + 1, dtype=np.int64)
    np.cumsum(freq, out=cdf[1:])
    return cdf.tolist()


def code_length_bits(probs_of_symbols: Sequence[float]) -> float:
    """Ideal code length -sum log2 q(x): what an arithmetic coder reaches within ~2 bits."""
    return -sum(math.log2(p) for p in probs_of_symbols)
