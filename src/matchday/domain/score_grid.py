"""The joint distribution of a match's score: the one probability object of a goals model.

Every market (1X2, over/under, Asian handicap, both teams to score, correct score) is derived from the grid,
so the prices a model quotes are always mutually consistent. Outcome order is (home, draw, away) everywhere.

Quarter lines (x.25, x.75) follow the bookmaker convention: the stake is split in half across the two
neighbouring lines (2.25 -> 2 and 2.5; -0.25 -> 0 and -0.5), and each half is settled on its own. The
three numbers a market returns are then the expected fractions of the stake that are won by the first
selection, won by the second, and refunded; they are the component-wise mean of the two neighbouring
lines and always sum to the grid's total mass. A bet on the first selection at decimal odds `o` has
expected return per unit staked `first * o + push`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ScoreGrid"]

_SUM_TOLERANCE = 1e-6


def _split_line(line: float) -> tuple[float, ...]:
    """The whole/half lines a line is settled on: itself, or the two neighbours of a quarter line."""
    if not math.isfinite(line):
        raise ValueError(f"line must be finite, got {line!r}")
    if (2 * line).is_integer():
        return (float(line),)
    if (4 * line).is_integer():
        return (line - 0.25, line + 0.25)
    raise ValueError(f"line must be a multiple of 0.25, got {line!r}")


def _settle(
    values: npt.NDArray[np.int64], probabilities: npt.NDArray[np.float64], line: float
) -> tuple[float, float, float]:
    """(mass above line, mass below line, refunded mass) of an integer-valued distribution; quarter lines split."""
    above = below = push = 0.0
    parts = _split_line(line)
    for part in parts:
        # values are integers and `part` a multiple of 0.5, so these comparisons are exact
        above += float(probabilities[values > part].sum())
        below += float(probabilities[values < part].sum())
        push += float(probabilities[values == part].sum())
    n = len(parts)
    return above / n, below / n, push / n


@dataclass(frozen=True, slots=True, eq=False)
class ScoreGrid:
    """`probabilities[i, j]` = P(home scores i, away scores j), for 0 <= i, j <= max_goals.

    The grid is truncated, not folded: scores beyond `max_goals` have probability 0 under it. The stored array
    is a read-only float64 copy, so a grid can be shared freely. Equality compares the probabilities exactly.
    """

    probabilities: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        grid = np.array(self.probabilities, dtype=np.float64, copy=True)
        _validate(grid)
        grid.setflags(write=False)
        object.__setattr__(self, "probabilities", grid)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoreGrid):
            return NotImplemented
        return bool(np.array_equal(self.probabilities, other.probabilities))

    def __hash__(self) -> int:
        return hash((self.probabilities.shape, self.probabilities.tobytes()))

    @classmethod
    def from_matrix(cls, matrix: npt.ArrayLike, normalise: bool = True) -> ScoreGrid:
        """A grid from any square non-negative matrix; rescaled to sum 1 when `normalise` (no tail folding)."""
        grid = np.array(matrix, dtype=np.float64, copy=True)
        if normalise:
            _validate(grid, check_sum=False)
            total = grid.sum()
            if not total > 0:
                raise ValueError(f"probabilities must have a positive sum to normalise, got {float(total)!r}")
            grid /= total
        return cls(grid)

    @classmethod
    def from_poisson(cls, home_rate: float, away_rate: float, max_goals: int = 10) -> ScoreGrid:
        """Independent Poisson goals truncated at `max_goals` and renormalised (the tail mass is dropped)."""
        if isinstance(max_goals, bool) or not isinstance(max_goals, int) or max_goals < 0:
            raise ValueError(f"max_goals must be a non-negative integer, got {max_goals!r}")
        home = _poisson_weights(home_rate, max_goals, "home_rate")
        away = _poisson_weights(away_rate, max_goals, "away_rate")
        # truncating each margin and renormalising the outer product is the same as conditioning the joint
        return cls.from_matrix(np.outer(home, away), normalise=True)

    @property
    def max_goals(self) -> int:
        return int(self.probabilities.shape[0] - 1)

    def outcome_probabilities(self) -> tuple[float, float, float]:
        """(home win, draw, away win)."""
        grid = self.probabilities
        home = float(np.tril(grid, k=-1).sum())  # i > j: below the diagonal
        away = float(np.triu(grid, k=1).sum())
        return home, float(np.trace(grid)), away

    def over_under(self, line: float) -> tuple[float, float, float]:
        """(over, under, push) on total goals; push is non-zero only for whole lines and quarter lines.

        For a quarter line each number is the expected fraction of stake won by over, won by under, and
        refunded: the mean of the two neighbouring lines (see the module docstring).
        """
        if line < 0:
            raise ValueError(f"over/under line must be non-negative, got {line!r}")
        values, probabilities = self._total_goals()
        return _settle(values, probabilities, line)

    def asian_handicap(self, line: float) -> tuple[float, float, float]:
        """(home bet wins, away bet wins, refunded) with `line` added to the home goals (-0.5: home must win).

        The home bet wins when home - away + line > 0, the away bet when it is < 0, and it is refunded at 0.
        Quarter lines (-0.25, -0.75, ...) return the expected fractions of stake won by home, won by away, and
        refunded, as the mean of the two neighbouring lines; a half-lost home bet therefore adds 0.5 of its
        probability to `away` and 0.5 to `push`.
        """
        values, probabilities = self._goal_difference()
        # home - away + line > 0  <=>  home - away > -line
        return _settle(values, probabilities, -line)

    def both_teams_to_score(self) -> tuple[float, float]:
        """(yes, no)."""
        grid = self.probabilities
        yes = float(grid[1:, 1:].sum())
        no = float(grid[0, :].sum() + grid[1:, 0].sum())
        return yes, no

    def correct_score(self, home: int, away: int) -> float:
        """P(exact score); 0 for scores beyond the grid, which it truncates."""
        if home < 0 or away < 0:
            raise ValueError(f"goals must be non-negative, got {home}-{away}")
        if home > self.max_goals or away > self.max_goals:
            return 0.0
        return float(self.probabilities[home, away])

    def expected_goals(self) -> tuple[float, float]:
        """(home, away) mean goals under the grid."""
        goals = np.arange(self.max_goals + 1, dtype=np.float64)
        grid = self.probabilities
        return float(goals @ grid.sum(axis=1)), float(goals @ grid.sum(axis=0))

    def most_likely_scores(self, k: int = 5) -> list[tuple[int, int, float]]:
        """The `k` most likely (home, away, probability), most likely first; ties go to the lower (home, away)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        flat = self.probabilities.ravel()
        # lexsort's last key is primary: descending probability, then row-major (home, away) order
        order = np.lexsort((np.arange(flat.size), -flat))[:k]
        size = self.max_goals + 1
        return [(int(index // size), int(index % size), float(flat[index])) for index in order]

    def _goal_difference(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(home - away values -n..n, their probabilities), summed along the diagonals."""
        n = self.max_goals
        home, away = np.indices(self.probabilities.shape)
        mass = np.zeros(2 * n + 1, dtype=np.float64)
        np.add.at(mass, (home - away + n).ravel(), self.probabilities.ravel())
        return np.arange(-n, n + 1, dtype=np.int64), mass

    def _total_goals(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """(total values 0..2n, their probabilities), summed along the anti-diagonals."""
        n = self.max_goals
        home, away = np.indices(self.probabilities.shape)
        mass = np.zeros(2 * n + 1, dtype=np.float64)
        np.add.at(mass, (home + away).ravel(), self.probabilities.ravel())
        return np.arange(2 * n + 1, dtype=np.int64), mass


def _validate(grid: npt.NDArray[np.float64], check_sum: bool = True) -> None:
    """Raise ValueError naming the first problem: shape, non-finite or negative cells, or the sum."""
    if grid.ndim != 2 or grid.shape[0] != grid.shape[1] or grid.shape[0] == 0:
        raise ValueError(f"probabilities must be a non-empty square 2-D array, got shape {grid.shape}")
    bad = np.argwhere(~np.isfinite(grid))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"probabilities must be finite, got {float(grid[i, j])!r} at [{i}, {j}]")
    bad = np.argwhere(grid < 0)
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"probabilities must be non-negative, got {float(grid[i, j])!r} at [{i}, {j}]")
    total = float(grid.sum())
    if check_sum and abs(total - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"probabilities must sum to 1 (within {_SUM_TOLERANCE:g}), got sum {total:.10g}")


def _poisson_weights(rate: float, max_goals: int, name: str) -> npt.NDArray[np.float64]:
    """Poisson pmf over 0..max_goals up to a constant factor, in log space so large rates neither under- nor
    overflow; the factor cancels when the grid is normalised."""
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"{name} must be finite and non-negative, got {rate!r}")
    if rate == 0:
        weights = np.zeros(max_goals + 1, dtype=np.float64)
        weights[0] = 1.0  # log(0) is -inf: a zero rate puts all its mass on 0 goals
        return weights
    goals = np.arange(max_goals + 1, dtype=np.float64)
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(goals[1:]))))
    log_weights = goals * math.log(rate) - log_factorial
    scaled: npt.NDArray[np.float64] = np.exp(log_weights - float(log_weights.max()))
    return scaled
