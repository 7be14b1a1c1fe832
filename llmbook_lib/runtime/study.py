"""Results of a precomputed study (``studies/*.py``): one JSON file, written atomically, resumable.

A study too slow for a notebook runs once as a script and ships its results with the library
(``llmbook_lib/weights/<name>.json``); the notebook reads them. Every script keeps the same
contract: the file is ``{"meta": {...}, "<key>": [record, ...]}``, each finished record is
written at once through ``write_atomic`` (a temporary file, then ``os.replace``: an interrupted
write never leaves half a file), and ``load_study`` returns an empty study for a missing file,
so a rerun skips what is done and resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_atomic(path: str | os.PathLike, results: dict) -> None:
    """Write ``results`` as indented UTF-8 JSON to ``path``, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_study(path: str | os.PathLike, key: str = "runs") -> dict:
    """The study at ``path``: ``{"meta": {...}, key: [...]}``, or an empty one when the file does
    not exist yet. A file that is not such a study is a ValueError saying what to do."""
    path = Path(path)
    if not path.exists():
        return {"meta": {}, key: []}
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a study result ({e}); move it away to start afresh") from None
    if not isinstance(results, dict) or not isinstance(results.get(key), list):
        raise ValueError(f"{path} has no {key!r} list; move it away to start afresh")
    results.setdefault("meta", {})
    return results


def open_study(path: str | os.PathLike, key: str, meta: dict, must_match: tuple[str, ...]) -> dict:
    """Load the study at ``path`` to resume it under ``meta``.

    A file made under other settings (any ``must_match`` entry of its meta differs from ``meta``)
    is a ValueError: mixing its records with new ones would be a wrong result. The returned
    study's meta is ``meta``, plus any entries only the file had (e.g. a note added by hand).
    """
    missing = [k for k in must_match if k not in meta]
    if missing:
        raise ValueError(f"must_match names {missing}, which meta lacks")
    results = load_study(path, key)
    old = results["meta"]
    differ = [k for k in must_match if old and old.get(k) != meta[k]]
    if differ:
        raise ValueError(f"{path} was made with other {', '.join(differ)}; "
                         "move it away to start afresh")
    results["meta"] = {**meta, **{k: v for k, v in old.items() if k not in meta}}
    return results
