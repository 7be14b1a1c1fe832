"""Generating output sequences from an encoder-decoder ``Transformer``: greedy and beam search.

A hypothesis is a target sequence y_1 .. y_n; its score is the sum of log p(y_t | y_<t, x),
optionally divided by a length penalty ((5 + n) / 6) ** alpha (Wu et al., 2016) so that long
outputs are not punished merely for having more factors below one. Padding and BOS are never
generated. A hypothesis ends when it emits EOS, or at ``max_new_tokens`` tokens.

Both feed the decoder one new token per step and keep the keys and values of the earlier ones
in a KV cache (``Transformer.new_cache``); beam search reorders the cache with its beams.
``use_cache=False`` re-runs the whole prefix at every step instead: the reference, same result.

``logit_bias`` adds a fixed vector to the next-token logits before the softmax, at every step:
(V,) for all rows or (B, V) one per source. It is how a translation lexicon nudges a model
towards the words a dictionary proposes (Arthur et al., 2016; ``tasks.translate``). Scores and
log-probabilities are then those of the biased distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..runtime.device import eval_mode


@dataclass
class Hypothesis:
    tokens: list[int]          # generated ids, without BOS, with the final EOS if one was emitted
    logprob: float             # sum of the log-probabilities of the tokens
    score: float               # logprob after the length penalty; what beam search ranks by


def length_penalty(n: int, alpha: float) -> float:
    return ((5 + n) / 6) ** alpha


def _next_logprobs(model, memory, mask, prefix: torch.Tensor, cache, bias=None) -> torch.Tensor:
    """Log-probabilities of the next token for each row of prefix (N, t): (N, V). memory and mask
    have batch 1 (one source, several beams) or N (one source per row). With a cache, which
    holds prefix[:, :-1] already, only the last token is fed."""
    new = prefix if cache is None else prefix[:, len(cache):]
    logits, _, _ = model.decode(new, memory.expand(prefix.size(0), -1, -1),
                                mask.expand(prefix.size(0), -1, -1, -1), cache=cache)
    logits = logits[:, -1].float()
    if bias is not None:
        logits = logits + bias
    c = model.config
    logits[:, [c.pad_id, c.bos_id]] = float("-inf")       # never generated: renormalise without them
    return torch.log_softmax(logits, dim=-1)


def _check_src(src: torch.Tensor) -> torch.Tensor:
    if src.dim() == 1:
        src = src[None]
    if src.dim() != 2 or src.size(1) == 0:
        raise ValueError(f"src must be a non-empty (S,) or (B, S) tensor of token ids, got shape {tuple(src.shape)}")
    return src


def _check_bias(bias, rows: int, vocab: int, device) -> torch.Tensor | None:
    if bias is None:
        return None
    bias = torch.as_tensor(bias, dtype=torch.float32, device=device)
    if bias.dim() == 1:
        bias = bias[None]
    if bias.dim() != 2 or bias.size(1) != vocab or bias.size(0) not in (1, rows):
        raise ValueError(f"logit_bias must be (V,) or ({rows}, V) with V = {vocab} target tokens, "
                         f"got shape {tuple(bias.shape)}")
    if not torch.isfinite(bias).all():
        raise ValueError("logit_bias must be finite (to forbid a token, use a large negative number)")
    return bias


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, max_new_tokens: int = 64, use_cache: bool = True,
                  logit_bias=None) -> list[list[int]]:
    """The most likely next token at every step, for each source in the batch src (B, S).
    Returns one id list per source, each ending at (and including) its first EOS if any."""
    src = _check_src(src)
    with eval_mode(model):
        c = model.config
        bias = _check_bias(logit_bias, src.size(0), c.tgt_vocab_size, src.device)
        memory, mask, _ = model.encode(src)
        ys = torch.full((src.size(0), 1), c.bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
        cache = model.new_cache() if use_cache else None
        for _ in range(max_new_tokens):
            nxt = _next_logprobs(model, memory, mask, ys, cache, bias).argmax(-1).masked_fill(done, c.pad_id)
            ys = torch.cat([ys, nxt[:, None]], dim=1)
            done |= nxt == c.eos_id
            if done.all():
                break
    out = []
    for row in ys[:, 1:].tolist():
        row = [t for t in row if t != c.pad_id]
        out.append(row[:row.index(c.eos_id) + 1] if c.eos_id in row else row)
    return out


@torch.no_grad()
def beam_search(model, src: torch.Tensor, beam_size: int = 4, max_new_tokens: int = 64,
                alpha: float = 0.0, n_best: int = 1, use_cache: bool = True,
                logit_bias=None) -> list[Hypothesis]:
    """Beam search for one source sequence src (S,) or (1, S).

    Keeps the ``beam_size`` best unfinished prefixes at each step; finished hypotheses (EOS) are
    set aside. With ``alpha = 0`` it stops as soon as no unfinished prefix can beat the best
    finished one (scores only fall as tokens are added), which makes a wide enough beam exact.
    Returns the ``n_best`` best hypotheses, best first.
    """
    src = _check_src(src)
    if src.size(0) != 1:
        raise ValueError(f"beam_search decodes one source at a time; got a batch of {src.size(0)}")
    if beam_size < 1 or n_best < 1:
        raise ValueError(f"beam_size and n_best must be >= 1, got {beam_size} and {n_best}")
    with eval_mode(model):
        c = model.config
        bias = _check_bias(logit_bias, 1, c.tgt_vocab_size, src.device)
        memory, mask, _ = model.encode(src)
        prefixes = torch.full((1, 1), c.bos_id, dtype=torch.long, device=src.device)   # (N, t)
        scores = torch.zeros(1, device=src.device)                                     # (N,) logprobs
        finished: list[Hypothesis] = []
        cache = model.new_cache() if use_cache else None
        for t in range(1, max_new_tokens + 1):
            logp = _next_logprobs(model, memory, mask, prefixes, cache, bias)              # (N, V)
            cand = (scores[:, None] + logp).view(-1)                                   # (N * V,)
            k = min(2 * beam_size, int(torch.isfinite(cand).sum()))
            top, idx = cand.topk(k)
            V = logp.size(1)
            keep_rows, keep_tok, keep_scores = [], [], []
            for s, i in zip(top.tolist(), idx.tolist()):
                row, tok = divmod(i, V)
                tokens = prefixes[row, 1:].tolist() + [tok]
                if tok == c.eos_id or t == max_new_tokens:
                    finished.append(Hypothesis(tokens, s, s / length_penalty(len(tokens), alpha)))
                elif len(keep_rows) < beam_size:
                    keep_rows.append(row)
                    keep_tok.append(tok)
                    keep_scores.append(s)
            if not keep_rows:
                break
            prefixes = torch.cat([prefixes[keep_rows], torch.tensor(keep_tok, device=src.device)[:, None]], 1)
            if cache is not None:
                cache.select(keep_rows)                      # each kept beam takes its parent's cache
            scores = torch.tensor(keep_scores, device=src.device)
            if alpha == 0 and finished and max(h.score for h in finished) >= scores.max().item():
                break
    return sorted(finished, key=lambda h: -h.score)[:n_best]
