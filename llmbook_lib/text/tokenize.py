"""Tokenizers with one interface (``Tokenizer``): ``encode(str) -> list[int]``,
``decode(list[int]) -> str``, ``vocab_size``, ``unk_id`` and ``unknown(text)``.

``CharTokenizer`` maps each character of a corpus to an id (good for Chinese, where one
character already carries meaning); ``ByteTokenizer`` maps UTF-8 bytes (vocab 256, never
meets an unknown symbol); ``bpe.BPETokenizer`` merges bytes into subwords. ``SpecialVocab``
puts special tokens ([PAD], [CLS], <s>, ...) in front of any of them: the one place where
pad/bos/eos/cls/sep/mask ids come from. ``BertVocab`` is the BERT layout: [PAD] [CLS] [SEP] [MASK].
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from .bpe import BPETokenizer

# The book's sequence-to-sequence convention, SpecialVocab(base, ("<pad>", "<s>", "</s>")): the
# defaults of TransformerConfig and data.pad_pairs, and the layout of data.numbers.Vocab.
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


@runtime_checkable
class Tokenizer(Protocol):
    """What the library needs of a tokenizer (``CharTokenizer``, ``ByteTokenizer``,
    ``BPETokenizer``, ``SpecialVocab``).

    ``unk_id`` is the id that unknown symbols map to, or None when ``encode`` raises on them
    (or cannot meet one, as byte-level tokenizers). ``unknown(text)`` lists, once each and in
    order of appearance, the characters of ``text`` outside the vocabulary, so that a widget
    can name them before encoding (always ``[]`` for byte-level tokenizers).
    """

    @property
    def vocab_size(self) -> int: ...

    @property
    def unk_id(self) -> int | None: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def unknown(self, text: str) -> list[str]: ...


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

    def unknown(self, text: str) -> list[str]:
        stoi = self.stoi
        return list(dict.fromkeys(c for c in text if c not in stoi))

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
    unk_id = None

    def __len__(self) -> int:
        return 256

    def unknown(self, text: str) -> list[str]:
        return []

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
    if kind == "special":
        return SpecialVocab.from_json(s)
    raise ValueError(f"unknown tokenizer type {kind!r} (expected 'char', 'byte', 'bpe' or 'special')")


# Roles that well-known special tokens play; ``SpecialVocab(..., roles=...)`` adds or overrides.
ROLES = {"[PAD]": "pad", "<pad>": "pad", "[CLS]": "cls", "[SEP]": "sep", "[MASK]": "mask",
         "<mask>": "mask", "[BOS]": "bos", "<s>": "bos", "[EOS]": "eos", "</s>": "eos"}


class SpecialVocab:
    """Special tokens in front of a base tokenizer: ids 0..k-1 are ``specials``, the base's id i
    becomes i + k.

    ``SpecialVocab(CharTokenizer.from_text(text), ("[PAD]", "[CLS]", "[SEP]", "[MASK]"))`` has
    ``pad_id == 0``, ``cls_id == 1``, ... (one ``<role>_id`` attribute per special whose role is
    known, see ``ROLES``) and ``id("[MASK]") == 3``. ``encode`` never produces a special id: the
    text "[MASK]" encodes as its characters; specials are placed by id. ``decode`` writes special
    ids as their names and everything else through the base tokenizer.
    """

    def __init__(self, base: Tokenizer, specials: Sequence[str], roles: Mapping[str, str] | None = None):
        specials = tuple(specials)
        if not specials or len(set(specials)) != len(specials):
            raise ValueError(f"specials must be one or more distinct names, got {specials}")
        if not all(isinstance(t, str) and t for t in specials):
            raise ValueError(f"special token names must be non-empty strings, got {specials}")
        roles = {**{t: ROLES[t] for t in specials if t in ROLES}, **(roles or {})}
        if stray := [t for t in roles if t not in specials]:
            raise ValueError(f"roles name {stray}, which are not among the specials {specials}")
        if len(set(roles.values())) != len(roles):
            raise ValueError(f"two specials play the same role: {roles}")
        self.base, self.specials, self.roles = base, specials, roles
        self.offset = len(specials)
        self._ids = {t: i for i, t in enumerate(specials)}
        for token, role in roles.items():
            setattr(self, f"{role}_id", self._ids[token])

    def __getattr__(self, name: str):
        # only reached when normal lookup fails, i.e. for a role this vocabulary lacks
        if name.endswith("_id") and not name.startswith("_"):
            raise AttributeError(f"this vocabulary has no {name[:-3]} token; its specials are "
                                 f"{', '.join(self.__dict__.get('specials', ()))}")
        raise AttributeError(name)

    def id(self, token: str) -> int:
        """The id of the special token ``token``, e.g. ``vocab.id("[MASK]")``."""
        try:
            return self._ids[token]
        except KeyError:
            raise ValueError(f"{token!r} is not a special token of this vocabulary; "
                             f"its specials are {', '.join(self.specials)}") from None

    @property
    def vocab_size(self) -> int:
        return self.base.vocab_size + self.offset

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def special_ids(self) -> tuple[int, ...]:
        return tuple(range(self.offset))

    @property
    def unk_id(self) -> int | None:
        """The id of the base tokenizer's <unk>, or None when it has none."""
        unk = self.base.unk_id
        return None if unk is None else unk + self.offset

    @property
    def non_word_ids(self) -> tuple[int, ...]:
        """Special ids plus <unk>: never a masking target, a random replacement or a fill-in."""
        return self.special_ids + (() if self.unk_id is None else (self.unk_id,))

    def unknown(self, text: str) -> list[str]:
        return self.base.unknown(text)

    def encode(self, text: str) -> list[int]:
        return [i + self.offset for i in self.base.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Ordinary ids through the base tokenizer (a run at a time, so multi-byte characters
        survive); special ids as their names, e.g. [MASK]."""
        out: list[str] = []
        run: list[int] = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} is outside the vocabulary (0..{self.vocab_size - 1})")
            if i < self.offset:
                if run:
                    out.append(self.base.decode(run))
                    run = []
                out.append(self.specials[i])
            else:
                run.append(i - self.offset)
        if run:
            out.append(self.base.decode(run))
        return "".join(out)

    def to_json(self) -> str:
        return json.dumps({"type": "special", "specials": list(self.specials), "roles": self.roles,
                           "base": json.loads(self.base.to_json())}, ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> "SpecialVocab":
        """Rebuild a vocabulary saved with ``to_json()``; on a subclass with fixed ``SPECIALS``
        (``BertVocab``, ``numbers.Vocab``) the saved specials must be exactly those."""
        d = json.loads(s)
        if d.get("type") != "special":
            raise ValueError(f"not a SpecialVocab description: type={d.get('type')!r}")
        specials = tuple(d["specials"])
        fixed = getattr(cls, "SPECIALS", None)
        if fixed is not None and specials != tuple(fixed):
            raise ValueError(f"saved specials {specials} differ from {cls.__name__}.SPECIALS {tuple(fixed)}; "
                             "the ids would not match")
        vocab = cls.__new__(cls)              # subclasses only fix SPECIALS: the state is all here
        SpecialVocab.__init__(vocab, tokenizer_from_json(json.dumps(d["base"])), specials, d.get("roles"))
        return vocab

class BertVocab(SpecialVocab):
    """A tokenizer (e.g. ``CharTokenizer``) with BERT's special tokens in front.

    Ids 0..3 are [PAD], [CLS], [SEP], [MASK]; the base tokenizer's id i becomes i + 4. The
    shipped bert-zh-char weights depend on this layout.
    """

    SPECIALS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]")
    pad_id, cls_id, sep_id, mask_id = 0, 1, 2, 3      # = SPECIALS' positions, also on the class

    def __init__(self, base: Tokenizer):
        super().__init__(base, self.SPECIALS)
