"""The match dataset every forecaster and the walk-forward work on (see `matchday.models.base`): the point-in-time
feature table with each match's day, goals and outcome, in kickoff order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from matchday.domain import Match
from matchday.evaluation.metrics import AWAY, DRAW, HOME
from matchday.features.frames import frames_from_matches
from matchday.features.table import FeatureParams, build_feature_table, fit_params_before
from matchday.ingest.football_data import parse_season_file
from matchday.ingest.store.frames import load_match_frame, load_quote_frame

__all__ = ["DatasetSpec", "build_dataset", "dataset_from_files", "load_dataset", "outcome_codes"]


def outcome_codes(home_goals: pd.Series, away_goals: pd.Series) -> np.ndarray:
    """0 for a home win, 1 for a draw, 2 for an away win."""
    home, away = home_goals.to_numpy(), away_goals.to_numpy()
    return np.where(home > away, HOME, np.where(home == away, DRAW, AWAY)).astype(np.int64)


class DatasetSpec:
    """What a dataset was built from, for reports: the feature parameters and the seasons they were fitted on."""

    def __init__(self, params: FeatureParams, fitted_on: list[int]) -> None:
        self.params = params
        self.fitted_on = fitted_on


def build_dataset(
    matches: pd.DataFrame, quotes: pd.DataFrame, first_predicted_season: int, last_season: int
) -> tuple[pd.DataFrame, DatasetSpec]:
    """The dataset of every match up to `last_season` (earlier seasons are training history). Feature parameters
    (Elo's) are fitted on seasons before `first_predicted_season` only, so no predicted match shaped them."""
    played = matches[matches["season"] <= last_season].reset_index(drop=True)
    if played.empty:
        raise ValueError(f"no matches up to season {last_season}")
    params, fitted_on = fit_params_before(played, first_predicted_season)
    table = build_feature_table(played, quotes[quotes["match_id"].isin(played["match_id"])], params)
    results = played.set_index("match_id").loc[table["match_id"], ["match_date", "home_goals", "away_goals"]]
    table.insert(
        list(table.columns).index("kickoff") + 1, "match_date", pd.to_datetime(results["match_date"]).to_numpy()
    )
    table["home_goals"] = results["home_goals"].to_numpy()
    table["away_goals"] = results["away_goals"].to_numpy()
    table["outcome"] = outcome_codes(table["home_goals"], table["away_goals"])
    table = table.sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True)
    return table, DatasetSpec(params, fitted_on)


def load_dataset(
    engine: Engine, competitions: Sequence[str], first_predicted_season: int, last_season: int
) -> tuple[pd.DataFrame, DatasetSpec]:
    """`build_dataset` over the stored matches and prices of `competitions`."""
    matches = load_match_frame(engine, competitions)
    if matches.empty:
        raise ValueError(f"the store holds no matches of {', '.join(competitions)}")
    return build_dataset(
        matches, load_quote_frame(engine, matches["match_id"].tolist()), first_predicted_season, last_season
    )


def dataset_from_files(
    data_dir: Path, competitions: Sequence[str], first_predicted_season: int, last_season: int
) -> tuple[pd.DataFrame, DatasetSpec]:
    """`build_dataset` straight from football-data season files (`<data_dir>/football-data/<league>/*.csv`),
    without a store: what the benchmarks use."""
    parsed: list[Match] = []
    for competition in competitions:
        files = sorted((data_dir / "football-data" / competition).glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"no season files under {data_dir / 'football-data' / competition}")
        parsed.extend(match for path in files for _, match in parse_season_file(path).matches)
    matches, quotes = frames_from_matches(parsed)
    return build_dataset(matches, quotes, first_predicted_season, last_season)
