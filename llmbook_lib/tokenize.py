"""Tokenizers with one interface: ``encode(str) -> list[int]`` and ``decode(list[int]) -> str``.

``CharTokenizer`` maps each character of a corpus to an id (good for Chinese, where one
character already carries meaning); ``ByteTokenizer`` maps UTF-8 bytes (vocab 256, never
meets an unknown symbol). A BPE tokenizer trained with the ``tokenizers`` package joins them
in the pretraining chapter.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

from .bpe import BPETokenizer


class CharTokenizer:
    """Character-level tokenizer built from a text.

    By default a character outside the vocabulary raises a ``ValueError`` naming it. Built with
    ``unk="<unk>"``, such characters map to an explicit ``<unk>`` id (id 0) instead;
    ``max_vocab`` then keeps only the most frequent characters.
    """

    def __init__(self, chars: Sequence[str], unk: str | None = None):
        chars = list(chars)
        if len(set(chars)) != len(chars):
            raise ValueError("CharTokenizer vocabulary has repeated characters")
        if any(len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer vocabulary entries must be single characters")
        self.unk = unk
        self.itos: list[str] = ([unk] if unk is not None else []) + chars
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        self.unk_id = 0 if unk is not None else None

    @classmethod
    def from_text(cls, text: str | Iterable[str], unk: str | None = None,
                  max_vocab: int | None = None) -> "CharTokenizer":
        """Build the vocabulary from ``text``: sorted characters, or the ``max_vocab`` most frequent."""
        counts = Counter(text) if isinstance(text, str) else Counter(c for t in text for c in t)
        if max_vocab is not None:
            if unk is None:
                raise ValueError("max_vocab drops rare characters, so it needs unk='<unk>' to map them")
            kept = [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_vocab - 1]]
            return cls(sorted(kept), unk=unk)
        return cls(sorted(counts), unk=unk)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str) -> list[int]:
        stoi = self.stoi
        try:
            return [stoi[c] for c in text]
        except KeyError:
            if self.unk_id is None:
                bad = next(c for c in text if c not in stoi)
                raise ValueError(
                    f"character {bad!r} (U+{ord(bad):04X}) is not in the vocabulary of "
                    f"{self.vocab_size} characters; build the tokenizer with unk='<unk>' to map "
                    "unknown characters, or remove it from the input") from None
            return [stoi.get(c, self.unk_id) for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        itos = self.itos
        n = len(itos)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"token id {i} is outside the vocabulary (0..{n - 1})")
            out.append(itos[i])
        return "".join(out)

    def to_json(self) -> str:
        return json.dumps({"type": "char", "chars": self.itos[1:] if self.unk is not None else self.itos,
                           "unk": self.unk}, ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> "CharTokenizer":
        d = json.loads(s)
        if d.get("type") != "char":
            raise ValueError(f"not a CharTokenizer description: type={d.get('type')!r}")
        return cls(d["chars"], unk=d.get("unk"))


class ByteTokenizer:
    """UTF-8 byte tokenizer: vocab 256; every string (and every ``bytes``) round-trips exactly."""

    vocab_size = 256

    def __len__(self) -> int:
        return 256

    def encode(self, text: str | bytes) -> list[int]:
        if isinstance(text, str):
            text = text.encode("utf-8", errors="surrogatepass")
        return list(text)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        try:
            return bytes(int(i) for i in ids)
        except ValueError:
            raise ValueError("byte token ids must lie in 0..255") from None

    def decode(self, ids: Iterable[int], errors: str = "surrogatepass") -> str:
        """Decode to text; ``errors="replace"`` shows a partial character (e.g. a cut sample) as U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def to_json(self) -> str:
        return json.dumps({"type": "byte"})


def tokenizer_from_json(s: str):
    """Rebuild a tokenizer saved with ``to_json()``."""
    kind = json.loads(s).get("type")
    if kind == "char":
        return CharTokenizer.from_json(s)
    if kind == "byte":
        return ByteTokenizer()
    if kind == "bpe":
        return BPETokenizer.from_json(s)
    raise ValueError(f"unknown tokenizer type {kind!r} (expected 'char', 'byte' or 'bpe')")
