"""Elo features: values worked out by hand, the leakage rule, a simulated league and real E0 seasons."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from matchday.features.elo import (
    EloParams,
    EloSearch,
    elo_features,
    elo_log_loss,
    elo_team_ratings,
    fit_elo_params,
    goal_difference_multiplier,
)

ELO_COLUMNS = ["elo_home", "elo_away", "elo_diff", "elo_expected_home"]
PLAIN = EloParams(k=20, home_advantage=60, season_regression=0.0, goal_diff_multiplier=False, promoted_pool=0)


def frame(rows: Sequence[tuple[str, str, str, int, int]], competition: str = "L") -> pd.DataFrame:
    """A match frame from (date, home, away, home_goals, away_goals) rows, ids 0, 1, ...; seasons start in July."""
    records = []
    for match_id, (day, home, away, home_goals, away_goals) in enumerate(rows):
        date = pd.Timestamp(day)
        season = date.year if date.month >= 7 else date.year - 1
        records.append([match_id, competition, season, date, home, away, home_goals, away_goals])
    columns = ["match_id", "competition", "season", "match_date", "home_team", "away_team", "home_goals", "away_goals"]
    return pd.DataFrame(records, columns=columns)


def expected(diff: float) -> float:
    """The expected score of the side `diff` Elo points ahead, written out here rather than taken from the code."""
    return 1.0 / (1.0 + 10.0 ** (-diff / 400.0))


def ratings(features: pd.DataFrame, match_id: int) -> tuple[float, float]:
    return features.loc[match_id, "elo_home"], features.loc[match_id, "elo_away"]


# --- hand-built frames -----------------------------------------------------------------------------------------


def test_first_match_of_a_team_is_rated_initial() -> None:
    matches = frame([("2020-08-01", "A", "B", 1, 0), ("2020-08-01", "C", "D", 0, 0), ("2020-08-08", "A", "E", 0, 0)])
    features = elo_features(matches, EloParams())
    assert features.loc[[0, 1], ["elo_home", "elo_away"]].to_numpy().tolist() == [[1500.0, 1500.0]] * 2
    assert features.loc[2, "elo_away"] == 1500.0  # E's first match, a week later
    assert features.loc[0, "elo_diff"] == 60.0
    assert features.loc[0, "elo_expected_home"] == pytest.approx(0.5854986786718095, abs=1e-12)
    assert elo_features(matches, EloParams(initial=1000.0)).loc[1, "elo_away"] == 1000.0


def test_columns_and_index_follow_the_frame() -> None:
    matches = frame([("2020-08-01", "A", "B", 1, 0), ("2020-08-01", "C", "D", 2, 2), ("2020-08-08", "B", "C", 0, 3)])
    matches["match_id"] = [30, 10, 20]
    matches = matches.sort_values(["match_date", "match_id"]).reset_index(drop=True)
    features = elo_features(matches)
    assert features.columns.tolist() == ELO_COLUMNS
    assert features.index.name == "match_id"
    assert features.index.tolist() == [10, 30, 20]
    assert len(elo_features(matches.iloc[:0])) == 0


def test_an_unsorted_frame_is_refused() -> None:
    matches = frame([("2020-08-08", "A", "B", 1, 0), ("2020-08-01", "C", "D", 2, 2)])
    with pytest.raises(ValueError, match="sorted"):
        elo_features(matches)


def test_goal_difference_multiplier() -> None:
    margins = [0, 1, -1, 2, -2, 3, -4, 7]
    assert goal_difference_multiplier(margins).tolist() == [1.0, 1.0, 1.0, 1.5, 1.5, 1.75, 1.875, 2.25]


def test_two_teams_by_hand() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B", 2, 0),
            ("2020-08-08", "B", "A", 1, 1),
            ("2020-08-15", "A", "B", 0, 3),
            ("2020-08-22", "A", "B", 0, 0),
        ]
    )
    features = elo_features(matches, EloParams(k=20, home_advantage=60, season_regression=0.5))
    # Day 1: A at home, both 1500, won by 2 goals (multiplier 1.5).
    a = 1500 + 20 * 1.5 * (1 - expected(60))
    b = 1500 - 20 * 1.5 * (1 - expected(60))
    assert a == pytest.approx(1512.4350396398456, abs=1e-9)
    assert ratings(features, 1) == pytest.approx((b, a), abs=1e-9)
    # Day 2: B at home draws.
    step = 20 * 1.0 * (0.5 - expected(b + 60 - a))
    b, a = b + step, a - step
    assert ratings(features, 2) == pytest.approx((a, b), abs=1e-9)
    # Day 3: A at home loses by 3 goals (multiplier (11 + 3) / 8).
    step = 20 * 1.75 * (0.0 - expected(a + 60 - b))
    a, b = a + step, b - step
    assert ratings(features, 3) == pytest.approx((a, b), abs=1e-9)
    assert features.loc[3, "elo_diff"] == pytest.approx(a - b + 60, abs=1e-9)
    assert features.loc[3, "elo_expected_home"] == pytest.approx(expected(a - b + 60), abs=1e-12)
    assert elo_team_ratings(matches, EloParams(k=20, home_advantage=60)).to_dict() == pytest.approx(
        {"A": a + 20 * (0.5 - expected(a + 60 - b)), "B": b - 20 * (0.5 - expected(a + 60 - b))}, abs=1e-9
    )


def test_matches_of_one_day_do_not_see_each_other() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B", 3, 0),
            ("2020-08-08", "A", "C", 1, 0),
            ("2020-08-08", "D", "A", 2, 2),
            ("2020-08-15", "A", "B", 0, 0),
        ]
    )
    features = elo_features(matches, PLAIN)
    a1 = 1500 + 20 * (1 - expected(60))
    assert features.loc[1, "elo_home"] == features.loc[2, "elo_away"] == pytest.approx(a1, abs=1e-9)
    # Both of A's day-2 changes come from A's rating before day 2.
    a2 = a1 + 20 * (1 - expected(a1 + 60 - 1500)) - 20 * (0.5 - expected(1500 + 60 - a1))
    assert features.loc[3, "elo_home"] == pytest.approx(a2, abs=1e-9)


def test_season_regression_applies_once_per_team_per_season() -> None:
    matches = frame(
        [
            ("2019-08-01", "A", "B", 1, 0),  # A 1510, B 1490 (no home advantage, no multiplier)
            ("2020-08-01", "A", "B", 0, 0),
            ("2020-08-08", "B", "A", 0, 0),
        ]
    )
    params = EloParams(k=20, home_advantage=0, season_regression=0.25, goal_diff_multiplier=False)
    features = elo_features(matches, params)
    assert ratings(features, 0) == (1500.0, 1500.0)
    # A quarter of the way to the mean of last season's teams, 1500.
    assert ratings(features, 1) == (1507.5, 1492.5)
    step = 20 * (0.5 - expected(15))
    assert ratings(features, 2) == pytest.approx((1492.5 - step, 1507.5 + step), abs=1e-9)


def test_newcomers_start_where_the_lowest_rated_teams_would() -> None:
    matches = frame(
        [
            ("2019-08-01", "A", "B", 1, 0),  # A 1510, B 1490
            ("2019-08-08", "C", "D", 0, 0),  # C, D stay 1500
            ("2020-08-01", "E", "A", 1, 0),  # E is new
            ("2021-08-01", "B", "E", 0, 0),  # B skipped 2020
        ]
    )
    params = EloParams(k=20, home_advantage=0, season_regression=0.25, goal_diff_multiplier=False, promoted_pool=2)
    features = elo_features(matches, params)
    # Two lowest of 2019 (1490, 1500), mean 1495, regressed a quarter toward the 2019 mean 1500.
    e = 1495 + 0.25 * (1500 - 1495)
    a = 1510 + 0.25 * (1500 - 1510)
    assert ratings(features, 2) == (e, a) == (1496.25, 1507.5)
    step = 20 * (1 - expected(e - a))
    e, a = e + step, a - step
    # 2021's target is the mean of 2020's teams, E and A: B, idle in 2020, is regressed toward it once.
    mean_2020 = (e + a) / 2
    assert mean_2020 == pytest.approx(1501.875, abs=1e-9)
    expected_b = 1490 + 0.25 * (mean_2020 - 1490)
    expected_e = e + 0.25 * (mean_2020 - e)
    assert ratings(features, 3) == pytest.approx((expected_b, expected_e), abs=1e-9)
    assert elo_features(matches, PLAIN).loc[2, "elo_home"] == 1500.0  # promoted_pool 0: a newcomer starts initial


def test_log_loss_by_hand() -> None:
    matches = frame([("2019-08-01", "A", "B", 1, 0), ("2020-08-01", "A", "B", 1, 1), ("2020-08-08", "B", "A", 2, 0)])
    params = EloParams(k=20, home_advantage=60, season_regression=0.0, goal_diff_multiplier=False)
    a = 1500 + 20 * (1 - expected(60))
    p1 = expected(a + 60 - (3000 - a))
    step = 20 * (0.5 - p1)
    p2 = expected((3000 - a - step) + 60 - (a + step))
    by_hand = -(0.5 * math.log(p1) + 0.5 * math.log(1 - p1) + math.log(p2)) / 2
    assert elo_log_loss(matches, params, [2020]) == pytest.approx(by_hand, abs=1e-12)
    assert elo_log_loss(matches, params, [2019]) == pytest.approx(-math.log(expected(60)), abs=1e-12)
    with pytest.raises(ValueError, match="no match"):
        elo_log_loss(matches, params, [2018])


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="season_regression"):
        EloParams(season_regression=1.5)
    with pytest.raises(ValueError, match="k must"):
        EloParams(k=-1)


# --- the simulated league --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cutoff_day", [18, 25], ids=["first-day-of-a-season", "mid-season"])
def test_no_leakage_from_later_results(simulated_league: tuple[pd.DataFrame, pd.Series], cutoff_day: int) -> None:
    matches, _ = simulated_league
    cutoff = np.sort(matches["match_date"].unique())[cutoff_day]
    later = matches["match_date"] >= cutoff
    before = elo_features(matches)
    changed = matches.copy()
    changed.loc[later, ["home_goals", "away_goals"]] = (matches.loc[later, ["away_goals", "home_goals"]] + 1).to_numpy()
    after = elo_features(changed)
    # Matches on the cutoff day itself are rated before that day's results, so they keep their features too.
    kept = ~later | (matches["match_date"] == cutoff)
    assert_frame_equal(after[kept.to_numpy()], before[kept.to_numpy()])
    assert not after[~kept.to_numpy()].equals(before[~kept.to_numpy()])  # the change did reach later matches
    truncated = elo_features(matches[~later])
    assert_frame_equal(truncated, before[~later.to_numpy()])


def test_simulated_strengths_are_recovered(simulated_league: tuple[pd.DataFrame, pd.Series]) -> None:
    matches, strength = simulated_league
    final = elo_team_ratings(matches)
    assert final.corr(strength.reindex(final.index), method="spearman") > 0.8


def test_fit_beats_a_bad_k_and_is_deterministic(simulated_league: tuple[pd.DataFrame, pd.Series]) -> None:
    matches, _ = simulated_league
    seasons = [2020, 2021]
    fitted = fit_elo_params(matches, seasons)
    assert fitted == fit_elo_params(matches, seasons)
    assert elo_log_loss(matches, fitted, seasons) < elo_log_loss(matches, EloParams(k=1), seasons)
    grid_only = fit_elo_params(matches, seasons, EloSearch(refine=False))
    assert elo_log_loss(matches, fitted, seasons) <= elo_log_loss(matches, grid_only, seasons)
    assert grid_only.k in EloSearch().k and grid_only.season_regression in EloSearch().season_regression


def test_fit_ignores_later_seasons(simulated_league: tuple[pd.DataFrame, pd.Series]) -> None:
    matches, _ = simulated_league
    changed = matches.copy()
    later = changed["season"] == 2021
    changed.loc[later, "home_goals"] = 0
    search = EloSearch(max_evaluations=30)
    assert fit_elo_params(changed, [2020], search) == fit_elo_params(matches, [2020], search)


def test_fit_is_fast_on_five_seasons(league_simulator: Callable[..., tuple[pd.DataFrame, pd.Series]]) -> None:
    matches, _ = league_simulator(seed=7, teams=20, seasons=(2015, 2016, 2017, 2018, 2019))
    started = time.perf_counter()
    fit_elo_params(matches, [2016, 2017, 2018, 2019])
    assert time.perf_counter() - started < 10.0


# --- real data -------------------------------------------------------------------------------------------------


def test_real_e0_elo_beats_a_coin(e0_matches: pd.DataFrame) -> None:
    started = time.perf_counter()
    features = elo_features(e0_matches)
    elapsed = time.perf_counter() - started
    assert len(features) == 4 * 380 and not features.isna().to_numpy().any()
    assert elapsed < 2.0
    for season in (2021, 2022):
        assert elo_log_loss(e0_matches, EloParams(), [season]) < math.log(2.0)  # 0.5 every match: log 2
