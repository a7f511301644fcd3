"""Parse football-data.co.uk season and fixtures files into matches, fixtures and odds quotes.

A bad row is rejected with its reason and the rest of the file still loads; a bad price or statistic is
dropped on its own (scope `value`) so one mistyped price does not cost a real result.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from matchday.domain import Fixture, Market, Match, MatchStats, OddsQuote, Outcome, Phase, season_of
from matchday.ingest.competitions import KNOWN_DIVISIONS
from matchday.ingest.odds_columns import OddsColumn, ah_line_columns, plan_odds_columns
from matchday.ingest.parsed import IssueScope, ParsedFile, RowIssue, SourceKind
from matchday.ingest.source_file import RawRow, read_source_file
from matchday.ingest.validation import (
    IMPLAUSIBLE_OVERROUND,
    FieldError,
    overround_problem,
    parse_date,
    parse_goals,
    parse_optional_count,
    parse_time,
)

__all__ = ["parse_fixtures_file", "parse_season_file"]

SEASON_COLUMNS = ("Div", "Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG")
FIXTURE_COLUMNS = ("Div", "Date", "HomeTeam", "AwayTeam")
_UK = ZoneInfo("Europe/London")  # football-data kickoff times are UK local time, for every league
_STATS = {
    "home_shots": "HS",
    "away_shots": "AS",
    "home_shots_on_target": "HST",
    "away_shots_on_target": "AST",
    "home_corners": "HC",
    "away_corners": "AC",
    "home_fouls": "HF",
    "away_fouls": "AF",
    "home_yellow": "HY",
    "away_yellow": "AY",
    "home_red": "HR",
    "away_red": "AR",
}


class _RowParser:
    """Parses one file's rows with the odds-column plan decoded once from its header."""

    def _drop(self, row: RawRow, error: FieldError) -> None:
        self.issues.append(RowIssue(row.line, IssueScope.VALUE, error.field, error.value, error.reason, row.values))

    def __init__(self, header: tuple[str, ...]) -> None:
        self.header = header
        self.odds_columns = plan_odds_columns(header)
        self.issues: list[RowIssue] = []

    def identity(self, row: RawRow) -> tuple[str, date, datetime | None, str, str]:
        if (cut := row.truncation(self.header)) is not None:
            raise FieldError(*cut, "truncated row")
        values = row.values
        division = values.get("Div", "")
        if division not in KNOWN_DIVISIONS:
            raise FieldError("Div", division, "unknown division")
        match_date = parse_date("Date", values.get("Date", ""))
        kickoff_time = parse_time("Time", values.get("Time", ""))
        home, away = values.get("HomeTeam", ""), values.get("AwayTeam", "")
        if not home:
            raise FieldError("HomeTeam", home, "team name missing")
        if not away:
            raise FieldError("AwayTeam", away, "team name missing")
        if home == away:
            raise FieldError("AwayTeam", away, "a team cannot play itself")
        return division, match_date, _kickoff_utc(match_date, kickoff_time), home, away

    def score(self, row: RawRow) -> tuple[int, int, int | None, int | None]:
        values = row.values
        home_goals = parse_goals("FTHG", values.get("FTHG", ""))
        away_goals = parse_goals("FTAG", values.get("FTAG", ""))
        _check_result("FTR", values.get("FTR", ""), home_goals, away_goals)
        home_ht = parse_optional_count("HTHG", values.get("HTHG", ""))
        away_ht = parse_optional_count("HTAG", values.get("HTAG", ""))
        if home_ht is not None and away_ht is not None:
            if home_ht > home_goals or away_ht > away_goals:
                detail = f"HT {home_ht}-{away_ht}, FT {home_goals}-{away_goals}"
                raise FieldError("HTHG", detail, "half-time score exceeds the full-time score")
            _check_result("HTR", values.get("HTR", ""), home_ht, away_ht)
        return home_goals, away_goals, home_ht, away_ht

    def stats(self, row: RawRow) -> MatchStats:
        counts: dict[str, int | None] = {}
        for name, column in _STATS.items():
            try:
                counts[name] = parse_optional_count(column, row.values.get(column, ""))
            except FieldError as error:
                self._drop(row, error)
                counts[name] = None
        return MatchStats(**counts, referee=row.values.get("Referee") or None)

    def quotes(self, row: RawRow) -> tuple[OddsQuote, ...]:
        # The hot loop of ingestion (1.8 million prices in the shared data): one pass, locals only, and the
        # 1X2 books gathered on the way for the overround check.
        values = row.values
        lines = {phase: self._ah_line(row, phase) for phase in Phase}
        quotes: list[OddsQuote] = []
        books: dict[tuple[str, Phase], list[OddsQuote]] = defaultdict(list)
        for column in self.odds_columns:
            raw = values.get(column.column)
            if not raw:
                continue
            try:
                price = float(raw)
            except ValueError:
                price = math.nan
            if not 1.0 < price < math.inf:
                self._drop(row, FieldError(column.column, raw, "price must be a decimal price above 1.0"))
                continue
            line = column.line
            if column.market is Market.ASIAN_HANDICAP:
                line = lines[column.phase]
                if line is None:
                    continue  # a handicap price without its line cannot be interpreted
            quote = OddsQuote(column.bookmaker, column.market, column.selection, column.phase, price, line)
            quotes.append(quote)
            if column.market is Market.MATCH_ODDS:
                books[(column.bookmaker, column.phase)].append(quote)
        rejected = self._implausible_books(row, books)
        if not rejected:
            return tuple(quotes)
        return tuple(q for q in quotes if q.market is not Market.MATCH_ODDS or (q.bookmaker, q.phase) not in rejected)

    def _ah_line(self, row: RawRow, phase: Phase) -> float | None:
        for column in ah_line_columns(phase):
            value = row.values.get(column, "")
            if value:
                try:
                    return float(value)
                except ValueError:
                    self._drop(row, FieldError(column, value, "handicap line is not a number"))
        return None

    def _implausible_books(
        self, row: RawRow, books: dict[tuple[str, Phase], list[OddsQuote]]
    ) -> set[tuple[str, Phase]]:
        rejected: set[tuple[str, Phase]] = set()
        for (bookmaker, phase), book in books.items():
            if len(book) != 3:
                continue
            problem = overround_problem(bookmaker, (book[0].price, book[1].price, book[2].price))
            if problem is not None:
                rejected.add((bookmaker, phase))
                columns = ",".join(_columns_of(self.odds_columns, bookmaker, phase))
                self._drop(row, FieldError(columns, problem, IMPLAUSIBLE_OVERROUND))
        return rejected


def _columns_of(columns: list[OddsColumn], bookmaker: str, phase: Phase) -> list[str]:
    return [
        c.column for c in columns if c.bookmaker == bookmaker and c.phase is phase and c.market is Market.MATCH_ODDS
    ]


def _kickoff_utc(match_date: date, kickoff_time: time | None) -> datetime | None:
    if kickoff_time is None:
        return None
    local = datetime.combine(match_date, kickoff_time, tzinfo=_UK)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _check_result(field: str, value: str, home_goals: int, away_goals: int) -> None:
    if value and value != Outcome.from_score(home_goals, away_goals).value:
        raise FieldError(field, f"{value} (score {home_goals}-{away_goals})", "result contradicts the score")


def _reject(parsed: ParsedFile, row: RawRow, error: FieldError) -> None:
    parsed.issues.append(RowIssue(row.line, IssueScope.ROW, error.field, error.value, error.reason, row.values))


def parse_season_file(path: Path) -> ParsedFile:
    """Parse a season file: one match per good row, every bookmaker and market it quotes."""
    source = read_source_file(path, SEASON_COLUMNS)
    parsed = ParsedFile(path, source.sha256, SourceKind.FOOTBALL_DATA, rows_read=len(source.rows))
    parser = _RowParser(source.header)
    seen: dict[tuple[str, date, str, str], int] = {}
    for row in source.rows:
        try:
            division, match_date, kickoff_at, home, away = parser.identity(row)
            home_goals, away_goals, home_ht, away_ht = parser.score(row)
        except FieldError as error:
            _reject(parsed, row, error)
            continue
        key = (division, match_date, home, away)
        if key in seen:
            detail = f"{home} v {away} on {match_date} (first at line {seen[key]})"
            _reject(parsed, row, FieldError("HomeTeam", detail, "duplicate match"))
            continue
        seen[key] = row.line
        match = Match(
            competition=division,
            season=season_of(match_date),
            match_date=match_date,
            kickoff_at=kickoff_at,
            home_team=home,
            away_team=away,
            home_goals=home_goals,
            away_goals=away_goals,
            home_goals_ht=home_ht,
            away_goals_ht=away_ht,
            stats=parser.stats(row),
            quotes=parser.quotes(row),
        )
        parsed.matches.append((row.line, match))
    parsed.issues.extend(parser.issues)
    _one_season_per_file(parsed)
    return parsed


def _one_season_per_file(parsed: ParsedFile) -> None:
    # A season file holds one season, and seasons do not always end by June (2019-20 ran to August 2020),
    # so the file's first match names the season of every row.
    if parsed.matches:
        season = season_of(min(match.match_date for _, match in parsed.matches))
        parsed.matches = [(line, replace(match, season=season)) for line, match in parsed.matches]


def parse_fixtures_file(path: Path) -> ParsedFile:
    """Parse football-data's upcoming-fixtures file: matches not yet played, with current prices."""
    source = read_source_file(path, FIXTURE_COLUMNS)
    parsed = ParsedFile(path, source.sha256, SourceKind.FOOTBALL_DATA_FIXTURES, rows_read=len(source.rows))
    parser = _RowParser(source.header)
    for row in source.rows:
        try:
            division, match_date, kickoff_at, home, away = parser.identity(row)
        except FieldError as error:
            _reject(parsed, row, error)
            continue
        fixture = Fixture(division, match_date, kickoff_at, home, away, parser.quotes(row))
        parsed.fixtures.append((row.line, fixture))
    parsed.issues.extend(parser.issues)
    return parsed
