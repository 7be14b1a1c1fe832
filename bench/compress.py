"""Bits per byte of the shipped byte-level GPTs as lossless compressors, next to gzip, bz2, xz
and zstd, on held-out text (the start of each recipe's validation split), with speeds.

    python bench/compress.py [--bytes 65536] [--threads 1 2] [--parts plain mixed prior streams]

Parts: ``plain`` the GPT alone (one row per thread count); ``mixed`` the GPT mixed with a byte
n-gram of the same training text plus dynamic evaluation; ``prior`` xz and zstd given the
training text as prior knowledge (a zstd dictionary trained on it, zstd with the whole text as
a raw-content dictionary, xz with the text as a prefix whose own compressed size is
subtracted), the fair comparison for a model that was trained on that text; ``streams``
compress/decompress speed against the number of parallel streams. Every LM row is a real
round trip. Writes bench/results/compress.json and compress.md. Not pass/fail: numbers as
measured (on a shared machine: speeds vary with the load).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import platform
import sys
import time
from pathlib import Path

import torch
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llmbook_lib.compress import DynamicEval, LMCompressor, bench  # noqa: E402
from llmbook_lib.compress.ngram import ByteNGram  # noqa: E402
from llmbook_lib.hub import RECIPES, WEIGHTS_DIR, manifest_entry, pretrained, train_val_text  # noqa: E402

OUT = Path(__file__).parent / "results"
MIX_N = 7      # mixed with a GPT, the highest-order n-gram wins (the GPT covers its overconfident sparse contexts)


def split_bytes(name: str) -> tuple[bytes, bytes]:
    train_text, val_text = train_val_text(name)
    return train_text.encode("utf-8"), val_text.encode("utf-8")


def prior_baselines(data: bytes, prior: bytes) -> dict[str, float]:
    """Bits per byte of ``data`` for xz and zstd that already know ``prior`` (the training text)."""
    n = len(data)
    t0 = time.perf_counter()
    samples = [prior[i:i + 4096] for i in range(0, len(prior), 4096)]
    trained = zstandard.train_dictionary(112_640, samples, level=19)            # zstd's default size
    raw = zstandard.ZstdCompressionDict(prior, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    xz = dict(preset=9 | lzma.PRESET_EXTREME)
    out = {
        "zstd -19 + trained dictionary (110 KB)":
            len(zstandard.ZstdCompressor(level=19, dict_data=trained).compress(data)),
        "zstd -19 + whole training text as dictionary":
            len(zstandard.ZstdCompressor(level=19, dict_data=raw).compress(data)),
        "xz -9e after the training text (prefix subtracted)":
            len(lzma.compress(prior + data, **xz)) - len(lzma.compress(prior, **xz)),
    }
    res = {k: 8 * v / n for k, v in out.items()}
    res["seconds"] = time.perf_counter() - t0
    return res


def streams_scaling(model, data: bytes, counts: list[int], threads: int = 1) -> list[dict]:
    """Compress/decompress speed (KB/s of original data) and bits per byte against the number of streams."""
    rows = []
    for s in counts:
        r = bench(data, LMCompressor(model, streams=s, min_chunk=max(1, len(data) // max(counts)), threads=threads))
        rows.append({"streams": r["streams"], "threads": threads, "bits_per_byte": r["lm_bits_per_byte"],
                     "compress_kb_per_s": r["compress_kb_per_s"], "decompress_kb_per_s": r["decompress_kb_per_s"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bytes", type=int, default=65536)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--streams", type=int, default=64)
    p.add_argument("--models", nargs="+", default=[n for n in RECIPES if RECIPES[n].tokenizer == "byte"])
    p.add_argument("--parts", nargs="+", default=["plain", "mixed", "prior", "streams"],
                   choices=["plain", "mixed", "prior", "streams"])
    p.add_argument("--scaling-bytes", type=int, default=8192)
    p.add_argument("--scaling-streams", type=int, nargs="+", default=[1, 4, 16, 64])
    args = p.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
               "processor": platform.processor() or platform.machine()}
    rows, prior, scaling = [], {}, []
    for name in args.models:
        if not (WEIGHTS_DIR / f"{name}.safetensors").is_file():
            print(f"{name}: not shipped, skipped", file=sys.stderr)
            continue
        model, _ = pretrained(name, retrain=False)
        train, val = split_bytes(name)
        data = val[:args.bytes].decode("utf-8", "ignore").encode("utf-8")   # whole characters only
        runs = [("GPT", threads, {}) for threads in args.threads] if "plain" in args.parts else []
        if "mixed" in args.parts:
            ngram = ByteNGram(train, n=MIX_N)
            runs.append((f"GPT + {ngram.n}-gram + dynamic evaluation", 1,
                         {"side": ngram, "dynamic": DynamicEval()}))
        for variant, threads, kw in runs:
            comp = LMCompressor(model, streams=args.streams, threads=threads, **kw)
            r = bench(data, comp)
            r.update(model=name, variant=variant, file_bytes=manifest_entry(name).get("file_bytes"),
                     val_bits_per_byte_manifest=manifest_entry(name)["metric"]["bits_per_token"])
            if "side" in kw:
                r["side_model_bytes"] = 8 * kw["side"].table_entries()
                r["lm_bits_per_byte_with_model"] = 8 * (r["lm_bytes"] + r["model_bytes_fp32"]
                                                        + r["side_model_bytes"]) / len(data)
            rows.append(r)
            print(json.dumps(r), flush=True)
        if "prior" in args.parts:
            prior[name] = {"original_bytes": len(data), "prior_bytes": len(train), **prior_baselines(data, train)}
            print(json.dumps({name: prior[name]}), flush=True)
        if "streams" in args.parts and not scaling:
            sample = val[:args.scaling_bytes]
            scaling = [{"model": name, "bytes": len(sample), **r}
                       for r in streams_scaling(model, sample, args.scaling_streams)]
    (OUT / "compress.json").write_text(json.dumps({"machine": machine, "rows": rows, "prior": prior,
                                                   "streams": scaling}, indent=1))
    lines = [f"# LM compression benchmark ({machine['date']}, {machine['cpus']} CPUs, torch {machine['torch']})", "",
             "Bits per byte of held-out UTF-8 text (lower is better). 'with model' adds the fp32 weights (and the",
             "n-gram's counts at 8 bytes each, where mixed in) to the compressed size (Hutter-prize convention).",
             "Speeds are KB of original data per second on a shared machine.", "",
             ("| model | variant | bytes | threads | LM | LM ideal | LM with model | gzip -9 | bz2 -9 | xz -9e "
              "| zstd -19 | compress KB/s | decompress KB/s |"), "|" + "---|" * 13]
    for r in rows:
        b = r["baselines_bits_per_byte"]
        lines.append(f"| {r['model']} | {r['variant']} | {r['original_bytes']:,} | {r['threads']} "
                     f"| {r['lm_bits_per_byte']:.3f} | {r['lm_ideal_bits_per_byte']:.3f} "
                     f"| {r['lm_bits_per_byte_with_model']:.1f} | {b['gzip -9']:.3f} | {b['bz2 -9']:.3f} "
                     f"| {b['xz -9e']:.3f} | {b.get('zstd -19', float('nan')):.3f} | {r['compress_kb_per_s']:.1f} "
                     f"| {r['decompress_kb_per_s']:.1f} |")
    if prior:
        lines += ["", "## Classical compressors given the training text as prior knowledge", "",
                  "The GPT and the n-gram were trained on this text; these baselines get it too.", "",
                  "| model's data | bytes | " + " | ".join(k for k in next(iter(prior.values()))
                                                         if k not in ("original_bytes", "prior_bytes", "seconds"))
                  + " | best LM above |", "|" + "---|" * 6]
        for name, pr in prior.items():
            best = min((r["lm_bits_per_byte"] for r in rows if r["model"] == name), default=float("nan"))
            vals = [v for k, v in pr.items() if k not in ("original_bytes", "prior_bytes", "seconds")]
            lines.append(f"| {name} | {pr['original_bytes']:,} | " + " | ".join(f"{v:.3f}" for v in vals)
                         + f" | {best:.3f} |")
    if scaling:
        lines += ["", f"## Speed against the number of streams ({scaling[0]['model']}, {scaling[0]['bytes']:,} "
                  "held-out bytes, 1 thread)", "",
                  "| streams | bits per byte | compress KB/s | decompress KB/s |", "|---|---|---|---|"]
        lines += [f"| {r['streams']} | {r['bits_per_byte']:.3f} | {r['compress_kb_per_s']:.1f} "
                  f"| {r['decompress_kb_per_s']:.1f} |" for r in scaling]
    (OUT / "compress.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
