"""Sampling the next token: temperature, top-k and top-p (nucleus) truncation.

A language model gives logits z over the vocabulary; sampling draws from softmax(z / T).
- temperature T: T < 1 sharpens the distribution, T > 1 flattens it, T = 0 means greedy
  (always the most likely token).
- top-k: keep only the k most likely tokens (Fan et al., 2018).
- top-p: keep the smallest set of most likely tokens whose probabilities sum to at least p
  (Holtzman et al., 2020). Unlike top-k, the number kept adapts: few tokens where the model
  is sure, many where it is not.
Both truncations renormalise what is kept. ``GPT.generate`` is this module's ``generate``.
"""

from __future__ import annotations

import torch

from ..runtime.device import eval_mode


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set the logits of tokens outside the top-k and outside the top-p nucleus to -inf.

    logits: (..., V), already divided by the temperature. The most likely token is always kept.
    """
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be a positive number of tokens, got {top_k}; use None to keep all")
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[..., [-1]]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must lie in (0, 1], got {top_p}; use None (or 1.0) to keep all")
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs           # mass of the strictly more likely tokens
        drop_sorted = before >= top_p                          # the nucleus is already complete
        drop = drop_sorted.scatter(-1, order, drop_sorted)     # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
    """The distribution the next token is drawn from, (..., V); one-hot on the argmax if T = 0."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.size(-1)).to(logits.dtype)
    return torch.softmax(filter_logits(logits / temperature, top_k, top_p), dim=-1)


@torch.no_grad()
def generate(model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None,
             generator: torch.Generator | None = None, use_cache: bool = True,
             stop_token: int | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` sampled tokens to idx (B, T) using ``model(idx) -> (logits, ...)``.

    The context is cropped to the model's last ``config.max_len`` tokens, as in ``GPT.generate``.
    With ``use_cache`` (and a model that has ``new_cache()``, like ``GPT``) each step feeds only
    the newest token and reuses the keys and values of the earlier ones (a KV cache); without it
    every step re-runs the whole context. Both give the same tokens. Past ``max_len`` the
    window slides and every position changes, so the cache is rebuilt from the last
    ``max_len`` tokens at every step: exact, but no faster than without the cache.

    ``stop_token`` ends generation early once every row has produced it (e.g. the newline that
    ends a chat reply). The result is then a prefix of what the same call without it returns:
    the same tokens, the same random draws, only fewer steps. Rows that stopped earlier hold
    tokens after their stop token; the caller cuts them.
    A ``generator`` shared across calls is therefore left in a different state (fewer draws
    were taken), so later draws from it differ from those of a run without ``stop_token``.
    """
    if idx.dim() != 2 or idx.size(1) == 0:
        raise ValueError(f"idx must be a (B, T) tensor with T >= 1 context tokens, got shape {tuple(idx.shape)}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if stop_token is not None and not isinstance(stop_token, int):
        raise TypeError(f"stop_token must be a token id (int) or None, got {type(stop_token).__name__}")
    stopped = torch.zeros(idx.size(0), dtype=torch.bool)
    with eval_mode(model):
        block = model.config.max_len
        cache = None
        for _ in range(max_new_tokens):
            if not (use_cache and hasattr(model, "new_cache")):
                logits = model(idx[:, -block:])[0][:, -1, :]       # (B, V)
            elif cache is None or len(cache) == block:             # (re)fill from the last window
                cache = model.new_cache()
                logits = model(idx[:, -block:], cache=cache)[0][:, -1, :]
            else:                                                  # only the newest token is new
                logits = model(idx[:, -1:], cache=cache)[0][:, -1, :]
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                probs = next_token_probs(logits, temperature, top_k, top_p)
                nxt = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
            if stop_token is not None:
                stopped |= nxt[:, 0].cpu() == stop_token
                if bool(stopped.all()):
                    break
    return idx
