"""Positional encodings: how a Transformer learns where each token sits.

Self-attention treats its input as a set: permute the tokens and the outputs are permuted the
same way. Three ways to give it positions, all used in the book:

- sinusoidal (Vaswani et al., 2017): a fixed pattern added to the token embeddings;
- learned (BERT, GPT-2): one trained vector per position, added the same way;
- rotary, RoPE (Su et al., 2021): queries and keys are rotated by an angle proportional to
  their position, so the score q_m . k_n depends on the offset m - n only.
"""

from __future__ import annotations

import torch
import torch.nn as nn

POS_ENCODINGS = ("sinusoidal", "learned", "rope", "none")


def sinusoidal_encoding(T: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """(T, d_model) table: PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(p / base^(2i/d))."""
    if d_model % 2:
        raise ValueError(f"d_model must be even for sinusoidal encoding, got {d_model}")
    pos = torch.arange(T, dtype=torch.float32)[:, None]                       # (T, 1)
    inv_freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (d/2,)
    angles = pos * inv_freq                                                   # (T, d/2)
    pe = torch.empty(T, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe


def _check_length(T: int, max_len: int) -> None:
    if T > max_len:
        raise ValueError(f"sequence length {T} exceeds max_len {max_len}; build the model with a "
                         "larger max_len or shorten the input")


class SinusoidalPositionalEncoding(nn.Module):
    """x + PE[offset : offset + T] for x of shape (B, T, d). No parameters."""

    def __init__(self, d_model: int, max_len: int = 512, base: float = 10000.0):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, base), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        _check_length(offset + x.size(1), self.max_len)
        return x + self.pe[offset:offset + x.size(1)].to(x.dtype)


class LearnedPositionalEncoding(nn.Module):
    """x + E[offset : offset + T] with E a trained (max_len, d) table."""

    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        self.max_len = max_len
        self.emb = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.emb.weight, std=0.02)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        _check_length(offset + x.size(1), self.max_len)
        return x + self.emb(torch.arange(offset, offset + x.size(1), device=x.device))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding for queries and keys of shape (B, h, T, d_head).

    Dimension i of the first half is paired with dimension i of the second half (the GPT-NeoX /
    Hugging Face layout) and the pair is rotated by the angle p * base^(-2i/d_head).
    """

    def __init__(self, d_head: int, max_len: int = 512, base: float = 10000.0):
        super().__init__()
        if d_head % 2:
            raise ValueError(f"RoPE needs an even head width, got d_head={d_head}")
        self.max_len = max_len
        inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float32) / d_head)
        angles = torch.arange(max_len, dtype=torch.float32)[:, None] * inv_freq    # (max_len, d/2)
        angles = torch.cat((angles, angles), dim=-1)                               # (max_len, d)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.size(-2)
        _check_length(offset + T, self.max_len)
        cos = self.cos[offset:offset + T].to(x.dtype)
        sin = self.sin[offset:offset + T].to(x.dtype)
        return x * cos + rotate_half(x) * sin


def make_positional_encoding(kind: str, d_model: int, max_len: int) -> nn.Module | None:
    """The additive encoding for ``kind``; None for "rope" (applied inside attention) and "none"."""
    if kind not in POS_ENCODINGS:
        raise ValueError(f"pos_encoding must be one of {POS_ENCODINGS}, got {kind!r}")
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(d_model, max_len)
    if kind == "learned":
        return LearnedPositionalEncoding(d_model, max_len)
    return None


def relative_similarity(pe: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every position's encoding with every other one: (T, T)."""
    unit = pe / pe.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


__all__ = ["POS_ENCODINGS", "sinusoidal_encoding", "SinusoidalPositionalEncoding",
           "LearnedPositionalEncoding", "RotaryEmbedding", "rotate_half", "make_positional_encoding",
           "relative_similarity"]
