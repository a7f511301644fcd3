"""Pi-ratings (Constantinou & Fenton 2013, "Determining the level of ability of football teams by dynamic ratings
based on the relative discrepancies in scores between adversaries", JQAS 9(1)), updated one match day at a time.

Each team has a home rating and an away rating, both starting at 0, in units of goal difference on a log scale:
a rating R expects a goal difference of sign(R) * (b^(|R|/c) - 1) against an average side. After a match with
observed goal difference g (home - away) and predicted goal difference p, the error e = |g - p| is damped to
psi = c * log10(1 + e), and

    psi_H = +psi if p < g (the home side beat the prediction) else -psi,   psi_A = -psi_H
    home team:  home rating += psi_H * lambda,   away rating += psi_H * lambda * gamma
    away team:  away rating += psi_A * lambda,   home rating += psi_A * lambda * gamma

The paper updates match by match; here every match of a day is rated from the state before that day and the
day's changes are summed afterwards (the project's leakage rule), which differs only for a team playing twice in
a day. Ratings carry over between seasons unchanged, as in the paper; teams are keyed by name.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.features.frames import validate_match_frame

__all__ = ["PI_COLUMNS", "PiParams", "pi_expected_goal_difference", "pi_features", "pi_team_ratings"]

FloatArray = npt.NDArray[np.float64]
PI_COLUMNS = ("pi_home_home", "pi_home_away", "pi_away_home", "pi_away_away", "pi_expected_gd")


@dataclass(frozen=True, slots=True)
class PiParams:
    """The paper's constants: learning rates lambda = 0.035 and gamma = 0.7 (the values it reports as best),
    logarithmic base b = 10 and c = 3."""

    learning_rate: float = 0.035  # lambda: how far one match's surprise moves a rating
    cross_learning_rate: float = 0.7  # gamma: share of a home (away) change passed to the away (home) rating
    base: float = 10.0  # b
    scale: float = 3.0  # c

    def __post_init__(self) -> None:
        if self.learning_rate < 0 or not 0.0 <= self.cross_learning_rate <= 1.0:
            raise ValueError("learning_rate must be non-negative and cross_learning_rate lie in [0, 1]")
        if self.base <= 1.0 or self.scale <= 0.0:
            raise ValueError("base must exceed 1 and scale be positive")


def pi_expected_goal_difference(rating: npt.ArrayLike, params: PiParams | None = None) -> FloatArray:
    """The goal difference a side with this rating is expected to achieve against an average side."""
    params = params or PiParams()
    r = np.asarray(rating, dtype=np.float64)
    return np.sign(r) * (params.base ** (np.abs(r) / params.scale) - 1.0)


def _day_bounds(matches: pd.DataFrame) -> list[tuple[int, int]]:
    # The frame is sorted by date, so a match day is a run of equal dates: the same days as frames.match_days,
    # without building a frame per day.
    dates = matches["match_date"].to_numpy()
    bounds = [*np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]]).tolist(), len(dates)] if len(dates) else [0]
    return list(itertools.pairwise(bounds))


class _PiState:
    """Home and away ratings of every team while the frame is replayed day by day."""

    def __init__(self, n_teams: int, params: PiParams) -> None:
        self.home = [0.0] * n_teams
        self.away = [0.0] * n_teams
        self.p = params

    def _expected(self, rating: float) -> float:
        return math.copysign(self.p.base ** (abs(rating) / self.p.scale) - 1.0, rating)

    def play_day(self, home: list[int], away: list[int], goal_diff: list[int], pre: list[tuple[float, ...]]) -> None:
        """Record the day's pre-match ratings, then apply the day's summed changes."""
        lam, gamma, c = self.p.learning_rate, self.p.cross_learning_rate, self.p.scale
        d_home = [0.0] * len(self.home)
        d_away = [0.0] * len(self.away)
        for h, a, observed in zip(home, away, goal_diff, strict=True):
            predicted = self._expected(self.home[h]) - self._expected(self.away[a])
            pre.append((self.home[h], self.away[h], self.home[a], self.away[a], predicted))
            error = observed - predicted
            # psi_H carries the sign of the surprise for the home side; psi_A = -psi_H (e = 0 gives psi = 0).
            step = math.copysign(c * math.log10(1.0 + abs(error)), error) * lam
            d_home[h] += step
            d_away[h] += step * gamma
            d_away[a] -= step
            d_home[a] -= step * gamma
        for team in {*home, *away}:
            self.home[team] += d_home[team]
            self.away[team] += d_away[team]


def _replay(matches: pd.DataFrame, params: PiParams) -> tuple[FloatArray, _PiState, pd.Index]:
    validate_match_frame(matches)
    n = len(matches)
    codes, teams = pd.factorize(pd.concat([matches["home_team"], matches["away_team"]], ignore_index=True))
    home, away = codes[:n].tolist(), codes[n:].tolist()
    goal_diff = (matches["home_goals"] - matches["away_goals"]).to_numpy(dtype=np.int64).tolist()
    state = _PiState(len(teams), params)
    pre: list[tuple[float, ...]] = []
    for lo, hi in _day_bounds(matches):
        state.play_day(home[lo:hi], away[lo:hi], goal_diff[lo:hi], pre)
    values = np.asarray(pre, dtype=np.float64).reshape(n, len(PI_COLUMNS))
    return values, state, pd.Index(teams)


def pi_features(matches: pd.DataFrame, params: PiParams | None = None) -> pd.DataFrame:
    """Pre-match pi-ratings of both sides and the predicted goal difference (home - away) of each match."""
    values, _, _ = _replay(matches, params or PiParams())
    index = pd.Index(matches["match_id"].to_numpy(), name="match_id")
    return pd.DataFrame(values, index=index, columns=list(PI_COLUMNS))


def pi_team_ratings(matches: pd.DataFrame, params: PiParams | None = None) -> pd.DataFrame:
    """Every team's home and away rating after the frame's last day, indexed by team."""
    _, state, teams = _replay(matches, params or PiParams())
    return pd.DataFrame({"pi_home": state.home, "pi_away": state.away}, index=teams.rename("team"))
