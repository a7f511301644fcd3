"""ScoreGrid: every market from one joint score distribution, checked against hand and scipy computations."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import poisson

from matchday.domain import ScoreGrid

EXACT = 1e-12

# rows: home goals 0..2, columns: away goals 0..2
HAND = [
    [0.10, 0.08, 0.02],
    [0.15, 0.12, 0.05],
    [0.20, 0.18, 0.10],
]
# by hand: totals 0..4 = .10 .23 .34 .23 .10; home - away -2..2 = .02 .13 .32 .33 .20


def approx(values: tuple[float, ...]) -> object:
    return pytest.approx(values, abs=EXACT)


@pytest.fixture
def hand() -> ScoreGrid:
    return ScoreGrid(np.array(HAND))


def test_hand_outcomes_and_goals(hand: ScoreGrid) -> None:
    assert hand.max_goals == 2
    assert hand.outcome_probabilities() == approx((0.53, 0.32, 0.15))
    assert hand.expected_goals() == approx((1.28, 0.72))
    assert hand.both_teams_to_score() == approx((0.45, 0.55))
    assert hand.correct_score(2, 1) == 0.18
    assert hand.correct_score(0, 2) == 0.02
    assert hand.correct_score(3, 0) == 0.0  # beyond the truncated grid


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (0.5, (0.90, 0.10, 0.0)),
        (1.5, (0.67, 0.33, 0.0)),
        (1.75, (0.50, 0.33, 0.17)),  # half on 1.5 (.67, .33, 0), half on 2 (.33, .33, .34)
        (2.0, (0.33, 0.33, 0.34)),
        (2.25, (0.33, 0.50, 0.17)),  # half on 2 (.33, .33, .34), half on 2.5 (.33, .67, 0)
        (2.5, (0.33, 0.67, 0.0)),
        (4.0, (0.0, 0.90, 0.10)),
        (4.5, (0.0, 1.0, 0.0)),
    ],
)
def test_hand_over_under(hand: ScoreGrid, line: float, expected: tuple[float, float, float]) -> None:
    assert hand.over_under(line) == approx(expected)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (-1.5, (0.20, 0.80, 0.0)),
        (-1.0, (0.20, 0.47, 0.33)),
        (-0.75, (0.365, 0.47, 0.165)),  # half on -0.5 (.53, .47, 0), half on -1 (.20, .47, .33)
        (-0.5, (0.53, 0.47, 0.0)),
        (-0.25, (0.53, 0.31, 0.16)),  # half on 0 (.53, .15, .32), half on -0.5 (.53, .47, 0)
        (0.0, (0.53, 0.15, 0.32)),
        (0.5, (0.85, 0.15, 0.0)),
        (1.0, (0.85, 0.02, 0.13)),
        (1.5, (0.98, 0.02, 0.0)),
    ],
)
def test_hand_asian_handicap(hand: ScoreGrid, line: float, expected: tuple[float, float, float]) -> None:
    assert hand.asian_handicap(line) == approx(expected)


def test_hand_most_likely_scores(hand: ScoreGrid) -> None:
    assert hand.most_likely_scores(3) == [(2, 0, 0.20), (2, 1, 0.18), (1, 0, 0.15)]
    # 0-0 and 2-2 tie at 0.10: the lower score comes first
    assert hand.most_likely_scores(6)[3:] == [(1, 1, 0.12), (0, 0, 0.10), (2, 2, 0.10)]
    assert len(hand.most_likely_scores(100)) == 9


def _poisson_outcomes(home_rate: float, away_rate: float, goals: int) -> tuple[float, float, float]:
    pmf = np.arange(goals + 1)
    joint = np.outer(poisson.pmf(pmf, home_rate), poisson.pmf(pmf, away_rate))
    joint /= joint.sum()
    home = sum(joint[i, j] for i in range(goals + 1) for j in range(goals + 1) if i > j)
    away = sum(joint[i, j] for i in range(goals + 1) for j in range(goals + 1) if i < j)
    return float(home), float(np.trace(joint)), float(away)


@pytest.mark.parametrize(("home_rate", "away_rate"), [(1.6, 1.1), (0.4, 2.7), (3.5, 3.5)])
def test_poisson_matches_scipy(home_rate: float, away_rate: float) -> None:
    # a wide grid against scipy's untruncated mass over a much larger range
    grid = ScoreGrid.from_poisson(home_rate, away_rate, max_goals=40)
    assert grid.outcome_probabilities() == pytest.approx(_poisson_outcomes(home_rate, away_rate, 120), abs=1e-9)
    assert grid.expected_goals() == pytest.approx((home_rate, away_rate), abs=1e-9)
    # the default truncation renormalises exactly like conditioning on both teams scoring at most 10
    small = ScoreGrid.from_poisson(home_rate, away_rate)
    assert small.max_goals == 10
    assert small.outcome_probabilities() == pytest.approx(_poisson_outcomes(home_rate, away_rate, 10), abs=1e-12)


def test_poisson_edge_rates() -> None:
    assert ScoreGrid.from_poisson(0.0, 0.0, max_goals=3).correct_score(0, 0) == 1.0
    big = ScoreGrid.from_poisson(800.0, 1.0, max_goals=5)  # exp(-800) underflows: log space keeps it finite
    assert np.isfinite(big.probabilities).all()
    home = big.probabilities.sum(axis=1)
    assert home[4] / home[5] == pytest.approx(5 / 800, rel=1e-12)  # pmf ratio k / rate, though both underflow


def _totals(grid: ScoreGrid) -> npt.NDArray[np.float64]:
    p = grid.probabilities
    n = p.shape[0]
    return np.array([sum(p[i, t - i] for i in range(n) if 0 <= t - i < n) for t in range(2 * n - 1)])


@pytest.fixture
def poisson_grid() -> ScoreGrid:
    return ScoreGrid.from_poisson(1.45, 1.15, max_goals=12)


def test_over_under_against_totals(poisson_grid: ScoreGrid) -> None:
    totals = _totals(poisson_grid)
    over, under, push = poisson_grid.over_under(2.5)
    assert over == pytest.approx(1 - totals[:3].sum(), abs=EXACT)
    assert (under, push) == approx((totals[:3].sum(), 0.0))
    over, under, push = poisson_grid.over_under(2.0)
    assert push == pytest.approx(totals[2], abs=EXACT)
    assert (over, under) == approx((totals[3:].sum(), totals[:2].sum()))


def test_quarter_line_is_the_mean_of_its_neighbours(poisson_grid: ScoreGrid) -> None:
    two, two_and_half = np.array(poisson_grid.over_under(2.0)), np.array(poisson_grid.over_under(2.5))
    assert poisson_grid.over_under(2.25) == approx(tuple((two + two_and_half) / 2))
    zero, half = np.array(poisson_grid.asian_handicap(0.0)), np.array(poisson_grid.asian_handicap(-0.5))
    assert poisson_grid.asian_handicap(-0.25) == approx(tuple((zero + half) / 2))


def test_asian_handicap_against_outcomes(poisson_grid: ScoreGrid) -> None:
    home, draw, away = poisson_grid.outcome_probabilities()
    p = poisson_grid.probabilities
    assert poisson_grid.asian_handicap(-0.5) == approx((home, draw + away, 0.0))
    assert poisson_grid.asian_handicap(0.0) == approx((home, away, draw))
    by_one = float(np.trace(p, offset=-1))  # cells [j + 1, j]: home wins by exactly one
    _, _, push = poisson_grid.asian_handicap(-1.0)
    assert push == pytest.approx(by_one, abs=EXACT)
    assert poisson_grid.asian_handicap(-1.0)[0] == pytest.approx(home - by_one, abs=EXACT)


def test_symmetric_grid_has_even_handicap() -> None:
    grid = ScoreGrid.from_poisson(1.3, 1.3)
    np.testing.assert_array_equal(grid.probabilities, grid.probabilities.T)
    home, away, push = grid.asian_handicap(0.0)
    assert home == pytest.approx(away, abs=EXACT)
    assert push > 0


def test_btts_by_inclusion_exclusion(poisson_grid: ScoreGrid) -> None:
    p = poisson_grid.probabilities
    expected = 1 - p[0, :].sum() - p[:, 0].sum() + p[0, 0]
    assert poisson_grid.both_teams_to_score() == approx((expected, 1 - expected))


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([0.5, 0.5], "square 2-D array, got shape (2,)"),
        ([[0.5, 0.5]], "square 2-D array, got shape (1, 2)"),
        (np.zeros((0, 0)), "got shape (0, 0)"),
        ([[0.5, np.nan], [0.25, 0.25]], "finite, got nan at [0, 1]"),
        ([[0.5, 0.6], [-0.1, 0.0]], "non-negative, got -0.1 at [1, 0]"),
        ([[0.5, 0.2], [0.2, 0.0]], "sum to 1 (within 1e-06), got sum 0.9"),
    ],
)
def test_validation_names_the_problem(matrix: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ScoreGrid(np.asarray(matrix, dtype=np.float64))


def test_other_bad_arguments(hand: ScoreGrid) -> None:
    with pytest.raises(ValueError, match="positive sum"):
        ScoreGrid.from_matrix(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        ScoreGrid.from_matrix([[1.0, -1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="sum to 1"):
        ScoreGrid.from_matrix([[1.0, 1.0], [1.0, 1.0]], normalise=False)
    with pytest.raises(ValueError, match=re.escape("home_rate must be finite and non-negative, got -1.0")):
        ScoreGrid.from_poisson(-1.0, 1.0)
    with pytest.raises(ValueError, match="max_goals must be a non-negative integer"):
        ScoreGrid.from_poisson(1.0, 1.0, max_goals=-1)
    with pytest.raises(ValueError, match=re.escape("multiple of 0.25, got 2.3")):
        hand.over_under(2.3)
    with pytest.raises(ValueError, match=re.escape("non-negative, got -0.5")):
        hand.over_under(-0.5)
    with pytest.raises(ValueError, match="finite"):
        hand.asian_handicap(float("inf"))
    with pytest.raises(ValueError, match="non-negative"):
        hand.correct_score(-1, 0)
    with pytest.raises(ValueError, match="at least 1"):
        hand.most_likely_scores(0)


def test_stored_array_is_a_read_only_copy() -> None:
    source = np.array(HAND)
    grid = ScoreGrid(source)
    source[0, 0] = 0.5
    assert grid.probabilities[0, 0] == 0.10
    assert not grid.probabilities.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        grid.probabilities[0, 0] = 0.5


def test_from_matrix_normalises_without_folding() -> None:
    grid = ScoreGrid.from_matrix([[2.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(grid.probabilities, [[0.5, 0.25], [0.25, 0.0]], rtol=0, atol=EXACT)
    assert grid == ScoreGrid.from_matrix([[4.0, 2.0], [2.0, 0.0]])
    assert hash(grid) == hash(ScoreGrid.from_matrix([[4.0, 2.0], [2.0, 0.0]]))
    assert grid != ScoreGrid.from_matrix([[1.0, 1.0], [1.0, 1.0]])


_grids = st.integers(min_value=0, max_value=7).flatmap(
    lambda n: arrays(np.float64, (n + 1, n + 1), elements=st.floats(0.0, 1.0, allow_subnormal=False))
)
_total_lines = st.sampled_from([0.5 + 0.25 * k for k in range(21)])  # 0.5 .. 5.5
_handicaps = st.sampled_from([0.25 * k for k in range(-16, 17)])  # -4 .. 4


@given(matrix=_grids, total_line=_total_lines, handicap=_handicaps)
def test_markets_partition_the_mass(matrix: npt.NDArray[np.float64], total_line: float, handicap: float) -> None:
    assume(matrix.sum() > 1e-3)
    grid = ScoreGrid.from_matrix(matrix)
    assert sum(grid.outcome_probabilities()) == pytest.approx(1.0, abs=1e-9)
    assert sum(grid.over_under(total_line)) == pytest.approx(1.0, abs=1e-9)
    assert sum(grid.asian_handicap(handicap)) == pytest.approx(1.0, abs=1e-9)
    assert sum(grid.both_teams_to_score()) == pytest.approx(1.0, abs=1e-9)
    assert all(value >= 0 for value in grid.over_under(total_line) + grid.asian_handicap(handicap))
