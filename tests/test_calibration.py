"""Calibration: ECE and reliability bins against known answers and sklearn; temperature recovery."""
import math

import numpy as np
import pytest
import torch
from sklearn.calibration import calibration_curve

from llmbook_lib.tasks.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    temperature_nll,
)


def binary(confidence: torch.Tensor, correct: torch.Tensor):
    """Two-class probs whose predicted class is 1 with the given confidence; label 1 if correct."""
    probs = torch.stack([1 - confidence, confidence], 1)
    return probs, correct.long()


def test_perfectly_calibrated_probabilities_have_ece_near_zero():
    g = torch.Generator().manual_seed(0)
    conf = 0.5 + 0.5 * torch.rand(50_000, generator=g, dtype=torch.float64)
    correct = torch.rand(50_000, generator=g, dtype=torch.float64) < conf     # right with prob conf
    assert expected_calibration_error(*binary(conf, correct)) < 0.01


def test_overconfidence_shows_as_the_gap():
    g = torch.Generator().manual_seed(1)
    conf = torch.full((40_000,), 0.9, dtype=torch.float64)
    correct = torch.rand(40_000, generator=g, dtype=torch.float64) < 0.7      # says 0.9, right 70%
    bins = reliability_bins(*binary(conf, correct), n_bins=10)
    assert int((bins.count > 0).sum()) == 1 and bins.count.sum() == 40_000
    assert abs(bins.ece - 0.2) < 0.01
    assert torch.isnan(bins.accuracy[bins.count == 0]).all()


def test_exact_ece_by_hand():
    # bin (0.5, 0.6]: conf 0.55, 0.6 right, wrong -> |0.5 - 0.575|; bin (0.9, 1]: 1.0 right -> 0
    probs, labels = binary(torch.tensor([0.55, 0.6, 1.0], dtype=torch.float64),
                           torch.tensor([True, False, True]))
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(2 / 3 * 0.075)


def test_bins_match_sklearn_calibration_curve():
    g = torch.Generator().manual_seed(2)
    conf = 0.5 + 0.5 * torch.rand(3000, generator=g, dtype=torch.float64) ** 0.3
    correct = torch.rand(3000, generator=g, dtype=torch.float64) < conf - 0.1
    bins = reliability_bins(*binary(conf, correct), n_bins=12)
    prob_true, prob_pred = calibration_curve(correct.numpy(), conf.numpy(), n_bins=12,
                                             strategy="uniform")
    used = (bins.count > 0).numpy()
    np.testing.assert_allclose(bins.accuracy.numpy()[used], prob_true)
    np.testing.assert_allclose(bins.confidence.numpy()[used], prob_pred)


def test_temperature_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(3)
    logits = 4 * torch.randn(30_000, 3, generator=g)
    true_t = 2.5                                       # labels drawn from softmax(logits / 2.5)
    labels = torch.multinomial((logits / true_t).softmax(-1), 1, generator=g)[:, 0]
    t = fit_temperature(logits, labels)
    assert abs(t - true_t) < 0.1
    # it is the minimum: the NLL is higher on either side
    assert temperature_nll(logits, labels, t) < temperature_nll(logits, labels, 0.9 * t)
    assert temperature_nll(logits, labels, t) < temperature_nll(logits, labels, 1.1 * t)
    # and scaling by T moves no prediction, so accuracy is unchanged
    assert torch.equal((logits / t).argmax(-1), logits.argmax(-1))


def test_temperature_scaling_lowers_ece_of_overconfident_logits():
    g = torch.Generator().manual_seed(4)
    logits = 3 * torch.randn(20_000, 2, generator=g)
    labels = torch.multinomial((logits / 3).softmax(-1), 1, generator=g)[:, 0]   # model too sharp
    before = expected_calibration_error(logits.softmax(-1), labels)
    after = expected_calibration_error((logits / fit_temperature(logits, labels)).softmax(-1), labels)
    assert after < before / 4


def test_separable_data_runs_to_the_lower_bound():
    logits = torch.tensor([[3.0, -3.0], [-2.0, 2.0]])
    assert fit_temperature(logits, torch.tensor([0, 1]), t_min=0.1) == pytest.approx(0.1)


@pytest.mark.parametrize("probs, labels, match", [
    (torch.tensor([[2.0, -1.0]]), torch.tensor([0]), "sum to 1"),
    (torch.tensor([0.3, 0.7]), torch.tensor([1]), r"\(n, n_classes\)"),
    (torch.empty(0, 2), torch.empty(0, dtype=torch.long), "at least one"),
    (torch.tensor([[0.3, 0.7]]), torch.tensor([2]), "0..1"),
    (torch.tensor([[0.3, 0.7]]), torch.tensor([1, 0]), "labels of shape"),
    (torch.tensor([[0.3, 0.7]]), torch.tensor([1.0]), "integer"),
    (torch.tensor([[math.nan, 0.7]]), torch.tensor([1]), "NaN"),
])
def test_bad_input_is_a_clear_error(probs, labels, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(probs, labels)


def test_bad_settings_are_clear_errors():
    probs, labels = torch.tensor([[0.3, 0.7]]), torch.tensor([1])
    with pytest.raises(ValueError, match="n_bins"):
        reliability_bins(probs, labels, n_bins=0)
    with pytest.raises(ValueError, match="t_min"):
        fit_temperature(probs, labels, t_min=2.0, t_max=1.0)
    with pytest.raises(ValueError, match="temperature"):
        temperature_nll(probs, labels, 0.0)
