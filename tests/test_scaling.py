"""training.scaling: power-law fits recover known exponents, and bad input is refused clearly."""
import numpy as np
import pytest

from llmbook_lib.training.scaling import PowerLaw, fit_power_law, frontier, training_flops


def test_recovers_a_law_with_an_irreducible_term():
    n = np.logspace(3, 7, 8)
    true = PowerLaw(E=1.5, A=20.0, alpha=0.3)
    law = fit_power_law(n, true(n))
    assert law.E == pytest.approx(1.5, abs=1e-4)
    assert law.alpha == pytest.approx(0.3, abs=1e-4)
    assert law.A == pytest.approx(20.0, rel=1e-3)


def test_noisy_points_and_extrapolation():
    rng = np.random.default_rng(0)
    n = np.logspace(3.5, 6, 6)
    true = PowerLaw(E=2.0, A=8.0, alpha=0.25)
    loss = true(n) * (1 + 0.002 * rng.standard_normal(len(n)))
    law = fit_power_law(n[:-1], loss[:-1])                 # fit the small ones, predict the largest
    assert abs(law.alpha - 0.25) < 0.1
    assert abs(float(law(n[-1])) - true(n[-1])) < abs(loss[-2] - true(n[-1]))


def test_pure_power_law_is_a_line_in_log_log():
    c = np.logspace(10, 16, 5)
    law = fit_power_law(c, 5.0 * c ** -0.05, irreducible=False)
    assert law.E == 0.0
    assert (law.alpha, law.A) == (pytest.approx(0.05, abs=1e-9), pytest.approx(5.0, rel=1e-9))
    law2 = fit_power_law([1e3, 1e4], [2.0, 1.0], irreducible=False)   # two points: exact line
    assert law2.alpha == pytest.approx(np.log10(2.0))


def test_flops_and_frontier():
    assert training_flops(1e6, 2e7) == 1.2e14
    c, l = frontier([4, 1, 2, 3, 5], [2.5, 4.0, 3.0, 3.5, 2.6])
    assert c.tolist() == [1, 2, 4] and l.tolist() == [4.0, 3.0, 2.5]


@pytest.mark.parametrize("x, loss, kw, msg", [
    ([1e3, 1e4], [3.0, 2.0], {}, "2 points cannot determine 3 parameters"),
    ([1e3], [3.0], {"irreducible": False}, "1 points cannot determine 2"),
    ([0, 1e3, 1e4], [4.0, 3.0, 2.0], {}, "must be positive"),
    ([-5, 1e3, 1e4], [4.0, 3.0, 2.0], {}, "must be positive"),
    ([1e2, 1e3, 1e4], [4.0, 0.0, 2.0], {}, "losses must be positive"),
    ([1e2, 1e3, 1e4], [4.0, 3.0], {}, "equal length"),
    ([1e3, 1e3, 1e3], [4.0, 3.0, 2.0], {}, "at least two different"),
    ([1e2, float("nan"), 1e4], [4.0, 3.0, 2.0], {}, "finite"),
])
def test_bad_input_is_a_clear_error(x, loss, kw, msg):
    with pytest.raises(ValueError, match=msg):
        fit_power_law(x, loss, **kw)
    with pytest.raises(ValueError, match="must be positive"):
        training_flops(0, 10)
