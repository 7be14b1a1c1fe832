"""One training loop for the whole book.

``train(model, batches, config)`` runs AdamW with linear warmup and cosine decay, gradient
clipping and accumulation, periodic evaluation, a tqdm.auto progress bar, bf16 autocast on
CUDA, optional ``torch.compile`` and atomic checkpoints that resume exactly. Launched with
``torchrun`` it trains with DistributedDataParallel: each process takes its slice of the same
global batch, so the losses match a single process.

``batches(step)`` must return the global batch for ``step`` as a tuple of tensors, and depend
only on ``step`` (``llmbook_lib.data.RandomBatches`` does); that is what makes resume exact.
By default the loss is ``model(*batch)[1]``; pass ``loss_fn(model, batch)`` for other models.

Evaluation: ``evaluate`` averages the loss over fixed validation batches; ``validation_loss``
scores a causal LM on the first ``VAL_TOKENS`` held-out tokens (the shared models' metric).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from ..runtime.device import autocast, eval_mode

Batch = tuple[torch.Tensor, ...]


@dataclass
class TrainConfig:
    max_steps: int = 1000
    lr: float = 1e-3
    min_lr: float | None = None        # end of the cosine; default lr / 10
    warmup_steps: int = 100
    weight_decay: float = 0.1          # applied to matrices only, not to biases or norms
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = 1.0      # max global gradient norm; None disables clipping
    grad_accum: int = 1                # micro-batches per optimizer step
    eval_every: int = 0                # evaluate every N steps (and at the end); 0: only at the end
    eval_iters: int = 20               # validation batches per evaluation
    amp: str | None = "auto"           # "auto": bf16 on CUDA; "bf16": also on CPU; None: fp32
    compile: bool = False              # torch.compile the model (pays a compile time up front)
    checkpoint_path: str | None = None
    checkpoint_every: int = 0          # save every N steps (and at the end); 0: only at the end
    progress: bool = True

    def lr_at(self, step: int) -> float:
        """Linear warmup to ``lr`` over ``warmup_steps``, then cosine decay to ``min_lr``."""
        min_lr = self.lr / 10 if self.min_lr is None else self.min_lr
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(1, self.max_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return min_lr + 0.5 * (self.lr - min_lr) * (1 + math.cos(math.pi * progress))


@dataclass
class History:
    """What happened during training, ready for plotting."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0               # time in training steps (evaluation excluded)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else float("nan")


def _distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """Initialise torch.distributed when launched by torchrun; return (rank, world, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def make_optimizer(model: torch.nn.Module, config: TrainConfig,
                   fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and embeddings only.

    A model may carry ``lr_scales``, {parameter-name prefix: multiplier}: those parameters
    train at ``multiplier`` times the scheduled learning rate (``train`` applies it every step),
    e.g. a new task head on a pretrained encoder.

    ``fused=None`` uses PyTorch's fused kernel (one pass over all parameters) when every
    parameter is a float tensor on the CPU or a CUDA device: bench/nanogpt.py measured it faster
    than the default multi-tensor one for the book's small models. ``False`` keeps the default.
    """
    scales = getattr(model, "lr_scales", None) or {}
    groups: dict[tuple[float, bool], list] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            scale = next((m for prefix, m in scales.items() if name == prefix or name.startswith(prefix + ".")), 1.0)
            groups.setdefault((float(scale), p.dim() >= 2), []).append(p)
    params = [p for ps in groups.values() for p in ps]
    groups = [{"params": ps, "weight_decay": config.weight_decay if decay else 0.0, "lr_scale": scale}
              for (scale, decay), ps in sorted(groups.items(), key=lambda kv: (kv[0][0] != 1.0, not kv[0][1]))]
    if fused is None:
        fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, fused=fused)


def _default_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return model(*batch)[1]


def _to(batch: Batch, device: torch.device) -> Batch:
    return tuple(t.to(device, non_blocking=True) if t.device != device else t for t in batch)


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: Callable[[int], Batch], iters: int,
             loss_fn: Callable = _default_loss, amp: str | None = "auto") -> float:
    """Mean loss over the fixed validation batches ``batches(0) .. batches(iters - 1)``."""
    device = next(model.parameters()).device
    with eval_mode(model):
        total = 0.0
        for i in range(iters):
            with autocast(device, amp):
                total += float(loss_fn(model, _to(tuple(batches(i)), device)))
    return total / iters


VAL_TOKENS = 65_536          # validation tokens that validation_loss scores by default


@torch.no_grad()
def validation_loss(model: torch.nn.Module, val_ids: torch.Tensor, max_tokens: int | None = None,
                    T: int | None = None) -> float:
    """Mean next-token loss (nats) of a causal LM over the first ``max_tokens`` validation tokens
    (default ``VAL_TOKENS``, read at call time), in non-overlapping windows of T tokens (default
    ``max_len``): deterministic, no sampling. The shared GPTs' manifest metric."""
    max_tokens = VAL_TOKENS if max_tokens is None else max_tokens
    T = model.config.max_len if T is None else T
    n = min(len(val_ids) - 1, max_tokens) // T * T
    device = next(model.parameters()).device
    x = val_ids[:n].view(-1, T).to(device)        # (windows, T)
    y = val_ids[1:n + 1].view(-1, T).to(device)
    with eval_mode(model):
        total = 0.0
        for i in range(0, len(x), 64):
            _, loss = model(x[i:i + 64], y[i:i + 64])
            total += float(loss) * len(x[i:i + 64])
    return total / len(x)


def train(model: torch.nn.Module, batches: Callable[[int], Batch], config: TrainConfig,
          val_batches: Callable[[int], Batch] | None = None, loss_fn: Callable = _default_loss,
          resume: bool = False, on_step: Callable[[int, float], None] | None = None) -> History:
    """Train ``model`` for ``config.max_steps`` optimizer steps and return its ``History``.

    With ``resume=True`` and an existing ``config.checkpoint_path`` it continues from the saved
    step with the saved weights, optimizer, RNG and history: the result equals an uninterrupted
    run. A NaN or infinite loss stops training with a ``FloatingPointError`` before the bad
    update; the last checkpoint on disk is the last good state.
    """
    if config.grad_accum < 1:
        raise ValueError(f"grad_accum must be >= 1, got {config.grad_accum}")
    if config.checkpoint_every and not config.checkpoint_path:
        raise ValueError("checkpoint_every is set but checkpoint_path is not; say where to save")
    rank, world, device = _distributed(next(model.parameters()).device)
    model.to(device)
    optimizer = make_optimizer(model, config)
    history, start = History(), 0
    ckpt_path = Path(config.checkpoint_path) if config.checkpoint_path else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, device="cpu")
        ckpt.apply(model, optimizer, restore_rng=True)
        start = ckpt.state["step"]
        history = History(**ckpt.state["history"])

    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    fwd = torch.compile(net) if config.compile else net

    def save(step: int) -> None:
        if rank == 0 and ckpt_path is not None:
            save_checkpoint(ckpt_path, model, optimizer,
                            {"step": step, "history": asdict(history), "config": _jsonable(config)})

    model.train()
    bar = tqdm(total=config.max_steps, initial=start, disable=not config.progress or rank != 0,
               desc="训练", unit="step", dynamic_ncols=True)
    try:
        for step in range(start, config.max_steps):
            t0 = time.perf_counter()
            lr = config.lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            batch = tuple(batches(step))
            if world > 1:
                batch = tuple(t[rank::world] for t in batch)
            batch = _to(batch, device)
            if len(batch[0]) % config.grad_accum:
                raise ValueError(f"batch of {len(batch[0])} rows cannot be split into "
                                 f"grad_accum={config.grad_accum} equal micro-batches")
            micro = list(zip(*(t.chunk(config.grad_accum) for t in batch)))
            loss_sum = torch.zeros((), device=device)
            for i, mb in enumerate(micro):
                sync = world == 1 or i == len(micro) - 1
                with (contextlib.nullcontext() if sync else net.no_sync()), autocast(device, config.amp):
                    loss = loss_fn(fwd, mb) / config.grad_accum
                loss.backward()
                loss_sum += loss.detach()
            if world > 1:
                dist.all_reduce(loss_sum)
                loss_sum /= world
            loss_value = loss_sum.item()
            if not math.isfinite(loss_value):
                optimizer.zero_grad(set_to_none=True)
                kept = f"; the last good checkpoint is {ckpt_path}" if ckpt_path and ckpt_path.exists() else ""
                raise FloatingPointError(f"loss is {loss_value} at step {step}: training stopped before "
                                         f"the update{kept}. Try a lower lr or a grad_clip.")
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            history.seconds += time.perf_counter() - t0
            history.tokens += batch[0].numel() * world
            history.steps.append(step)
            history.train_loss.append(loss_value)
            history.lr.append(lr)
            done = step + 1
            if val_batches is not None and ((config.eval_every and done % config.eval_every == 0)
                                            or done == config.max_steps):
                history.val_steps.append(done)
                history.val_loss.append(evaluate(fwd, val_batches, config.eval_iters, loss_fn, config.amp))
                bar.set_postfix(loss=f"{loss_value:.3f}", val=f"{history.val_loss[-1]:.3f}", refresh=False)
            else:
                bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
            if (config.checkpoint_every and done % config.checkpoint_every == 0) or done == config.max_steps:
                save(done)
            bar.update()
            if on_step is not None:
                on_step(done, loss_value)
    finally:
        bar.close()
    return history


def _jsonable(config: TrainConfig) -> dict:
    d = asdict(config)
    d["betas"] = list(d["betas"])
    return d
