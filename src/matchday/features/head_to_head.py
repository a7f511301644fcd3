"""Head-to-head: how the current home team fared in the last K meetings of the two teams, either venue.

`h2h_n` is the number of meetings in the window (0..K); `h2h_home_points` the current home team's points per game
(3/1/0) in them and `h2h_home_gd` its mean goal difference, both unweighted and NaN when the teams never met
before the match day. Meetings cross season and competition boundaries (cup ties count if the frame holds them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matchday.features.form import Histories, match_arrays
from matchday.features.frames import validate_match_frame

__all__ = ["HeadToHeadParams", "head_to_head_features"]


@dataclass(frozen=True, slots=True)
class HeadToHeadParams:
    """`meetings`: how many of the latest meetings count (K)."""

    meetings: int = 5

    def __post_init__(self) -> None:
        if self.meetings < 1:
            raise ValueError(f"meetings must be at least 1, got {self.meetings}")


def head_to_head_features(matches: pd.DataFrame, params: HeadToHeadParams = HeadToHeadParams()) -> pd.DataFrame:
    """`h2h_n`, `h2h_home_points`, `h2h_home_gd` of every match, indexed by match_id."""
    validate_match_frame(matches)
    home, away, days, match_ids = match_arrays(matches)
    # A pairing is the unordered pair; its history is kept from the view of the team with the lower code.
    low, high = np.minimum(home, away), np.maximum(home, away)
    home_is_low = home == low
    home_goals = matches["home_goals"].to_numpy(dtype=np.float64)
    away_goals = matches["away_goals"].to_numpy(dtype=np.float64)
    gd_low = np.where(home_is_low, home_goals - away_goals, away_goals - home_goals)
    points_low = np.select([gd_low > 0, gd_low == 0], [3.0, 1.0], 0.0)
    points_high = np.select([gd_low < 0, gd_low == 0], [3.0, 1.0], 0.0)
    history = Histories.build(low * (int(high.max(initial=0)) + 1) + high, days, match_ids)
    values = np.column_stack([points_low, points_high, gd_low])[history.order]
    before = history.before_day(history.trailing_means(values, np.ones(params.meetings)))
    columns = {
        "h2h_n": history.count_before_day(params.meetings),
        "h2h_home_points": np.where(home_is_low, before[:, 0], before[:, 1]),
        "h2h_home_gd": np.where(home_is_low, before[:, 2], -before[:, 2]),
    }
    return pd.DataFrame(columns, index=pd.Index(match_ids, name="match_id"))
