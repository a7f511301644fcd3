"""Goals markets of many score grids at once, as the response models carry them.

`ScoreGrid` derives every market of one grid; a batch of thousands of fixtures cannot afford a dozen NumPy calls
per fixture, so here the totals and goal-difference distributions of all grids come from two matrix products and
every line is a masked sum over them. The lines served are half and whole lines, where a bet wins, loses or is
refunded outright; the tests hold these figures equal to `ScoreGrid`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from matchday.inference.schema import AsianHandicapPrices, Markets, OverUnder, ScoreProbability

__all__ = ["HANDICAP_LINES", "OVER_UNDER_LINES", "TOP_SCORES", "markets_of"]

FloatArray = npt.NDArray[np.float64]
OVER_UNDER_LINES = (1.5, 2.5, 3.5)
HANDICAP_LINES = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)
TOP_SCORES = 5


def _distribution(grids: FloatArray, values: npt.NDArray[np.int64], offset: int) -> FloatArray:
    """P(value = v) per grid for the per-cell `values` (home+away or home-away), as (n, number of values)."""
    n, size = grids.shape[0], grids.shape[1]
    onehot = np.zeros((size * size, 2 * size - 1))
    onehot[np.arange(size * size), values.ravel() + offset] = 1.0
    out: FloatArray = grids.reshape(n, size * size) @ onehot
    return out


def _settle(distribution: FloatArray, values: npt.NDArray[np.int64], threshold: float) -> FloatArray:
    """(n, 3): P(value > threshold), P(value < threshold), P(value == threshold)."""
    above = distribution[:, values > threshold].sum(axis=1)
    below = distribution[:, values < threshold].sum(axis=1)
    push = distribution[:, values == threshold].sum(axis=1)
    return np.column_stack([above, below, push])


def markets_of(grids: FloatArray) -> list[Markets | None]:
    """The `Markets` of each (G, G) grid of `grids` (n, G, G); None where a grid is NaN (no goals model)."""
    n, size = grids.shape[0], grids.shape[1]
    known = ~np.isnan(grids[:, 0, 0])
    safe = np.where(known[:, None, None], grids, 0.0)
    home_goals, away_goals = np.indices((size, size))
    totals_values = np.arange(2 * size - 1)
    diff_values = np.arange(-(size - 1), size)
    totals = _distribution(safe, home_goals + away_goals, 0)
    diffs = _distribution(safe, home_goals - away_goals, size - 1)
    goals = np.arange(size, dtype=np.float64)
    expected = np.column_stack([safe.sum(axis=2) @ goals, safe.sum(axis=1) @ goals])
    over_under = [_settle(totals, totals_values, line) for line in OVER_UNDER_LINES]
    # The home bet at handicap L wins when home - away + L > 0.
    handicap = [_settle(diffs, diff_values, -line) for line in HANDICAP_LINES]
    btts = safe[:, 1:, 1:].sum(axis=(1, 2))
    flat = safe.reshape(n, size * size)
    top = np.argsort(-flat, axis=1, kind="stable")[:, :TOP_SCORES]
    return [_markets(i, expected, over_under, handicap, btts, flat, top, size) if known[i] else None for i in range(n)]


def _markets(
    i: int,
    expected: FloatArray,
    over_under: Sequence[FloatArray],
    handicap: Sequence[FloatArray],
    btts: FloatArray,
    flat: FloatArray,
    top: npt.NDArray[np.intp],
    size: int,
) -> Markets:
    # model_construct: the values are our own floats, validated by the tests; validation would cost more than
    # computing them
    return Markets.model_construct(
        expected_goals=(float(expected[i, 0]), float(expected[i, 1])),
        over_under=[
            OverUnder.model_construct(line=line, over=float(v[i, 0]), under=float(v[i, 1]), push=float(v[i, 2]))
            for line, v in zip(OVER_UNDER_LINES, over_under, strict=True)
        ],
        asian_handicap=[
            AsianHandicapPrices.model_construct(
                line=line, home=float(v[i, 0]), away=float(v[i, 1]), push=float(v[i, 2])
            )
            for line, v in zip(HANDICAP_LINES, handicap, strict=True)
        ],
        both_teams_to_score=float(btts[i]),
        most_likely_scores=[
            ScoreProbability.model_construct(home=int(k // size), away=int(k % size), probability=float(flat[i, k]))
            for k in top[i]
        ],
    )
