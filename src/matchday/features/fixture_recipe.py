"""How the serving path rebuilds a fixture's feature row from a team-feature lookup and the request's prices.

The feature table computes every feature by replaying history; a server has no history, only each team's latest
row in the online store (Elo, pi-ratings, form, rest) and the prices in the request. The match-level features are
functions of those, except two things only history knows, which training captures here as a `FixtureRecipe`
saved with the model bundle:

- `elo_home_advantage`: the Elo home advantage the table's `elo_diff` adds (fitted per training run);
- head-to-head: for every pairing of the latest season's teams, `h2h_n`, `h2h_home_points` and `h2h_home_gd` as
  of the day after the last match trained on, computed by the table's own code on those pairings as unplayed
  fixtures. A pairing without a meeting gets what the table gives it: `h2h_n` 0 and NaN means.

Everything here is pure pandas/NumPy, so the row a server builds is the row the table would have built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.features.head_to_head import head_to_head_features
from matchday.features.pi_ratings import pi_expected_goal_difference

__all__ = ["H2H_COLUMNS", "FixtureRecipe"]

H2H_COLUMNS = ("h2h_n", "h2h_home_points", "h2h_home_gd")
_NO_MEETING = (0.0, float("nan"), float("nan"))


def _pair_key(home: str, away: str) -> str:
    return f"{home}|{away}"


@dataclass(frozen=True)
class FixtureRecipe:
    elo_home_advantage: float
    head_to_head: Mapping[str, Mapping[str, tuple[float, float, float]]] = field(default_factory=dict)

    @classmethod
    def from_history(cls, matches: pd.DataFrame) -> FixtureRecipe:
        """From the played matches a model was trained on (the feature table joined with results)."""
        return cls(_home_advantage(matches), _latest_head_to_head(matches))

    def match_features(
        self, competition: str, home_team: str, away_team: str, home: Mapping[str, float], away: Mapping[str, float]
    ) -> dict[str, float]:
        """The match-level features of one fixture from both teams' online features (`elo`, `pi_home`, `pi_away`)."""
        ratings = {name: (np.array([home[name]]), np.array([away[name]])) for name in ("elo", "pi_home", "pi_away")}
        batch = self.match_features_batch([(competition, home_team, away_team)], ratings)
        return {column: float(values[0]) for column, values in batch.items()}

    def match_features_batch(
        self,
        fixtures: Sequence[tuple[str, str, str]],
        ratings: Mapping[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]],
    ) -> dict[str, npt.NDArray[np.float64]]:
        """`match_features` for many fixtures (competition, home, away) at once; `ratings[name]` holds the home
        and the away sides' values of `elo`, `pi_home` and `pi_away`, one per fixture."""
        (elo_home, elo_away), (pi_home, _), (_, pi_away) = ratings["elo"], ratings["pi_home"], ratings["pi_away"]
        diff = elo_home - elo_away + self.elo_home_advantage
        h2h = np.array(
            [self.head_to_head.get(c, {}).get(_pair_key(h, a), _NO_MEETING) for c, h, a in fixtures], dtype=np.float64
        ).reshape(len(fixtures), len(H2H_COLUMNS))
        return {
            "elo_diff": diff,
            "elo_expected_home": 1.0 / (1.0 + 10.0 ** (-diff / 400.0)),
            "pi_expected_gd": pi_expected_goal_difference(pi_home) - pi_expected_goal_difference(pi_away),
            **{column: h2h[:, j] for j, column in enumerate(H2H_COLUMNS)},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "elo_home_advantage": self.elo_home_advantage,
            "head_to_head": {c: {p: list(v) for p, v in pairs.items()} for c, pairs in self.head_to_head.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FixtureRecipe:
        pairs = {
            str(c): {str(p): (float(v[0]), float(v[1]), float(v[2])) for p, v in entries.items()}
            for c, entries in data["head_to_head"].items()
        }
        return cls(float(data["elo_home_advantage"]), pairs)


def _home_advantage(matches: pd.DataFrame) -> float:
    # The table's elo_diff is elo_home - elo_away + a constant: recover the constant from its rows.
    offsets = (matches["elo_diff"] - (matches["elo_home"] - matches["elo_away"])).dropna()
    if offsets.empty:
        raise ValueError("no row with elo_home, elo_away and elo_diff: cannot recover the Elo home advantage")
    return float(offsets.median())


def _latest_head_to_head(matches: pd.DataFrame) -> dict[str, dict[str, tuple[float, float, float]]]:
    played = matches.sort_values(["match_date", "match_id"], kind="stable").reset_index(drop=True)
    day_after = pd.Timestamp(played["match_date"].max()) + pd.Timedelta(days=1)
    latest = played[played["season"] == played.groupby("competition")["season"].transform("max")]
    fixtures = []
    for competition, rows in latest.groupby("competition", sort=True):
        teams = sorted(set(rows["home_team"]) | set(rows["away_team"]))
        fixtures += [(competition, home, away) for home in teams for away in teams if home != away]
    if not fixtures:
        return {}
    unplayed = pd.DataFrame(fixtures, columns=["competition", "home_team", "away_team"])
    unplayed["match_id"] = np.arange(len(unplayed)) + int(played["match_id"].max()) + 1
    unplayed["match_date"] = day_after
    unplayed["season"] = -1
    unplayed["home_goals"] = unplayed["away_goals"] = 0  # a stand-in: no feature of a match uses its own result
    frame = pd.concat([played, unplayed], ignore_index=True)
    h2h = head_to_head_features(frame).loc[unplayed["match_id"]].reset_index(drop=True)
    result: dict[str, dict[str, tuple[float, float, float]]] = {}
    for fixture, values in zip(unplayed.itertuples(index=False), h2h[list(H2H_COLUMNS)].to_numpy(), strict=True):
        if values[0] > 0:  # a pairing that never met is the default
            pairs = result.setdefault(str(fixture.competition), {})
            pairs[_pair_key(str(fixture.home_team), str(fixture.away_team))] = (
                float(values[0]),
                float(values[1]),
                float(values[2]),
            )
    return result
