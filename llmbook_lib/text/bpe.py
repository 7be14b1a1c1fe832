"""Byte-level byte pair encoding (BPE), trained from scratch for teaching.

BPE (Sennrich et al., 2016) starts from the smallest units and repeatedly merges the most
frequent adjacent pair into a new token. GPT-2's byte-level variant (Radford et al., 2019)
starts from the 256 UTF-8 bytes, so every string has an encoding and nothing is unknown:

1. Pre-tokenize with GPT-2's regular expression: ``" the"``, ``"'s"``, ``" 1998"``, ``"，"``,
   ``"\\n\\n"`` ... Merges never cross these boundaries, so a token never glues the end of one
   word to the start of the next.
2. Count each distinct pre-token once, with its frequency, as a list of its UTF-8 bytes.
3. Merge loop: take the most frequent adjacent pair (a, b), give the bytes ``a + b`` an id,
   rewrite every occurrence, and update only the pair counts around the rewritten places.

Ties between pairs of equal count are broken as Hugging Face ``tokenizers`` breaks them (the
pair whose ids come first in its vocabulary, where the 256 bytes are ordered by GPT-2's
byte-to-character table). ``BPETokenizer.train`` therefore learns the same merges, in the same
order, as ``hf_byte_level_bpe`` with the same vocabulary size; the tests check it on real text.
Ids differ only in how the 256 single bytes are numbered: here byte b has id b.

Known differences from the library's pre-tokenizer (Oniguruma): Python's ``\\s`` also matches
the control characters U+001C..U+001F (``data.cleaning.normalize`` removes them), and characters
newer than Python's Unicode database (e.g. CJK extension H in Python 3.11) are not letters here.
"""

from __future__ import annotations

import functools
import heapq
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable

from tqdm.auto import tqdm

# GPT-2's pattern is 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Python's re has no \p{..}: letters are \w minus digits, "_" and the other numerals (No, Nl).


@functools.lru_cache(maxsize=None)
def _pretokenizer() -> re.Pattern:
    numerals = [c for c in range(sys.maxunicode + 1)
                if unicodedata.category(chr(c)) in ("No", "Nl")]      # e.g. ① ² ½ Ⅱ: \p{N} but not \d
    runs, start = [], numerals[0]
    for prev, c in zip(numerals, numerals[1:] + [None]):
        if c != prev + 1:
            runs.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = c
    num = "".join(runs)
    letter = rf"[^\W\d_{num}]"
    number = rf"[\d{num}]"
    other = r"(?:[^\s\w]|_)"
    return re.compile(rf"'s|'t|'re|'ve|'m|'ll|'d| ?{letter}+| ?{number}+| ?{other}+|\s+(?!\S)|\s+")


def pretokenize(text: str) -> list[str]:
    """Split text into GPT-2 pre-tokens; their concatenation is the text again."""
    return _pretokenizer().findall(text)


# GPT-2 maps the 94 + 12 + 82 printable bytes to themselves as characters and the other 68 to
# U+0100.. in byte order; ``tokenizers`` numbers its 256 base tokens in that character order.
_PRINTABLE = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
_OTHERS = [b for b in range(256) if b not in _PRINTABLE]
BYTE_ORDER: list[int] = _PRINTABLE + _OTHERS
_BYTE_RANK = {b: r for r, b in enumerate(BYTE_ORDER)}
BYTE_TO_CHAR: dict[int, str] = {b: chr(b) for b in _PRINTABLE} | {b: chr(256 + i) for i, b in enumerate(_OTHERS)}
CHAR_TO_BYTE: dict[str, int] = {c: b for b, c in BYTE_TO_CHAR.items()}


def _to_bytes(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")      # lone surrogates round-trip too


def _merge(seq: list[int], a: int, b: int, new: int) -> tuple[list[int], list[tuple[tuple[int, int], int]]]:
    """Replace each (a, b) in seq, left to right, by ``new``; also return the pair-count changes."""
    out: list[int] = []
    changes: list[tuple[tuple[int, int], int]] = []
    i, n = 0, len(seq)
    while i < n:
        try:
            j = seq.index(a, i)                      # next candidate (a C-speed scan)
        except ValueError:
            break
        if j + 1 == n or seq[j + 1] != b:
            out += seq[i:j + 1]
            i = j + 1
            continue
        out += seq[i:j]
        changes.append(((a, b), -1))
        if out:                                      # left neighbour (already rewritten)
            changes += [((out[-1], a), -1), ((out[-1], new), 1)]
        if j + 2 < n:                                # right neighbour
            changes += [((b, seq[j + 2]), -1), ((new, seq[j + 2]), 1)]
        out.append(new)
        i = j + 2
    out += seq[i:]
    return out, changes


def _token_id(vocab: list[bytes], ids: dict[bytes, int], joined: bytes) -> int:
    """The id of ``joined``, appended to the vocabulary if new (two merges can spell the same bytes)."""
    if joined not in ids:
        ids[joined] = len(vocab)
        vocab.append(joined)
    return ids[joined]


class BPETokenizer:
    """A trained byte-level BPE: ``encode(str) -> list[int]``, ``decode(list[int]) -> str``.

    ``vocab[i]`` is the byte string of token i (ids 0..255 are the single bytes);
    ``merges`` lists ``(left id, right id, new id)`` in the order they were learned, which is
    also the order in which ``encode`` applies them.
    """

    def __init__(self, vocab: list[bytes], merges: list[tuple[int, int, int]]):
        if len(vocab) < 256 or any(vocab[b] != bytes([b]) for b in range(256)):
            raise ValueError("a byte-level BPE vocabulary must start with the 256 single bytes, id b = byte b")
        for a, b, new in merges:
            if vocab[new] != vocab[a] + vocab[b]:
                raise ValueError(f"merge ({a}, {b}) -> {new}: {vocab[new]!r} is not {vocab[a]!r} + {vocab[b]!r}")
        self.vocab = list(vocab)
        self.merges = list(merges)
        self._rank = {(a, b): (r, new) for r, (a, b, new) in enumerate(merges)}
        self._cache: dict[str, list[int]] = {}

    # ---- training ------------------------------------------------------------------------
    @classmethod
    def train(cls, text: str | Iterable[str], vocab_size: int, progress: bool = False) -> "BPETokenizer":
        """Learn merges on ``text`` (a string or an iterable of documents) until the vocabulary
        has ``vocab_size`` tokens, or no pair occurs any more."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the single bytes), got {vocab_size}")
        docs = [text] if isinstance(text, str) else list(text)
        words = Counter(w for doc in docs for w in pretokenize(doc))
        if not words:
            raise ValueError("cannot train a BPE on empty text; pass some text")
        seqs = [list(_to_bytes(w)) for w in words]
        freq = list(words.values())

        counts: Counter = Counter()                   # pair -> occurrences, weighted by word frequency
        where: defaultdict = defaultdict(set)         # pair -> indices of words that (may) contain it
        for i, seq in enumerate(seqs):
            for pair in zip(seq, seq[1:]):
                counts[pair] += freq[i]
                where[pair].add(i)

        vocab = [bytes([b]) for b in range(256)]
        ids = {t: i for i, t in enumerate(vocab)}
        rank = lambda t: _BYTE_RANK[t] if t < 256 else t          # noqa: E731  (tie-break order)
        heap = [(-c, rank(a), rank(b), a, b) for (a, b), c in counts.items()]
        heapq.heapify(heap)                           # most frequent first; stale entries are skipped
        merges: list[tuple[int, int, int]] = []
        bar = tqdm(total=vocab_size - 256, desc="BPE 合并", disable=not progress)
        while len(vocab) < vocab_size and heap:
            neg, ra, rb, a, b = heapq.heappop(heap)
            c = counts.get((a, b), 0)
            if c != -neg:                             # count fell since this entry was pushed
                if c > 0:
                    heapq.heappush(heap, (-c, ra, rb, a, b))
                continue
            size = len(vocab)
            new = _token_id(vocab, ids, vocab[a] + vocab[b])
            bar.update(len(vocab) - size)
            merges.append((a, b, new))
            grown: set[tuple[int, int]] = set()
            for i in where.pop((a, b)):
                seqs[i], changes = _merge(seqs[i], a, b, new)
                for pair, d in changes:
                    counts[pair] += d * freq[i]
                    if d > 0:
                        where[pair].add(i)
                        grown.add(pair)
            for pair in grown:                        # only new or grown pairs need a fresh entry
                if counts[pair] > 0:
                    heapq.heappush(heap, (-counts[pair], rank(pair[0]), rank(pair[1]), *pair))
        bar.close()
        return cls(vocab, merges)

    # ---- encoding ------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return self.vocab_size

    unk_id = None                                      # every string has an encoding

    def unknown(self, text: str) -> list[str]:
        return []

    def _encode_word(self, word: str) -> list[int]:
        seq = list(_to_bytes(word))
        while len(seq) > 1:
            best = min(self._rank.get(p, (len(self._rank), -1)) for p in zip(seq, seq[1:]))
            if best[1] < 0:                            # no learned merge applies
                break
            a, b, new = self.merges[best[0]]
            seq, _ = _merge(seq, a, b, new)
        return seq

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``: pre-tokenize, then apply the merges in the order learned."""
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, got {type(text).__name__}; decode bytes first, "
                            "e.g. data.decode('utf-8', errors='replace')")
        out: list[int] = []
        cache = self._cache
        for word in pretokenize(text):
            ids = cache.get(word)
            if ids is None:
                ids = cache[word] = self._encode_word(word)
            out += ids
        return out

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        vocab, n = self.vocab, len(self.vocab)
        parts = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"token id {i} is outside the vocabulary (0..{n - 1})")
            parts.append(vocab[i])
        return b"".join(parts)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Text of ``ids``. A cut sample can end inside a character: ``errors="replace"`` shows
        it as U+FFFD; ``errors="strict"`` raises instead. Whole encodings always round-trip."""
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", errors="surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", errors=errors)

    def token_str(self, i: int) -> str:
        """A readable form of token i (partial characters shown as U+FFFD)."""
        return self.vocab[i].decode("utf-8", errors="replace")

    def truncated(self, vocab_size: int) -> "BPETokenizer":
        """The tokenizer that training with ``vocab_size`` would have given: the merges up to the
        one that created id ``vocab_size - 1`` (training only ever stops earlier)."""
        if not 256 <= vocab_size <= self.vocab_size:
            raise ValueError(f"vocab_size must lie in 256..{self.vocab_size}, got {vocab_size}")
        cut = next((r + 1 for r, (_, _, new) in enumerate(self.merges) if new == vocab_size - 1), 0)
        return BPETokenizer(self.vocab[:vocab_size], self.merges[:cut])

    def to_hf(self):
        """The same tokenizer as a ``tokenizers.Tokenizer`` (same ids), for fast encoding."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        as_chars = lambda t: "".join(BYTE_TO_CHAR[b] for b in t)       # noqa: E731
        vocab = {as_chars(t): i for i, t in enumerate(self.vocab)}
        merges = [(as_chars(self.vocab[a]), as_chars(self.vocab[b])) for a, b, _ in self.merges]
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        return tok

    def to_json(self) -> str:
        return json.dumps({"type": "bpe", "merges": [[a, b] for a, b, _ in self.merges]})

    @classmethod
    def from_json(cls, s: str) -> "BPETokenizer":
        d = json.loads(s)
        if d.get("type") != "bpe":
            raise ValueError(f"not a BPETokenizer description: type={d.get('type')!r}")
        vocab = [bytes([b]) for b in range(256)]
        ids = {t: i for i, t in enumerate(vocab)}
        merges = [(a, b, _token_id(vocab, ids, vocab[a] + vocab[b])) for a, b in d["merges"]]
        return cls(vocab, merges)


# ---- the same tokenizer from Hugging Face ``tokenizers`` ---------------------------------------
def hf_byte_level_bpe(text: str | Iterable[str], vocab_size: int):
    """Train ``tokenizers``' byte-level BPE configured like ``BPETokenizer.train``: GPT-2
    pre-tokenization without an added prefix space, all 256 bytes in the vocabulary, no
    special tokens, no minimum frequency. Returns a ``tokenizers.Tokenizer``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=0, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator([text] if isinstance(text, str) else text, trainer=trainer)
    return tok


def hf_merges(tok) -> list[tuple[bytes, bytes]]:
    """The merges of a ``tokenizers`` byte-level BPE, in order, as pairs of byte strings."""
    merges = json.loads(tok.to_str())["model"]["merges"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    as_bytes = lambda s: bytes(CHAR_TO_BYTE[c] for c in s)      # noqa: E731
    return [(as_bytes(a), as_bytes(b)) for a, b in pairs]


def hf_token_bytes(tok) -> dict[int, bytes]:
    """id -> byte string for every token of a ``tokenizers`` byte-level BPE."""
    return {i: bytes(CHAR_TO_BYTE[c] for c in s) for s, i in tok.get_vocab().items()}
