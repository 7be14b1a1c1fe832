"""A small BERT-style encoder trained with MLM + NSP (BERT) or PLM (XLNet).

``BertLike`` is ``transformer.Encoder`` (token embedding, position encoding, pre-LN
``EncoderLayer`` s, final LayerNorm) plus what the objectives need:

- segment (token-type) embeddings for the A and B sentences of NSP;
- an MLM head tied to the token embeddings: logits = h E^T + b;
- an NSP head on the [CLS] state: tanh pooler, then two logits (IsNext = 1);
- ``plm``: XLNet's two-stream forward (``two_stream_layer``, below) with a learned query
  start vector w, for any factorisation order.

The batches come from ``llmbook_lib.data.pretraining``; ``mlm_nsp_metrics`` scores a model on held-out
batches. (``llmbook_lib.models.minilm`` is the real, pretrained
MiniLM; this module trains its own small model from scratch.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.pretraining import IGNORE, permutation_masks
from ..runtime.device import eval_mode
from ..text.tokenize import BertVocab
from .layers import EncoderLayer
from .transformer import Encoder


def two_stream_layer(layer: EncoderLayer, h: torch.Tensor, g: torch.Tensor, content_mask: torch.Tensor,
                     query_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer of XLNet's two-stream attention with the submodules of ``layer``.

    h (B, T, d) content stream: the layer itself under ``content_mask``. g (B, T, d) query stream:
    the same ln1 / attn / ln2 / ffn, but queries from g attend to keys and values from h under
    ``query_mask``. Masks broadcast to (B, heads, T, T). A query that may attend to nothing (the
    first in the order) gets a zero attention output.
    """
    if layer.causal or layer.attn.rotary is not None:
        raise ValueError("two_stream_layer needs a non-causal EncoderLayer without rotary "
                         "embeddings: the masks carry the order, additive encodings the positions")
    empty = bool((~query_mask.any(dim=-1)).any())                  # F.sdpa gives NaN there

    def attend(q_in, kv_in):
        out, _ = layer.attn(q_in, context=kv_in, mask=query_mask, need_weights=empty)
        return layer.dropout(out)

    h_new, _ = layer(h, mask=content_mask)
    if layer.norm_first:
        g = g + attend(layer.ln1(g), layer.ln1(h))
        g = g + layer.ffn(layer.ln2(g))
    else:
        g = layer.ln1(g + attend(g, h))
        g = layer.ln2(g + layer.ffn(g))
    return h_new, g


@dataclass
class BertConfig:
    vocab_size: int                 # including the special tokens (BertVocab.vocab_size)
    max_len: int = 128              # longest sequence, [CLS] and [SEP]s included
    d_model: int = 128
    n_head: int = 4
    n_layer: int = 2
    d_ff: int | None = None         # 4 * d_model when None
    dropout: float = 0.1
    n_segments: int = 2             # A and B
    # BERT learns its positions; "learned" works too, but the Encoder starts those at std 0.02
    # beside unit-scale token vectors, so a briefly trained model barely knows where it is.
    pos_encoding: str = "sinusoidal"
    pad_id: int = BertVocab.pad_id

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BertOutput:
    states: torch.Tensor            # (B, T, d) final hidden states
    mlm_logits: torch.Tensor        # (B, T, V); with mlm_labels (N, V) at the N labelled positions
    nsp_logits: torch.Tensor        # (B, 2): [NotNext, IsNext]
    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    nsp_loss: torch.Tensor | None = None
    attention: list[torch.Tensor] | None = None   # per layer (B, h, T, T) with need_weights


class BertLike(nn.Module):
    """Encoder with MLM, NSP and PLM heads (see the module docstring)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        c = self.config = config
        if c.pos_encoding not in ("learned", "sinusoidal"):
            raise ValueError(f"BertLike needs an additive position encoding ('learned' or 'sinusoidal'), "
                             f"got {c.pos_encoding!r}: the PLM query stream knows which position it "
                             "predicts only through it")
        self.encoder = Encoder(c.vocab_size, c.d_model, c.n_head, c.n_layer, d_ff=c.d_ff,
                               dropout=c.dropout, max_len=c.max_len, pos_encoding=c.pos_encoding,
                               norm_first=True)
        self.seg_emb = nn.Embedding(c.n_segments, c.d_model)
        nn.init.normal_(self.seg_emb.weight, std=0.02)
        self.query_start = nn.Parameter(0.02 * torch.randn(c.d_model))   # XLNet's w
        self.mlm_bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.pooler = nn.Linear(c.d_model, c.d_model)
        self.nsp_head = nn.Linear(c.d_model, 2)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- embeddings ---------------------------------------------------------------------------
    def _positions(self, positions: torch.Tensor) -> torch.Tensor:
        """Position vectors (..., d) for arbitrary position ids, from the encoder's own encoding."""
        if positions.numel() and int(positions.max()) >= self.config.max_len:
            raise ValueError(f"position {int(positions.max())} exceeds max_len {self.config.max_len}; "
                             "shorten the input or build the model with a larger max_len")
        table = self.encoder.embed.pos(torch.zeros(1, int(positions.max()) + 1, self.config.d_model,
                                                   device=positions.device))[0]     # (P, d)
        return table[positions]

    def _check(self, ids: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        if ids.dim() != 2:
            raise ValueError(f"ids must be (B, T) token ids, got shape {tuple(ids.shape)}")
        if ids.size(1) > self.config.max_len:
            raise ValueError(f"sequence length {ids.size(1)} exceeds max_len {self.config.max_len}; "
                             "shorten the input or build the model with a larger max_len")
        if positions is None:
            return torch.arange(ids.size(1), device=ids.device).expand_as(ids)
        if positions.shape[-1] != ids.size(1):
            raise ValueError(f"positions {tuple(positions.shape)} must give one position per token "
                             f"of ids {tuple(ids.shape)}")
        return positions.expand_as(ids)

    def embed(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
              positions: torch.Tensor | None = None) -> torch.Tensor:
        """Content-stream input h0 = E[x] sqrt(d) + P[pos] + S[seg]: (B, T) -> (B, T, d)."""
        positions = self._check(ids, positions)
        e = self.encoder.embed
        x = e.tok(ids) * e.scale + self._positions(positions)
        if segments is not None:
            x = x + self.seg_emb(segments)
        return e.drop(x)

    def states(self, ids: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        """Final hidden states (B, T, d) for a downstream task: the encoder alone, no MLM/NSP
        heads. ``segments`` default to all A (0), as every token was in pretraining (leaving the
        segment embedding out would shift the inputs the encoder learned on). Padding (pad_id) is
        never attended."""
        if segments is None:
            segments = torch.zeros_like(ids)
        key_mask = (ids != self.config.pad_id)[:, None, None, :]          # (B, 1, 1, T)
        return self.encoder.encode(self.embed(ids, segments), key_mask)[0]

    def mlm_logits(self, states: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, V): h E^T + b, with E the (tied) token embedding."""
        return F.linear(states, self.encoder.embed.tok.weight, self.mlm_bias)

    # -- BERT: MLM + NSP ----------------------------------------------------------------------
    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                mlm_labels: torch.Tensor | None = None, is_next: torch.Tensor | None = None,
                need_weights: bool = False) -> BertOutput:
        """ids, segments, mlm_labels: (B, T); is_next: (B,). Padding (pad_id) is never attended.

        The loss is the sum of the MLM loss (mean over labelled positions) and the NSP loss. With
        ``mlm_labels``, ``mlm_logits`` are computed only where a label is set, as BERT does (about
        15% of the positions): (N, V), row k for the k-th True of ``mlm_labels != -100`` in
        row-major order. Without labels they cover every position: (B, T, V).
        """
        x = self.embed(ids, segments)                                     # checks the shapes first
        key_mask = (ids != self.config.pad_id)[:, None, None, :]          # (B, 1, 1, T)
        states, attention = self.encoder.encode(x, key_mask, need_weights)
        labelled = None if mlm_labels is None else mlm_labels != IGNORE
        out = BertOutput(states, self.mlm_logits(states if labelled is None else states[labelled]),
                         self.nsp_head(torch.tanh(self.pooler(states[:, 0]))),
                         attention=attention if need_weights else None)
        if mlm_labels is not None:
            out.mlm_loss = F.cross_entropy(out.mlm_logits, mlm_labels[labelled])
        if is_next is not None:
            out.nsp_loss = F.cross_entropy(out.nsp_logits, is_next)
        losses = [l for l in (out.mlm_loss, out.nsp_loss) if l is not None]
        out.loss = sum(losses) if losses else None
        return out

    # -- XLNet: PLM ---------------------------------------------------------------------------
    def plm(self, ids: torch.Tensor, order: torch.Tensor, labels: torch.Tensor | None = None,
            positions: torch.Tensor | None = None, segments: torch.Tensor | None = None):
        """Two-stream forward for the factorisation order ``order`` ((T,) or (B, T)).

        Returns (logits, loss): logits[:, i] (B, T, V) are the model's p(x_i | x_{z<t}) where
        i = z_t, read from the query stream. labels default to ids; set them to -100 where no
        prediction is wanted (XLNet predicts only the last tokens of each order): logits are then
        computed only at the N labelled positions, (N, V) in row-major order. ``positions``
        (B, T) places the tokens at arbitrary position ids (default 0..T-1). No padding: PLM
        works on full windows.
        """
        positions = self._check(ids, positions)
        if (ids == self.config.pad_id).any():
            raise ValueError("plm() takes full windows without padding; drop or crop padded rows")
        content, query = permutation_masks(order.to(ids.device))
        if content.dim() == 3:                                             # (B, T, T) -> per head
            content, query = content[:, None], query[:, None]
        h = self.embed(ids, segments, positions)
        g = self.encoder.embed.drop(self.query_start + self._positions(positions))
        for layer in self.encoder.layers:
            h, g = two_stream_layer(layer, h, g, content, query)
        g = self.encoder.norm(g)
        if labels is None:
            logits = self.mlm_logits(g)
            return logits, F.cross_entropy(logits.flatten(0, 1), ids.flatten())
        labelled = labels != IGNORE
        logits = self.mlm_logits(g[labelled])
        return logits, F.cross_entropy(logits, labels[labelled])


@torch.no_grad()
def mlm_nsp_metrics(model: BertLike, batches, iters: int, mask_id: int = BertVocab.mask_id) -> dict:
    """Held-out MLM and NSP numbers of a BertLike over ``batches(0) .. batches(iters - 1)``.

    mlm_loss: mean negative log-likelihood (nats) per selected position; mlm_accuracy: top-1
    accuracy at the selected positions (80% [MASK], 10% random, 10% unchanged); mask_accuracy:
    only where the input shows [MASK]; nsp_loss / nsp_accuracy over the pairs (chance: 0.5).
    """
    device = next(model.parameters()).device
    with eval_mode(model):
        nll = nsp_nll = 0.0
        n_sel = hits = n_mask = mask_hits = n_pairs = nsp_hits = 0
        for i in range(iters):
            x, seg, labels, is_next = (t.to(device) for t in batches(i))
            out = model(x, seg, labels, is_next)
            sel = labels != IGNORE
            hit = out.mlm_logits.argmax(-1) == labels[sel]
            masked = x[sel] == mask_id
            k = int(sel.sum())
            nll += float(out.mlm_loss) * k
            n_sel, hits = n_sel + k, hits + int(hit.sum())
            n_mask, mask_hits = n_mask + int(masked.sum()), mask_hits + int((hit & masked).sum())
            nsp_nll += float(out.nsp_loss) * len(is_next)
            n_pairs += len(is_next)
            nsp_hits += int((out.nsp_logits.argmax(-1) == is_next).sum())
    return {"mlm_loss": nll / n_sel, "mlm_accuracy": hits / n_sel, "mask_accuracy": mask_hits / n_mask,
            "nsp_loss": nsp_nll / n_pairs, "nsp_accuracy": nsp_hits / n_pairs,
            "masked_tokens": n_sel, "pairs": n_pairs}


__all__ = ["BertConfig", "BertLike", "BertOutput", "mlm_nsp_metrics", "two_stream_layer"]
