"""The layers every Transformer in the book is built from.

``FeedForward`` and ``MultiHeadAttention`` (from ``attention.py``) are the only two
computations; ``EncoderLayer`` and ``DecoderLayer`` arrange them with residual connections and
LayerNorm, either pre-LN (``norm_first=True``, GPT-2 and most modern models) or post-LN (the
2017 paper). ``Block``, the GPT layer, is a causal pre-LN ``EncoderLayer``.

Parameter layout matches ``torch.nn.TransformerEncoderLayer`` / ``TransformerDecoderLayer``
one to one, so ``copy_from_torch`` can copy their weights and the outputs agree in eval mode
(in training torch also applies dropout between the two FFN linears; ours does not).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import LayerCache, MultiHeadAttention

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}


class FeedForward(nn.Module):
    """Position-wise MLP: Linear(d, d_ff) -> activation -> Linear(d_ff, d), with d_ff = 4d by default."""

    def __init__(self, d_model: int, d_ff: int | None = None, dropout: float = 0.0, bias: bool = True,
                 activation: str = "gelu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        d_ff = d_ff or 4 * d_model
        self.fc = nn.Linear(d_model, d_ff, bias=bias)
        self.proj = nn.Linear(d_ff, d_model, bias=bias)
        self.act = ACTIVATIONS[activation]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.fc(x))))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each wrapped in a residual connection and LayerNorm.

    pre-LN  (norm_first=True):  x = x + Attn(LN1(x));  x = x + FFN(LN2(x))
    post-LN (norm_first=False): x = LN1(x + Attn(x));  x = LN2(x + FFN(x))
    ``causal=True`` lets position i see positions 0..i only (a decoder-only layer).
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int | None = None, dropout: float = 0.0,
                 bias: bool = True, norm_first: bool = True, causal: bool = False,
                 activation: str = "gelu", rotary: nn.Module | None = None):
        super().__init__()
        self.norm_first, self.causal = norm_first, causal
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_head, dropout=dropout, bias=bias, rotary=rotary)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.ffn = FeedForward(d_model, d_ff, dropout=dropout, bias=bias, activation=activation)
        self.dropout = nn.Dropout(dropout)

    def _sa(self, x, mask, need_weights, cache):
        a, w = self.attn(x, mask=mask, is_causal=self.causal, need_weights=need_weights, cache=cache)
        return self.dropout(a), w

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, need_weights: bool = False,
                cache: LayerCache | None = None):
        """x: (B, T, d); mask: bool, broadcastable to (B, h, T, T), True = may attend.
        ``cache``: this layer's keys and values of earlier tokens (see ``MultiHeadAttention``).
        Returns (x, weights (B, h, T, T) or None)."""
        if self.norm_first:
            a, w = self._sa(self.ln1(x), mask, need_weights, cache)
            x = x + a
            x = x + self.ffn(self.ln2(x))
        else:
            a, w = self._sa(x, mask, need_weights, cache)
            x = self.ln1(x + a)
            x = self.ln2(x + self.ffn(x))
        return x, w


class Block(EncoderLayer):
    """The GPT layer: a causal pre-LN ``EncoderLayer`` with a 4x GELU feed-forward."""

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0, bias: bool = True):
        super().__init__(d_model, n_head, dropout=dropout, bias=bias, norm_first=True, causal=True)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder's output, then feed-forward.

    pre-LN:  x += SelfAttn(LN1(x));  x += CrossAttn(LN2(x), memory);  x += FFN(LN3(x))
    post-LN: x = LN1(x + SelfAttn(x));  x = LN2(x + CrossAttn(x, memory));  x = LN3(x + FFN(x))
    """

    def __init__(self, d_model: int, n_head: int, d_ff: int | None = None, dropout: float = 0.0,
                 bias: bool = True, norm_first: bool = True, activation: str = "gelu",
                 rotary: nn.Module | None = None):
        super().__init__()
        self.norm_first = norm_first
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_head, dropout=dropout, bias=bias, rotary=rotary)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.cross_attn = MultiHeadAttention(d_model, n_head, dropout=dropout, bias=bias)
        self.ln3 = nn.LayerNorm(d_model, bias=bias)
        self.ffn = FeedForward(d_model, d_ff, dropout=dropout, bias=bias, activation=activation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, self_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None, need_weights: bool = False,
                cache: LayerCache | None = None):
        """x: (B, T, d) target side; memory: (B, S, d) encoder output. ``self_mask`` is combined
        with the causal mask; ``memory_mask`` (e.g. source padding, (B, 1, 1, S)) limits the
        cross-attention; ``cache`` holds the self-attention keys and values of earlier target
        tokens. Returns (x, self weights (B, h, T, T), cross weights (B, h, T, S))."""
        def sa(h):
            a, w = self.attn(h, mask=self_mask, is_causal=True, need_weights=need_weights, cache=cache)
            return self.dropout(a), w

        def ca(h):
            a, w = self.cross_attn(h, context=memory, mask=memory_mask, need_weights=need_weights)
            return self.dropout(a), w

        if self.norm_first:
            a, w_self = sa(self.ln1(x))
            x = x + a
            a, w_cross = ca(self.ln2(x))
            x = x + a
            x = x + self.ffn(self.ln3(x))
        else:
            a, w_self = sa(x)
            x = self.ln1(x + a)
            a, w_cross = ca(x)
            x = self.ln2(x + a)
            x = self.ln3(x + self.ffn(x))
        return x, w_self, w_cross


_TORCH_NAMES = {  # ours -> torch.nn.Transformer{Encoder,Decoder}Layer
    "attn.in_proj.weight": "self_attn.in_proj_weight", "attn.in_proj.bias": "self_attn.in_proj_bias",
    "attn.out_proj.weight": "self_attn.out_proj.weight", "attn.out_proj.bias": "self_attn.out_proj.bias",
    "cross_attn.in_proj.weight": "multihead_attn.in_proj_weight",
    "cross_attn.in_proj.bias": "multihead_attn.in_proj_bias",
    "cross_attn.out_proj.weight": "multihead_attn.out_proj.weight",
    "cross_attn.out_proj.bias": "multihead_attn.out_proj.bias",
    "ffn.fc.weight": "linear1.weight", "ffn.fc.bias": "linear1.bias",
    "ffn.proj.weight": "linear2.weight", "ffn.proj.bias": "linear2.bias",
}


def copy_from_torch(ours: EncoderLayer | DecoderLayer, theirs: nn.Module) -> None:
    """Copy the weights of a ``torch.nn.TransformerEncoderLayer`` (or ``DecoderLayer``) into our
    layer of the same shape. Raises ``ValueError`` if a parameter on either side has no counterpart."""
    src = theirs.state_dict()
    new, used = {}, set()
    for name, p in ours.state_dict().items():
        key = _TORCH_NAMES.get(name) or name.replace("ln", "norm")   # ln1 -> norm1, ...
        if key not in src or src[key].shape != p.shape:
            raise ValueError(f"no torch parameter matches {name} (looked for {key}); build both "
                             "layers with the same d_model, nhead, dim_feedforward and bias")
        new[name] = src[key]
        used.add(key)
    left = sorted(set(src) - used)
    if left:   # e.g. torch's biases when ours has bias=False: dropping them would change the outputs
        raise ValueError(f"torch parameters {left} have no counterpart in our {type(ours).__name__}; "
                         "build it with the same bias setting and layer type (encoder or decoder)")
    ours.load_state_dict(new)
