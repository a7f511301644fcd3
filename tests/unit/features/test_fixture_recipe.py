"""The serving path's match-level features equal the feature table's: the recipe learned from the matches before a
day, applied to that day's matches from both teams' own features, gives the table's row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.dataset import dataset_from_files
from matchday.features.fixture_recipe import H2H_COLUMNS, FixtureRecipe

SAMPLE = Path(__file__).resolve().parents[3] / "src" / "matchday" / "sample_data"
_TEAM_COLUMNS = {"elo": ("elo_home", "elo_away"), "pi_home": ("pi_home_home", "pi_away_home"),
                 "pi_away": ("pi_home_away", "pi_away_away")}  # fmt: skip


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    table, _ = dataset_from_files(SAMPLE, ["E0"], 2021, 2022)
    return table


def _team(row: pd.Series, side: int) -> dict[str, float]:
    return {name: float(row[columns[side]]) for name, columns in _TEAM_COLUMNS.items()}


def test_recipe_rebuilds_the_tables_match_features_of_the_next_day(dataset: pd.DataFrame) -> None:
    days = sorted(dataset["match_date"].unique())
    next_day = days[-3]
    history = dataset[dataset["match_date"] < next_day]
    recipe = FixtureRecipe.from_history(history)
    day = dataset[dataset["match_date"] == next_day]
    assert len(day) >= 1
    for _, row in day.iterrows():
        served = recipe.match_features(
            row["competition"], row["home_team"], row["away_team"], _team(row, 0), _team(row, 1)
        )
        for column in ("elo_diff", "elo_expected_home", "pi_expected_gd", *H2H_COLUMNS):
            np.testing.assert_allclose(served[column], row[column], rtol=1e-9, equal_nan=True, err_msg=column)


def test_recipe_round_trips_and_a_pairing_that_never_met_has_no_history(dataset: pd.DataFrame) -> None:
    recipe = FixtureRecipe.from_history(dataset)
    again = FixtureRecipe.from_dict(recipe.to_dict())
    assert again.elo_home_advantage == recipe.elo_home_advantage
    assert again.head_to_head == recipe.head_to_head
    assert recipe.head_to_head["E0"], "the latest season's pairings met before"
    team = {"elo": 1500.0, "pi_home": 0.0, "pi_away": 0.0}
    unknown = recipe.match_features("E0", "Nowhere Town", "Arsenal", team, team)
    assert unknown["h2h_n"] == 0 and np.isnan(unknown["h2h_home_points"])
    assert unknown["elo_diff"] == pytest.approx(recipe.elo_home_advantage)
