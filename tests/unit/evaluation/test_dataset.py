"""The match dataset: the feature table joined with each match's day and result, in kickoff order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.dataset import dataset_from_files, outcome_codes

SAMPLE = Path(__file__).resolve().parents[3] / "src" / "matchday" / "sample_data"


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    table, spec = dataset_from_files(SAMPLE, ["E0"], 2022, 2022)
    assert spec.fitted_on == [2020, 2021]  # Elo fitted on the seasons before the first predicted one only
    return table


def test_outcome_codes() -> None:
    codes = outcome_codes(pd.Series([2, 1, 0]), pd.Series([0, 1, 3]))
    assert codes.tolist() == [0, 1, 2]


def test_rows_carry_results_in_kickoff_order(dataset: pd.DataFrame) -> None:
    assert len(dataset) == 3 * 380 and set(dataset["season"]) == {2020, 2021, 2022}
    assert dataset["kickoff"].is_monotonic_increasing
    assert (dataset["match_date"] == dataset["kickoff"].dt.normalize()).all()
    goal_gap = dataset["home_goals"] - dataset["away_goals"]
    assert (dataset["outcome"] == np.select([goal_gap > 0, goal_gap == 0], [0, 1], 2)).all()
    assert {"elo_diff", "open_pinnacle_h", "close_pinnacle_h"} <= set(dataset.columns)


def test_later_seasons_are_cut(dataset: pd.DataFrame) -> None:
    table, _ = dataset_from_files(SAMPLE, ["E0"], 2021, 2021)
    assert set(table["season"]) == {2020, 2021}
    # a season's rows do not depend on the seasons after it (Elo fitted on 2020 alone here, so compare form)
    merged = table.merge(dataset, on="match_id", suffixes=("", "_later"))
    np.testing.assert_array_equal(merged["home_form_n"], merged["home_form_n_later"])


def test_missing_league_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="XX"):
        dataset_from_files(tmp_path, ["XX"], 2022, 2022)
