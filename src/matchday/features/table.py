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

from matchday.features.elo import EloParams, elo_features, fit_elo_params
from matchday.features.form import FormParams, form_features
from matchday.features.frames import validate_match_frame
from matchday.features.head_to_head import HeadToHeadParams, head_to_head_features
from matchday.features.market import market_features
from matchday.features.pi_ratings import PiParams, pi_features
from matchday.features.schedule import ScheduleParams, schedule_features

__all__ = [
    "KEY_COLUMNS",
    "FeatureParams",
    "build_feature_table",
    "build_fixture_features",
    "feature_columns",
    "fit_params_before",
]

KEY_COLUMNS = ("match_id", "kickoff", "home_team", "away_team", "competition", "season")


@dataclass(frozen=True, slots=True)
class FeatureParams:
    elo: EloParams = field(default_factory=EloParams)
    pi: PiParams = field(default_factory=PiParams)
    form: FormParams = field(default_factory=FormParams)
    schedule: ScheduleParams = field(default_factory=ScheduleParams)
    head_to_head: HeadToHeadParams = field(default_factory=HeadToHeadParams)


def fit_params_before(matches: pd.DataFrame, first_season: int, window: int = 5) -> tuple[FeatureParams, list[int]]:
    """Feature parameters with Elo's k, home advantage and season regression chosen by log loss on the `window`
    seasons before `first_season` (never on the seasons whose rows will be used), and the seasons fitted on.
    With no earlier season in `matches`, the defaults and an empty list."""
    past = sorted(season for season in set(matches["season"]) if first_season - window <= season < first_season)
    if not past:
        return FeatureParams(), []
    return FeatureParams(elo=fit_elo_params(matches, past)), past


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


def build_fixture_features(
    matches: pd.DataFrame,
    quotes: pd.DataFrame,
    fixtures: pd.DataFrame,
    params: FeatureParams | None = None,
) -> pd.DataFrame:
    """Feature rows of upcoming fixtures (a match frame without results, ids unused by `matches`), as of kickoff.

    Each fixture day is computed from the played matches alone: a 0-0 stand-in result is given to the fixture
    while it is computed (no feature of a match uses its own result), and a fixture never sees another fixture.
    """
    if fixtures.empty:
        return build_feature_table(matches.iloc[:0], quotes.iloc[:0], params)
    last_played = matches["match_date"].max()
    early = fixtures[fixtures["match_date"] <= last_played]
    if not early.empty:
        first = early.iloc[0]
        raise ValueError(
            f"fixture {first['home_team']} v {first['away_team']} on {first['match_date']:%Y-%m-%d} is not after "
            f"the last played match ({last_played:%Y-%m-%d})"
        )
    if set(fixtures["match_id"]) & set(matches["match_id"]):
        raise ValueError("fixture match_id values must not be used by played matches")
    rows = []
    for _, day in fixtures.sort_values(["match_date", "match_id"]).groupby("match_date", sort=True):
        unplayed = day.assign(home_goals=0, away_goals=0)
        frame = pd.concat([matches, unplayed], ignore_index=True).sort_values(["match_date", "match_id"])
        table = build_feature_table(frame.reset_index(drop=True), quotes, params)
        rows.append(table[table["match_id"].isin(day["match_id"])])
    return pd.concat(rows, ignore_index=True)


def feature_columns(table: pd.DataFrame) -> list[str]:
    """The feature columns of a table, in order (everything but the keys)."""
    return [column for column in table.columns if column not in KEY_COLUMNS]
