"""The point-in-time feature table: one row per match with both sides' features as known before kickoff.

Columns: `match_id`, `kickoff`, `home_team`, `away_team`, `competition`, `season`, then the features. A
feature's prediction moment is in its name (`matchday.features.moments`): `close_*` needs closing prices.
Rows are computed over the whole history given and only then cut to the seasons asked for, so a season's first
matches still see the form and ratings earned before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from matchday.features.elo import EloParams, elo_features
from matchday.features.form import FormParams, form_features
from matchday.features.frames import validate_match_frame
from matchday.features.head_to_head import HeadToHeadParams, head_to_head_features
from matchday.features.market import market_features
from matchday.features.pi_ratings import PiParams, pi_features
from matchday.features.schedule import ScheduleParams, schedule_features

__all__ = ["KEY_COLUMNS", "FeatureParams", "build_feature_table", "feature_columns"]

KEY_COLUMNS = ("match_id", "kickoff", "home_team", "away_team", "competition", "season")


@dataclass(frozen=True, slots=True)
class FeatureParams:
    elo: EloParams = field(default_factory=EloParams)
    pi: PiParams = field(default_factory=PiParams)
    form: FormParams = field(default_factory=FormParams)
    schedule: ScheduleParams = field(default_factory=ScheduleParams)
    head_to_head: HeadToHeadParams = field(default_factory=HeadToHeadParams)


def _kickoff(matches: pd.DataFrame) -> pd.Series:
    # Kickoff times exist from 2019-20; before that the match day is all that is known.
    kickoff = matches["kickoff_at"] if "kickoff_at" in matches.columns else pd.Series(pd.NaT, index=matches.index)
    return pd.to_datetime(kickoff).fillna(matches["match_date"])


def build_feature_table(
    matches: pd.DataFrame,
    quotes: pd.DataFrame,
    params: FeatureParams | None = None,
    seasons: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Every feature group for every match of `matches`, cut to `seasons` (all when None) at the end."""
    validate_match_frame(matches)
    params = params or FeatureParams()
    match_ids = matches["match_id"].tolist()
    groups = [
        elo_features(matches, params.elo),
        pi_features(matches, params.pi),
        form_features(matches, params.form),
        schedule_features(matches, params.schedule),
        head_to_head_features(matches, params.head_to_head),
        market_features(quotes, match_ids),
    ]
    keys = pd.DataFrame(
        {
            "match_id": matches["match_id"].to_numpy(),
            "kickoff": _kickoff(matches).to_numpy(),
            "home_team": matches["home_team"].to_numpy(),
            "away_team": matches["away_team"].to_numpy(),
            "competition": matches["competition"].to_numpy(),
            "season": matches["season"].to_numpy(),
        }
    )
    features = pd.concat([group.reindex(match_ids) for group in groups], axis=1)
    table = pd.concat([keys, features.reset_index(drop=True)], axis=1)
    if seasons is not None:
        table = table[table["season"].isin(list(seasons))].reset_index(drop=True)
    return table


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The feature columns of a table, in order (everything but the keys)."""
    return [column for column in table.columns if column not in KEY_COLUMNS]
