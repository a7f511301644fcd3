"""The international results file: the real one, and synthetic rows that must be rejected."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from matchday.ingest.international import parse_international_file
from matchday.ingest.parsed import IssueScope, ParsedFile, SourceKind
from matchday.ingest.source_file import SourceFileError

HEADER = "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral"


@pytest.fixture(scope="module")
def results(data_dir: Path) -> ParsedFile:
    return parse_international_file(data_dir / "international" / "results.csv")


def _parse(tmp_path: Path, *rows: str) -> ParsedFile:
    path = tmp_path / "results.csv"
    path.write_text("\n".join((HEADER, *rows)) + "\n", encoding="utf-8")
    return parse_international_file(path)


def _row_issues(parsed: ParsedFile) -> list[tuple[int, str, str, str]]:
    return [(i.line, i.field, i.value, i.reason) for i in parsed.issues if i.scope is IssueScope.ROW]


def test_real_results_file(results: ParsedFile) -> None:
    assert results.kind is SourceKind.INTERNATIONAL
    assert results.rows_read == 49_520
    assert len(results.matches) == 49_519
    line, first = results.matches[0]
    assert line == 2
    assert (first.competition, first.season, first.match_date) == ("INT", 1872, date(1872, 11, 30))
    assert (first.home_team, first.away_team, first.home_goals, first.away_goals) == ("Scotland", "England", 0, 0)
    assert first.neutral is False
    assert first.tournament == "Friendly"
    assert first.kickoff_at is None
    assert (first.home_goals_ht, first.away_goals_ht) == (None, None)
    assert first.quotes == ()


def test_real_results_only_issue_is_the_tahiti_duplicate(results: ParsedFile) -> None:
    assert [(i.line, i.scope, i.field, i.value, i.reason) for i in results.issues] == [
        (
            9644,
            IssueScope.ROW,
            "home_team",
            "Tahiti v New Caledonia on 1974-02-17 (first at line 9643)",
            "duplicate match",
        )
    ]
    assert results.issues[0].raw["home_score"] == "1"
    kept = [m for line, m in results.matches if line == 9643]
    assert [(m.home_team, m.away_team, m.home_goals, m.away_goals) for m in kept] == [("Tahiti", "New Caledonia", 2, 1)]


def test_real_results_seasons_are_calendar_years(results: ParsedFile) -> None:
    assert all(m.season == m.match_date.year for _, m in results.matches)
    assert {m.neutral for _, m in results.matches} == {True, False}


def test_synthetic_good_rows(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        "2022-12-18,Argentina,France,3,3,FIFA World Cup,Lusail,Qatar,TRUE",
        "2023-03-24,England,Ukraine,2,0,,London,England,false",
    )
    assert parsed.issues == []
    (_, final), (_, qualifier) = parsed.matches
    assert (final.home_goals, final.away_goals, final.neutral, final.tournament) == (3, 3, True, "FIFA World Cup")
    assert final.season == 2022
    assert (qualifier.neutral, qualifier.tournament) == (False, None)


def test_neutral_must_be_true_or_false(tmp_path: Path) -> None:
    parsed = _parse(
        tmp_path,
        "2020-01-01,Fiji,Tonga,1,0,Friendly,Suva,Fiji,maybe",
        "2020-01-02,Fiji,Samoa,2,2,Friendly,Suva,Fiji,FALSE",
    )
    assert _row_issues(parsed) == [(2, "neutral", "maybe", "expected TRUE or FALSE")]
    assert [line for line, _ in parsed.matches] == [3]


@pytest.mark.parametrize(("home", "away", "field"), [("NA", "NA", "home_score"), ("1", "NA", "away_score")])
def test_score_not_a_number_is_a_row_issue(tmp_path: Path, home: str, away: str, field: str) -> None:
    parsed = _parse(tmp_path, f"2025-06-10,Fiji,Tonga,{home},{away},Friendly,Suva,Fiji,FALSE")
    assert _row_issues(parsed) == [(2, field, "NA", "goals is not a number")]
    assert parsed.matches == []


def test_team_playing_itself_and_duplicate(tmp_path: Path) -> None:
    row = "2020-01-01,Fiji,Tonga,1,0,Friendly,Suva,Fiji,FALSE"
    parsed = _parse(tmp_path, row, "2020-01-01,Fiji,Fiji,1,0,Friendly,Suva,Fiji,FALSE", row)
    assert _row_issues(parsed) == [
        (3, "away_team", "Fiji", "a team cannot play itself"),
        (4, "home_team", "Fiji v Tonga on 2020-01-01 (first at line 2)", "duplicate match"),
    ]
    assert parsed.rejected_rows == 2


def test_unparseable_date_is_a_row_issue(tmp_path: Path) -> None:
    parsed = _parse(tmp_path, "sometime,Fiji,Tonga,1,0,Friendly,Suva,Fiji,FALSE")
    assert [(line, field, value) for line, field, value, _ in _row_issues(parsed)] == [(2, "date", "sometime")]


def test_season_file_is_not_a_results_file(tmp_path: Path) -> None:
    path = tmp_path / "E0.csv"
    path.write_text("Div,Date,HomeTeam,AwayTeam,FTHG,FTAG\nE0,13/08/05,A,B,1,0\n", encoding="utf-8")
    with pytest.raises(SourceFileError) as caught:
        parse_international_file(path)
    assert str(caught.value).startswith(f"{path}: not a recognised file: missing column(s) date, home_team")
