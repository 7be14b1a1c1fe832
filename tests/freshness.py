#!/usr/bin/env python3
"""Are the outputs stored in the notebooks still what the code produces?

The website and GitHub show the outputs committed with each notebook. They are stale when the
library, the shipped weights or the notebook's own code changed after the notebook was last
executed. `make execute` stamps each notebook's metadata (`llmbook.digest`) with digests of
what produced its outputs; `make fresh` recomputes them and names every stale notebook.

    python tests/freshness.py stamp NOTEBOOK [--started T]
                                                  record the digests (after executing) and,
                                                  with --started (a Unix time), how long it took
    python tests/freshness.py check [NOTEBOOK...] exit 1 naming each stale notebook

Digests (sha256, hex):
  library   every source file of llmbook_lib/ (.py, .js, .css) and every JSON file in it (the
            manifest, study results such as weights/ft_curves.json), each with its path
  weights   llmbook_lib/weights/manifest.json (it holds every shipped file's sha256)
  code      the notebook's code cells, in order (markdown does not change outputs)
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "llmbook_lib"
MANIFEST = LIBRARY / "weights" / "manifest.json"
SOURCE_SUFFIXES = {".py", ".js", ".css", ".json"}


def library_digest(root: Path | None = None) -> str:
    root = LIBRARY if root is None else root
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts)
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def weights_digest(manifest: Path | None = None) -> str:
    manifest = MANIFEST if manifest is None else manifest
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def code_digest(nb: dict) -> str:
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            h.update("".join(cell["source"]).encode() + b"\0")
    return h.hexdigest()


def digests(nb: dict) -> dict[str, str]:
    return {"library": library_digest(), "weights": weights_digest(), "code": code_digest(nb)}


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def stamp(path: Path, seconds: float | None = None) -> None:
    nb = _read(path)
    meta = nb.setdefault("metadata", {}).setdefault("llmbook", {})
    meta["digest"] = digests(nb)
    if seconds is not None:
        import torch
        meta["executed"] = {"seconds": round(seconds, 1), "date": time.strftime("%Y-%m-%d"),
                            "cpus": os.cpu_count(), "torch": torch.__version__.split("+")[0]}
    path.write_text(json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def stale_parts(path: Path) -> list[str]:
    """What changed since the notebook was executed: [] when its outputs are fresh."""
    nb = _read(path)
    stored = nb.get("metadata", {}).get("llmbook", {}).get("digest")
    if not stored:
        return ["never stamped"]
    now = digests(nb)
    names = {"library": "llmbook_lib/", "weights": "the weights manifest",
             "code": "its code cells"}
    return [names[k] for k in ("library", "weights", "code") if stored.get(k) != now[k]]


def all_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"stamp", "check"}:
        print(__doc__)
        return 2
    args = argv[1:]
    seconds = None
    if "--started" in args:
        i = args.index("--started")
        seconds = time.time() - float(args[i + 1])
        del args[i:i + 2]
    paths = [Path(p).resolve() for p in args] or all_notebooks()
    if argv[0] == "stamp":
        for path in paths:
            stamp(path, seconds)
        return 0
    stale = [(p, parts) for p in paths if (parts := stale_parts(p))]
    for path, parts in stale:
        rel = path.relative_to(ROOT)
        print(f"stale: {rel} (changed since it was executed: {', '.join(parts)})")
        print(f"  refresh it with:  make execute NOTEBOOKS={rel}")
    if stale:
        print(f"{len(stale)} of {len(paths)} notebooks show outputs that the current code may "
              f"not produce; `make execute` refreshes all of them.")
        return 1
    print(f"all {len(paths)} notebooks are fresh")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
