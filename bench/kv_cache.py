"""Generation speed with and without the KV cache, on a GPT sized like the shipped gpt-zh-char
(4 layers, width 128, 4 heads, 3,000-char vocabulary; random weights: speed does not depend on
them).

    python bench/kv_cache.py [--new 256] [--prompt 8] [--repeats 3] [--threads 1]

Without the cache every new token re-runs the whole context; with it, only the new token goes
through the model. Two rows: ``max_len`` 512, so all 256 new tokens fit one window (the
cache's case), and the shipped ``max_len`` 128, where past 128 tokens the window slides,
every position changes and the cache is rebuilt at every step (exact, as fast as without it).
Greedy decoding, batch 1; the two paths give the same tokens (checked). Writes
bench/results/kv_cache.json and kv_cache.md. Speeds vary with the load of a shared machine.
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
from llmbook_lib.models.transformer import GPT, GPTConfig  # noqa: E402

OUT = Path(__file__).parent / "results"


def tokens_per_s(model: GPT, prompt: torch.Tensor, new: int, use_cache: bool,
                 repeats: int) -> tuple[float, torch.Tensor]:
    """Median tokens/s over ``repeats`` runs of ``new``-token greedy generation, and the tokens."""
    speeds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = model.generate(prompt, new, temperature=0, use_cache=use_cache)
        speeds.append(new / (time.perf_counter() - t0))
    return statistics.median(speeds), out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=int, default=256, help="tokens to generate")
    parser.add_argument("--prompt", type=int, default=8, help="prompt tokens")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for max_len in (512, 128):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=3000, max_len=max_len, n_layer=4, n_head=4, d_model=128)).eval()
        prompt = torch.randint(0, 3000, (1, args.prompt))
        model.generate(prompt, 8, temperature=0)                              # warm-up
        slow, ref = tokens_per_s(model, prompt, args.new, False, args.repeats)
        fast, out = tokens_per_s(model, prompt, args.new, True, args.repeats)
        rows.append({"max_len": max_len, "no_cache_tokens_per_s": slow, "cache_tokens_per_s": fast,
                     "speedup": fast / slow, "same_tokens": bool(torch.equal(out, ref))})
    report = {"machine": {"torch": torch.__version__, "threads": args.threads,
                          "processor": platform.processor() or platform.machine(),
                          "date": time.strftime("%Y-%m-%d %H:%M")},
              "prompt_tokens": args.prompt, "new_tokens": args.new, "rows": rows}
    lines = [f"# KV cache: {args.new}-token greedy generation, gpt-zh-char-sized GPT "
             f"({report['machine']['date']}, {args.threads} thread(s), torch {torch.__version__})", "",
             "| max_len | without cache (tokens/s) | with cache (tokens/s) | speed-up | same tokens |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['max_len']} | {r['no_cache_tokens_per_s']:,.0f} | {r['cache_tokens_per_s']:,.0f} | "
              f"{r['speedup']:.1f}x | {r['same_tokens']} |" for r in rows]
    OUT.mkdir(exist_ok=True)
    (OUT / "kv_cache.json").write_text(json.dumps(report, indent=1))
    (OUT / "kv_cache.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
