"""Paired comparison: degenerate and clear-cut cases, a hand-computed DM statistic, determinism, null coverage."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

from matchday.evaluation.comparison import diebold_mariano, paired_bootstrap
from matchday.evaluation.metrics import rps

FloatArray = npt.NDArray[np.float64]


def _forecast_scores(n: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """RPS of the true probabilities (a) and of a uniform forecast (b) for results drawn from the truth."""
    rng = np.random.default_rng(seed)
    truth = rng.dirichlet([6.0, 3.0, 4.0], size=n)
    outcomes = np.minimum((rng.random(n)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1), 2).astype(np.int64)
    uniform = np.full((n, 3), 1 / 3)
    return rps(truth, outcomes), rps(uniform, outcomes)


def _hand_dm(d: list[float], h: int) -> float:
    """DM* written out term by term from Diebold & Mariano (1995), Newey-West weights, HLN (1997) factor."""
    n = len(d)
    dbar = sum(d) / n
    gamma = [sum((d[t] - dbar) * (d[t - k] - dbar) for t in range(k, n)) / n for k in range(h)]
    variance = gamma[0] + 2 * sum((1 - k / h) * gamma[k] for k in range(1, h))
    dm = dbar / math.sqrt(variance / n)
    return dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)


def test_identical_forecasters_give_zero_difference() -> None:
    scores = np.random.default_rng(0).random(50)
    interval = paired_bootstrap(scores, scores.copy(), n_resamples=200)
    assert (interval.mean_difference, interval.lower, interval.upper, interval.share_a_lower) == (0.0, 0.0, 0.0, 0.0)
    for horizon in (1, 3):
        dm = diebold_mariano(scores, scores.copy(), horizon=horizon)
        assert (dm.statistic, dm.p_value, dm.mean_difference) == (0.0, 1.0, 0.0)


def test_constant_nonzero_difference_is_infinitely_significant() -> None:
    # Multiples of 1/8 so that a - b is exactly -0.25: the zero-variance branch needs d exactly constant;
    # a difference constant only up to rounding gives a huge finite statistic and p-value 0 instead.
    a = np.arange(20) / 8
    dm = diebold_mariano(a, a + 0.25)
    assert dm.statistic == -math.inf
    assert dm.p_value == 0.0
    assert dm.mean_difference == pytest.approx(-0.25)


def test_clearly_better_forecaster_is_detected() -> None:
    a, b = _forecast_scores(2_000, seed=11)
    interval = paired_bootstrap(a, b, n_resamples=1_000)
    assert interval.lower < interval.mean_difference < interval.upper < 0.0
    assert interval.share_a_lower == 1.0
    dm = diebold_mariano(a, b)
    assert dm.statistic < 0.0
    assert dm.p_value < 0.01
    # Swapping the forecasters mirrors everything.
    swapped = diebold_mariano(b, a)
    assert swapped.statistic == pytest.approx(-dm.statistic)
    assert swapped.p_value == pytest.approx(dm.p_value)


@pytest.mark.parametrize("horizon", [1, 2, 3])
def test_dm_matches_hand_computed_statistic(horizon: int) -> None:
    a = [0.30, 0.12, 0.45, 0.20, 0.33, 0.05, 0.27]
    b = [0.10, 0.20, 0.15, 0.22, 0.08, 0.15, 0.02]
    d = [x - y for x, y in zip(a, b, strict=True)]
    dm = diebold_mariano(a, b, horizon=horizon)
    expected = _hand_dm(d, horizon)
    assert dm.statistic == pytest.approx(expected, rel=1e-12)
    assert dm.p_value == pytest.approx(2 * stats.t.sf(abs(expected), df=len(d) - 1), rel=1e-12)
    assert (dm.horizon, dm.n_matches) == (horizon, 7)


def test_dm_at_horizon_one_is_the_paired_t_test() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.random(40), rng.random(40) + 0.1
    dm = diebold_mariano(a, b)
    t = stats.ttest_rel(a, b)
    assert dm.statistic == pytest.approx(t.statistic, rel=1e-10)
    assert dm.p_value == pytest.approx(t.pvalue, rel=1e-10)


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    a, b = _forecast_scores(300, seed=3)
    for block in (1, 7):
        first = paired_bootstrap(a, b, n_resamples=500, seed=42, block=block)
        assert paired_bootstrap(a, b, n_resamples=500, seed=42, block=block) == first
        assert paired_bootstrap(a, b, n_resamples=500, seed=43, block=block) != first


def test_block_of_whole_series_resamples_the_series_itself() -> None:
    a, b = _forecast_scores(60, seed=4)
    interval = paired_bootstrap(a, b, n_resamples=50, block=60)
    assert interval.lower == pytest.approx(interval.mean_difference)
    assert interval.upper == pytest.approx(interval.mean_difference)


def test_block_bootstrap_widens_interval_under_serial_correlation() -> None:
    rng = np.random.default_rng(8)
    n, phi = 1_000, 0.8
    d = np.empty(n)
    d[0] = rng.normal()
    for t in range(1, n):  # AR(1): the iid bootstrap understates the variance of the mean by about (1+phi)/(1-phi)
        d[t] = phi * d[t - 1] + rng.normal()
    zeros = np.zeros(n)
    iid = paired_bootstrap(d, zeros, n_resamples=1_000)
    blocked = paired_bootstrap(d, zeros, n_resamples=1_000, block=40)
    assert (blocked.upper - blocked.lower) > 2 * (iid.upper - iid.lower)


def test_null_coverage_of_the_95_percent_interval() -> None:
    # Two forecasters with the same expected loss (independent draws of one gamma law, loss-like: positive and
    # skewed), so the per-match differential has mean 0: the 95% interval should exclude 0 in about 5% of
    # datasets. 200 datasets give a binomial standard error of about 1.5 points; [1%, 12%] is roughly +-4.5 SE.
    datasets, n = 200, 80
    excluded = 0
    for seed in range(datasets):
        rng = np.random.default_rng(1_000 + seed)
        a, b = rng.gamma(2.0, 0.1, n), rng.gamma(2.0, 0.1, n)
        interval = paired_bootstrap(a, b, n_resamples=400, seed=seed)
        excluded += not interval.lower <= 0.0 <= interval.upper
    assert 0.01 <= excluded / datasets <= 0.12


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([0.1, 0.2, 0.3], [0.1, 0.2], "same matches, got lengths 3 and 2"),
        ([[0.1, 0.2]], [[0.1, 0.2]], "score_a must be a 1-D array"),
        ([0.1, 0.2], [[0.1, 0.2]], "score_b must be a 1-D array"),
        ([0.1, math.nan], [0.1, 0.2], "score_a row 1 is not finite"),
        ([0.1, 0.2], [math.inf, 0.2], "score_b row 0 is not finite"),
        ([0.1], [0.2], "at least 2 matches"),
    ],
)
def test_bad_scores_are_rejected(a: object, b: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(a, b)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        diebold_mariano(a, b)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_resamples": 0}, "n_resamples must be a positive integer"),
        ({"confidence": 1.0}, "confidence must be strictly between 0 and 1"),
        ({"confidence": 0.0}, "confidence must be strictly between 0 and 1"),
        ({"block": 0}, "block must be an integer from 1"),
        ({"block": 6}, "block must be an integer from 1"),
        ({"block": 2.0}, "block must be an integer from 1"),
    ],
)
def test_bad_bootstrap_arguments_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap([0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.1, 0.3, 0.5, 0.4], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("horizon", [0, 5, 1.5, True])
def test_bad_horizon_is_rejected(horizon: object) -> None:
    with pytest.raises(ValueError, match="horizon must be an integer"):
        diebold_mariano([0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.1, 0.3, 0.5, 0.4], horizon=horizon)  # type: ignore[arg-type]
