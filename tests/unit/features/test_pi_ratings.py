"""Pi-ratings: the paper's update rules worked out by hand, the leakage rule, a simulated league and real E0."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from matchday.features.pi_ratings import PI_COLUMNS, PiParams, pi_expected_goal_difference, pi_features, pi_team_ratings

LAMBDA, GAMMA = 0.035, 0.7  # the paper's learning rates


def frame(rows: Sequence[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """A match frame from (date, home, away, home_goals, away_goals) rows, ids 0, 1, ...; seasons start in July."""
    records = []
    for match_id, (day, home, away, home_goals, away_goals) in enumerate(rows):
        date = pd.Timestamp(day)
        season = date.year if date.month >= 7 else date.year - 1
        records.append([match_id, "L", season, date, home, away, home_goals, away_goals])
    columns = ["match_id", "competition", "season", "match_date", "home_team", "away_team", "home_goals", "away_goals"]
    return pd.DataFrame(records, columns=columns)


def goals(rating: float) -> float:
    """The paper's expected goal difference for a rating (b = 10, c = 3), written out here, not taken from the code."""
    return (10 ** (abs(rating) / 3) - 1) * (1 if rating >= 0 else -1)


def row(features: pd.DataFrame, match_id: int) -> list[float]:
    return features.loc[match_id, list(PI_COLUMNS)].tolist()


def test_first_match_rates_everyone_zero() -> None:
    matches = frame([("2020-08-01", "A", "B", 3, 0), ("2020-08-08", "C", "A", 1, 0)])
    features = pi_features(matches)
    assert row(features, 0) == [0.0] * 5
    assert features.loc[1, ["pi_home_home", "pi_home_away"]].tolist() == [0.0, 0.0]  # C's first match
    assert features.columns.tolist() == list(PI_COLUMNS)
    assert features.index.name == "match_id" and features.index.tolist() == [0, 1]
    assert len(pi_features(matches.iloc[:0])) == 0


def test_expected_goal_difference() -> None:
    values = pi_expected_goal_difference([0.0, 3.0, -3.0, 1.5, -0.6])
    assert values == pytest.approx([0.0, 9.0, -9.0, math.sqrt(10) - 1, -(10**0.2 - 1)], abs=1e-12)


def test_two_teams_by_hand() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B", 2, 0),
            ("2020-08-08", "B", "A", 1, 1),
            ("2020-08-15", "A", "B", 0, 1),
            ("2021-08-14", "A", "B", 0, 0),
        ]
    )
    features = pi_features(matches)
    # Day 1: predicted 0, observed +2: the home side beat the prediction, so psi_H = +3 log10(3).
    psi = 3 * math.log10(1 + 2)
    a_home, a_away = LAMBDA * psi, LAMBDA * psi * GAMMA
    b_home, b_away = -LAMBDA * psi * GAMMA, -LAMBDA * psi
    assert a_home == pytest.approx(0.05009773174556456, abs=1e-12)
    predicted = goals(b_home) - goals(a_away)
    assert row(features, 1) == pytest.approx([b_home, b_away, a_home, a_away, predicted], abs=1e-9)
    # Day 2: B (home) was expected to lose, drew: B beat the prediction.
    assert predicted < 0
    psi = 3 * math.log10(1 + abs(0 - predicted))
    b_home, b_away = b_home + LAMBDA * psi, b_away + LAMBDA * psi * GAMMA
    a_away, a_home = a_away - LAMBDA * psi, a_home - LAMBDA * psi * GAMMA
    predicted = goals(a_home) - goals(b_away)
    assert row(features, 2) == pytest.approx([a_home, a_away, b_home, b_away, predicted], abs=1e-9)
    # Day 3: A (home) lost 0-1 against a predicted win: A fell short, psi_H < 0.
    assert predicted > 0
    psi = 3 * math.log10(1 + abs(-1 - predicted))
    a_home, a_away = a_home - LAMBDA * psi, a_away - LAMBDA * psi * GAMMA
    b_away, b_home = b_away + LAMBDA * psi, b_home + LAMBDA * psi * GAMMA
    # A new season changes nothing: ratings carry over as in the paper.
    assert row(features, 3) == pytest.approx([a_home, a_away, b_home, b_away, goals(a_home) - goals(b_away)], abs=1e-9)


def test_matches_of_one_day_do_not_see_each_other() -> None:
    matches = frame(
        [
            ("2020-08-01", "A", "B", 1, 0),
            ("2020-08-08", "A", "C", 2, 0),
            ("2020-08-08", "D", "A", 0, 0),
            ("2020-08-15", "E", "A", 0, 0),
        ]
    )
    features = pi_features(matches)
    psi = 3 * math.log10(2)
    a_home, a_away = LAMBDA * psi, LAMBDA * psi * GAMMA
    assert features.loc[1, ["pi_home_home", "pi_home_away"]].tolist() == pytest.approx([a_home, a_away], abs=1e-12)
    assert features.loc[2, ["pi_away_home", "pi_away_away"]].tolist() == pytest.approx([a_home, a_away], abs=1e-12)
    # Day 2, both from A's ratings before the day: A at home to C (predicted goals(a_home), observed 2) ...
    home_error = 2 - goals(a_home)
    step_home = LAMBDA * 3 * math.log10(1 + abs(home_error)) * math.copysign(1, home_error)
    # ... and A away at D (predicted 0 - goals(a_away), observed 0: D beat the prediction, A fell short).
    away_error = 0 - (0 - goals(a_away))
    step_away = LAMBDA * 3 * math.log10(1 + abs(away_error))
    expected_home = a_home + step_home - step_away * GAMMA
    expected_away = a_away + step_home * GAMMA - step_away
    assert features.loc[3, ["pi_away_home", "pi_away_away"]].tolist() == pytest.approx(
        [expected_home, expected_away], abs=1e-12
    )


def test_parameters_change_the_rates() -> None:
    matches = frame([("2020-08-01", "A", "B", 1, 0), ("2020-08-08", "A", "B", 0, 0)])
    params = PiParams(learning_rate=0.1, cross_learning_rate=0.5)
    psi = 3 * math.log10(2)
    assert row(pi_features(matches, params), 1)[:4] == pytest.approx(
        [0.1 * psi, 0.05 * psi, -0.05 * psi, -0.1 * psi], abs=1e-12
    )
    with pytest.raises(ValueError, match="cross_learning_rate"):
        PiParams(cross_learning_rate=1.5)


# --- the simulated league --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cutoff_day", [18, 25], ids=["first-day-of-a-season", "mid-season"])
def test_no_leakage_from_later_results(simulated_league: tuple[pd.DataFrame, pd.Series], cutoff_day: int) -> None:
    matches, _ = simulated_league
    cutoff = np.sort(matches["match_date"].unique())[cutoff_day]
    later = matches["match_date"] >= cutoff
    before = pi_features(matches)
    changed = matches.copy()
    changed.loc[later, ["home_goals", "away_goals"]] = (matches.loc[later, ["away_goals", "home_goals"]] + 1).to_numpy()
    after = pi_features(changed)
    kept = (~later | (matches["match_date"] == cutoff)).to_numpy()
    assert_frame_equal(after[kept], before[kept])
    assert not after[~kept].equals(before[~kept])
    assert_frame_equal(pi_features(matches[~later]), before[~later.to_numpy()])


def test_simulated_strengths_are_recovered(simulated_league: tuple[pd.DataFrame, pd.Series]) -> None:
    matches, strength = simulated_league
    ratings = pi_team_ratings(matches)
    overall = ratings["pi_home"] + ratings["pi_away"]
    assert overall.corr(strength.reindex(overall.index), method="spearman") > 0.8


# --- real data -------------------------------------------------------------------------------------------------


def test_real_e0_predicted_goal_difference_tracks_the_score(e0_matches: pd.DataFrame) -> None:
    started = time.perf_counter()
    features = pi_features(e0_matches)
    assert time.perf_counter() - started < 2.0
    assert len(features) == 4 * 380 and not features.isna().to_numpy().any()
    observed = (e0_matches["home_goals"] - e0_matches["away_goals"]).to_numpy()
    for season in (2021, 2022):
        in_season = (e0_matches["season"] == season).to_numpy()
        predicted = features["pi_expected_gd"].to_numpy()[in_season]
        assert np.corrcoef(predicted, observed[in_season])[0, 1] > 0.2
        # The ratings' predicted goal difference beats predicting zero for every match.
        assert np.mean((observed[in_season] - predicted) ** 2) < np.mean(observed[in_season] ** 2)
