"""Bits per byte of the shipped byte-level GPTs as lossless compressors, next to gzip, bz2, xz
and zstd, on held-out text (the end of each recipe's validation split), with speeds.

    python bench/compress.py [--bytes 65536] [--threads 1 2]

Writes bench/results/compress.json and compress.md. Not pass/fail: numbers as measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llmbook_lib import data as corpora  # noqa: E402
from llmbook_lib.compress import LMCompressor, bench  # noqa: E402
from llmbook_lib.hub import RECIPES, WEIGHTS_DIR, manifest_entry, pretrained  # noqa: E402

OUT = Path(__file__).parent / "results"


def held_out_bytes(name: str, n: int) -> bytes:
    """The first ``n`` bytes of the recipe's validation text (never seen in training), cut at a
    character boundary so the sample is valid UTF-8."""
    recipe = RECIPES[name]
    _, val_text = corpora.split_train_val(recipe.text(), recipe.val_fraction)
    return val_text.encode("utf-8")[:n].decode("utf-8", "ignore").encode("utf-8")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bytes", type=int, default=65536)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--streams", type=int, default=64)
    p.add_argument("--models", nargs="+", default=[n for n in RECIPES if RECIPES[n].tokenizer == "byte"])
    args = p.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
               "processor": platform.processor() or platform.machine()}
    rows = []
    for name in args.models:
        if not (WEIGHTS_DIR / f"{name}.safetensors").is_file():
            print(f"{name}: not shipped, skipped", file=sys.stderr)
            continue
        model, _ = pretrained(name, retrain=False)
        data = held_out_bytes(name, args.bytes)
        for threads in args.threads:
            comp = LMCompressor(model, streams=args.streams, threads=threads)
            r = bench(data, comp)
            r.update(model=name, file_bytes=manifest_entry(name).get("file_bytes"),
                     val_bits_per_byte_manifest=manifest_entry(name)["metric"]["bits_per_token"])
            rows.append(r)
            print(json.dumps(r), flush=True)
    (OUT / "compress.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    lines = [f"# LM compression benchmark ({machine['date']}, {machine['cpus']} CPUs, torch {machine['torch']})", "",
             "Bits per byte of held-out UTF-8 text (lower is better). 'with model' adds the fp32 weights to",
             "the compressed size (Hutter-prize convention).", "",
             ("| model | bytes | threads | LM | LM ideal | LM with model | gzip -9 | bz2 -9 | xz -9e | zstd -19 "
              "| compress KB/s | decompress KB/s |"), "|" + "---|" * 12]
    for r in rows:
        b = r["baselines_bits_per_byte"]
        lines.append(f"| {r['model']} | {r['original_bytes']:,} | {r['threads']} | {r['lm_bits_per_byte']:.3f} "
                     f"| {r['lm_ideal_bits_per_byte']:.3f} | {r['lm_bits_per_byte_with_model']:.1f} "
                     f"| {b['gzip -9']:.3f} | {b['bz2 -9']:.3f} | {b['xz -9e']:.3f} "
                     f"| {b.get('zstd -19', float('nan')):.3f} | {r['compress_kb_per_s']:.1f} "
                     f"| {r['decompress_kb_per_s']:.1f} |")
    (OUT / "compress.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
