"""Back-of-the-envelope estimates: how many FLOPs, how many bytes, how long.

Every function here is arithmetic on a few numbers that describe a model (parameters N,
layers L, width d, context T) and a workload (tokens D, batch B, a number format). Count N
with ``sizing.count_params`` on a model built on the meta device, or with ``matmul_params``
for the FLOP formulas (see below).

FLOPs (one multiply-add = 2 FLOPs; Kaplan et al. 2020, Table 1):

- forward, per token: ``2 N`` for the weight matrices plus attention. A dense kernel
  computes Q K^T and the weighted sum of V over all T keys: ``4 L T d``. Skipping the masked
  half of a causal model leaves ``2 L T d``, the term in Kaplan et al.'s table;
- training, per token: three forwards (the backward pass costs two: the gradient for the
  input and for the weight of every matrix), so ``6 N D`` for D tokens plus attention.
  ``GPT.flops_per_token`` is the same count (``6 N + 12 L d T``).

Here N means the entries of the matrices that multiply activations (``matmul_params``): an
embedding lookup, biases and LayerNorm cost no multiply, and a tied output layer is a matrix
multiply (2 V d per token) although its weight is the embedding table.

Memory, in bytes:

- weights: N times the bytes of the number format (``BYTES``);
- KV cache: every layer keeps a key and a value vector of width d for each cached token of
  each sequence, ``2 L T d B`` values (multi-head attention; grouped-query attention keeps
  fewer heads and is not modelled);
- training with Adam (Rajbhandari et al. 2019, ZeRO, section 3.1): a 16-bit weight and
  gradient plus an fp32 master weight and Adam's two moments, 2 + 2 + 12 = 16 bytes per
  trainable parameter; in plain fp32 4 + 4 + 8 is also 16. Frozen parameters (LoRA) cost
  only their weight;
- activations kept for the backward pass (Korthikanti et al. 2022, section 4.1), per layer
  ``T B d (34 + 5 h T / d)`` bytes for 16-bit activations with dropout, ``34 T B d`` when the
  attention scores are recomputed (selective) and ``2 T B d`` (the layer's input) when the
  whole layer is (full recomputation).

Time: FLOPs / (peak FLOP/s x devices x MFU), where MFU (model FLOPs utilisation) is the
fraction of the hardware's peak that the model FLOPs above actually achieve.

What none of this counts: framework and CUDA-context overhead, memory fragmentation,
temporary buffers, the logits (B T V values), communication between devices, data loading.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn as nn

# Bytes per value of each number format (int4: two values per byte, without the per-group
# scales a real quantised checkpoint adds).
BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
_ALIASES = {"float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16",
            "bfloat16": "bf16"}
RECOMPUTE = ("none", "selective", "full")


def bytes_per_value(dtype: str | torch.dtype) -> float:
    """Bytes one value takes in ``dtype``: a name in ``BYTES`` (or float32, bfloat16, ...)
    or a ``torch.dtype``."""
    if isinstance(dtype, torch.dtype):
        return float(torch.empty((), dtype=dtype).element_size())
    name = _ALIASES.get(str(dtype).lower(), str(dtype).lower())
    if name not in BYTES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(BYTES)} or a torch.dtype")
    return BYTES[name]


def _positive(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise ValueError(f"{name} must be a number, got {v!r}")
        if not v > 0:
            raise ValueError(f"{name} must be positive, got {v}")


def _non_negative(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or v < 0:
            raise ValueError(f"{name} must be a number >= 0, got {v!r}")


def matmul_params(model: nn.Module) -> int:
    """Entries of the weight matrices of the model's ``nn.Linear`` layers, each tensor once:
    the N of the FLOP formulas (a tied output layer counts; embeddings, biases, norms don't)."""
    seen = {id(m.weight): m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear)}
    return sum(seen.values())


def forward_flops_per_token(n_params: float, n_layer: int = 0, n_ctx: int = 0,
                            d_model: int = 0, causal: bool = False) -> float:
    """FLOPs of one forward pass per token: 2 N + 4 L T d (``causal=True``: 2 L T d, the
    masked half skipped, as in Kaplan et al. 2020). Leave L, T, d at 0 to drop attention."""
    _positive(n_params=n_params)
    _non_negative(n_layer=n_layer, n_ctx=n_ctx, d_model=d_model)
    return 2 * n_params + (2 if causal else 4) * n_layer * n_ctx * d_model


def training_flops(n_params: float, n_tokens: float, n_layer: int = 0, n_ctx: int = 0,
                   d_model: int = 0, causal: bool = False) -> float:
    """FLOPs to train on ``n_tokens`` tokens: 3 forward passes each, 6 N D (+ attention)."""
    _positive(n_tokens=n_tokens)
    return 3 * forward_flops_per_token(n_params, n_layer, n_ctx, d_model, causal) * n_tokens


def weight_bytes(n_params: float, dtype: str | torch.dtype = "bf16") -> float:
    """Bytes to hold N parameters in ``dtype``."""
    _positive(n_params=n_params)
    return n_params * bytes_per_value(dtype)


def kv_cache_bytes(n_layer: int, n_ctx: int, d_model: int, batch: int = 1,
                   dtype: str | torch.dtype = "bf16") -> float:
    """Bytes of the KV cache for ``batch`` sequences of ``n_ctx`` tokens: 2 L T d B values."""
    _positive(n_layer=n_layer, n_ctx=n_ctx, d_model=d_model, batch=batch)
    return 2 * n_layer * n_ctx * d_model * batch * bytes_per_value(dtype)


def inference_memory(n_params: float, n_layer: int, n_ctx: int, d_model: int, batch: int = 1,
                     dtype: str | torch.dtype = "bf16",
                     kv_dtype: str | torch.dtype | None = None) -> dict[str, float]:
    """Bytes to generate with a model: ``{"weights", "kv_cache", "total"}``. The cache is
    kept in ``kv_dtype`` (default: 16-bit, whatever format the weights are stored in)."""
    weights = weight_bytes(n_params, dtype)
    kv_dtype = kv_dtype or (dtype if bytes_per_value(dtype) >= 2 else "bf16")
    kv = kv_cache_bytes(n_layer, n_ctx, d_model, batch, kv_dtype)
    return {"weights": weights, "kv_cache": kv, "total": weights + kv}


def activation_bytes(n_layer: int, seq_len: int, d_model: int, n_head: int, batch: int = 1,
                     recompute: str = "none") -> float:
    """Activations a Transformer keeps for its backward pass, 16-bit, Korthikanti et al.
    2022: per layer s b h (34 + 5 a s / h) bytes (``recompute="none"``), 34 s b h
    (``"selective"``: attention scores recomputed) or 2 s b h (``"full"``: only each
    layer's input kept). Leaves out the embedding, final norm and logits."""
    _positive(n_layer=n_layer, seq_len=seq_len, d_model=d_model, n_head=n_head, batch=batch)
    if recompute not in RECOMPUTE:
        raise ValueError(f"recompute must be one of {RECOMPUTE}, got {recompute!r}")
    sbh = seq_len * batch * d_model
    per_layer = {"none": sbh * 34 + 5 * n_head * seq_len * seq_len * batch,
                 "selective": 34 * sbh, "full": 2 * sbh}[recompute]
    return n_layer * per_layer


def training_memory(n_params: float, n_trainable: float | None = None,
                    dtype: str | torch.dtype = "bf16", activations: float = 0.0
                    ) -> dict[str, float]:
    """Bytes to train with Adam(W): ``{"weights", "gradients", "optimizer", "activations",
    "total"}``. ``n_trainable`` (default all N) get a gradient and optimizer state; the rest
    (frozen, as under LoRA) only a weight in ``dtype``. Trainable parameters: in fp32 a
    weight, a gradient and two moments (4 + 4 + 8 bytes); in 16-bit mixed precision a 16-bit
    weight and gradient plus an fp32 master copy and two moments (2 + 2 + 12), as in ZeRO."""
    n_trainable = n_params if n_trainable is None else n_trainable
    _positive(n_params=n_params)
    _non_negative(n_trainable=n_trainable, activations=activations)
    if n_trainable > n_params:
        raise ValueError(f"n_trainable={n_trainable} exceeds n_params={n_params}")
    b = bytes_per_value(dtype)
    full = b == 4                                   # plain fp32: no master copy
    w_train = 4 if full else 2                      # trainable weights are never int8/int4
    weights = (n_params - n_trainable) * b + n_trainable * w_train
    grads = n_trainable * w_train
    optimizer = n_trainable * (8 if full else 12)
    return {"weights": weights, "gradients": grads, "optimizer": optimizer,
            "activations": activations,
            "total": weights + grads + optimizer + activations}


def training_seconds(flops: float, peak_flops: float, mfu: float = 0.4,
                     n_devices: int = 1) -> float:
    """Wall-clock seconds for ``flops`` on ``n_devices`` devices of ``peak_flops`` FLOP/s
    each, running at model FLOPs utilisation ``mfu`` (0 < mfu <= 1)."""
    _positive(flops=flops, peak_flops=peak_flops, mfu=mfu, n_devices=n_devices)
    if mfu > 1:
        raise ValueError(f"mfu is a fraction of peak, at most 1, got {mfu}")
    return flops / (peak_flops * mfu * n_devices)


def model_flops_utilization(flops: float, device_seconds: float, peak_flops: float) -> float:
    """MFU implied by a reported run: ``flops`` done in ``device_seconds`` (devices x
    seconds, e.g. GPU-hours x 3600) on devices of ``peak_flops`` FLOP/s."""
    _positive(flops=flops, device_seconds=device_seconds, peak_flops=peak_flops)
    return flops / (device_seconds * peak_flops)


__all__ = ["BYTES", "RECOMPUTE", "activation_bytes", "bytes_per_value", "forward_flops_per_token",
           "inference_memory", "kv_cache_bytes", "matmul_params", "model_flops_utilization",
           "training_flops", "training_memory", "training_seconds", "weight_bytes"]
