"""Elo ratings of teams, updated one match day at a time, with parameters chosen by log loss on past seasons.

Teams are keyed by name across competitions, so a club relegated to a lower division keeps its rating. Every
match of a day is rated from the state before that day; the day's rating changes are summed and applied after.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize

from matchday.features.frames import validate_match_frame

__all__ = [
    "EloParams",
    "EloSearch",
    "elo_features",
    "elo_log_loss",
    "elo_team_ratings",
    "fit_elo_params",
    "goal_difference_multiplier",
]

FloatArray = npt.NDArray[np.float64]
_NO_SEASON = -(10**9)


@dataclass(frozen=True, slots=True)
class EloParams:
    """Elo parameters; the defaults are a neutral start, `fit_elo_params` chooses k, home advantage and regression.

    season_regression: at a team's first match of a new season r <- r + season_regression * (m - r), where m is the
        mean rating of the teams that played the competition's previous season, taken when the competition's new
        season starts (m = `initial` for a competition without a previous season).
    promoted_pool: a team never rated before that enters a competition with a previous season starts where the
        `promoted_pool` lowest-rated teams of that season start on average: their mean m_low, regressed once like
        them, m_low + season_regression * (m - m_low). The lowest-rated teams stand in for the relegated clubs it
        replaces, since which clubs left is only known once the new season has been played; on the top five
        leagues 2006-2022 with default parameters this beats starting newcomers at `initial` (log loss on their
        first-season matches 0.6251 against 0.6267). 0 starts newcomers at `initial`, as is every team of a
        competition's first season.
    """

    k: float = 20.0
    home_advantage: float = 60.0  # Elo points added to the home side's rating in the expected score
    initial: float = 1500.0
    season_regression: float = 0.25
    goal_diff_multiplier: bool = True
    promoted_pool: int = 3

    def __post_init__(self) -> None:
        if self.k < 0:
            raise ValueError(f"k must be non-negative, got {self.k}")
        if not 0.0 <= self.season_regression <= 1.0:
            raise ValueError(f"season_regression must lie in [0, 1], got {self.season_regression}")
        if self.promoted_pool < 0:
            raise ValueError(f"promoted_pool must be non-negative, got {self.promoted_pool}")


@dataclass(frozen=True, slots=True)
class EloSearch:
    """Where `fit_elo_params` looks: a coarse grid, then (if `refine`) Nelder-Mead within the bounds."""

    k: tuple[float, ...] = (10.0, 20.0, 30.0, 45.0)
    home_advantage: tuple[float, ...] = (0.0, 50.0, 100.0)
    season_regression: tuple[float, ...] = (0.0, 0.3, 0.6)
    bounds: tuple[tuple[float, float], ...] = ((1.0, 100.0), (-100.0, 250.0), (0.0, 1.0))
    refine: bool = True
    max_evaluations: int = 120


@dataclass(frozen=True, slots=True)
class _Schedule:
    """The match frame as plain lists of codes, split into match days, ready for the rating loop."""

    home: list[int]
    away: list[int]
    competition: list[int]
    season: list[int]
    days: list[tuple[int, int]]
    goal_diff: npt.NDArray[np.int64]
    score: FloatArray  # the home side's actual score: 1 win, 0.5 draw, 0 loss
    teams: pd.Index
    n_competitions: int


def goal_difference_multiplier(goal_diff: npt.ArrayLike) -> FloatArray:
    """World Football Elo Ratings' K multiplier (eloratings.net, "About the ratings"): 1 for a margin of 0 or 1,
    1.5 for 2, (11 + N) / 8 for N >= 3, so big wins move ratings more, with diminishing returns."""
    margin = np.abs(np.asarray(goal_diff, dtype=np.float64))
    return np.where(margin <= 1, 1.0, np.where(margin == 2, 1.5, (11.0 + margin) / 8.0))


def _schedule(matches: pd.DataFrame) -> _Schedule:
    validate_match_frame(matches)
    codes, teams = pd.factorize(pd.concat([matches["home_team"], matches["away_team"]], ignore_index=True))
    competition, competitions = pd.factorize(matches["competition"])
    n = len(matches)
    dates = matches["match_date"].to_numpy()
    # The frame is sorted by date, so a match day is a run of equal dates: the days of frames.match_days, found
    # without building a frame per day.
    bounds = [*np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]]).tolist(), n] if n else [0]
    goal_diff = (matches["home_goals"] - matches["away_goals"]).to_numpy(dtype=np.int64)
    return _Schedule(
        home=codes[:n].tolist(),
        away=codes[n:].tolist(),
        competition=competition.tolist(),
        season=matches["season"].astype(np.int64).tolist(),
        days=list(itertools.pairwise(bounds)),
        goal_diff=goal_diff,
        score=(np.sign(goal_diff) + 1.0) / 2.0,
        teams=pd.Index(teams),
        n_competitions=len(competitions),
    )


class _EloState:
    """Ratings and season bookkeeping while the schedule is replayed day by day."""

    def __init__(self, schedule: _Schedule, params: EloParams) -> None:
        self.s, self.p = schedule, params
        self.rating = [math.nan] * len(schedule.teams)  # NaN: never rated
        self.team_season = [_NO_SEASON] * len(schedule.teams)
        self.comp_season = [_NO_SEASON] * schedule.n_competitions
        self.comp_teams: list[set[int]] = [set() for _ in range(schedule.n_competitions)]
        self.comp_mean = [params.initial] * schedule.n_competitions
        self.comp_newcomer = [params.initial] * schedule.n_competitions

    def open_seasons(self, lo: int, hi: int) -> None:
        """Freeze each competition's regression target and newcomer rating when its new season starts, so neither
        depends on the order in which its teams play their first match."""
        for i in range(lo, hi):
            c, season = self.s.competition[i], self.s.season[i]
            if season == self.comp_season[c]:
                continue
            previous = sorted(self.rating[t] for t in self.comp_teams[c])
            if previous:
                self.comp_mean[c] = sum(previous) / len(previous)
                if pool := previous[: self.p.promoted_pool]:
                    # What the clubs it replaces would start the season with: pooled, then regressed like theirs.
                    low = sum(pool) / len(pool)
                    self.comp_newcomer[c] = low + self.p.season_regression * (self.comp_mean[c] - low)
            self.comp_season[c], self.comp_teams[c] = season, set()

    def enter_teams(self, lo: int, hi: int) -> None:
        """Rate newcomers, and regress each returning team once, at its first match of a season."""
        for i in range(lo, hi):
            c, season = self.s.competition[i], self.s.season[i]
            for team in (self.s.home[i], self.s.away[i]):
                self.comp_teams[c].add(team)
                if self.team_season[team] == season:
                    continue
                r = self.rating[team]
                if math.isnan(r):
                    self.rating[team] = self.comp_newcomer[c]
                else:
                    self.rating[team] = r + self.p.season_regression * (self.comp_mean[c] - r)
                self.team_season[team] = season

    def play(self, lo: int, hi: int, multiplier: list[float], pre_home: list[float], pre_away: list[float]) -> None:
        """Record the day's pre-match ratings, then apply the day's summed rating changes."""
        change: dict[int, float] = {}
        score, k, advantage = self.s.score, self.p.k, self.p.home_advantage
        for i in range(lo, hi):
            h, a = self.s.home[i], self.s.away[i]
            rh, ra = self.rating[h], self.rating[a]
            pre_home.append(rh)
            pre_away.append(ra)
            step = k * multiplier[i] * (score[i] - 1.0 / (1.0 + 10.0 ** ((ra - rh - advantage) / 400.0)))
            change[h] = change.get(h, 0.0) + step
            change[a] = change.get(a, 0.0) - step
        for team, step in change.items():
            self.rating[team] += step


def _replay(schedule: _Schedule, params: EloParams) -> tuple[FloatArray, FloatArray, _EloState]:
    if params.goal_diff_multiplier:
        multiplier = goal_difference_multiplier(schedule.goal_diff).tolist()
    else:
        multiplier = [1.0] * len(schedule.home)
    state = _EloState(schedule, params)
    pre_home: list[float] = []
    pre_away: list[float] = []
    for lo, hi in schedule.days:
        state.open_seasons(lo, hi)
        state.enter_teams(lo, hi)
        state.play(lo, hi, multiplier, pre_home, pre_away)
    return np.asarray(pre_home, dtype=np.float64), np.asarray(pre_away, dtype=np.float64), state


def _expected(diff: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + 10.0 ** (-diff / 400.0))


def elo_features(matches: pd.DataFrame, params: EloParams | None = None) -> pd.DataFrame:
    """Pre-match `elo_home`, `elo_away`, `elo_diff` (home - away + home advantage) and `elo_expected_home`."""
    params = params or EloParams()
    home, away, _ = _replay(_schedule(matches), params)
    diff = home - away + params.home_advantage
    columns = {"elo_home": home, "elo_away": away, "elo_diff": diff, "elo_expected_home": _expected(diff)}
    return pd.DataFrame(columns, index=pd.Index(matches["match_id"].to_numpy(), name="match_id"))


def elo_team_ratings(matches: pd.DataFrame, params: EloParams | None = None) -> pd.Series:
    """Every team's rating after the frame's last day (before any next-season regression), highest first."""
    _, _, state = _replay(schedule := _schedule(matches), params or EloParams())
    ratings = pd.Series(state.rating, index=schedule.teams, name="elo", dtype=np.float64)
    return ratings.rename_axis("team").sort_values(ascending=False, kind="stable")


def _season_mask(matches: pd.DataFrame, seasons: Sequence[int]) -> npt.NDArray[np.bool_]:
    mask = matches["season"].isin(list(seasons)).to_numpy()
    if not mask.any():
        raise ValueError(f"no match in season(s) {list(seasons)}")
    return mask


def _loss(schedule: _Schedule, params: EloParams, mask: npt.NDArray[np.bool_]) -> float:
    # Bernoulli cross-entropy (nats) with a draw scored 0.5, the target Elo's expected score is built for.
    home, away, _ = _replay(schedule, params)
    expected = np.clip(_expected(home - away + params.home_advantage)[mask], 1e-12, 1.0 - 1e-12)
    score = schedule.score[mask]
    return float(-np.mean(score * np.log(expected) + (1.0 - score) * np.log1p(-expected)))


def elo_log_loss(matches: pd.DataFrame, params: EloParams, seasons: Sequence[int]) -> float:
    """Mean cross-entropy of `elo_expected_home` against the actual score (1, 0.5, 0) over the given seasons'
    matches; ratings still run over every earlier match of the frame."""
    mask = _season_mask(matches, seasons)
    return _loss(_schedule(matches), params, mask)


def fit_elo_params(
    matches: pd.DataFrame, seasons: Sequence[int], search: EloSearch | None = None, base: EloParams | None = None
) -> EloParams:
    """`base` with k, home advantage and season regression chosen to minimise `elo_log_loss` on `seasons`, which
    must be past seasons: a grid (first minimum wins, so the fit is deterministic), then Nelder-Mead from it."""
    search, base = search or EloSearch(), base or EloParams()
    mask = _season_mask(matches, seasons)
    # Later matches cannot move the loss (features are pre-match), so the replay stops at the last fit match.
    past = matches.iloc[: int(np.flatnonzero(mask)[-1]) + 1]
    schedule = _schedule(past)
    mask = mask[: len(past)]

    def loss(x: Iterable[float]) -> float:
        k, advantage, regression = x
        return _loss(schedule, replace(base, k=k, home_advantage=advantage, season_regression=regression), mask)

    grid = itertools.product(search.k, search.home_advantage, search.season_regression)
    best = list(min(grid, key=loss))
    if search.refine:
        best = _refine(loss, best, search)
    return replace(base, k=best[0], home_advantage=best[1], season_regression=best[2])


def _refine(loss: Callable[[Iterable[float]], float], start: list[float], search: EloSearch) -> list[float]:
    # Nelder-Mead in coordinates scaled to the bounds, so one simplex step means the same in k, points and fraction.
    low = np.array([b[0] for b in search.bounds])
    span = np.array([b[1] - b[0] for b in search.bounds])
    x0 = np.clip((np.asarray(start) - low) / span, 0.0, 1.0)
    simplex = [x0] + [x0 + np.where(x0[j] + 0.1 <= 1.0, 0.1, -0.1) * np.eye(3)[j] for j in range(3)]
    result = minimize(
        lambda z: loss((low + z * span).tolist()),
        x0,
        method="Nelder-Mead",
        bounds=[(0.0, 1.0)] * 3,
        options={"initial_simplex": np.array(simplex), "maxfev": search.max_evaluations, "xatol": 1e-3},
    )
    refined: list[float] = (low + np.clip(result.x, 0.0, 1.0) * span).tolist()
    return refined if float(result.fun) <= loss(start) else start
