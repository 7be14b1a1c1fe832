"""Model FLOPs utilisation of llmbook_lib.training.train for a 6-layer, width-384, context-256 GPT.

MFU = achieved model FLOP/s / the matmul rate of the same dtype on the same machine, measured in
the same run (before and after the training runs, averaged): the best of square products and of the model's own products (activations times
the QKV and feed-forward weights). Achieved FLOP/s counts what the model needs, not what the
kernels happen to do: ``GPT.flops_per_token()``, 6 N per token for the weights (forward and
backward; N excludes the position table, the tied token embedding is counted once, as in
nanoGPT) plus 12 L d T per token for attention scores and their weighted sum.

Each setting trains through ``llmbook_lib.training.train.train`` on Shakespeare windows; the first steps
(warm-up, and compilation when ``compile=True``) are excluded from the timing and their time is
reported separately.

    python bench/mfu.py      # writes bench/results/mfu.{json,md}
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from llmbook_lib.data import RandomBatches, split_train_val
from llmbook_lib.data.corpora import tiny_shakespeare
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.text.tokenize import CharTokenizer
from llmbook_lib.training.train import TrainConfig, train

OUT = Path(__file__).parent / "results"
N_LAYER, N_HEAD, N_EMBD, BLOCK = 6, 6, 384, 256


def matmul_rate(dtype: torch.dtype, shapes: list[tuple[int, int, int]], seconds: float = 1.0) -> dict:
    """Best FLOP/s of (m x k) @ (k x n) over ``shapes`` and over both layouts of the right factor:
    row-major (k, n), and an (n, k) weight used transposed as ``nn.Linear`` does (on CPUs without
    native bf16 the two differ tenfold). Each is timed for about ``seconds``."""
    rates = {}
    for m, k, n in shapes:
        a = torch.randn(m, k, dtype=dtype)
        for layout, b in (("kn", torch.randn(k, n, dtype=dtype)), ("nk.T", torch.randn(n, k, dtype=dtype).t())):
            a @ b                                                 # warm-up (and kernel selection)
            reps, t0 = 0, time.perf_counter()
            while True:
                a @ b
                reps += 1
                elapsed = time.perf_counter() - t0
                if elapsed >= seconds:
                    break
            rates[f"{m}x{k}x{n} {layout}"] = 2 * m * k * n * reps / elapsed
    return {"best": max(rates.values()), "by_shape": rates}


def shapes(batch: int, squares: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Square products, and the model's own: (B T, d) times the QKV, FFN-up and FFN-down weights."""
    bt, d = batch * BLOCK, N_EMBD
    return [(n, n, n) for n in squares] + [(bt, d, 3 * d), (bt, d, 4 * d), (bt, 4 * d, d)]


def measure(dtype: str, compile: bool, batch: int, steps: int, warmup: int, data: torch.Tensor,
            vocab: int) -> dict:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab, max_len=BLOCK, n_layer=N_LAYER, n_head=N_HEAD, d_model=N_EMBD,
                          bias=False))
    cfg = TrainConfig(max_steps=warmup + steps, lr=1e-3, warmup_steps=10, amp="bf16" if dtype == "bf16" else None,
                      compile=compile, progress=False)
    stamps: list[float] = []
    t0 = time.perf_counter()
    train(model, RandomBatches(data, BLOCK, batch, seed=0), cfg,
          on_step=lambda done, loss: stamps.append(time.perf_counter()))
    timed = stamps[-1] - stamps[warmup - 1]
    tokens_per_s = steps * batch * BLOCK / timed
    return {"dtype": dtype, "compile": compile, "batch": batch, "timed_steps": steps,
            "warmup_seconds": stamps[warmup - 1] - t0, "seconds_per_step": timed / steps,
            "tokens_per_s": tokens_per_s, "model_flops_per_s": tokens_per_s * model.flops_per_token(),
            "params": model.num_params()}


def main() -> None:
    text = tiny_shakespeare()
    tok = CharTokenizer.from_text(text)
    data, _ = split_train_val(torch.tensor(tok.encode(text)), 0.1)
    # The matmul rates are measured before and after the training runs and averaged: on a shared
    # or virtual machine the clock drifts by 10-20% over minutes, and the ratio should not
    # depend on which moment the reference happened to be measured.
    fp32_shapes = shapes(8, (512, 1024, 2048))
    before = {"fp32": matmul_rate(torch.float32, fp32_shapes),
              "bf16": matmul_rate(torch.bfloat16, shapes(1, (256, 512)), seconds=0.5)}
    # Without AVX512-BF16 or AMX, PyTorch's bf16 matmul on the CPU is a slow fallback (a step of
    # batch 8 would take more than half a minute), so bf16 then runs with batch 1.
    slow_bf16 = before["bf16"]["best"] < before["fp32"]["best"] / 4
    bf16_shapes = shapes(1, (256, 512)) if slow_bf16 else fp32_shapes
    if not slow_bf16:
        before["bf16"] = matmul_rate(torch.bfloat16, bf16_shapes)
    runs = []
    for dtype in ("fp32", "bf16"):
        for compile in (False, True):
            batch, steps, warmup = (1, 2, 2) if dtype == "bf16" and slow_bf16 else (8, 8, 3)
            runs.append(measure(dtype, compile, batch, steps, warmup=warmup, data=data, vocab=tok.vocab_size))
    after = {"fp32": matmul_rate(torch.float32, fp32_shapes),
             "bf16": matmul_rate(torch.bfloat16, bf16_shapes, seconds=0.5 if slow_bf16 else 1.0)}
    peak = {k: {"best": (before[k]["best"] + after[k]["best"]) / 2, "before": before[k], "after": after[k]}
            for k in before}
    for r in runs:
        r["mfu"] = r["model_flops_per_s"] / peak[r["dtype"]]["best"]
        print(f"{r['dtype']} compile={r['compile']}: {r['tokens_per_s']:,.0f} tok/s, "
              f"{r['model_flops_per_s'] / 1e9:.1f} GFLOP/s, MFU {r['mfu']:.1%}", flush=True)
    meta = {"threads": torch.get_num_threads(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M")}
    lines = [(f"# MFU, {N_LAYER} layers, width {N_EMBD}, context {BLOCK} ({meta['date']}, torch {meta['torch']}, "
              f"{meta['threads']} threads)"), "",
             "| dtype | best matmul before / after the runs | used (mean) | best product |", "|---|---|---|---|"]
    for k, v in peak.items():
        top = max(v["before"]["by_shape"], key=v["before"]["by_shape"].get)
        lines.append(f"| {k} | {v['before']['best'] / 1e9:.1f} / {v['after']['best'] / 1e9:.1f} GFLOP/s | "
                     f"{v['best'] / 1e9:.1f} GFLOP/s | {top} |")
    lines += ["", "| dtype | compile | batch | s/step | tokens/s | model GFLOP/s | MFU | warm-up s |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dtype']} | {'on' if r['compile'] else 'off'} | {r['batch']} | {r['seconds_per_step']:.2f} | "
              f"{r['tokens_per_s']:,.0f} | {r['model_flops_per_s'] / 1e9:.1f} | {r['mfu']:.1%} | "
              f"{r['warmup_seconds']:.1f} |" for r in runs]
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "mfu.json").write_text(json.dumps({"machine": meta, "matmul": peak, "runs": runs}, indent=1))
    (OUT / "mfu.md").write_text(text)


if __name__ == "__main__":
    main()
