"""A linear-chain conditional random field (Lafferty, McCallum and Pereira, 2001), from scratch.

A tagger that picks each tag on its own can write ``O I-PER``: an entity with no beginning. A
CRF scores the whole tag sequence y for an input x,

    s(x, y) = start[y_1] + sum_t E[t, y_t] + sum_t A[y_{t-1}, y_t] + end[y_T],

with emissions E (B, T, K) from the encoder and learned transitions A (K, K), and defines
p(y | x) = exp s(x, y) / Z(x). Z sums over all K^T sequences; the forward algorithm computes
log Z in O(T K^2) with the recursion alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + A[i, j]) + E[t, j].
Training minimises -log p(y | x) = log Z - s(x, y); decoding (Viterbi) is the same recursion with
max in place of logsumexp, plus back-pointers.

Batches are padded: ``mask`` (B, T) is True on real positions, which must come first in each row
(every row at least one). ``allowed`` (K, K) optionally forbids transitions (BIO: no ``I-X``
after ``O`` or after another type; ``bio_constraints``): a forbidden transition scores
``IMPOSSIBLE``, so Viterbi never takes it and it carries no probability worth counting, while
log Z stays finite (a true -inf would turn a gradient into NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

IMPOSSIBLE = -10_000.0          # score of a forbidden transition: exp(-10^4) is 0 in float32


def bio_constraints(tags: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(allowed (K, K) [from, to], allowed_start (K,), allowed_end (K,)) for BIO (IOB2) tags:
    ``I-X`` may only follow ``B-X`` or ``I-X``, and no sequence starts with ``I-X``."""
    k = len(tags)
    allowed = torch.ones(k, k, dtype=torch.bool)
    start = torch.ones(k, dtype=torch.bool)
    for j, to in enumerate(tags):
        if to.startswith("I-"):
            start[j] = False
            for i, frm in enumerate(tags):
                allowed[i, j] = frm in (f"B-{to[2:]}", to)
    return allowed, start, torch.ones(k, dtype=torch.bool)


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags: ``nll`` to train, ``decode`` (Viterbi) to tag."""

    def __init__(self, num_tags: int, allowed: torch.Tensor | None = None,
                 allowed_start: torch.Tensor | None = None, allowed_end: torch.Tensor | None = None):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be at least 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # [from, to]
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        for name, m, shape in (("trans_penalty", allowed, (num_tags, num_tags)),
                               ("start_penalty", allowed_start, (num_tags,)),
                               ("end_penalty", allowed_end, (num_tags,))):
            m = torch.ones(shape, dtype=torch.bool) if m is None else torch.as_tensor(m, dtype=torch.bool)
            if m.shape != shape:
                raise ValueError(f"{name.replace('penalty', 'allowed')} must have shape {shape}, got {tuple(m.shape)}")
            self.register_buffer(name, torch.where(m, 0.0, IMPOSSIBLE))

    @classmethod
    def for_bio(cls, tags: Sequence[str]) -> "CRF":
        """A CRF over ``tags`` that only ever decodes valid BIO sequences."""
        return cls(len(tags), *bio_constraints(tags))

    # -- scores --------------------------------------------------------------------------------
    def _params(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Transitions, start and end scores with the forbidden ones set to IMPOSSIBLE."""
        return (self.transitions + self.trans_penalty, self.start + self.start_penalty,
                self.end + self.end_penalty)

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if emissions.dim() != 3 or emissions.size(-1) != self.num_tags:
            raise ValueError(f"emissions must be (B, T, {self.num_tags}), got {tuple(emissions.shape)}")
        B, T, _ = emissions.shape
        if T == 0:
            raise ValueError("emissions have no positions (T = 0); every sequence needs at least one")
        if mask is None:
            mask = torch.ones(B, T, dtype=torch.bool, device=emissions.device)
        mask = mask.to(torch.bool)
        if mask.shape != (B, T):
            raise ValueError(f"mask must be (B, T) = {(B, T)}, got {tuple(mask.shape)}")
        if not bool(mask[:, 0].all()):
            raise ValueError("every sequence needs at least one position, and mask[:, 0] must be True")
        if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
            raise ValueError("mask must be True on a prefix of each row (padding only at the end)")
        return emissions.float(), mask

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """s(x, y) of the tag sequences ``tags`` (B, T): (B,). Tags under the mask's padding are ignored."""
        emissions, mask = self._check(emissions, mask)
        trans, start, end = self._params()
        tags = tags.masked_fill(~mask, 0)
        emit = emissions.gather(-1, tags[..., None])[..., 0]                # (B, T)
        steps = trans[tags[:, :-1], tags[:, 1:]] + emit[:, 1:]              # (B, T - 1)
        last = tags.gather(1, (mask.sum(1, keepdim=True) - 1))[:, 0]       # (B,) last real tag
        return start[tags[:, 0]] + emit[:, 0] + (steps * mask[:, 1:]).sum(1) + end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log Z(x) by the forward algorithm: (B,)."""
        emissions, mask = self._check(emissions, mask)
        trans, start, end = self._params()
        alpha = start + emissions[:, 0]                                     # (B, K)
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha[:, :, None] + trans, dim=1) + emissions[:, t]   # (B, K)
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None,
            reduction: str = "mean") -> torch.Tensor:
        """-log p(tags | x) = log Z - s(x, tags); reduction "mean" (per sequence), "sum",
        "token_mean" (per real position) or "none" (B,)."""
        per_seq = self.log_partition(emissions, mask) - self.score(emissions, tags, mask)
        if reduction == "none":
            return per_seq
        if reduction == "sum":
            return per_seq.sum()
        if reduction == "mean":
            return per_seq.mean()
        if reduction == "token_mean":
            n = emissions.size(0) * emissions.size(1) if mask is None else mask.sum()
            return per_seq.sum() / n
        raise ValueError(f"reduction must be 'mean', 'sum', 'token_mean' or 'none', got {reduction!r}")

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """Viterbi: the highest-scoring tag sequence of each row, as many tags as the row's mask."""
        emissions, mask = self._check(emissions, mask)
        trans, start, end = self._params()
        score = start + emissions[:, 0]                                     # (B, K)
        back = []
        for t in range(1, emissions.size(1)):
            best, idx = (score[:, :, None] + trans).max(dim=1)              # (B, K): best previous tag
            score = torch.where(mask[:, t, None], best + emissions[:, t], score)
            back.append(idx)
        lengths = mask.sum(1).tolist()
        last = (score + end).argmax(dim=1).tolist()
        paths = []
        for b, (n, tag) in enumerate(zip(lengths, last)):
            path = [tag]
            for t in range(n - 1, 0, -1):                                   # back[t - 1]: step t's pointers
                tag = int(back[t - 1][b, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths


__all__ = ["CRF", "IMPOSSIBLE", "bio_constraints"]
