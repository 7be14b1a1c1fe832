"""Pick a device, seed every random generator, and choose an autocast context."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: cuda > mps > cpu.

    ``prefer`` (or the ``LLMBOOK_DEVICE`` environment variable) forces one, e.g. ``"cpu"``.
    """
    name = prefer or os.environ.get("LLMBOOK_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module):
    """Put ``model`` in eval mode (no dropout) for the block, then restore the mode it had,
    even when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def autocast(device: torch.device | str, dtype: str | None = "auto"):
    """An autocast context for ``device``.

    ``dtype="auto"`` means bf16 on CUDA (where it is fast and needs no loss scaling) and full
    precision elsewhere; ``"bf16"`` forces bf16 (CPUs with AMX run it well); ``None`` or
    ``"fp32"`` disables autocast.
    """
    device = torch.device(device)
    if dtype == "auto":
        dtype = "bf16" if device.type == "cuda" else None
    if dtype in (None, "fp32"):
        return contextlib.nullcontext()
    if dtype != "bf16":
        raise ValueError(f"autocast dtype must be 'auto', 'bf16', 'fp32' or None, got {dtype!r}")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
