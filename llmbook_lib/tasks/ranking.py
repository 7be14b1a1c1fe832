"""Ranking metrics, written once: the rank of the right answer, MRR and Hits@k.

Link prediction (6.2.3), entity linking (6.2.1) and retrieval all score every candidate and ask
where the right one lands. ``rank_of`` returns that 1-based rank for each row of a score
matrix (higher score = better). Two details decide whether numbers compare across papers:

- **Filtering.** In a knowledge graph, (h, r, ?) often has several true tails. Ranking the test
  tail behind another *true* tail is not an error, so the filtered setting (Bordes et al., 2013)
  removes every other known true answer before ranking: pass them as ``exclude``, a boolean
  mask. The target itself is never excluded, whatever the mask says.
- **Ties.** A model that gives every candidate the same score must not look perfect. A tie
  counts half (the "realistic" rank, the mean of the optimistic and the pessimistic one):

      rank = 1 + #(scores > target score) + 0.5 * #(other scores == target score)

  so a constant scorer over N candidates gets rank (N + 1) / 2, what a random order gets on
  average.

``mrr`` is the mean of 1 / rank, ``hits_at(ranks, k)`` the share of ranks ≤ k; ``report`` gives
the usual table row. Tests check ``rank_of`` against a pure-Python count, ties and filtering
included.
"""

from __future__ import annotations

import torch


def rank_of(scores, target, exclude=None) -> torch.Tensor:
    """1-based rank of ``scores[i, target[i]]`` within row i, ties counted half.

    scores: (B, N) real scores, higher is better. target: (B,) indices in 0..N-1.
    exclude: optional bool (B, N); True marks candidates left out of row i's ranking (the other
    known answers, in the filtered setting). Returns a float64 tensor (B,) of ranks in [1, N].
    """
    scores = torch.as_tensor(scores).detach()
    target = torch.as_tensor(target).detach().to(scores.device)
    if scores.dim() != 2 or scores.size(1) < 1:
        raise ValueError(f"scores must be (batch, candidates), got shape {tuple(scores.shape)}")
    if scores.is_complex():
        raise ValueError("scores must be real numbers, not complex; rank by their real part")
    if not scores.is_floating_point():
        scores = scores.double()
    if target.shape != (scores.size(0),):
        raise ValueError(f"{scores.size(0)} rows of scores but target of shape "
                         f"{tuple(target.shape)}; pass one target index per row")
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError("target must hold integer candidate indices")
    target = target.long()
    if len(target) and ((target < 0) | (target >= scores.size(1))).any():
        raise ValueError(f"target indices must lie in 0..{scores.size(1) - 1}")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN: a NaN has no rank; check the model's output")
    rows = torch.arange(scores.size(0), device=scores.device)
    mine = scores[rows, target].unsqueeze(1)
    counted = torch.ones_like(scores, dtype=torch.bool)
    if exclude is not None:
        exclude = torch.as_tensor(exclude, device=scores.device)
        if exclude.dtype != torch.bool or exclude.shape != scores.shape:
            raise ValueError(f"exclude must be a bool mask of shape {tuple(scores.shape)}, got "
                             f"{exclude.dtype} {tuple(exclude.shape)}")
        counted = ~exclude
    counted = counted.clone()
    counted[rows, target] = False              # the target is compared with the others only
    greater = ((scores > mine) & counted).sum(1)
    equal = ((scores == mine) & counted).sum(1)
    return 1.0 + greater.double() + 0.5 * equal.double()


def _check_ranks(ranks) -> torch.Tensor:
    ranks = torch.as_tensor(ranks, dtype=torch.float64).flatten()
    if not len(ranks):
        raise ValueError("no ranks: evaluate at least one query")
    if torch.isnan(ranks).any() or (ranks < 1).any():
        raise ValueError("ranks are 1-based: every rank must be a number ≥ 1")
    return ranks


def mrr(ranks) -> float:
    """Mean reciprocal rank."""
    return float((1.0 / _check_ranks(ranks)).mean())


def hits_at(ranks, k: int) -> float:
    """Share of queries whose right answer ranks within the top k."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return float((_check_ranks(ranks) <= k).double().mean())


def report(ranks, ks=(1, 3, 10)) -> dict[str, float]:
    """{"MRR": ..., "Hits@1": ..., ...}: one row of a link-prediction table."""
    out = {"MRR": mrr(ranks)}
    for k in ks:
        out[f"Hits@{k}"] = hits_at(ranks, k)
    return out
