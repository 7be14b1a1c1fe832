"""Attention from the formula: softmax(Q K^T / sqrt(d_k)) V, masks, and multi-head attention.

Mask convention (the same as ``torch.nn.functional.scaled_dot_product_attention``): a bool
tensor broadcastable to (..., T_q, T_k) where True means "may attend".

``KVCache`` keeps the keys and values a causal model has already computed, so that generating
one more token feeds only that token instead of the whole prefix (the KV cache).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V.

    q: (..., T_q, d_k), k: (..., T_k, d_k), v: (..., T_k, d_v). Returns ``(out, weights)`` with
    out (..., T_q, d_v) and weights (..., T_q, T_k) before dropout. A query row whose mask
    allows no key at all gets zero weights and a zero output (instead of NaN).
    """
    if mask is not None and mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}")
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale                     # (..., T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) bool mask: position i may attend to positions 0..i."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor | list[int], T: int,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """(B, 1, 1, T) bool mask from sequence lengths: keys at positions >= length are padding.

    It broadcasts over heads and queries; combine with a causal mask by ``&``.
    """
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be a 1-D list of sequence lengths, got shape {tuple(lengths.shape)}")
    if (lengths < 0).any() or (lengths > T).any():
        raise ValueError(f"every length must lie in 0..{T}, got {lengths.tolist()}")
    keep = torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]   # (B, T)
    return keep[:, None, None, :]


@dataclass
class LayerCache:
    """One self-attention layer's keys and values for the tokens seen so far."""
    k: torch.Tensor | None = None          # (B, nh, T, hs)
    v: torch.Tensor | None = None          # (B, nh, T, hs)

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new tokens' k, v (B, nh, T_new, hs); return all keys and values so far."""
        if self.k is not None:
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v


@dataclass
class KVCache:
    """The keys and values of every self-attention layer of a causal model, for the tokens it has
    already seen. A model called with a cache treats its input as the continuation of those
    tokens: the new tokens sit at positions ``len(cache)`` onwards, attend to the cached ones,
    and their own keys and values are appended. Make one with ``model.new_cache()``."""
    layers: list[LayerCache] = field(default_factory=list)

    @classmethod
    def empty(cls, n_layer: int) -> KVCache:
        return cls([LayerCache() for _ in range(n_layer)])

    def __len__(self) -> int:
        """Number of tokens cached (the position the next token will sit at)."""
        return len(self.layers[0]) if self.layers else 0

    def select(self, rows: torch.Tensor | list[int]) -> None:
        """Keep batch rows ``rows`` in this order (repeats allowed): beam search re-ranks its beams."""
        for layer in self.layers:
            if layer.k is not None:
                index = torch.as_tensor(rows, device=layer.k.device)
                layer.k, layer.v = layer.k[index], layer.v[index]


class MultiHeadAttention(nn.Module):
    """Multi-head attention: h heads of width d_model/h, computed as one reshape.

    Self-attention when ``context`` is None, cross-attention (queries from ``x``, keys and
    values from ``context``) otherwise. The projections are stored like
    ``torch.nn.MultiheadAttention`` (one ``in_proj`` of shape (3d, d), then ``out_proj``), so
    weights copy across directly. ``rotary`` (a ``position.RotaryEmbedding``) rotates queries and
    keys by their positions in self-attention.

    With ``cache`` (a ``LayerCache``, self-attention only) x holds the tokens that follow the
    cached ones: they sit at positions len(cache).., attend to the cached keys as well, and
    their keys and values are appended to the cache.
    """

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0, bias: bool = True,
                 rotary: nn.Module | None = None):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} must be divisible by n_head={n_head}")
        self.d_model, self.n_head, self.d_head = d_model, n_head, d_model // n_head
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = dropout
        self.rotary = rotary

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        B, T, _ = t.shape
        return t.view(B, T, self.n_head, self.d_head).transpose(1, 2)   # (B, h, T, d_head)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, is_causal: bool = False,
                need_weights: bool = False,
                cache: LayerCache | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, T_q, d). Returns (out (B, T_q, d), weights (B, h, T_q, T_k) or None)."""
        if cache is not None and context is not None:
            raise ValueError("a KV cache is for self-attention; cross-attention recomputes its keys")
        B, Tq, d = x.shape
        if context is None:
            q, k, v = self.in_proj(x).split(d, dim=-1)
        else:
            w, b = self.in_proj.weight, self.in_proj.bias
            q = F.linear(x, w[:d], None if b is None else b[:d])
            k, v = F.linear(context, w[d:], None if b is None else b[d:]).split(d, dim=-1)
        q, k, v = self._split(q), self._split(k), self._split(v)         # (B, h, T, d_head)
        start = 0 if cache is None else len(cache)                       # position of x[:, 0]
        if self.rotary is not None and context is None:
            q, k = self.rotary(q, start), self.rotary(k, start)
        if cache is not None:
            k, v = cache.append(k, v)                                    # (B, h, start + T_q, d_head)
        p = self.dropout if self.training else 0.0
        Tk = k.size(2)
        if not need_weights and is_causal and mask is None and Tq == Tk:
            # Fused causal kernel: same maths, no (T, T) weights kept for the backward pass.
            return self.out_proj(self._merge(F.scaled_dot_product_attention(q, k, v, dropout_p=p,
                                                                            is_causal=True))), None
        if is_causal and Tq > 1:
            # The last query sees every key; earlier queries see one key fewer each.
            causal = torch.ones(Tq, Tk, dtype=torch.bool, device=x.device).tril(Tk - Tq)
            mask = causal if mask is None else mask & causal
        if need_weights:
            y, weights = scaled_dot_product_attention(q, k, v, mask=mask, dropout_p=p)
        else:
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p), None
        return self.out_proj(self._merge(y)), weights

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        B, _, T, _ = y.shape
        return y.transpose(1, 2).reshape(B, T, self.d_model)              # (B, T, d)
