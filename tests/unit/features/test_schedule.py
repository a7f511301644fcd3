"""Schedule features on hand-built frames; leakage and real-data checks for all groups live in test_form.py."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from matchday.features.schedule import ScheduleParams, schedule_features


def frame(rows: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """A match frame from (date, home, away) rows, every match 1-0, ids 0, 1, ..."""
    dates = pd.to_datetime([day for day, _, _ in rows])
    return pd.DataFrame(
        {
            "match_id": np.arange(len(rows), dtype=np.int64),
            "competition": "E0",
            "season": 2020,
            "match_date": dates,
            "home_team": [home for _, home, _ in rows],
            "away_team": [away for _, _, away in rows],
            "home_goals": 1,
            "away_goals": 0,
        }
    )


def at(features: pd.DataFrame, match_id: int, column: str) -> float:
    """One feature of one match as a float."""
    return float(features.loc[[match_id], [column]].to_numpy(dtype=np.float64)[0, 0])


def row(features: pd.DataFrame, match_id: int, columns: list[str]) -> list[float]:
    """Some features of one match as floats."""
    return [float(value) for value in features.loc[[match_id], columns].to_numpy(dtype=np.float64)[0]]


def test_columns_and_index() -> None:
    features = schedule_features(frame([("2020-08-01", "A", "B"), ("2020-08-01", "C", "D")]).assign(match_id=[5, 9]))
    assert features.columns.tolist() == ["home_rest_days", "away_rest_days", "home_matches_14d", "away_matches_14d"]
    assert features.index.tolist() == [5, 9]
    assert features.index.name == "match_id"


def test_first_match_has_nan_rest_and_no_recent_matches() -> None:
    features = schedule_features(frame([("2020-08-01", "A", "B")]))
    assert all(math.isnan(v) for v in row(features, 0, ["home_rest_days", "away_rest_days"]))
    assert row(features, 0, ["home_matches_14d", "away_matches_14d"]) == [0, 0]


def test_rest_days_count_from_the_previous_match_at_either_venue() -> None:
    features = schedule_features(frame([("2020-08-01", "A", "B"), ("2020-08-04", "C", "A"), ("2020-08-11", "B", "A")]))
    assert at(features, 1, "away_rest_days") == 3
    assert np.isnan(at(features, 1, "home_rest_days"))
    assert at(features, 2, "home_rest_days") == 10
    assert at(features, 2, "away_rest_days") == 7


def test_rest_days_are_capped() -> None:
    matches = frame([("2020-05-01", "A", "B"), ("2020-08-01", "A", "B"), ("2020-08-21", "B", "A")])
    assert schedule_features(matches)["home_rest_days"].tolist()[1:] == [30, 20]
    assert schedule_features(matches, ScheduleParams(max_rest_days=60))["home_rest_days"].tolist()[1:] == [60, 20]
    assert schedule_features(matches, ScheduleParams(max_rest_days=100))["home_rest_days"].tolist()[1:] == [92, 20]


def test_matches_in_the_14_days_before_the_match_day() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B"),  # day 0
            ("2020-08-04", "A", "C"),  # day 3
            ("2020-08-11", "D", "A"),  # day 10
            ("2020-08-15", "A", "E"),  # day 14: days 0..13 count, day 0 being exactly 14 days before
            ("2020-08-15", "F", "A"),  # the same day again: still only earlier days
            ("2020-08-16", "A", "G"),  # day 15: days 1..14, the two day-14 matches included
        ]
    )
    features = schedule_features(matches)
    assert features["home_matches_14d"].loc[[3, 4, 5]].tolist() == [3, 0, 4]
    assert at(features, 4, "away_matches_14d") == 3
    assert features["home_rest_days"].loc[[3, 5]].tolist() == [4, 1]
    assert at(features, 4, "away_rest_days") == 4  # not 0: the other day-14 match is not earlier
    assert features["home_matches_14d"].dtype == np.int64


def test_congestion_window_is_configurable_and_names_the_column() -> None:
    matches = frame([("2020-08-01", "A", "B"), ("2020-08-04", "A", "C"), ("2020-08-09", "A", "D")])
    features = schedule_features(matches, ScheduleParams(congestion_days=7))
    assert features["home_matches_7d"].tolist() == [0, 1, 1]  # day 8 sees days 1..7: only day 3


def test_schedule_ignores_other_teams() -> None:
    features = schedule_features(frame([("2020-08-01", "A", "B"), ("2020-08-02", "C", "D"), ("2020-08-03", "A", "C")]))
    assert row(features, 2, ["home_rest_days", "away_rest_days"]) == [2, 1]
    assert row(features, 2, ["home_matches_14d", "away_matches_14d"]) == [1, 1]


@pytest.mark.parametrize("params", [{"max_rest_days": 0}, {"congestion_days": 0}])
def test_bad_parameters_are_rejected(params: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ScheduleParams(**params)  # type: ignore[arg-type]
