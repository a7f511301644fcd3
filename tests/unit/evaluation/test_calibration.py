"""Calibration: a hand-worked ECE, perfectly calibrated and overconfident simulations, binning and errors."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from matchday.evaluation.calibration import expected_calibration_error, reliability_curve
from matchday.evaluation.metrics import AWAY, DRAW, HOME

# Four matches, worked by hand with bins = 2 (bin 0: p < 0.5, bin 1: p >= 0.5).
TINY_PROBS = [(0.8, 0.1, 0.1), (0.6, 0.3, 0.1), (0.2, 0.3, 0.5), (0.1, 0.2, 0.7)]
TINY_OUTCOMES = [HOME, DRAW, AWAY, AWAY]


def _simulate(n: int, seed: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Forecasts from a Dirichlet and results drawn from those very forecasts: calibrated by construction."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([4.0, 2.5, 3.0], size=n)
    u = rng.random(n)[:, None]
    outcomes = (u > np.cumsum(probs, axis=1)).sum(axis=1).astype(np.int64)
    return probs, np.minimum(outcomes, AWAY)


def test_tiny_example_matches_hand_computed_ece() -> None:
    # home: bins {0.2, 0.1} -> |0.15 - 0| and {0.8, 0.6} -> |0.7 - 0.5|: (2 * 0.15 + 2 * 0.2) / 4 = 0.175
    # draw: one bin {0.1, 0.3, 0.3, 0.2} -> |0.225 - 0.25| = 0.025 (bin 1 empty, skipped)
    # away: bins {0.1, 0.1} -> |0.1 - 0| and {0.5, 0.7} -> |0.6 - 1|: (2 * 0.1 + 2 * 0.4) / 4 = 0.25
    expected = (0.175 + 0.025 + 0.25) / 3
    assert expected_calibration_error(TINY_PROBS, TINY_OUTCOMES, bins=2) == pytest.approx(expected, abs=1e-12)


def test_tiny_example_reliability_curves() -> None:
    home = reliability_curve(TINY_PROBS, TINY_OUTCOMES, HOME, bins=2)
    np.testing.assert_allclose(home.mean_predicted, [0.15, 0.7])
    np.testing.assert_allclose(home.observed_frequency, [0.0, 0.5])
    np.testing.assert_array_equal(home.count, [2, 2])
    draw = reliability_curve(TINY_PROBS, TINY_OUTCOMES, DRAW, bins=2)
    np.testing.assert_allclose(draw.mean_predicted, [0.225])
    np.testing.assert_allclose(draw.observed_frequency, [0.25])
    np.testing.assert_array_equal(draw.count, [4])
    assert draw.outcome == DRAW


def test_perfectly_calibrated_forecast_has_ece_near_zero() -> None:
    n, bins = 20_000, 10
    probs, outcomes = _simulate(n, seed=1)
    # Given the forecasts, each bin's observed frequency is unbiased for its mean forecast, with standard error
    # sqrt(p(1-p)/n_b) <= 0.5 / sqrt(n_b); E|gap| <= sqrt(2/pi) times that, and by Cauchy-Schwarz
    # sum_b (n_b / n) / sqrt(n_b) <= sqrt(bins / n). So E[ECE] <= 0.5 * sqrt(2/pi) * sqrt(bins/n) ~ 0.009;
    # twice that leaves room for the noise around the expectation.
    bound = 2 * 0.5 * math.sqrt(2 / math.pi) * math.sqrt(bins / n)
    for strategy in ("uniform", "quantile"):
        assert expected_calibration_error(probs, outcomes, bins=bins, strategy=strategy) < bound


def test_overconfident_forecast_has_larger_ece() -> None:
    probs, outcomes = _simulate(20_000, seed=2)
    sharpened = probs**3 / np.sum(probs**3, axis=1, keepdims=True)
    calibrated = expected_calibration_error(probs, outcomes)
    overconfident = expected_calibration_error(sharpened, outcomes)
    assert overconfident > 0.05
    assert overconfident > 5 * calibrated


def test_empty_bins_are_skipped_not_nan() -> None:
    probs = [(0.55, 0.25, 0.2)] * 3 + [(0.45, 0.3, 0.25)] * 2
    outcomes = [HOME, DRAW, HOME, AWAY, HOME]
    curve = reliability_curve(probs, outcomes, HOME, bins=10)
    np.testing.assert_allclose(curve.mean_predicted, [0.45, 0.55])
    np.testing.assert_allclose(curve.observed_frequency, [0.5, 2 / 3])
    np.testing.assert_array_equal(curve.count, [2, 3])
    ece = expected_calibration_error(probs, outcomes, bins=10)
    assert math.isfinite(ece)


def test_quantile_bins_hold_about_equal_counts_and_all_matches() -> None:
    probs, outcomes = _simulate(1_000, seed=3)
    for outcome in (HOME, DRAW, AWAY):
        curve = reliability_curve(probs, outcomes, outcome, bins=5, strategy="quantile")
        assert curve.count.sum() == 1_000
        np.testing.assert_array_equal(curve.count, [200] * 5)
        assert np.all(np.diff(curve.mean_predicted) > 0)


def test_quantile_bins_with_tied_probabilities_skip_empty_bins() -> None:
    probs = [(0.5, 0.3, 0.2)] * 6 + [(0.7, 0.2, 0.1)] * 2
    outcomes = [HOME] * 4 + [AWAY] * 4
    curve = reliability_curve(probs, outcomes, HOME, bins=4, strategy="quantile")
    assert curve.count.sum() == 8
    assert np.all(curve.count > 0)
    assert not np.isnan(curve.observed_frequency).any()


def test_probability_one_and_zero_land_in_the_end_bins() -> None:
    curve = reliability_curve([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)], [HOME, AWAY], HOME, bins=4)
    np.testing.assert_allclose(curve.mean_predicted, [0.0, 1.0])
    np.testing.assert_allclose(curve.observed_frequency, [0.0, 1.0])
    assert expected_calibration_error([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)], [HOME, AWAY], bins=4) == 0.0


def test_curve_arrays_are_read_only() -> None:
    curve = reliability_curve(TINY_PROBS, TINY_OUTCOMES, HOME, bins=2)
    with pytest.raises(ValueError, match="read-only"):
        curve.count[0] = 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bins": 0}, "bins must be a positive integer"),
        ({"bins": 2.5}, "bins must be a positive integer"),
        ({"strategy": "equal"}, "strategy must be one of"),
    ],
)
def test_bad_binning_is_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(TINY_PROBS, TINY_OUTCOMES, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("outcome", [-1, 3, True])
def test_bad_outcome_for_curve_is_rejected(outcome: int) -> None:
    with pytest.raises(ValueError, match="outcome must be"):
        reliability_curve(TINY_PROBS, TINY_OUTCOMES, outcome)


def test_invalid_forecasts_and_empty_input_are_rejected() -> None:
    with pytest.raises(ValueError, match="sums to"):
        expected_calibration_error([(0.5, 0.5, 0.5)], [HOME])
    with pytest.raises(ValueError, match="outcomes row 0"):
        expected_calibration_error([(0.5, 0.3, 0.2)], [5])
    with pytest.raises(ValueError, match="no forecasts"):
        expected_calibration_error(np.empty((0, 3)), np.empty(0, dtype=np.int64))
