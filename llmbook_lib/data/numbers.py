"""Reading numbers aloud in Chinese: 20190 -> 二万零一百九十.

A small, real sequence-to-sequence task (text normalisation, the first step of every Chinese
speech synthesiser): the output reorders and inserts unit characters (十百千万), and its zero
rules (一千零一, 二万零一百, but 二万一千) depend on digits far apart, so a model has to attend to
the right source positions. Sources are digit strings of 1 to 8 digits (below 10^8).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from ..text.tokenize import BOS_ID, EOS_ID, PAD_ID, CharTokenizer, SpecialVocab

CN_DIGITS = "零一二三四五六七八九"
UNITS = ("", "十", "百", "千")
MAX_DIGITS = 8


def _read_group(x: int, first: bool) -> str:
    """Read 1 <= x <= 9999; ``first``: this group starts the number (10..19 read as 十..)."""
    if first and 10 <= x <= 19:
        return "十" + (CN_DIGITS[x - 10] if x > 10 else "")
    out, zero = [], False
    for pos in range(3, -1, -1):
        d = x // 10 ** pos % 10
        if d == 0:
            zero = zero or bool(out)            # a zero between nonzero digits is read once
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(CN_DIGITS[d] + UNITS[pos])
    return "".join(out)


def read_chinese(n: int) -> str:
    """The Chinese reading of 0 <= n < 10^8, e.g. 10010 -> 一万零一十, 150000 -> 十五万."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 10 ** MAX_DIGITS:
        raise ValueError(f"n must be an int in 0..{10 ** MAX_DIGITS - 1}, got {n!r}")
    if n == 0:
        return "零"
    high, low = divmod(n, 10_000)
    if not high:
        return _read_group(low, first=True)
    out = _read_group(high, first=True) + "万"
    if low:
        out += ("零" if low < 1000 else "") + _read_group(low, first=False)
    return out


class Vocab(SpecialVocab):
    """Symbols with three specials: <pad> = 0, <s> (BOS) = 1, </s> (EOS) = 2, then ``symbols``
    (single characters) in order. The numbers model's data depend on this layout."""

    SPECIALS = ("<pad>", "<s>", "</s>")
    pad_id, bos_id, eos_id = PAD_ID, BOS_ID, EOS_ID   # = SPECIALS' positions, also on the class

    def __init__(self, symbols: Sequence[str]):
        symbols = list(symbols)
        if len(set(symbols)) != len(symbols):
            raise ValueError("Vocab symbols must be distinct")
        super().__init__(CharTokenizer(symbols), self.SPECIALS)

    @property
    def itos(self) -> list[str]:
        return list(self.specials) + self.base.itos

    @property
    def stoi(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.itos)}

    def encode(self, text: str) -> list[int]:
        if bad := self.unknown(text):
            raise ValueError(f"symbol {bad[0]!r} is not in the vocabulary {''.join(self.base.itos)}")
        return super().encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        """Symbols up to the first EOS; padding and BOS are skipped."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                out.append(i)
        return super().decode(out)


SRC_VOCAB = Vocab("0123456789")
TGT_VOCAB = Vocab(CN_DIGITS + "十百千万")


def sample_numbers(count: int, seed: int = 0, exclude: Iterable[int] = ()) -> list[int]:
    """``count`` distinct numbers: the digit count uniform in 1..8, then each later digit 0 with
    probability 0.3 (zeros are where the reading rules are hard), others uniform in 1..9."""
    rng = random.Random(seed)
    seen, out = set(exclude), []
    while len(out) < count:
        k = rng.randint(1, MAX_DIGITS)
        digits = [rng.randint(1, 9) if k > 1 else rng.randint(0, 9)]
        digits += [0 if rng.random() < 0.3 else rng.randint(1, 9) for _ in range(k - 1)]
        n = int("".join(map(str, digits)))
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def number_reading_data(n_train: int = 20_000, n_val: int = 1_000, n_test: int = 2_000,
                        seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """Disjoint train/val/test lists of (digits, reading) pairs, e.g. ("20190", "二万零一百九十")."""
    nums = sample_numbers(n_train + n_val + n_test, seed)
    pairs = [(str(n), read_chinese(n)) for n in nums]
    return {"train": pairs[:n_train], "val": pairs[n_train:n_train + n_val],
            "test": pairs[n_train + n_val:]}
