"""Head-to-head features on hand-built frames; leakage and real-data checks for all groups live in test_form.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from matchday.features.head_to_head import HeadToHeadParams, head_to_head_features


def frame(rows: Sequence[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """A match frame from (date, home, away, home_goals, away_goals) rows, ids 0, 1, ..."""
    columns = ["match_date", "home_team", "away_team", "home_goals", "away_goals"]
    matches = pd.DataFrame(list(rows), columns=columns).astype({"home_goals": np.int64, "away_goals": np.int64})
    matches["match_date"] = pd.to_datetime(matches["match_date"])
    return matches.assign(match_id=np.arange(len(rows), dtype=np.int64), competition="E0", season=2020)


def at(features: pd.DataFrame, match_id: int, column: str) -> float:
    """One feature of one match as a float."""
    return float(features.loc[[match_id], [column]].to_numpy(dtype=np.float64)[0, 0])


def row(features: pd.DataFrame, match_id: int, columns: list[str]) -> list[float]:
    """Some features of one match as floats."""
    return [float(value) for value in features.loc[[match_id], columns].to_numpy(dtype=np.float64)[0]]


def test_columns_index_and_no_meeting() -> None:
    features = head_to_head_features(frame([("2020-08-01", "A", "B", 1, 0), ("2020-08-08", "A", "C", 2, 2)]))
    assert features.columns.tolist() == ["h2h_n", "h2h_home_points", "h2h_home_gd"]
    assert features.index.name == "match_id"
    assert features["h2h_n"].tolist() == [0, 0]  # A met B, not C
    assert features[["h2h_home_points", "h2h_home_gd"]].isna().all().all()
    assert features["h2h_n"].dtype == np.int64


def test_meetings_at_either_venue_from_the_current_home_teams_view() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B", 2, 0),  # A: 3 pts, +2
            ("2020-08-08", "B", "A", 1, 1),  # A: 1 pt, 0
            ("2020-08-09", "A", "C", 5, 0),  # not a meeting
            ("2020-08-15", "B", "A", 3, 0),  # A: 0 pts, -3
            ("2020-08-22", "A", "B", 0, 0),
            ("2020-08-29", "B", "A", 0, 0),
        ]
    )
    features = head_to_head_features(matches)
    assert at(features, 4, "h2h_n") == 3
    assert at(features, 4, "h2h_home_points") == pytest.approx((3 + 1 + 0) / 3)
    assert at(features, 4, "h2h_home_gd") == pytest.approx((2 + 0 - 3) / 3)
    # Match 5 from B's view: 0, 1, 3, 1 points; -2, 0, +3, 0 goal difference.
    assert at(features, 5, "h2h_n") == 4
    assert at(features, 5, "h2h_home_points") == pytest.approx(5 / 4)
    assert at(features, 5, "h2h_home_gd") == pytest.approx(1 / 4)


def test_only_the_last_k_meetings_count() -> None:
    scores = [(9, 0), (0, 1), (1, 1), (2, 0), (0, 0), (1, 2)]
    rows = [(f"2020-08-{day + 1:02d}", "A", "B", hg, ag) for day, (hg, ag) in enumerate(scores)]
    features = head_to_head_features(frame([*rows, ("2020-08-10", "A", "B", 0, 0)]))
    assert at(features, 6, "h2h_n") == 5  # the 9-0 fell out
    assert at(features, 6, "h2h_home_points") == pytest.approx((0 + 1 + 3 + 1 + 0) / 5)
    assert at(features, 6, "h2h_home_gd") == pytest.approx((-1 + 0 + 2 + 0 - 1) / 5)
    two = head_to_head_features(frame([*rows, ("2020-08-10", "A", "B", 0, 0)]), HeadToHeadParams(meetings=2))
    assert row(two, 6, ["h2h_n", "h2h_home_points", "h2h_home_gd"]) == pytest.approx([2, 0.5, -0.5])


def test_same_day_meetings_do_not_see_each_other() -> None:
    matches = frame([("2020-08-01", "A", "B", 4, 0), ("2020-08-01", "B", "A", 0, 1), ("2020-08-02", "B", "A", 1, 1)])
    features = head_to_head_features(matches)
    assert at(features, 1, "h2h_n") == 0
    assert np.isnan(at(features, 1, "h2h_home_gd"))
    assert at(features, 2, "h2h_n") == 2
    assert at(features, 2, "h2h_home_gd") == pytest.approx((-4 - 1) / 2)
    assert at(features, 2, "h2h_home_points") == 0


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="must be"):
        HeadToHeadParams(meetings=0)
