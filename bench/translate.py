"""Translation throughput of the shipped zh -> en model (``pretrained("mt-zh-en")``).

    python bench/translate.py [--rounds 2] [--threads 1] [--sentences N]

Sentences/s (and source characters/s) of ``Translator.translate`` on the HSK test split
(``data.hsk``), greedy (batched, 64 sentences at a time) and beam search with 4 beams (one
sentence at a time, with the KV cache), with the test chrF of each from the same outputs, so a
speed-up that changes the translations shows. Median of ``--rounds`` rounds, greedy and beam
interleaved. Writes bench/results/translate.json and translate.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llmbook_lib.data.hsk import hsk_splits  # noqa: E402
from llmbook_lib.hub import pretrained  # noqa: E402
from llmbook_lib.tasks.translate import bleu_chrf  # noqa: E402

OUT = Path(__file__).parent / "results"
MODES = {"greedy": 1, "beam 4": 4}


def run(rounds: int, sentences: int | None) -> dict:
    mt = pretrained("mt-zh-en")
    test = hsk_splits()["test"][:sentences]
    texts, refs = [p.zh for p in test], [p.en for p in test]
    chars = sum(map(len, texts))
    seconds: dict[str, list[float]] = {name: [] for name in MODES}
    outputs: dict[str, list[str]] = {}
    for _ in range(rounds):
        for name, beam in MODES.items():
            t0 = time.perf_counter()
            outputs[name] = mt.translate(texts, beam=beam)
            seconds[name].append(time.perf_counter() - t0)
    out = {}
    for name, s in seconds.items():
        med = statistics.median(s)
        out[name] = {"sentences": len(texts), "seconds": med, "sentences_per_s": len(texts) / med,
                     "chars_per_s": chars / med, "rounds": s, **bleu_chrf(outputs[name], refs)}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds; medians are reported")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sentences", type=int, default=None, help="the first N test sentences (default: all)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = {"threads": args.threads, "torch": torch.__version__,
               "processor": platform.processor() or platform.machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    res = run(args.rounds, args.sentences)
    OUT.mkdir(exist_ok=True)
    (OUT / "translate.json").write_text(json.dumps({"machine": machine, "results": res}, indent=1))
    lines = [f"# Translation mt-zh-en ({machine['date']}, {args.threads} thread(s), torch {machine['torch']})", "",
             f"HSK test split, median of {args.rounds} rounds", "",
             "| decoding | sentences | sentences/s | characters/s | BLEU | chrF |", "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {r['sentences']} | {r['sentences_per_s']:,.1f} | {r['chars_per_s']:,.0f} | "
              f"{r['bleu']:.1f} | {r['chrf']:.1f} |" for name, r in res.items()]
    (OUT / "translate.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
