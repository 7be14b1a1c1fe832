"""Training-loop overhead: llmbook_lib.training.train vs a minimal hand-written PyTorch loop.

Same model, same batches, same optimizer, schedule and clipping; rounds alternate A, B, A, B so
that the noise of a shared machine hits both. Reports tokens/s of each and their ratio.
"""

from __future__ import annotations

import statistics
import time

import torch

from llmbook_lib.data import RandomBatches
from llmbook_lib.models.transformer import GPT, GPTConfig
from llmbook_lib.training.train import TrainConfig, make_optimizer, train

CFG = GPTConfig(vocab_size=256, max_len=128, n_layer=4, n_head=4, d_model=128)
BATCH, STEPS, ROUNDS = 16, 40, 4


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(CFG)


def minimal_loop(model, batches, config: TrainConfig, opt: torch.optim.Optimizer, on_step=None) -> float:
    """The loop a reader would write by hand; returns the seconds spent in optimizer steps.

    ``on_step(done, seconds)`` runs after each step, outside the timing (for evaluations).
    """
    model.train()
    seconds = 0.0
    for step in range(config.max_steps):
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = config.lr_at(step)
        x, y = batches(step)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        seconds += time.perf_counter() - t0
        if on_step is not None:
            on_step(step + 1, seconds)
    return seconds


def minimal_tokens_per_s(batches, config: TrainConfig) -> float:
    model = _model()
    return config.max_steps * BATCH * CFG.max_len / minimal_loop(model, batches, config,
                                                                    make_optimizer(model, config))


def library_loop(batches, config: TrainConfig) -> float:
    model = _model()
    t0 = time.perf_counter()
    train(model, batches, config)
    return config.max_steps * BATCH * CFG.max_len / (time.perf_counter() - t0)


def run() -> dict:
    data = torch.randint(0, 256, (200_000,), generator=torch.Generator().manual_seed(0))
    batches = RandomBatches(data, CFG.max_len, BATCH, seed=0)
    config = TrainConfig(max_steps=STEPS, lr=1e-3, warmup_steps=5, progress=True)
    minimal_tokens_per_s(batches, TrainConfig(max_steps=5, warmup_steps=1))          # warm-up
    mins, libs = [], []
    for _ in range(ROUNDS):
        mins.append(minimal_tokens_per_s(batches, config))
        libs.append(library_loop(batches, config))
    ratio = statistics.median(libs) / statistics.median(mins)
    return {"minimal_tokens_per_s": mins, "library_tokens_per_s": libs, "ratio_median": ratio,
            "steps": STEPS, "batch": BATCH, "max_len": CFG.max_len, "threads": torch.get_num_threads()}


if __name__ == "__main__":
    r = run()
    print(f"library / minimal tokens/s (median of {ROUNDS} rounds): {r['ratio_median']:.3f}")
