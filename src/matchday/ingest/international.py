"""Parse the international results file (date, teams, score, tournament, neutral venue; no odds)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from matchday.domain import Match
from matchday.ingest.competitions import INTERNATIONAL
from matchday.ingest.parsed import IssueScope, ParsedFile, RowIssue, SourceKind
from matchday.ingest.source_file import RawRow, read_source_file
from matchday.ingest.validation import FieldError, parse_date, parse_goals

__all__ = ["parse_international_file"]

COLUMNS = ("date", "home_team", "away_team", "home_score", "away_score", "tournament", "neutral")
_BOOLEANS = {"true": True, "false": False}


def _match(row: RawRow, header: tuple[str, ...]) -> Match:
    if (cut := row.truncation(header)) is not None:
        raise FieldError(*cut, "truncated row")
    values = row.values
    match_date = parse_date("date", values["date"])
    home, away = values["home_team"], values["away_team"]
    if not home or not away:
        raise FieldError("home_team" if not home else "away_team", "", "team name missing")
    if home == away:
        raise FieldError("away_team", away, "a team cannot play itself")
    neutral = _BOOLEANS.get(values["neutral"].lower())
    if neutral is None:
        raise FieldError("neutral", values["neutral"], "expected TRUE or FALSE")
    return Match(
        competition=INTERNATIONAL.code,
        season=match_date.year,  # internationals run on the calendar year
        match_date=match_date,
        kickoff_at=None,
        home_team=home,
        away_team=away,
        home_goals=parse_goals("home_score", values["home_score"]),
        away_goals=parse_goals("away_score", values["away_score"]),
        neutral=neutral,
        tournament=values["tournament"] or None,
    )


def parse_international_file(path: Path) -> ParsedFile:
    source = read_source_file(path, COLUMNS)
    parsed = ParsedFile(path, source.sha256, SourceKind.INTERNATIONAL, rows_read=len(source.rows))
    seen: dict[tuple[date, str, str], int] = {}
    for row in source.rows:
        try:
            match = _match(row, source.header)
        except FieldError as error:
            parsed.issues.append(RowIssue(row.line, IssueScope.ROW, error.field, error.value, error.reason, row.values))
            continue
        key = (match.match_date, match.home_team, match.away_team)
        if key in seen:
            detail = f"{match.home_team} v {match.away_team} on {match.match_date} (first at line {seen[key]})"
            parsed.issues.append(RowIssue(row.line, IssueScope.ROW, "home_team", detail, "duplicate match", row.values))
            continue
        seen[key] = row.line
        parsed.matches.append((row.line, match))
    return parsed
