"""`make bench`: per-notebook wall times and the training-loop overhead, written to bench/results/."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import notebooks  # noqa: E402
import train_loop  # noqa: E402

OUT = Path(__file__).parent / "results"
PREFACE = Path(__file__).resolve().parents[1] / "book" / "preface.md"
BEGIN, END = "<!-- TIMINGS", "<!-- /TIMINGS -->"


def toc_position(notebook: str) -> int:
    """Where a notebook comes in the book (its line in _toc.yml); unknown ones go last."""
    toc = (PREFACE.parents[1] / "_toc.yml").read_text(encoding="utf-8")
    files = [line.split("file:", 1)[1].strip() for line in toc.splitlines()
             if "file:" in line and not line.lstrip().startswith("#")]   # not the header's example
    stem = str(Path(notebook).with_suffix(""))
    return files.index(stem) if stem in files else len(files)


def update_preface(rows: list[dict], machine: dict) -> None:
    """Rewrite the measured-times table in the preface (between the TIMINGS markers), in the
    book's order."""
    rows = sorted(rows, key=lambda r: toc_position(r["notebook"]))
    text = PREFACE.read_text(encoding="utf-8")
    start = text.index("\n", text.index(BEGIN)) + 1
    stop = text.index(END)
    when = f"{machine['date'][:10]}，{machine['cpus']} 核 CPU，torch {machine['torch']}，全新内核"
    table = ["", "| 章节 | 笔记本 | 双核 CPU 用时 | 测量条件 |", "|---|---|---|---|"]
    table += [f"| {r['title']} | `{r['notebook']}` | {r['seconds']:.0f} 秒 | {when} |" for r in rows]
    PREFACE.write_text(text[:start] + "\n".join(table) + "\n\n" + text[stop:], encoding="utf-8")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
               "processor": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    loop = train_loop.run()
    rows = notebooks.run()
    (OUT / "bench.json").write_text(json.dumps({"machine": machine, "train_loop": loop, "notebooks": rows},
                                               indent=1, ensure_ascii=False))
    lines = [f"# Benchmarks ({machine['date']}, {machine['cpus']} CPUs, torch {machine['torch']})", "",
             "## Training loop: llmbook_lib.training.train vs a minimal hand-written loop", "",
             "| loop | tokens/s (per round) |", "|---|---|",
             f"| minimal | {', '.join(f'{t:,.0f}' for t in loop['minimal_tokens_per_s'])} |",
             f"| llmbook_lib.training.train | {', '.join(f'{t:,.0f}' for t in loop['library_tokens_per_s'])} |", "",
             f"Ratio of medians (library / minimal): **{loop['ratio_median']:.3f}**", "",
             "## Notebooks (fresh kernel, wall time)", "", "| notebook | seconds |", "|---|---|"]
    lines += [f"| {r['notebook']} | {r['seconds']} |" for r in rows]
    (OUT / "bench.md").write_text("\n".join(lines) + "\n")
    update_preface(rows, machine)
    print("\n".join(lines))


def preface_from_execute() -> None:
    """Fill the preface's table from the wall times `make execute` recorded in each notebook."""
    rows, dates = [], set()
    for row in notebooks.recorded():
        rows.append(row)
        dates.add(row["date"])
    machine = {"date": max(dates), "cpus": rows[0]["cpus"], "torch": rows[0]["torch"]}
    update_preface(rows, machine)
    for r in rows:
        print(f"{r['seconds']:7.1f} s  {r['notebook']}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--preface-from-execute"]:
        preface_from_execute()
    else:
        main()
