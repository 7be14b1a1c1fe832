"""Execute every notebook in a fresh kernel and time it (outputs are discarded)."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _title(cells) -> str:
    return next((line.lstrip("# ").strip() for c in cells if c.cell_type == "markdown"
                 for line in c.source.splitlines() if line.startswith("# ")), "")


def _paths() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def recorded() -> list[dict]:
    """The wall times `make execute` stamped into every notebook (llmbook.executed)."""
    rows = []
    for path in _paths():
        nb = nbformat.read(path, as_version=4)
        done = nb.metadata.get("llmbook", {}).get("executed")
        if not done:
            raise SystemExit(f"{path.relative_to(ROOT)} has no recorded time: run make execute")
        rows.append({"notebook": str(path.relative_to(ROOT)), "title": _title(nb.cells) or path.stem,
                     **done})
    return rows


def run(timeout: int = 600) -> list[dict]:
    rows = []
    for path in _paths():
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        title = _title(nb.cells) or path.stem
        rows.append({"notebook": str(path.relative_to(ROOT)), "title": title,
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{rows[-1]['seconds']:7.1f} s  {rows[-1]['notebook']}", flush=True)
    return rows


if __name__ == "__main__":
    run()
