"""Forecast metrics: values worked out by hand, Constantinou & Fenton's (2012) RPS examples, properties, errors."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchday.evaluation.metrics import AWAY, DRAW, HOME, accuracy, brier, log_loss, mean_rps, rps

UNIFORM = [1 / 3, 1 / 3, 1 / 3]


def test_outcome_codes_follow_home_draw_away_order() -> None:
    assert (HOME, DRAW, AWAY) == (0, 1, 2)


@pytest.mark.parametrize(
    ("forecast", "expected"),
    [
        # Observed home win. Cumulative forecast (p_H, p_H + p_D) against (1, 1):
        ((1.0, 0.0, 0.0), 0.0),  # alpha: (0^2 + 0^2) / 2
        ((0.9, 0.1, 0.0), 0.005),  # beta: (0.1^2 + 0^2) / 2
        ((0.8, 0.1, 0.1), 0.025),  # gamma: (0.2^2 + 0.1^2) / 2
        ((0.5, 0.25, 0.25), 0.15625),  # delta: (0.5^2 + 0.25^2) / 2, printed 0.1562 in the paper
    ],
)
def test_rps_matches_constantinou_fenton_examples(forecast: tuple[float, float, float], expected: float) -> None:
    assert rps([forecast], [HOME])[0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (HOME, 5 / 18),  # cumulative (1/3, 2/3) against (1, 1): ((2/3)^2 + (1/3)^2) / 2
        (DRAW, 1 / 9),  # against (0, 1): ((1/3)^2 + (1/3)^2) / 2
        (AWAY, 5 / 18),  # against (0, 0): ((1/3)^2 + (2/3)^2) / 2
    ],
)
def test_rps_of_uniform_forecast(outcome: int, expected: float) -> None:
    assert rps([UNIFORM], [outcome])[0] == pytest.approx(expected, abs=1e-12)


def test_rps_penalises_mass_far_from_the_result_more() -> None:
    # Same probability on the home win that happened; the rest on the draw (near) or the away win (far).
    near, far = rps([[0.5, 0.5, 0.0], [0.5, 0.0, 0.5]], [HOME, HOME])
    assert near == pytest.approx(0.125, abs=1e-12)  # (0.5^2 + 0^2) / 2
    assert far == pytest.approx(0.25, abs=1e-12)  # (0.5^2 + 0.5^2) / 2


def test_rps_worst_forecast_scores_one() -> None:
    assert rps([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [AWAY, HOME]).tolist() == [1.0, 1.0]


def test_mean_rps_is_the_mean_of_the_match_scores() -> None:
    assert mean_rps([[0.9, 0.1, 0.0], [0.8, 0.1, 0.1]], [HOME, HOME]) == pytest.approx(0.015, abs=1e-12)


def test_log_loss_by_hand() -> None:
    probs = [[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]]
    assert log_loss(probs, [DRAW, AWAY]) == pytest.approx((math.log(4) + math.log(2)) / 2, rel=1e-12)


def test_log_loss_is_infinite_when_the_result_was_given_zero() -> None:
    assert log_loss([[1.0, 0.0, 0.0]], [DRAW]) == math.inf


def test_brier_by_hand() -> None:
    # (0.5 - 1)^2 + 0.25^2 + 0.25^2 = 0.375 and 0.2^2 + 0.3^2 + (0.5 - 1)^2 = 0.38
    probs = [[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]]
    assert brier(probs, [HOME, AWAY]) == pytest.approx((0.375 + 0.38) / 2, rel=1e-12)


def test_accuracy_by_hand_with_ties_going_home_first() -> None:
    probs = [[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.4, 0.4, 0.2], [0.4, 0.4, 0.2]]
    # argmax: home, away, home (tie with the draw), home
    assert accuracy(probs, [HOME, DRAW, HOME, DRAW]) == 0.5


forecasts = st.tuples(*[st.floats(0.0, 1.0)] * 3).filter(lambda w: sum(w) > 1e-3).map(lambda w: np.array(w) / sum(w))
outcomes = st.sampled_from([HOME, DRAW, AWAY])


@given(forecasts, outcomes)
def test_rps_lies_in_unit_interval(forecast: np.ndarray, outcome: int) -> None:
    score = rps([forecast], [outcome])[0]
    assert 0.0 <= score <= 1.0 + 1e-12  # rows sum to 1 only to rounding, so a cumulative sum may pass 1 by an ulp


@given(forecasts, outcomes)
def test_rps_equals_the_two_tail_form(forecast: np.ndarray, outcome: int) -> None:
    # For r = 3 the cumulative sums are (p_H, 1 - p_A), so RPS = ((p_H - o_H)^2 + (p_A - o_A)^2) / 2.
    observed = np.eye(3)[outcome]
    expected = ((forecast[0] - observed[0]) ** 2 + (forecast[2] - observed[2]) ** 2) / 2
    assert rps([forecast], [outcome])[0] == pytest.approx(expected, abs=1e-12)


@given(outcomes)
def test_perfect_forecast_scores_zero(outcome: int) -> None:
    perfect = np.eye(3)[[outcome]]
    assert rps(perfect, [outcome])[0] == 0.0
    assert log_loss(perfect, [outcome]) == 0.0
    assert brier(perfect, [outcome]) == 0.0
    assert accuracy(perfect, [outcome]) == 1.0


@given(st.lists(st.tuples(forecasts, outcomes), min_size=1, max_size=20))
def test_brier_and_log_loss_bounds(rows: list[tuple[np.ndarray, int]]) -> None:
    probs, codes = np.array([p for p, _ in rows]), [o for _, o in rows]
    assert 0.0 <= brier(probs, codes) <= 2.0 + 1e-12
    assert log_loss(probs, codes) >= 0.0


Metric = Callable[[npt.ArrayLike, npt.ArrayLike], object]
METRICS: list[Metric] = [rps, mean_rps, log_loss, brier, accuracy]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    ("probs", "codes", "message"),
    [
        ([[0.5, 0.5]], [HOME], r"shape \(n, 3\).*\(1, 2\)"),
        ([0.5, 0.25, 0.25], [HOME], r"shape \(n, 3\).*\(3,\)"),
        ([UNIFORM, [0.5, 0.2, 0.2]], [HOME, HOME], r"row 1 sums to 0\.9"),
        ([UNIFORM, [0.5, 0.5, 1e-5]], [HOME, HOME], r"row 1 sums to 1\.00001"),
        ([UNIFORM, UNIFORM, [1.5, -0.5, 0.0]], [HOME] * 3, r"row 2 has a probability outside \[0, 1\]"),
        ([[math.nan, 0.5, 0.5]], [HOME], r"row 0 is not finite"),
        ([UNIFORM], [HOME, DRAW], r"outcomes must have shape \(1,\)"),
        ([UNIFORM, UNIFORM], [HOME, 3], r"outcomes row 1 is 3"),
        ([UNIFORM], [-1], r"outcomes row 0 is -1"),
        ([UNIFORM], [0.0], r"integer codes.*float64"),
        ([UNIFORM], [True], r"integer codes.*bool"),
    ],
)
def test_bad_input_raises_naming_the_problem(
    metric: Metric, probs: npt.ArrayLike, codes: npt.ArrayLike, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        metric(probs, codes)


def test_row_sum_within_tolerance_is_accepted() -> None:
    assert rps([[0.5, 0.5, 5e-7]], [HOME])[0] == pytest.approx(0.125, abs=1e-6)


@pytest.mark.parametrize("metric", [mean_rps, log_loss, brier, accuracy])
def test_mean_of_no_forecasts_raises(metric: Metric) -> None:
    with pytest.raises(ValueError, match="no forecasts"):
        metric(np.empty((0, 3)), np.empty(0, dtype=np.int64))


def test_rps_of_no_forecasts_is_empty() -> None:
    assert rps(np.empty((0, 3)), np.empty(0, dtype=np.int64)).shape == (0,)
