"""Domain types: outcomes, seasons, and frozen dataclasses."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from matchday.domain import (
    Fixture,
    Market,
    Match,
    MatchStats,
    OddsQuote,
    Outcome,
    Phase,
    Selection,
    season_label,
    season_of,
)


@pytest.mark.parametrize(
    ("home", "away", "expected"),
    [(2, 1, Outcome.HOME), (1, 0, Outcome.HOME), (0, 0, Outcome.DRAW), (3, 3, Outcome.DRAW), (1, 3, Outcome.AWAY)],
)
def test_outcome_from_score(home: int, away: int, expected: Outcome) -> None:
    assert Outcome.from_score(home, away) is expected


def test_outcome_values_are_the_source_letters() -> None:
    assert [o.value for o in Outcome] == ["H", "D", "A"]
    assert Outcome("D") is Outcome.DRAW


@pytest.mark.parametrize(
    ("day", "season"),
    [
        (date(2019, 7, 1), 2019),
        (date(2020, 5, 31), 2019),
        (date(2019, 6, 30), 2018),
        (date(2019, 12, 31), 2019),
        (date(2020, 1, 1), 2019),
    ],
)
def test_season_of(day: date, season: int) -> None:
    assert season_of(day) == season


@pytest.mark.parametrize(
    ("start", "label"), [(2019, "2019-20"), (1999, "1999-00"), (2005, "2005-06"), (2009, "2009-10")]
)
def test_season_label(start: int, label: str) -> None:
    assert season_label(start) == label


def _match(home_goals: int, away_goals: int) -> Match:
    return Match(
        competition="E0",
        season=2005,
        match_date=date(2005, 8, 13),
        kickoff_at=None,
        home_team="Aston Villa",
        away_team="Bolton",
        home_goals=home_goals,
        away_goals=away_goals,
    )


@pytest.mark.parametrize(("home", "away", "result"), [(2, 2, Outcome.DRAW), (3, 1, Outcome.HOME), (0, 2, Outcome.AWAY)])
def test_match_result(home: int, away: int, result: Outcome) -> None:
    assert _match(home, away).result is result


def test_match_defaults() -> None:
    match = _match(1, 0)
    assert match.home_goals_ht is None and match.away_goals_ht is None
    assert match.stats == MatchStats()
    assert match.neutral is False
    assert match.tournament is None
    assert match.quotes == ()


def test_fixture_season_follows_its_date() -> None:
    assert Fixture("E0", date(2024, 1, 2), None, "Arsenal", "Chelsea").season == 2023
    assert Fixture("E0", date(2024, 8, 17), None, "Arsenal", "Chelsea").season == 2024


@pytest.mark.parametrize(
    ("instance", "attribute", "value"),
    [
        (_match(1, 0), "home_goals", 5),
        (MatchStats(home_shots=3), "home_shots", 4),
        (OddsQuote("bet365", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, 2.0), "price", 9.0),
        (Fixture("E0", date(2024, 1, 2), None, "Arsenal", "Chelsea"), "home_team", "Spurs"),
    ],
    ids=["Match", "MatchStats", "OddsQuote", "Fixture"],
)
def test_domain_dataclasses_are_frozen(instance: object, attribute: str, value: object) -> None:
    before = getattr(instance, attribute)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, attribute, value)
    assert getattr(instance, attribute) == before
