"""Schedule features: rest before a match and fixture congestion, per side (`home_` / `away_`).

`rest_days` is the days since the team's previous match on an earlier day, capped at `max_rest_days` (30 by
default, so a summer break reads as "fully rested" rather than dominating the scale), NaN for its first match.
`matches_<W>d` counts the team's matches on the W days before the match day (days d-W .. d-1; W = 14 by default),
never the day itself. Both cross season and competition boundaries, like form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matchday.features.form import Floats, Histories, Ints, match_arrays
from matchday.features.frames import validate_match_frame

__all__ = ["ScheduleParams", "schedule_features"]


@dataclass(frozen=True, slots=True)
class ScheduleParams:
    """`max_rest_days`: cap on rest days; `congestion_days`: the window W of `matches_<W>d`."""

    max_rest_days: float = 30.0
    congestion_days: int = 14

    def __post_init__(self) -> None:
        if not self.max_rest_days > 0:
            raise ValueError(f"max_rest_days must be positive, got {self.max_rest_days}")
        if self.congestion_days < 1:
            raise ValueError(f"congestion_days must be at least 1, got {self.congestion_days}")


def _rest_days(history: Histories, cap: float) -> Floats:
    has = history.anchor >= 0
    rest = np.full(len(history.order), np.nan)
    rest[has] = history.day[has] - history.day[history.anchor[has]]
    out = np.empty_like(rest)
    out[history.order] = np.minimum(rest, cap)  # NaN stays NaN
    return out


def _recent_matches(history: Histories, window: int) -> Ints:
    # Keys are group * stride + day, so the window's first key never reaches into the previous group.
    lower = history.key - np.minimum(history.day, window)
    counts = history.day_start - np.searchsorted(history.key, lower, side="left")
    out = np.empty_like(counts)
    out[history.order] = counts
    return out


def schedule_features(matches: pd.DataFrame, params: ScheduleParams = ScheduleParams()) -> pd.DataFrame:
    """`{home,away}_rest_days` and `{home,away}_matches_<W>d` of every match, indexed by match_id."""
    validate_match_frame(matches)
    home, away, days, match_ids = match_arrays(matches)
    history = Histories.build(np.concatenate([home, away]), np.tile(days, 2), np.tile(match_ids, 2))
    rest = _rest_days(history, params.max_rest_days)
    recent = _recent_matches(history, params.congestion_days)
    rows, window = len(matches), params.congestion_days
    columns = {
        "home_rest_days": rest[:rows],
        "away_rest_days": rest[rows:],
        f"home_matches_{window}d": recent[:rows],
        f"away_matches_{window}d": recent[rows:],
    }
    return pd.DataFrame(columns, index=pd.Index(match_ids, name="match_id"))
