"""Recent form: each side's exponentially weighted averages over its last matches before the match day.

A match gets, for each side (`home_` / `away_`), two scopes: `form` (the team's last N matches at any venue) and
`venue_form` (the home team's last N home matches, the away team's last N away matches). Each scope holds points
per game (3/1/0), goals for and against, shots and shots on target for and against, and `_n`, how many matches
the window held (0..N). Weights: the most recent match 1, a match `age` matches older 0.5 ** (age / half_life).

A team with no earlier match gets NaN averages and `_n` 0, so models see "unknown" rather than made-up numbers.
Form crosses season and competition boundaries: a team's previous matches are its previous matches, whether
last season's or the lower league's.

Shot statistics are missing (NaN, or the column absent) in some seasons. The window is always the team's last N
matches; matches in it without the statistic are skipped, and the rest keep their age weights. A shot feature is
NaN when no match in the window has the statistic, so stale shots from beyond the window never stand in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.features.frames import STAT_COLUMNS, validate_match_frame

__all__ = ["FORM_STATS", "FormParams", "Histories", "form_features", "match_arrays"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

FORM_STATS = ("points", "gf", "ga", "shots_for", "shots_against", "sot_for", "sot_against")


@dataclass(frozen=True, slots=True)
class FormParams:
    """`window`: matches per form window; `half_life`: age in matches at which a match's weight halves."""

    window: int = 6
    half_life: float = 3.0

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        if not self.half_life > 0:
            raise ValueError(f"half_life must be positive, got {self.half_life}")

    @property
    def weights(self) -> Floats:
        """Weight by age, most recent first."""
        return np.asarray(0.5 ** (np.arange(self.window) / self.half_life), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Histories:
    """Rows of a long frame sorted by (group, day, match_id), where a group is a team or a pairing.

    `anchor[i]` is the sorted index of the last row of row i's group on an EARLIER day (-1 if none): reading history
    up to the anchor, rather than up to the previous row, keeps same-day matches of a group from seeing each other.
    """

    order: Ints  # sorted index -> input row
    key: Ints  # group * stride + day (days from the first day), sorted
    day: Ints  # days since the frame's first day
    position: Ints  # rank of the row within its group
    anchor: Ints
    day_start: Ints  # sorted index of the group's first row on the row's day

    @classmethod
    def build(cls, groups: Ints, days: Ints, match_ids: Ints) -> Histories:
        order = np.lexsort((match_ids, days, groups)).astype(np.int64)
        day = days[order] - (days.min() if len(days) else 0)
        key = groups[order] * (int(day.max(initial=0)) + 1) + day
        group_start = np.searchsorted(key, key - day, side="left").astype(np.int64)
        day_start = np.searchsorted(key, key, side="left").astype(np.int64)
        anchor = np.where(day_start > group_start, day_start - 1, -1)
        position = np.arange(len(order), dtype=np.int64) - group_start
        return cls(order, key, day, position, anchor, day_start)

    def before_day(self, per_row: Floats) -> Floats:
        """Each input row's value of `per_row` (sorted order) at its anchor, NaN without one; in input order."""
        out = np.full_like(per_row, np.nan)
        has = self.anchor >= 0
        out[self.order[has]] = per_row[self.anchor[has]]
        return out

    def count_before_day(self, window: int) -> Ints:
        """How many of the group's rows, at most `window`, lie on earlier days; in input order."""
        out = np.zeros(len(self.order), dtype=np.int64)
        has = self.anchor >= 0
        out[self.order[has]] = np.minimum(self.position[self.anchor[has]] + 1, window)
        return out

    def trailing_means(self, values: Floats, weights: Floats) -> Floats:
        """Weighted mean, per sorted row, over it and the len(weights) - 1 rows before it in its group.

        `values` is (rows, k) in sorted order; NaN values are skipped and the others keep their age weights.
        """
        total, weight_sum = np.zeros_like(values), np.zeros_like(values)
        for age, weight in enumerate(weights[: len(values)]):
            past = np.full_like(values, np.nan)
            past[age:] = values[: len(values) - age]
            past[self.position < age] = np.nan  # would reach into the previous group
            seen = ~np.isnan(past)
            total += weight * np.where(seen, past, 0.0)
            weight_sum += weight * seen
        return np.divide(total, weight_sum, out=np.full_like(values, np.nan), where=weight_sum > 0)


def match_arrays(matches: pd.DataFrame) -> tuple[Ints, Ints, Ints, Ints]:
    """Home team codes, away team codes (one code per team name), days since the epoch and match ids."""
    names = np.concatenate([matches["home_team"].to_numpy(dtype=object), matches["away_team"].to_numpy(dtype=object)])
    codes = pd.factorize(names)[0].astype(np.int64)
    days = matches["match_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    return codes[: len(matches)], codes[len(matches) :], days, matches["match_id"].to_numpy(dtype=np.int64)


def _stat(matches: pd.DataFrame, column: str) -> Floats:
    if column not in matches.columns:
        return np.full(len(matches), np.nan)
    return pd.to_numeric(matches[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _side_values(matches: pd.DataFrame) -> tuple[Floats, Floats]:
    """Per match, FORM_STATS as the home side and as the away side saw it."""
    home_goals = matches["home_goals"].to_numpy(dtype=np.float64)
    away_goals = matches["away_goals"].to_numpy(dtype=np.float64)
    home_shots, away_shots, home_sot, away_sot = (_stat(matches, column) for column in STAT_COLUMNS)
    home_points = np.select([home_goals > away_goals, home_goals == away_goals], [3.0, 1.0], 0.0)
    away_points = np.select([away_goals > home_goals, home_goals == away_goals], [3.0, 1.0], 0.0)
    home = np.column_stack([home_points, home_goals, away_goals, home_shots, away_shots, home_sot, away_sot])
    away = np.column_stack([away_points, away_goals, home_goals, away_shots, home_shots, away_sot, home_sot])
    return home, away


def _form(groups: Ints, days: Ints, match_ids: Ints, values: Floats, params: FormParams) -> tuple[Floats, Ints]:
    """Form of each row's group before the row's day, in input order: the means (rows, k) and the window sizes."""
    history = Histories.build(groups, days, match_ids)
    means = history.trailing_means(values[history.order], params.weights)
    return history.before_day(means), history.count_before_day(params.window)


def form_features(matches: pd.DataFrame, params: FormParams = FormParams()) -> pd.DataFrame:
    """Form features of every match (columns `{home,away}_{form,venue_form}_{n,<FORM_STATS>}`), by match_id."""
    validate_match_frame(matches)
    home, away, days, match_ids = match_arrays(matches)
    home_values, away_values = _side_values(matches)
    rows = len(matches)
    teams, values = np.concatenate([home, away]), np.vstack([home_values, away_values])
    overall, overall_n = _form(teams, np.tile(days, 2), np.tile(match_ids, 2), values, params)
    scopes = {
        "home_form": (overall[:rows], overall_n[:rows]),
        "home_venue_form": _form(home, days, match_ids, home_values, params),
        "away_form": (overall[rows:], overall_n[rows:]),
        "away_venue_form": _form(away, days, match_ids, away_values, params),
    }
    columns: dict[str, Floats | Ints] = {}
    for prefix, (means, counts) in scopes.items():
        columns[f"{prefix}_n"] = counts
        columns.update({f"{prefix}_{stat}": means[:, j] for j, stat in enumerate(FORM_STATS)})
    return pd.DataFrame(columns, index=pd.Index(match_ids, name="match_id"))
