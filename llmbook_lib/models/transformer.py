"""The book's Transformers: the decoder-only GPT and the encoder-decoder of the 2017 paper.

Every model is assembled from the same layers (``layers.py``: ``EncoderLayer``,
``DecoderLayer`` and the GPT ``Block``), which share one ``MultiHeadAttention`` and one
``FeedForward``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import sampling
from ..text.tokenize import BOS_ID, EOS_ID, PAD_ID
from .attention import KVCache
from .layers import Block, DecoderLayer, EncoderLayer, FeedForward, copy_from_torch
from .position import RotaryEmbedding, make_positional_encoding


# Config fields renamed so that one idea has one name across the library (and the shipped
# weights files, whose metadata keep the old names, still load): old -> new.
RENAMED_FIELDS = {"n_embd": "d_model", "block_size": "max_len", "n_heads": "n_head"}


@dataclass
class GPTConfig:
    vocab_size: int = 256     # 256 for a byte model; the vocabulary size of a char tokenizer
    max_len: int = 128        # longest context the model can see (nanoGPT's block_size)
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128        # width of the residual stream (nanoGPT's n_embd)
    dropout: float = 0.0
    bias: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        """A config from ``to_dict()``, also one written before the renames in ``RENAMED_FIELDS``."""
        return cls(**{RENAMED_FIELDS.get(k, k): v for k, v in d.items()})


class GPT(nn.Module):
    """Decoder-only Transformer language model (GPT-2 layout, pre-LN, tied embeddings)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.max_len, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config.d_model, config.n_head, config.dropout, config.bias)
                                    for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model, bias=config.bias)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight          # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():              # GPT-2: scale residual projections
            if name.endswith(("attn.out_proj.weight", "ffn.proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; by default without the position embedding (the token one is tied)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.pos_emb.weight.numel() if non_embedding else n

    def flops_per_token(self, T: int | None = None) -> int:
        """Training FLOPs per token (forward and backward) at context T (default max_len).

        6 N for the weights (2 for the forward multiply-add, 4 for the two backward products;
        N = ``num_params()``, the tied output layer counted once) plus 12 L d T for attention:
        Q K^T and the weighted sum of V, each 2 T d per token and layer forward, twice that
        backward. This is the count model FLOPs utilisation (MFU) divides by time.
        """
        c = self.config
        T = c.max_len if T is None else T
        return 6 * self.num_params() + 12 * c.n_layer * c.d_model * T

    def new_cache(self) -> KVCache:
        """An empty KV cache for ``forward(..., cache=)``, one slot per layer."""
        return KVCache.empty(self.config.n_layer)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                need_weights: bool = False, cache: KVCache | None = None):
        """idx: (B, T) token ids. Returns ``(logits (B, T, V), loss or None)``, and with
        ``need_weights=True`` a third item: weights (n_layer, B, n_head, T, T).

        Targets equal to -100 are ignored by the loss (padding). With ``cache`` (from
        ``new_cache()``) idx continues the tokens already cached: it sits at positions
        len(cache).., and its keys and values are added to the cache, so that generation can
        feed one new token per step; weights are then (n_layer, B, n_head, T, len(cache)).
        """
        B, T = idx.shape
        start = 0 if cache is None else len(cache)                   # position of idx[:, 0]
        if start + T > self.config.max_len:
            cached = f" ({start} cached + {T} new)" if start else ""
            raise ValueError(
                f"sequence length {start + T}{cached} exceeds max_len {self.config.max_len}; "
                f"crop the input to its last {self.config.max_len} tokens (generate() does this) "
                "or build the model with a larger max_len")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))         # (B, T, d)
        attn = []
        for i, block in enumerate(self.blocks):
            x, w = block(x, need_weights=need_weights, cache=None if cache is None else cache.layers[i])
            attn.append(w)
        logits = self.lm_head(self.ln_f(x))                          # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        if need_weights:
            return logits, loss, torch.stack(attn)
        return logits, loss

    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None,
                 top_p: float | None = None, use_cache: bool = True,
                 stop_token: int | None = None) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to idx (B, T); temperature 0 means greedy.

        top-k and top-p truncate the distribution first; ``use_cache=False`` re-runs the whole
        context for every token (the reference); ``stop_token`` stops early once every row has
        produced it. See ``llmbook_lib.models.sampling.generate``.
        """
        return sampling.generate(self, idx, max_new_tokens, temperature, top_k, top_p, generator, use_cache,
                                 stop_token)


# ---------------------------------------------------------------------------------------------
# Encoder-decoder Transformer (Vaswani et al., 2017)
# ---------------------------------------------------------------------------------------------
class Embedder(nn.Module):
    """Token embedding scaled by sqrt(d_model) (as in the paper), plus an additive position
    encoding unless ``pos_encoding`` is "rope" (rotations happen in attention) or "none"."""

    def __init__(self, vocab_size: int, d_model: int, max_len: int, pos_encoding: str, dropout: float):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.tok.weight, std=d_model ** -0.5)
        self.scale = math.sqrt(d_model)
        self.pos = make_positional_encoding(pos_encoding, d_model, max_len)
        self.drop = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """ids: (B, T) at positions offset..offset+T-1 -> (B, T, d)."""
        x = self.tok(ids) * self.scale                                   # (B, T, d)
        return self.drop(x if self.pos is None else self.pos(x, offset))


class Encoder(nn.Module):
    """Embedding + n_layer ``EncoderLayer`` s (+ a final LayerNorm when pre-LN).

    Also the body of the BERT-style models of the pretraining chapters.
    """

    def __init__(self, vocab_size: int, d_model: int = 128, n_head: int = 4, n_layer: int = 2, *,
                 d_ff: int | None = None, dropout: float = 0.0, max_len: int = 512,
                 pos_encoding: str = "sinusoidal", norm_first: bool = True, activation: str = "gelu",
                 bias: bool = True):
        super().__init__()
        self.max_len = max_len
        self.embed = Embedder(vocab_size, d_model, max_len, pos_encoding, dropout)
        rotary = RotaryEmbedding(d_model // n_head, max_len) if pos_encoding == "rope" else None
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, n_head, d_ff, dropout, bias, norm_first, activation=activation, rotary=rotary)
            for _ in range(n_layer))
        self.norm = nn.LayerNorm(d_model, bias=bias) if norm_first else nn.Identity()

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None, need_weights: bool = False):
        """ids: (B, S); mask: bool (B, 1, 1, S) of real keys. Returns (states (B, S, d), weights
        [(B, h, S, S) per layer] or [])."""
        if ids.size(1) > self.max_len:
            raise ValueError(f"sequence length {ids.size(1)} exceeds max_len {self.max_len}; shorten "
                             "the input or build the model with a larger max_len")
        return self.encode(self.embed(ids), mask, need_weights)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None, need_weights: bool = False):
        """The layers and the final LayerNorm on already embedded inputs x (B, S, d), for models
        that add more to the embedding (BERT's segments). Returns what ``forward`` returns."""
        weights = []
        for layer in self.layers:
            x, w = layer(x, mask=mask, need_weights=need_weights)
            if need_weights:
                weights.append(w)
        return self.norm(x), weights


@dataclass
class TransformerConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 128
    n_head: int = 4
    n_encoder_layers: int = 2
    n_decoder_layers: int = 2
    d_ff: int | None = None          # 4 * d_model when None
    dropout: float = 0.1
    max_len: int = 128               # longest source or target sequence
    pos_encoding: str = "sinusoidal"  # "sinusoidal", "learned", "rope" or "none"
    norm_first: bool = True          # pre-LN; False is the 2017 paper's post-LN
    activation: str = "gelu"         # the paper used "relu"
    bias: bool = True
    pad_id: int = PAD_ID             # the target vocabulary's ids (from_vocabs reads them)
    bos_id: int = BOS_ID
    eos_id: int = EOS_ID

    @classmethod
    def from_vocabs(cls, src, tgt, **kwargs) -> "TransformerConfig":
        """Vocabulary sizes and pad/bos/eos ids from two ``SpecialVocab`` s (e.g. ``data.numbers``'
        SRC_VOCAB and TGT_VOCAB); ``kwargs`` set the rest. Source and target share ``pad_id``."""
        if src.pad_id != tgt.pad_id:
            raise ValueError(f"source and target vocabularies pad with different ids ({src.pad_id} and "
                             f"{tgt.pad_id}); the model masks both with one pad_id")
        return cls(src_vocab_size=src.vocab_size, tgt_vocab_size=tgt.vocab_size, pad_id=tgt.pad_id,
                   bos_id=tgt.bos_id, eos_id=tgt.eos_id, **kwargs)

    def to_dict(self) -> dict:
        return asdict(self)


class Transformer(nn.Module):
    """Encoder-decoder Transformer for sequence-to-sequence tasks (translation and the like).

    ``forward(src, tgt_in, tgt_out)`` is teacher forcing: tgt_in = [BOS] y, tgt_out = y [EOS],
    padded with ``pad_id`` (ignored by the loss). ``decoding.greedy_decode`` and
    ``decoding.beam_search`` generate.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = self.config = config
        self.encoder = Encoder(c.src_vocab_size, c.d_model, c.n_head, c.n_encoder_layers, d_ff=c.d_ff,
                               dropout=c.dropout, max_len=c.max_len, pos_encoding=c.pos_encoding,
                               norm_first=c.norm_first, activation=c.activation, bias=c.bias)
        self.tgt_embed = Embedder(c.tgt_vocab_size, c.d_model, c.max_len, c.pos_encoding, c.dropout)
        rotary = RotaryEmbedding(c.d_model // c.n_head, c.max_len) if c.pos_encoding == "rope" else None
        self.decoder = nn.ModuleList(
            DecoderLayer(c.d_model, c.n_head, c.d_ff, c.dropout, c.bias, c.norm_first, c.activation, rotary)
            for _ in range(c.n_decoder_layers))
        self.dec_norm = nn.LayerNorm(c.d_model, bias=c.bias) if c.norm_first else nn.Identity()
        self.out = nn.Linear(c.d_model, c.tgt_vocab_size, bias=False)
        self.out.weight = self.tgt_embed.tok.weight                     # weight tying

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self) -> KVCache:
        """An empty KV cache of the decoder's self-attention, for ``decode(..., cache=)``."""
        return KVCache.empty(self.config.n_decoder_layers)

    def src_mask(self, src: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1, S): True where the source token is not padding."""
        return (src != self.config.pad_id)[:, None, None, :]

    def encode(self, src: torch.Tensor, need_weights: bool = False):
        """src: (B, S) -> (memory (B, S, d), source mask (B, 1, 1, S), encoder weights)."""
        mask = self.src_mask(src)
        memory, weights = self.encoder(src, mask=mask, need_weights=need_weights)
        return memory, mask, weights

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor,
               need_weights: bool = False, cache: KVCache | None = None):
        """tgt_in: (B, T) -> (logits (B, T, V), self weights, cross weights).

        With ``cache`` (from ``new_cache()``, for generation) tgt_in continues the target tokens
        already cached, at positions len(cache)... Generated targets hold no padding, so the
        cached path puts no padding mask on the target keys.
        """
        start = 0 if cache is None else len(cache)                       # position of tgt_in[:, 0]
        if start + tgt_in.size(1) > self.config.max_len:
            raise ValueError(f"target length {start + tgt_in.size(1)} exceeds max_len {self.config.max_len}")
        x = self.tgt_embed(tgt_in, offset=start)
        self_mask = None if cache is not None else (tgt_in != self.config.pad_id)[:, None, None, :]
        w_self, w_cross = [], []
        for i, layer in enumerate(self.decoder):
            x, ws, wc = layer(x, memory, self_mask=self_mask, memory_mask=memory_mask,
                              need_weights=need_weights, cache=None if cache is None else cache.layers[i])
            if need_weights:
                w_self.append(ws)
                w_cross.append(wc)
        return self.out(self.dec_norm(x)), w_self, w_cross

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, tgt_out: torch.Tensor | None = None,
                need_weights: bool = False):
        """Returns (logits (B, T, V), loss or None); with ``need_weights=True`` a third item,
        a dict of stacked weights: "encoder" (L, B, h, S, S), "decoder" (L, B, h, T, T) and
        "cross" (L, B, h, T, S)."""
        memory, mask, w_enc = self.encode(src, need_weights=need_weights)
        logits, w_self, w_cross = self.decode(tgt_in, memory, mask, need_weights=need_weights)
        loss = None
        if tgt_out is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1),
                                   ignore_index=self.config.pad_id)
        if need_weights:
            att = {"encoder": torch.stack(w_enc) if w_enc else None,
                   "decoder": torch.stack(w_self) if w_self else None,
                   "cross": torch.stack(w_cross) if w_cross else None}
            return logits, loss, att
        return logits, loss


__all__ = ["GPTConfig", "GPT", "KVCache", "Block", "FeedForward", "EncoderLayer", "DecoderLayer", "Encoder",
           "Embedder", "TransformerConfig", "Transformer", "copy_from_torch"]
