"""The assembled feature table on real data: its shape, its keys, and no leakage across any feature group."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from matchday.domain import Fixture, Match
from matchday.features.frames import frames_from_fixtures, frames_from_matches
from matchday.features.moments import Moment, features_for
from matchday.features.table import (
    KEY_COLUMNS,
    FeatureParams,
    build_feature_table,
    build_fixture_features,
    feature_columns,
    fit_params_before,
)
from matchday.ingest.parsed import ParsedFile

E0_FILES = ("E0/1819.csv", "E0/1920.csv", "E0/2021.csv", "E0/2122.csv", "E0/2223.csv")


@pytest.fixture(scope="module")
def e0(parsed_seasons: dict[str, ParsedFile]) -> list[Match]:
    return [match for name in E0_FILES for _, match in parsed_seasons[name].matches]


def _table(matches: list[Match], seasons: list[int] | None = None) -> pd.DataFrame:
    frame, quotes = frames_from_matches(matches)
    return build_feature_table(frame, quotes, seasons=seasons)


def test_one_row_per_match_keys_first(e0: list[Match]) -> None:
    table = _table(e0)
    assert len(table) == 5 * 380
    assert tuple(table.columns[: len(KEY_COLUMNS)]) == KEY_COLUMNS
    assert table["match_id"].is_unique
    assert table["kickoff"].notna().all()
    first_with_time = table[table["season"] == 2019].iloc[0]
    assert first_with_time["kickoff"] == pd.Timestamp("2019-08-09 19:00")  # 20:00 UK summer time, in UTC
    assert len(feature_columns(table)) == table.shape[1] - len(KEY_COLUMNS)


def test_changing_every_result_and_price_from_a_date_on_leaves_earlier_rows_unchanged(e0: list[Match]) -> None:
    cutoff = pd.Timestamp("2021-01-01")
    changed = [
        replace(
            m,
            home_goals=m.away_goals + 3,
            away_goals=m.home_goals,
            quotes=tuple(replace(q, price=q.price + 0.5) for q in m.quotes),
        )
        if pd.Timestamp(m.match_date) >= cutoff
        else m
        for m in e0
    ]
    before, after = _table(e0), _table(changed)
    earlier = before["kickoff"] < cutoff
    assert earlier.sum() == 380 + 380 + 155  # 2018-19, 2019-20 and the first half of 2020-21
    pd.testing.assert_frame_equal(before[earlier], after[earlier])
    # the change does reach later rows, so the comparison above could have failed
    later = feature_columns(before)
    assert not before.loc[~earlier, later].equals(after.loc[~earlier, later])


def test_deleting_the_future_leaves_the_past_unchanged(e0: list[Match]) -> None:
    cutoff = pd.Timestamp("2022-03-01")
    full = _table(e0)
    past_only = _table([m for m in e0 if pd.Timestamp(m.match_date) < cutoff])
    earlier = full[full["kickoff"] < cutoff].reset_index(drop=True)
    pd.testing.assert_frame_equal(earlier, past_only)


def test_cutting_to_seasons_keeps_the_history_before_them(e0: list[Match]) -> None:
    full = _table(e0)
    cut = _table(e0, seasons=[2022])
    assert set(cut["season"]) == {2022}
    assert len(cut) == 380
    pd.testing.assert_frame_equal(cut, full[full["season"] == 2022].reset_index(drop=True))
    assert cut["home_form_n"].iloc[0] == 6  # the opening match already has a full form window from 2021-22
    assert not np.isclose(cut["elo_home"].iloc[0], 1500.0)


def test_an_open_model_is_never_offered_closing_prices(e0: list[Match]) -> None:
    columns = feature_columns(_table(e0[-380:]))
    open_columns = features_for(columns, Moment.OPEN)
    assert not [c for c in open_columns if c.startswith("close_")]
    assert "open_pinnacle_h" in open_columns
    assert "elo_diff" in open_columns
    assert set(features_for(columns, Moment.CLOSE)) == set(columns)


def test_elo_is_fitted_on_the_seasons_before_only(e0: list[Match]) -> None:
    frame, _ = frames_from_matches(e0)
    params, fitted_on = fit_params_before(frame, 2022)
    assert fitted_on == [2018, 2019, 2020, 2021]  # the five before 2022 that the frame holds
    assert params.elo != FeatureParams().elo
    changed = [replace(m, home_goals=m.away_goals, away_goals=m.home_goals + 2) if m.season == 2022 else m for m in e0]
    assert fit_params_before(frames_from_matches(changed)[0], 2022)[0] == params  # 2022's results play no part
    assert fit_params_before(frame, 2018) == (FeatureParams(), [])


def _as_fixtures(matches: list[Match]) -> list[Fixture]:
    return [Fixture(m.competition, m.match_date, m.kickoff_at, m.home_team, m.away_team, m.quotes) for m in matches]


def test_a_fixture_gets_the_features_its_match_had_when_it_was_played(e0: list[Match]) -> None:
    last_day = max(m.match_date for m in e0)
    played = [m for m in e0 if m.match_date < last_day]
    upcoming = [m for m in e0 if m.match_date == last_day]
    played_frame, played_quotes = frames_from_matches(played)
    fixture_frame, fixture_quotes = frames_from_fixtures(_as_fixtures(upcoming))
    fixture_frame["season"] = 2022  # a fixture in May belongs to the season that started the August before

    rows = build_fixture_features(played_frame, pd.concat([played_quotes, fixture_quotes]), fixture_frame)

    real = _table(e0)
    real_rows = real[real["kickoff"].dt.normalize() == pd.Timestamp(last_day)]
    key = ["home_team", "away_team"]
    got = rows.drop(columns="match_id").sort_values(key).reset_index(drop=True)
    want = real_rows.drop(columns="match_id").sort_values(key).reset_index(drop=True)
    assert len(got) == len(upcoming) == 10
    pd.testing.assert_frame_equal(got, want)


def test_fixtures_on_different_days_never_see_each_other(e0: list[Match]) -> None:
    days = sorted({m.match_date for m in e0})
    cut = days[-3]  # fixtures on the last three match days
    played = [m for m in e0 if m.match_date < cut]
    upcoming = [m for m in e0 if m.match_date >= cut]
    frame, quotes = frames_from_matches(played)
    fixtures, fixture_quotes = frames_from_fixtures(_as_fixtures(upcoming))
    fixtures["season"] = 2022
    rows = build_fixture_features(frame, pd.concat([quotes, fixture_quotes]), fixtures)
    # A fixture on the last day sees exactly what it would if the two days before it had never been scheduled.
    last = fixtures[fixtures["match_date"] == days[-1]]
    alone = build_fixture_features(frame, pd.concat([quotes, fixture_quotes]), last)
    pd.testing.assert_frame_equal(
        rows[rows["match_id"].isin(last["match_id"])].reset_index(drop=True), alone.reset_index(drop=True)
    )


def test_a_fixture_before_the_last_played_match_is_refused(e0: list[Match]) -> None:
    frame, quotes = frames_from_matches(e0)
    fixtures, _ = frames_from_fixtures(_as_fixtures(e0[:1]))
    with pytest.raises(ValueError, match="is not after the last played match"):
        build_fixture_features(frame, quotes, fixtures)
