"""Execute every notebook in a fresh kernel and time it (outputs are discarded)."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(timeout: int = 600) -> list[dict]:
    rows = []
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        title = next((line.lstrip("# ").strip() for c in nb.cells if c.cell_type == "markdown"
                      for line in c.source.splitlines() if line.startswith("# ")), path.stem)
        rows.append({"notebook": str(path.relative_to(ROOT)), "title": title,
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{rows[-1]['seconds']:7.1f} s  {rows[-1]['notebook']}", flush=True)
    return rows


if __name__ == "__main__":
    run()
