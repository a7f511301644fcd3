"""Matches, fixtures and odds quotes as parsed from a source, before they are stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from matchday.domain.enums import Market, Outcome, Phase, Selection

__all__ = ["Fixture", "Match", "MatchStats", "OddsQuote", "season_label", "season_of"]


def season_of(day: date) -> int:
    """The start year of the European season a date falls in (seasons start in July)."""
    return day.year if day.month >= 7 else day.year - 1


def season_label(start_year: int) -> str:
    """2019 -> '2019-20'."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


@dataclass(frozen=True, slots=True)
class MatchStats:
    """Per-side match statistics; None where the source season does not record them."""

    home_shots: int | None = None
    away_shots: int | None = None
    home_shots_on_target: int | None = None
    away_shots_on_target: int | None = None
    home_corners: int | None = None
    away_corners: int | None = None
    home_fouls: int | None = None
    away_fouls: int | None = None
    home_yellow: int | None = None
    away_yellow: int | None = None
    home_red: int | None = None
    away_red: int | None = None
    referee: str | None = None


@dataclass(frozen=True, slots=True)
class OddsQuote:
    """One decimal price for one selection of one market at one bookmaker and phase.

    `line` is the goals line for over/under and the home handicap for Asian handicap; None for 1X2.
    """

    bookmaker: str
    market: Market
    selection: Selection
    phase: Phase
    price: float
    line: float | None = None


@dataclass(frozen=True, slots=True)
class Fixture:
    """A match to be played: who, where and when, with the prices on offer."""

    competition: str
    match_date: date
    kickoff_at: datetime | None  # UTC; None when the source gives only a date
    home_team: str
    away_team: str
    quotes: tuple[OddsQuote, ...] = field(default=())

    @property
    def season(self) -> int:
        return season_of(self.match_date)


@dataclass(frozen=True, slots=True)
class Match:
    """A played match. Team names are as the source spells them; the store maps them to canonical teams."""

    competition: str
    season: int  # start year; for competitions on the calendar year, the year itself
    match_date: date
    kickoff_at: datetime | None
    home_team: str
    away_team: str
    home_goals: int
    away_goals: int
    home_goals_ht: int | None = None
    away_goals_ht: int | None = None
    stats: MatchStats = field(default_factory=MatchStats)
    neutral: bool = False
    tournament: str | None = None  # internationals: the tournament name
    quotes: tuple[OddsQuote, ...] = field(default=())

    @property
    def result(self) -> Outcome:
        return Outcome.from_score(self.home_goals, self.away_goals)
