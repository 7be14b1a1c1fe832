"""Scaling laws: fit the power laws that relate a language model's loss to its size and compute.

Kaplan et al. (2020) found the test loss of a Transformer LM to follow power laws in the
number of non-embedding parameters N, the training tokens D and the compute C ≈ 6 N D;
Hoffmann et al. (2022) added an irreducible term E that no model can beat:

    L(N) = E + A · N^(-alpha)            (``fit_power_law``; E = 0: a straight line in log-log)

``fit_power_law`` fits it by least squares on the loss itself: for a trial E the best A and
alpha come from a straight-line fit of log(L - E) against log N, and E is found by a search
over [0, min L) (variable projection: one free variable left, no starting guess to choose, the
same answer on every machine). ``training_flops`` (from ``models.compute``) is the 6 N D count,
``frontier`` the compute-efficient envelope of many runs' (compute, loss) points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..models.compute import training_flops  # C ≈ 6 N D (re-exported: one definition)


@dataclass(frozen=True)
class PowerLaw:
    """L(x) = E + A · x^(-alpha)."""

    E: float
    A: float
    alpha: float

    def __call__(self, x):
        return self.E + self.A * np.asarray(x, dtype=float) ** (-self.alpha)


def _check(x: Sequence[float], loss: Sequence[float], need: int) -> tuple[np.ndarray, np.ndarray]:
    """x and loss as float arrays, or a ValueError that says what is wrong with them."""
    x, loss = np.asarray(x, dtype=float), np.asarray(loss, dtype=float)
    if x.ndim != 1 or x.shape != loss.shape:
        raise ValueError(f"x and loss must be 1-D and of equal length, got shapes {x.shape} and {loss.shape}")
    if len(x) < need:
        raise ValueError(f"{len(x)} points cannot determine {need} parameters; "
                         f"fit at least {need} (sizes, losses), or fix E (irreducible=False)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(loss))):
        raise ValueError("x and loss must be finite numbers")
    if np.any(x <= 0):
        raise ValueError(f"sizes / compute must be positive for a power law, got min {x.min()}")
    if np.any(loss <= 0):
        raise ValueError(f"losses must be positive (nats or bits), got min {loss.min()}")
    if need >= 2 and len(np.unique(x)) < 2:
        raise ValueError("all x are equal: a power law needs at least two different sizes")
    return x, loss


def _line(logx: np.ndarray, logy: np.ndarray) -> tuple[float, float]:
    """Least-squares log y = a - alpha · log x: returns (A = e^a, alpha)."""
    slope, intercept = np.polyfit(logx, logy, 1)
    return math.exp(intercept), -slope


def fit_power_law(x: Sequence[float], loss: Sequence[float], irreducible: bool = True,
                  grid: int = 2000) -> PowerLaw:
    """Fit L(x) = E + A · x^(-alpha) to (x, loss) points by least squares on L.

    ``irreducible=False`` fixes E = 0 (a pure power law, the straight line of a log-log plot;
    two points suffice); otherwise E is searched on ``grid`` values in [0, min L), then refined
    by golden-section search around the best one (three points at least).
    """
    x, loss = _check(x, loss, 3 if irreducible else 2)
    logx = np.log(x)

    def fit_at(E: float) -> tuple[float, PowerLaw]:
        A, alpha = _line(logx, np.log(loss - E))
        law = PowerLaw(E, A, alpha)
        return float(np.sum((law(x) - loss) ** 2)), law

    if not irreducible:
        return fit_at(0.0)[1]
    top = float(loss.min())
    Es = top * np.arange(grid) / grid                      # 0 .. just below min L
    sse = [fit_at(E)[0] for E in Es]
    i = int(np.argmin(sse))
    lo, hi = Es[max(i - 1, 0)], (Es[i + 1] if i + 1 < grid else top * (1 - 1e-9))
    g = (math.sqrt(5) - 1) / 2
    for _ in range(60):                                    # golden section on [lo, hi]
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if fit_at(a)[0] <= fit_at(b)[0]:
            hi = b
        else:
            lo = a
    best = min((fit_at(E) for E in (lo, hi, Es[i])), key=lambda t: t[0])
    return best[1]


def frontier(compute: Sequence[float], loss: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The compute-efficient envelope: the points, in increasing compute, whose loss is lower
    than that of every point with less compute (Kaplan et al.'s L(C) is fitted on it)."""
    c, l = _check(compute, loss, 1)
    order = np.argsort(c, kind="stable")
    keep, best = [], math.inf
    for j in order:
        if l[j] < best:
            keep.append(j)
            best = l[j]
    return c[keep], l[keep]
