"""Fixtures from a request turned into the feature rows a bundle reads, the way the feature table builds them.

- team features: each team's latest row in the Feast online store (`TeamFeatureSource`, cached by
  `CachedTeamFeatures`), renamed to the table's side columns (`elo` -> `elo_home` / `elo_away`,
  `form_points_5` -> `home_form_points_5`, ...);
- match-level rating and head-to-head features: the bundle's `FixtureRecipe`;
- market features: the request's prices in arrays, through the table's own `price_features`.

A team the online store does not hold is an `InvalidInput` naming it, never a row of NaN scored as if it were a
real team; so is a price the model's moment needs and the request lacks.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel

from matchday.features.fixture_recipe import FixtureRecipe
from matchday.features.market import PriceArrays, price_features
from matchday.inference.schema import Fixture, InvalidInput, Phase

__all__ = [
    "CachedTeamFeatures",
    "FeatureBlock",
    "FixtureRowBuilder",
    "OddsNeed",
    "TeamFeatureSource",
    "TeamFeatureTable",
]

logger = logging.getLogger(__name__)

_PHASES = {"open": "opening", "close": "closing"}
_PHASE_INDEX = {"open": 0, "close": 1}
_SELECTIONS = {"1x2": ("home", "draw", "away"), "totals": ("over", "under")}
_SIDE_SPECIAL = {"elo": ("elo_home", "elo_away"), "pi_home": ("pi_home_home", "pi_away_home"),
                 "pi_away": ("pi_home_away", "pi_away_away")}  # fmt: skip
_RATINGS = ("elo", "pi_home", "pi_away")


class TeamFeatureSource(Protocol):
    def frame(self, teams: Sequence[str]) -> pd.DataFrame:
        """One row per team asked (index: team), NaN throughout for a team the store does not hold."""
        ...


class TeamFeatureTable(Protocol):
    def values(self, teams: Sequence[str]) -> tuple[list[str], npt.NDArray[np.float64]]:
        """The feature names and a (len(teams), n_features) array, NaN throughout for an unknown team."""
        ...


class CachedTeamFeatures:
    """Team rows kept in memory: they change only when features are materialized (daily), and a store read per
    request would be most of a prediction's latency. A team never read is read at once (all such teams of a call
    in one read); a row older than `ttl_seconds` is served while one background read refreshes every stale team
    (a store read, with Feast's registry refresh, took hundreds of milliseconds: never on a request's path).
    Thread-safe."""

    def __init__(
        self, source: TeamFeatureSource, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._ttl = ttl_seconds
        self._clock = clock
        self._columns: list[str] | None = None
        self._rows: dict[str, tuple[float, npt.NDArray[np.float64]]] = {}
        self._lock = threading.Lock()
        self._refreshing = False

    def frame(self, teams: Sequence[str]) -> pd.DataFrame:
        columns, matrix = self.values(teams)
        return pd.DataFrame(matrix, index=pd.Index(list(teams), name="team"), columns=columns)

    def values(self, teams: Sequence[str]) -> tuple[list[str], npt.NDArray[np.float64]]:
        now = self._clock()
        with self._lock:
            known = {team: self._rows.get(team) for team in teams}
            stale = any(hit is not None and now - hit[0] >= self._ttl for hit in known.values())
            refresh = stale and not self._refreshing
            self._refreshing |= refresh
        if refresh:
            threading.Thread(target=self._refresh, name="team-features-refresh", daemon=True).start()
        missing = [team for team, hit in known.items() if hit is None]
        if missing:
            known |= self._read(missing, now)
        assert self._columns is not None
        return self._columns, np.vstack([known[team][1] for team in teams])  # type: ignore[index]

    def _read(self, teams: list[str], now: float) -> dict[str, tuple[float, npt.NDArray[np.float64]]]:
        read = self._source.frame(teams)
        values = read.to_numpy(dtype=np.float64, na_value=np.nan)
        rows = {team: (now, row) for team, row in zip(teams, values, strict=True)}
        with self._lock:
            self._columns = [str(column) for column in read.columns]
            self._rows |= rows
        return rows

    def _refresh(self) -> None:
        try:
            now = self._clock()
            with self._lock:
                stale = [team for team, (at, _) in self._rows.items() if now - at >= self._ttl]
            if stale:
                self._read(stale, now)
        except Exception:  # the rows in hand keep serving; the next stale read tries again
            logger.exception("serving.team_features_refresh_failed")
        finally:
            with self._lock:
                self._refreshing = False

    def wait_refreshed(self, timeout_seconds: float = 10.0) -> bool:
        """Block until no background refresh runs (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            with self._lock:
                if not self._refreshing:
                    return True
            time.sleep(0.01)
        return False


@dataclass(frozen=True)
class FeatureBlock:
    """Feature rows as columns: the three keys as lists, every computed feature as an array; a column the bundle
    reads that nothing computed is NaN (as in the table, where a source lacked it)."""

    n: int
    keys: Mapping[str, list[str]]
    values: Mapping[str, npt.NDArray[Any]]
    columns: tuple[str, ...]

    def matrix(self, names: Sequence[str], dtype: type[np.floating[Any]] = np.float64) -> npt.NDArray[Any]:
        """(n, len(names)) numbers, NaN where a column was not computed."""
        out = np.full((self.n, len(names)), np.nan, dtype=dtype)
        for j, name in enumerate(names):
            if name in self.values:
                out[:, j] = self.values[name]
        return out

    def frame(self, names: Sequence[str]) -> pd.DataFrame:
        gap = np.full(self.n, np.nan)
        data = {name: self.keys[name] if name in self.keys else self.values.get(name, gap) for name in names}
        return pd.DataFrame(data, columns=list(names))

    def row(self, i: int) -> dict[str, Any]:
        """Row i as JSON-ready values, NaN as None (for the prediction log)."""
        out: dict[str, Any] = {}
        for name in self.columns:
            if name in self.keys:
                out[name] = self.keys[name][i]
                continue
            value = float(self.values[name][i]) if name in self.values else math.nan
            out[name] = None if math.isnan(value) else value
        return out


@dataclass(frozen=True)
class OddsNeed:
    """The prices a model needs (`required`, as `phase.bookmaker`) and may use (every other book and totals)."""

    required: tuple[str, ...]

    @classmethod
    def of(cls, columns: Sequence[str]) -> OddsNeed:
        needs = []
        for phase in _PHASES:
            for source, bookmaker in (("pinnacle", "pinnacle"), ("avg", "market_avg"), ("max", "market_max")):
                if any(column.startswith(f"{phase}_{source}_") for column in columns):
                    needs.append(f"{phase}.{bookmaker}")
        return cls(tuple(needs))


class FixtureRowBuilder:
    def __init__(self, columns: Sequence[str], recipe: FixtureRecipe | None, teams: TeamFeatureTable | None) -> None:
        self.columns = list(columns)
        self.odds = OddsNeed.of(self.columns)
        self._recipe = recipe
        self._teams = teams
        self._checked = False
        self._team_features = [c for c in self.columns if c.startswith(("home_", "away_")) and not c.endswith("_team")]
        self._needs_teams = bool(self._team_features) or any(c in self.columns for c in ("elo_home", "elo_diff"))
        self._needs_market = any(c.startswith(tuple(f"{phase}_" for phase in _PHASES)) for c in self.columns)
        if self._needs_teams and (teams is None or recipe is None):
            raise ValueError("the model reads team features: serving it needs the online store and a fixture recipe")

    def rows(self, fixtures: Sequence[Fixture]) -> pd.DataFrame:
        """The feature rows of `fixtures`, in order, with the bundle's input columns (others dropped)."""
        return self.block(fixtures).frame(self.columns)

    def block(self, fixtures: Sequence[Fixture]) -> FeatureBlock:
        """The same rows as column arrays: what the predictor reads (a full DataFrame per request would be a third
        of a single prediction's cost)."""
        self._check_odds(fixtures)
        keys = {
            "competition": [f.competition for f in fixtures],
            "home_team": [f.home_team for f in fixtures],
            "away_team": [f.away_team for f in fixtures],
        }
        values: dict[str, npt.NDArray[Any]] = {}
        if self._needs_teams:
            values |= self._team_part(fixtures)
        if self._needs_market:
            values |= _market_part(fixtures)
        if not self._checked:
            self._checked = True
            never = [c for c in self.columns if c not in keys and c not in values]
            if never:  # a feature the model was trained on that serving cannot compute: NaN, and worth knowing
                logger.warning("serving.features_not_computed", extra={"columns": never})
        return FeatureBlock(len(fixtures), keys, values, tuple(self.columns))

    def _check_odds(self, fixtures: Sequence[Fixture]) -> None:
        for i, fixture in enumerate(fixtures):
            for need in self.odds.required:
                phase, bookmaker = need.split(".")
                if bookmaker not in fixture.odds.get(phase, {}):  # type: ignore[call-overload]
                    field = f"fixtures[{i}].odds.{need}" if len(fixtures) > 1 else f"odds.{need}"
                    raise InvalidInput(field, None, f"the model needs the {phase} 1X2 prices of {bookmaker}")

    def _team_part(self, fixtures: Sequence[Fixture]) -> dict[str, npt.NDArray[np.float64]]:
        assert self._teams is not None and self._recipe is not None  # checked in __init__
        names = [name for f in fixtures for name in (f.home_team, f.away_team)]
        features, values = self._teams.values(names)
        unknown = np.isnan(values).all(axis=1)
        if unknown.any():
            first = int(np.flatnonzero(unknown)[0])
            side = "home_team" if first % 2 == 0 else "away_team"
            field = f"fixtures[{first // 2}].{side}" if len(fixtures) > 1 else side
            raise InvalidInput(field, names[first], "unknown team: the online feature store holds no row for it")
        home, away = values[0::2], values[1::2]
        columns = {_side_column(name, "home"): home[:, j] for j, name in enumerate(features)}
        columns |= {_side_column(name, "away"): away[:, j] for j, name in enumerate(features)}
        index = {name: j for j, name in enumerate(features)}
        ratings = {name: (home[:, index[name]], away[:, index[name]]) for name in _RATINGS}
        columns |= self._recipe.match_features_batch(
            [(f.competition, f.home_team, f.away_team) for f in fixtures], ratings
        )
        return columns


def _side_column(feature: str, side: str) -> str:
    if feature in _SIDE_SPECIAL:
        return _SIDE_SPECIAL[feature][0 if side == "home" else 1]
    return f"{side}_{feature}"


def _prices(fixtures: Sequence[Fixture], market: str, width: int) -> PriceArrays:
    """The request's prices of one market as (phase, bookmaker, fixture, selection) arrays, NaN where absent."""
    books = sorted({book for f in fixtures for quotes in _quotes(f, market).values() for book in quotes})
    prices = np.full((len(_PHASES), len(books), len(fixtures), width), np.nan)
    column = {book: k for k, book in enumerate(books)}
    for i, fixture in enumerate(fixtures):
        for phase, quotes in _quotes(fixture, market).items():
            for book, quote in quotes.items():
                prices[_PHASE_INDEX[phase], column[book], i] = [getattr(quote, name) for name in _SELECTIONS[market]]
    return PriceArrays(books, prices)


def _quotes(fixture: Fixture, market: str) -> Mapping[Phase, Mapping[str, BaseModel]]:
    return fixture.odds if market == "1x2" else fixture.totals


def _market_part(fixtures: Sequence[Fixture]) -> dict[str, Any]:
    # The table's own feature code on arrays built straight from the request: no quote frame to pivot. Requests
    # carry no Asian-handicap line, so those features are NaN, as for a match whose books quoted none.
    lines = np.full((len(_PHASES), len(fixtures)), np.nan)
    return dict(price_features(_prices(fixtures, "1x2", 3), _prices(fixtures, "totals", 2), lines))
