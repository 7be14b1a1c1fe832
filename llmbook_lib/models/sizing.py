"""How many parameters a model has, and where they sit.

Counting needs no memory: build the model under ``with torch.device("meta"):`` and every
tensor has a shape but no storage, so even GPT-3's 175 billion parameters count in a
fraction of a second. ``count_params`` counts each tensor once (a tied input/output
embedding is one tensor); ``param_breakdown`` splits that count by the kind of module that
owns each tensor:

- ``embedding``: token, learned position and segment tables (``nn.Embedding``);
- ``attention``: the Q, K, V and output projections of every ``MultiHeadAttention``;
- ``ffn``: the two linear layers of every ``FeedForward``;
- ``norm``: every ``nn.LayerNorm``;
- ``other``: the rest, e.g. an untied output layer, BERT's pooler and NSP head, the MLM bias.
"""

from __future__ import annotations

import torch.nn as nn

from .attention import MultiHeadAttention
from .layers import FeedForward

PARTS = ("embedding", "attention", "ffn", "norm", "other")
_OWNERS = ((nn.Embedding, "embedding"), (MultiHeadAttention, "attention"), (FeedForward, "ffn"),
           (nn.LayerNorm, "norm"))


def count_params(model: nn.Module) -> int:
    """Number of parameters, each tensor counted once (tied weights are one tensor)."""
    return sum(p.numel() for p in model.parameters())


def param_breakdown(model: nn.Module) -> dict[str, int]:
    """``count_params(model)`` split into ``PARTS`` (see the module docstring).

    A tensor shared by two modules (weight tying) is counted once, for the first owner in
    module order: GPT's tied ``lm_head`` is counted with the token embedding. The values sum
    to ``count_params(model)``.
    """
    part_of: dict[int, str] = {}
    for module in model.modules():
        for cls, part in _OWNERS:
            if isinstance(module, cls):
                for p in module.parameters():
                    part_of.setdefault(id(p), part)
                break
    counts = dict.fromkeys(PARTS, 0)
    for p in model.parameters():
        counts[part_of.get(id(p), "other")] += p.numel()
    return counts


__all__ = ["PARTS", "count_params", "param_breakdown"]
