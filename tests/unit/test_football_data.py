"""football-data.co.uk season and fixtures files: the real files as they are, and synthetic broken ones."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from matchday.domain import Fixture, Market, Match, OddsQuote, Phase, Selection
from matchday.ingest.football_data import parse_fixtures_file, parse_season_file
from matchday.ingest.parsed import IssueScope, ParsedFile, RowIssue, SourceKind
from matchday.ingest.source_file import SourceFileError, read_source_file
from matchday.ingest.validation import IMPLAUSIBLE_OVERROUND

# Matches per season file: 20-team leagues 380, the Bundesliga 306, the English Football League 552, and Ligue 1
# 2019-20, stopped after 279 matches by the pandemic.
EXPECTED_MATCHES = {"D1": 306, "E1": 552, "E2": 552, "E3": 552}


def _expected_matches(name: str) -> int:
    return 279 if name == "F1/1920.csv" else EXPECTED_MATCHES.get(name.partition("/")[0], 380)


def _at(parsed: ParsedFile, line: int) -> Match:
    found = [match for match_line, match in parsed.matches if match_line == line]
    assert len(found) == 1, f"no match at line {line}"
    return found[0]


def _quotes(match: Match | Fixture, bookmaker: str, market: Market, phase: Phase) -> dict[Selection, float]:
    return {
        q.selection: q.price for q in match.quotes if (q.bookmaker, q.market, q.phase) == (bookmaker, market, phase)
    }


def _issues(parsed: ParsedFile, scope: IssueScope) -> list[tuple[int, str, str, str]]:
    return [(i.line, i.field, i.value, i.reason) for i in parsed.issues if i.scope is scope]


def _raw_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return [(reader.line_num, row) for row in reader]


# --- real files --------------------------------------------------------------------------------------------------


def test_e0_0506_two_digit_years_and_no_time(parsed_seasons: dict[str, ParsedFile]) -> None:
    parsed = parsed_seasons["E0/0506.csv"]
    assert parsed.kind is SourceKind.FOOTBALL_DATA
    assert parsed.rows_read == 380
    assert len(parsed.matches) == 380
    line, first = parsed.matches[0]
    assert line == 2
    assert (first.competition, first.season, first.match_date) == ("E0", 2005, date(2005, 8, 13))
    assert (first.home_team, first.away_team) == ("Aston Villa", "Bolton")
    assert (first.home_goals, first.away_goals, first.home_goals_ht, first.away_goals_ht) == (2, 2, 2, 2)
    assert first.kickoff_at is None
    assert (first.stats.home_shots, first.stats.away_shots, first.stats.referee) == (3, 13, "M Riley")
    assert (first.stats.home_red, first.stats.away_yellow) == (0, 2)
    assert _quotes(first, "bet365", Market.MATCH_ODDS, Phase.OPENING) == {
        Selection.HOME: 2.3,
        Selection.DRAW: 3.25,
        Selection.AWAY: 3.0,
    }
    # BetBrain columns: the market maximum, and Asian handicap at the row's BbAHh line (-0.25).
    assert _quotes(first, "market_max", Market.MATCH_ODDS, Phase.OPENING) == {
        Selection.HOME: 2.4,
        Selection.DRAW: 3.3,
        Selection.AWAY: 3.4,
    }
    handicap = [q for q in first.quotes if q.market is Market.ASIAN_HANDICAP and q.bookmaker == "market_max"]
    assert sorted((q.selection.value, q.price, q.line) for q in handicap) == [
        ("away", 1.92, -0.25),
        ("home", 2.1, -0.25),
    ]
    assert all(q.phase is Phase.OPENING for q in first.quotes)


def test_e0_2223_four_digit_years_and_kickoff_in_utc(parsed_seasons: dict[str, ParsedFile]) -> None:
    parsed = parsed_seasons["E0/2223.csv"]
    assert parsed.rows_read == 380
    assert len(parsed.matches) == 380
    line, opener = parsed.matches[0]
    assert line == 2
    assert (opener.home_team, opener.away_team, opener.match_date) == ("Crystal Palace", "Arsenal", date(2022, 8, 5))
    assert (opener.home_goals, opener.away_goals) == (0, 2)
    assert opener.season == 2022
    # The file says 20:00, UK summer time (BST, UTC+1).
    assert opener.kickoff_at == datetime(2022, 8, 5, 19, 0)
    assert opener.kickoff_at.tzinfo is None
    assert _quotes(opener, "pinnacle", Market.MATCH_ODDS, Phase.OPENING) == {
        Selection.HOME: 4.5,
        Selection.DRAW: 3.65,
        Selection.AWAY: 1.89,
    }
    assert _quotes(opener, "pinnacle", Market.MATCH_ODDS, Phase.CLOSING) == {
        Selection.HOME: 4.58,
        Selection.DRAW: 3.63,
        Selection.AWAY: 1.88,
    }
    pinnacle_ah_closing = [
        q
        for q in opener.quotes
        if q.bookmaker == "pinnacle" and q.market is Market.ASIAN_HANDICAP and q.phase is Phase.CLOSING
    ]
    assert sorted((q.selection.value, q.price, q.line) for q in pinnacle_ah_closing) == [
        ("away", 1.88, 0.5),
        ("home", 2.04, 0.5),
    ]
    assert OddsQuote("pinnacle", Market.OVER_UNDER, Selection.OVER, Phase.OPENING, 2.14, 2.5) in opener.quotes
    # 8 books x 3 for 1X2, 4 x 2 for over/under and 4 x 2 for handicap, opening and closing each.
    assert len(opener.quotes) == 80


def test_e0_2223_winter_kickoff_is_gmt(parsed_seasons: dict[str, ParsedFile]) -> None:
    boxing_day = _at(parsed_seasons["E0/2223.csv"], 148)
    assert (boxing_day.home_team, boxing_day.away_team) == ("Brentford", "Tottenham")
    assert boxing_day.kickoff_at == datetime(2022, 12, 26, 12, 30)


def test_e0_1415_trailing_empty_row_is_neither_counted_nor_quarantined(
    football_data_dir: Path, parsed_seasons: dict[str, ParsedFile]
) -> None:
    source = read_source_file(football_data_dir / "E0" / "1415.csv", ())
    assert source.blank_rows == 1
    parsed = parsed_seasons["E0/1415.csv"]
    assert parsed.rows_read == 380
    assert len(parsed.matches) == 380
    assert parsed.issues == []
    assert parsed.matches[-1][0] == 381


def test_every_real_season_file_parses_without_row_issues(parsed_seasons: dict[str, ParsedFile]) -> None:
    assert len(parsed_seasons) == 5 * 18 + 4
    row_issues = {name: _issues(parsed, IssueScope.ROW) for name, parsed in parsed_seasons.items()}
    assert {name: issues for name, issues in row_issues.items() if issues} == {}
    counts = {name: (parsed.rows_read, len(parsed.matches)) for name, parsed in parsed_seasons.items()}
    expected = {name: (_expected_matches(name), _expected_matches(name)) for name in parsed_seasons}
    assert counts == expected


def _file_season(name: str) -> int:
    return 2000 + int(name.split("/")[1][:2])


def test_every_real_match_is_consistent(parsed_seasons: dict[str, ParsedFile]) -> None:
    problems = []
    for name, parsed in parsed_seasons.items():
        division, season = name.split("/")[0], _file_season(name)
        for line, match in parsed.matches:
            if match.competition != division or match.home_team == match.away_team:
                problems.append((name, line))
            if not date(season, 7, 1) <= match.match_date <= date(season + 1, 8, 31):
                problems.append((name, line, "date outside the season"))
            if any(q.price <= 1.0 for q in match.quotes):
                problems.append((name, line, "price"))
            if any(q.market is Market.ASIAN_HANDICAP and q.line is None for q in match.quotes):
                problems.append((name, line, "handicap without line"))
    assert problems == []


def test_every_real_match_belongs_to_its_files_season(parsed_seasons: dict[str, ParsedFile]) -> None:
    wrong = {
        name: sorted({match.season for _, match in parsed.matches} - {_file_season(name)})
        for name, parsed in parsed_seasons.items()
    }
    assert {name: seasons for name, seasons in wrong.items() if seasons} == {}


@pytest.mark.parametrize(
    ("name", "line", "home", "away", "day"),
    [
        ("E0/1920.csv", 316, "Arsenal", "Norwich", date(2020, 7, 1)),
        ("I1/1920.csv", 381, "Sassuolo", "Udinese", date(2020, 8, 2)),
    ],
)
def test_2019_20_matches_after_the_pandemic_break_stay_in_season_2019(
    parsed_seasons: dict[str, ParsedFile], name: str, line: int, home: str, away: str, day: date
) -> None:
    # 2019-20 resumed after the break and ran into July and August 2020, past the usual 1 July cut-off.
    match = _at(parsed_seasons[name], line)
    assert (match.home_team, match.away_team, match.match_date) == (home, away, day)
    assert match.season == 2019


def test_bayern_interwetten_typo_drops_that_book_only(parsed_seasons: dict[str, ParsedFile]) -> None:
    parsed = parsed_seasons["D1/1920.csv"]
    issues = [i for i in parsed.issues if i.line == 240]
    assert [(i.scope, i.field, i.reason) for i in issues] == [(IssueScope.VALUE, "IWH,IWD,IWA", IMPLAUSIBLE_OVERROUND)]
    assert "1.310" in issues[0].value
    assert issues[0].raw["HomeTeam"] == "Bayern Munich"
    match = _at(parsed, 240)
    assert (match.home_team, match.away_team, match.home_goals, match.away_goals) == (
        "Bayern Munich",
        "Ein Frankfurt",
        5,
        2,
    )
    assert match.kickoff_at == datetime(2020, 5, 23, 16, 30)
    assert _quotes(match, "interwetten", Market.MATCH_ODDS, Phase.OPENING) == {}
    assert _quotes(match, "bet365", Market.MATCH_ODDS, Phase.OPENING) == {
        Selection.HOME: 1.16,
        Selection.DRAW: 7.5,
        Selection.AWAY: 13.0,
    }
    assert _quotes(match, "pinnacle", Market.MATCH_ODDS, Phase.CLOSING) == {
        Selection.HOME: 1.14,
        Selection.DRAW: 9.47,
        Selection.AWAY: 17.57,
    }


def test_zero_over_under_price_is_dropped_alone(parsed_seasons: dict[str, ParsedFile]) -> None:
    parsed = parsed_seasons["E0/2122.csv"]
    issues = [(i.scope, i.field, i.value, i.reason) for i in parsed.issues if i.line == 168]
    reason = "price must be a decimal price above 1.0"
    assert issues == [
        (IssueScope.VALUE, "B365C>2.5", "0.0", reason),
        (IssueScope.VALUE, "B365C<2.5", "0.0", reason),
    ]
    match = _at(parsed, 168)
    assert (match.home_team, match.away_team, match.home_goals, match.away_goals) == ("Newcastle", "Man City", 0, 4)
    assert _quotes(match, "bet365", Market.OVER_UNDER, Phase.CLOSING) == {}
    assert _quotes(match, "pinnacle", Market.OVER_UNDER, Phase.CLOSING) == {Selection.OVER: 1.39, Selection.UNDER: 3.14}
    assert _quotes(match, "bet365", Market.MATCH_ODDS, Phase.CLOSING) == {
        Selection.HOME: 21.0,
        Selection.DRAW: 9.0,
        Selection.AWAY: 1.11,
    }


def test_empty_half_time_goals_are_unknown(
    season_files: list[Path], football_data_dir: Path, parsed_seasons: dict[str, ParsedFile]
) -> None:
    found = [
        (f"{path.parent.name}/{path.name}", line, row)
        for path in season_files
        for line, row in _raw_rows(path)
        if row["HomeTeam"] and row["HTHG"] == "" and row["HTAG"] == ""
    ]
    assert found, f"no real row without half-time goals under {football_data_dir}"
    for name, line, row in found:
        match = _at(parsed_seasons[name], line)
        assert (match.home_team, match.away_team) == (row["HomeTeam"], row["AwayTeam"])
        assert (match.home_goals_ht, match.away_goals_ht) == (None, None)
        assert (match.home_goals, match.away_goals) == (int(float(row["FTHG"])), int(float(row["FTAG"])))


def test_goals_written_as_decimals_parse_as_integers(
    season_files: list[Path], parsed_seasons: dict[str, ParsedFile]
) -> None:
    path = next((p for p in season_files if any("." in row["FTHG"] for _, row in _raw_rows(p))), None)
    assert path is not None, "no real file writes goals as decimals"
    parsed = parsed_seasons[f"{path.parent.name}/{path.name}"]
    raw = {line: row for line, row in _raw_rows(path) if row["HomeTeam"]}
    assert len(parsed.matches) == len(raw)
    for line, match in parsed.matches:
        row = raw[line]
        assert row["FTHG"].endswith(".0")
        assert (match.home_goals, match.away_goals) == (int(row["FTHG"][:-2]), int(row["FTAG"][:-2]))
        assert type(match.home_goals) is int and type(match.away_goals_ht) is int


# --- synthetic files ---------------------------------------------------------------------------------------------

HEADER = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,HS,AS,B365H,B365D,B365A"
ROW_A = "E0,13/08/05,Arsenal,Chelsea,1,0,H,0,0,D,12,7,2.0,3.4,3.8"
ROW_B = "E0,14/08/05,Everton,Fulham,2,2,D,1,2,A,9,11,1.9,3.3,4.2"


def _write(tmp_path: Path, text: str | bytes, name: str = "season.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _season(tmp_path: Path, *rows: str, header: str = HEADER) -> ParsedFile:
    return parse_season_file(_write(tmp_path, "\n".join((header, *rows)) + "\n"))


def test_synthetic_good_file(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_A, ROW_B)
    assert parsed.rows_read == 2
    assert parsed.issues == []
    assert [line for line, _ in parsed.matches] == [2, 3]
    match = parsed.matches[1][1]
    assert (match.home_team, match.away_team, match.home_goals, match.away_goals) == ("Everton", "Fulham", 2, 2)
    assert (match.home_goals_ht, match.away_goals_ht) == (1, 2)
    assert (match.stats.home_shots, match.stats.away_shots, match.stats.home_corners) == (9, 11, None)
    assert match.stats.referee is None


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbf" + f"{HEADER}\n{ROW_A}\n".encode())
    parsed = parse_season_file(path)
    assert parsed.issues == []
    assert [(m.competition, m.home_team) for _, m in parsed.matches] == [("E0", "Arsenal")]


def test_latin1_file_is_decoded(tmp_path: Path) -> None:
    row = "D1,13/08/05,Nürnberg,Köln,1,0,H,0,0,D,12,7,2.0,3.4,3.8"
    path = _write(tmp_path, f"{HEADER}\n{row}\n".encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    parsed = parse_season_file(path)
    assert parsed.issues == []
    assert [(m.home_team, m.away_team) for _, m in parsed.matches] == [("Nürnberg", "Köln")]


def _normalised(match: Match) -> Match:
    def key(quote: OddsQuote) -> tuple[str, str, str, str, float, float]:
        line = float("-inf") if quote.line is None else quote.line
        return (quote.bookmaker, quote.market, quote.selection, quote.phase, line, quote.price)

    return dataclasses.replace(match, quotes=tuple(sorted(match.quotes, key=key)))


def _issue_key(issue: RowIssue) -> tuple[int, str, str, str]:
    return (issue.line, issue.scope, ",".join(sorted(issue.field.split(","))), issue.reason)


def test_shuffled_columns_give_the_same_matches(tmp_path: Path, football_data_dir: Path) -> None:
    original_path = football_data_dir / "D1" / "1920.csv"
    with original_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    order = list(range(len(rows[0])))
    random.Random(20).shuffle(order)
    assert order[:6] != list(range(6))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[row[i] for i in order] for row in rows])
    shuffled = parse_season_file(_write(tmp_path, out.getvalue()))
    original = parse_season_file(original_path)
    assert len(shuffled.matches) == len(original.matches) == 306
    assert [(line, _normalised(m)) for line, m in shuffled.matches] == [
        (line, _normalised(m)) for line, m in original.matches
    ]
    assert sorted(map(_issue_key, shuffled.issues)) == sorted(map(_issue_key, original.issues))
    assert len(original.issues) == 3


@pytest.mark.parametrize(
    ("cut", "first_missing", "detail"),
    [
        pytest.param(lambda row: row[: row.index(",1,0,H")], "FTHG", "4 of 15 fields", id="before-the-score"),
        pytest.param(lambda row: row[: row.index(",3.3,")], "B365D", "13 of 15 fields", id="among-the-prices"),
        # All fields present, but 3.8 cut to "3.": only the missing final newline (every real file has one) tells.
        pytest.param(
            lambda row: row[:-1],
            "B365A",
            "no newline at the end of the file: the last value may be cut",
            id="inside-last-price",
        ),
    ],
)
def test_truncated_last_row_is_quarantined(
    tmp_path: Path, cut: Callable[[str], str], first_missing: str, detail: str
) -> None:
    truncated = cut(ROW_B.replace(",2,2,D,1,2,A,", ",1,0,H,0,0,D,").replace("4.2", "3.8"))
    path = _write(tmp_path, f"{HEADER}\n{ROW_A}\n{truncated}")  # no newline: the download stopped mid-row
    parsed = parse_season_file(path)
    assert parsed.rows_read == 2
    assert [(line, m.home_team) for line, m in parsed.matches] == [(2, "Arsenal")]
    assert _issues(parsed, IssueScope.ROW) == [(3, first_missing, detail, "truncated row")]
    assert parsed.issues[0].raw["HomeTeam"] == "Everton"


def test_unknown_division_is_a_row_issue(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_A, ROW_B.replace("E0,", "X9,", 1))
    assert _issues(parsed, IssueScope.ROW) == [(3, "Div", "X9", "unknown division")]
    assert [line for line, _ in parsed.matches] == [2]
    assert parsed.rejected_rows == 1
    assert parsed.issues[0].raw["HomeTeam"] == "Everton"


def test_result_contradicting_the_score_is_a_row_issue(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_A.replace(",1,0,H,", ",1,0,A,"), ROW_B)
    assert _issues(parsed, IssueScope.ROW) == [(2, "FTR", "A (score 1-0)", "result contradicts the score")]
    assert [line for line, _ in parsed.matches] == [3]


def test_half_time_result_contradicting_the_score_is_a_row_issue(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_B.replace(",1,2,A,", ",1,2,H,"))
    assert _issues(parsed, IssueScope.ROW) == [(2, "HTR", "H (score 1-2)", "result contradicts the score")]


def test_half_time_goals_above_full_time_is_a_row_issue(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_A.replace(",1,0,H,0,0,D,", ",1,0,H,2,0,H,"))
    assert _issues(parsed, IssueScope.ROW) == [
        (2, "HTHG", "HT 2-0, FT 1-0", "half-time score exceeds the full-time score")
    ]


def test_duplicate_row_is_a_row_issue(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_A, ROW_B, ROW_A)
    assert _issues(parsed, IssueScope.ROW) == [
        (4, "HomeTeam", "Arsenal v Chelsea on 2005-08-13 (first at line 2)", "duplicate match")
    ]
    assert [line for line, _ in parsed.matches] == [2, 3]


def test_team_playing_itself_is_a_row_issue(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_A.replace("Chelsea", "Arsenal"))
    assert _issues(parsed, IssueScope.ROW) == [(2, "AwayTeam", "Arsenal", "a team cannot play itself")]
    assert parsed.matches == []


@pytest.mark.parametrize(
    ("old", "new", "issue"),
    [
        (",1,0,H,", ",,0,H,", (2, "FTHG", "", "goals missing")),
        (
            "13/08/05",
            "13-08-05",
            (2, "Date", "13-08-05", "unparseable date (expected dd/mm/yy, dd/mm/yyyy or yyyy-mm-dd)"),
        ),
        (",Arsenal,", ",,", (2, "HomeTeam", "", "team name missing")),
    ],
)
def test_other_row_issues(tmp_path: Path, old: str, new: str, issue: tuple[int, str, str, str]) -> None:
    parsed = _season(tmp_path, ROW_A.replace(old, new))
    assert _issues(parsed, IssueScope.ROW) == [issue]


def test_bad_price_and_statistic_are_dropped_alone(tmp_path: Path) -> None:
    parsed = _season(tmp_path, ROW_A.replace(",12,7,2.0,", ",x,7,2.0,").replace(",3.8", ",1.0"), ROW_B)
    assert _issues(parsed, IssueScope.VALUE) == [
        (2, "HS", "x", "count is not a number"),
        (2, "B365A", "1.0", "price must be a decimal price above 1.0"),
    ]
    assert (parsed.rejected_rows, parsed.dropped_values) == (0, 2)
    match = parsed.matches[0][1]
    assert (match.stats.home_shots, match.stats.away_shots) == (None, 7)
    assert _quotes(match, "bet365", Market.MATCH_ODDS, Phase.OPENING) == {Selection.HOME: 2.0, Selection.DRAW: 3.4}


def test_handicap_prices_take_the_rows_line(tmp_path: Path) -> None:
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,AHh,B365AHH,B365AHA,AHCh,B365CAHH,B365CAHA"
    parsed = _season(
        tmp_path,
        "E0,13/08/05,Arsenal,Chelsea,1,0,-0.75,1.95,1.95,-1.0,2.1,1.8",
        "E0,14/08/05,Everton,Fulham,2,2,,1.9,2.0,,,",
        header=header,
    )
    assert parsed.issues == []
    first, second = (m for _, m in parsed.matches)
    assert sorted((q.phase.value, q.selection.value, q.price, q.line) for q in first.quotes) == [
        ("closing", "away", 1.8, -1.0),
        ("closing", "home", 2.1, -1.0),
        ("opening", "away", 1.95, -0.75),
        ("opening", "home", 1.95, -0.75),
    ]
    assert second.quotes == ()  # a handicap price without its line cannot be interpreted


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"\n \n\n", "empty file"),
        (b"\x00\x01\x02\x03\xff\xfe binary", "binary file"),
        (b"Div,Date,HomeTeam,AwayTeam,FTAG\nE0,13/08/05,Arsenal,Chelsea,0\n", "missing column(s) FTHG"),
        (
            b"date,home_team,away_team,home_score,away_score\n",
            "missing column(s) Div, Date, HomeTeam, AwayTeam, FTHG, FTAG",
        ),
    ],
    ids=["empty", "blank", "binary", "no-FTHG", "other-kind"],
)
def test_unusable_files_raise_naming_file_and_problem(tmp_path: Path, content: bytes, problem: str) -> None:
    path = _write(tmp_path, content, name="broken.csv")
    with pytest.raises(SourceFileError) as caught:
        parse_season_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert problem in message


def test_missing_file_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(SourceFileError, match="cannot read") as caught:
        parse_season_file(path)
    assert str(path) in str(caught.value)


def test_fixtures_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Div,Date,Time,HomeTeam,AwayTeam,B365H,B365D,B365A,PSH,PSD,PSA\n"
        "E0,12/08/2023,15:00,Arsenal,Nott'm Forest,1.25,6.5,11.0,1.27,6.4,11.5\n"
        "D1,16/12/2023,14:30,Bayern Munich,Stuttgart,1.4,5.5,6.5,,,\n"
        "E0,16/12/2023,17:30,Spurs,Spurs,2.0,3.5,3.6,,,\n",
        name="fixtures.csv",
    )
    parsed = parse_fixtures_file(path)
    assert parsed.kind is SourceKind.FOOTBALL_DATA_FIXTURES
    assert parsed.rows_read == 3
    assert parsed.matches == []
    assert _issues(parsed, IssueScope.ROW) == [(4, "AwayTeam", "Spurs", "a team cannot play itself")]
    (line1, first), (line2, second) = parsed.fixtures
    assert (line1, line2) == (2, 3)
    assert first == Fixture(
        competition="E0",
        match_date=date(2023, 8, 12),
        kickoff_at=datetime(2023, 8, 12, 14, 0),
        home_team="Arsenal",
        away_team="Nott'm Forest",
        quotes=(
            OddsQuote("bet365", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, 1.25),
            OddsQuote("bet365", Market.MATCH_ODDS, Selection.DRAW, Phase.OPENING, 6.5),
            OddsQuote("bet365", Market.MATCH_ODDS, Selection.AWAY, Phase.OPENING, 11.0),
            OddsQuote("pinnacle", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, 1.27),
            OddsQuote("pinnacle", Market.MATCH_ODDS, Selection.DRAW, Phase.OPENING, 6.4),
            OddsQuote("pinnacle", Market.MATCH_ODDS, Selection.AWAY, Phase.OPENING, 11.5),
        ),
    )
    assert first.season == 2023
    assert second.kickoff_at == datetime(2023, 12, 16, 14, 30)  # December: UK time is UTC
    assert {q.bookmaker for q in second.quotes} == {"bet365"}
    assert len(second.quotes) == 3


def test_fixtures_file_needs_no_results(tmp_path: Path) -> None:
    path = _write(tmp_path, "Div,Date,HomeTeam\nE0,12/08/2023,Arsenal\n", name="fixtures.csv")
    with pytest.raises(SourceFileError, match="missing column\\(s\\) AwayTeam"):
        parse_fixtures_file(path)
