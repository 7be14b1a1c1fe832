"""Command line of ``llmbook_lib.compress``, with a byte-level GPT from ``llmbook_lib.hub``::

    python -m llmbook_lib.compress compress IN OUT [--model gpt-mix-byte] [--static] [--ngram 7] [--dynamic]
    python -m llmbook_lib.compress decompress IN OUT [--model gpt-mix-byte] [--ngram 7]
    python -m llmbook_lib.compress bench IN [OUT.json] [--model gpt-mix-byte] [--static] [--ngram 7] [--dynamic]

By default the GPT (``gpt-mix-byte``: Chinese, English and Python) is mixed with the adaptive
models learned from the file itself (``adaptive.py``); ``--static`` codes with the GPT alone.
``--ngram N`` mixes in a byte N-gram counted on the model's training text (decompress needs the
same N); ``--dynamic`` turns on dynamic evaluation (slow; recorded in the blob). The hub is imported
only when the command runs, so the compressor itself never depends on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .adaptive import AdaptiveConfig
from .benchmark import bench
from .core import LMCompressor
from .predictor import DynamicEval


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmbook_lib.compress",
                                     description="Lossless compression with a byte-level GPT from llmbook_lib.hub")
    parser.add_argument("cmd", choices=["compress", "decompress", "bench"])
    parser.add_argument("input")
    parser.add_argument("output", nargs="?", help="output file (bench: optional JSON report)")
    parser.add_argument("--model", default="gpt-mix-byte", help="a byte-level model name from llmbook_lib.hub")
    # 128 streams of a 64-byte context: about twice the speed of 64 x 128 for under 1% in size
    parser.add_argument("--streams", type=int, default=128)
    parser.add_argument("--context", type=int, default=64,
                        help="longest context the GPT sees (at most the model's max_len; recorded in the blob)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ngram", type=int, default=0, metavar="N",
                        help="mix in a byte N-gram (1..7) counted on the model's training text; "
                             "decompress needs the same N")
    parser.add_argument("--static", action="store_true",
                        help="the GPT alone, without the models learned from the file itself (the blob "
                             "records it, decompress needs no flag)")
    parser.add_argument("--dynamic", action="store_true",
                        help="dynamic evaluation: keep training a copy of the model on the bytes already "
                             "coded (slower; the blob records it, decompress needs no flag)")
    args = parser.parse_args(argv)
    if args.cmd != "bench" and not args.output:
        parser.error(f"{args.cmd} needs IN and OUT")
    try:
        with open(args.input, "rb") as f:
            data = f.read()
    except OSError as e:                              # missing, a folder, no permission
        print(f"error: cannot read {args.input}: {e.strerror or e}", file=sys.stderr)
        return 2
    from .. import hub
    try:
        model, _ = hub.pretrained(args.model, retrain=False)
    except ValueError as e:
        parser.error(f"--model: {e}")
    side = None
    if args.ngram:
        from .ngram import ByteNGram
        try:
            side = ByteNGram(hub.train_val_text(args.model)[0].encode("utf-8"), n=args.ngram)
        except ValueError as e:
            parser.error(f"--ngram: {e}")
    context = min(args.context, model.config.max_len)
    try:
        comp = LMCompressor(model, context=context, streams=args.streams, threads=args.threads, progress=True,
                            side=side, dynamic=DynamicEval() if args.dynamic else None,
                            adaptive=None if args.static else AdaptiveConfig())
    except ValueError as e:                           # e.g. --model names a character-level model
        parser.error(str(e))
    if args.cmd == "compress":
        out = comp.compress(data)
    elif args.cmd == "decompress":
        try:
            out = comp.decompress(data)
        except ValueError as e:
            hint = " (on the command line: the same --ngram N as for compress)" if "side model" in str(e) else ""
            print(f"error: {e}{hint}", file=sys.stderr)
            return 1
    else:
        report = bench(data, comp)
        print(json.dumps(report, indent=1))
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=1)
        return 0
    try:                                              # atomically: never a half-written file
        tmp = f"{args.output}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(out)
        os.replace(tmp, args.output)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    s = comp.stats
    lm = f"coded by {args.model}" + (" mixed with the adaptive models" if s.get("adaptive") else " alone")
    coded = {"lm": lm, "stored": "stored as is", "xz": "coded by xz"}[s["coder"]]
    why = (f"; the model's own code would take {s['lm_bytes']:,} bytes"
           if args.cmd == "compress" and s["coder"] != "lm" else "")
    print(f"{args.cmd}: {len(data):,} -> {len(out):,} bytes in {s['seconds']:.1f} s "
          f"({s['kb_per_s']:.1f} KB/s of original data; {coded}{why})", file=sys.stderr)
    return 0
