"""Is a classifier's probability worth its number? Calibration: reliability bins, ECE, temperature.

A classifier is calibrated when, among the inputs it answers with confidence 0.8, 80% are
right. ``reliability_bins`` groups predictions by confidence (the largest probability of a row)
into ``n_bins`` equal-width bins of [0, 1] and gives each bin's mean confidence, accuracy and
count: the data of a reliability diagram. The expected calibration error (ECE) is the
count-weighted mean gap between the two (Guo et al., 2017, eq. 3):

    ECE = sum_b (n_b / n) * |acc(b) - conf(b)|

Temperature scaling (same paper) divides the logits by one number T > 0 before the softmax:
T > 1 flattens overconfident probabilities, T < 1 sharpens them, and the argmax, hence the
accuracy, never moves. T is fitted on held-out data by minimising the negative log-likelihood;
the NLL is convex in 1/T, so a golden-section search over log T finds the one minimum.

Bins are right-closed, (lo, hi], the first one [0, hi], as in
``sklearn.calibration.calibration_curve(strategy="uniform")`` (tests check the two agree). An
empty bin has no accuracy: its entries are NaN and it adds nothing to the ECE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def _check(scores: torch.Tensor, labels, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.as_tensor(scores).detach().to("cpu", torch.float64)
    labels = torch.as_tensor(labels).detach().to("cpu")
    if scores.dim() != 2 or scores.size(1) < 2:
        raise ValueError(f"{what} must be (n, n_classes) with at least 2 classes, "
                         f"got shape {tuple(scores.shape)}")
    if not len(scores):
        raise ValueError(f"no {what}: need at least one example")
    if labels.shape != (len(scores),):
        raise ValueError(f"{len(scores)} rows of {what} but labels of shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex():
        raise ValueError("labels must be integer class indices")
    if ((labels < 0) | (labels >= scores.size(1))).any():
        raise ValueError(f"labels must lie in 0..{scores.size(1) - 1}")
    if not torch.isfinite(scores).all():
        raise ValueError(f"{what} contain NaN or inf")
    return scores, labels.long()


def _check_probs(probs, labels) -> tuple[torch.Tensor, torch.Tensor]:
    probs, labels = _check(probs, labels, "probabilities")
    if (probs < 0).any() or (probs > 1).any() or not torch.allclose(probs.sum(1), torch.ones(len(probs),
                                                                       dtype=probs.dtype), atol=1e-4):
        raise ValueError("probabilities must lie in [0, 1] and each row sum to 1; "
                         "pass logits.softmax(-1), not logits")
    return probs, labels


@dataclass
class ReliabilityBins:
    """One entry per bin: edges (n_bins + 1,), and confidence, accuracy, count (n_bins,)."""

    edges: torch.Tensor
    confidence: torch.Tensor       # mean confidence of the bin's predictions (NaN when empty)
    accuracy: torch.Tensor         # share of them that are right (NaN when empty)
    count: torch.Tensor            # how many predictions fall in the bin

    @property
    def ece(self) -> float:
        used = self.count > 0
        weights = self.count[used] / self.count.sum()
        return float((weights * (self.accuracy[used] - self.confidence[used]).abs()).sum())


def reliability_bins(probs, labels, n_bins: int = 15) -> ReliabilityBins:
    """Predictions (probs (n, K), labels (n,)) grouped by confidence into equal-width bins."""
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    probs, labels = _check_probs(probs, labels)
    confidence, predicted = probs.max(1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    which = torch.bucketize(confidence, edges[1:-1], right=False)      # (lo, hi] -> bin index
    count = torch.bincount(which, minlength=n_bins).double()
    conf_sum = torch.bincount(which, weights=confidence, minlength=n_bins)
    right_sum = torch.bincount(which, weights=correct, minlength=n_bins)
    nan = torch.full_like(count, math.nan)
    used = count > 0
    return ReliabilityBins(edges, torch.where(used, conf_sum / count.clamp(min=1), nan),
                           torch.where(used, right_sum / count.clamp(min=1), nan), count)


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` equal-width confidence bins (module docstring); 0 is perfect."""
    return reliability_bins(probs, labels, n_bins).ece


def temperature_nll(logits, labels, temperature: float) -> float:
    """Mean negative log-likelihood (nats) of softmax(logits / temperature)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits, labels = _check(logits, labels, "logits")
    return float(F.cross_entropy(logits / temperature, labels))


def fit_temperature(logits, labels, t_min: float = 0.05, t_max: float = 20.0, iters: int = 80) -> float:
    """The T in [t_min, t_max] that minimises the NLL of softmax(logits / T) on (logits, labels):
    golden-section search over log T (the NLL is convex in 1/T, so it has one minimum). Fit it on
    held-out data, never on the test set. A result at a bound means the data pushed past it
    (e.g. every example right: the NLL keeps falling as T -> 0)."""
    if not 0 < t_min < t_max:
        raise ValueError(f"need 0 < t_min < t_max, got t_min={t_min}, t_max={t_max}")
    logits, labels = _check(logits, labels, "logits")

    def nll(u: float) -> float:
        return float(F.cross_entropy(logits / math.exp(u), labels))

    lo, hi = math.log(t_min), math.log(t_max)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(iters):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    best = min((nll(math.log(t_min)), t_min), (nll((lo + hi) / 2), math.exp((lo + hi) / 2)),
               (nll(math.log(t_max)), t_max))
    return best[1]


__all__ = ["ReliabilityBins", "expected_calibration_error", "fit_temperature", "reliability_bins",
           "temperature_nll"]
