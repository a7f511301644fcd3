"""The football-data odds-column grammar, on hand-picked names and on every real file's header."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from matchday.domain import Market, Phase, Selection
from matchday.ingest.odds_columns import OddsColumn, ah_line_columns, plan_odds_columns

# Every column of the real headers that is not a price: identity, results, statistics, book counts (Bb1X2, BbOU,
# BbAH), handicap lines (AHh, BbAHh, AHCh) and three empty unnamed columns in D1/1011, D1/1112 and I1/1011.
NOT_ODDS = frozenset(
    {
        "Div",
        "Date",
        "Time",
        "HomeTeam",
        "AwayTeam",
        "FTHG",
        "FTAG",
        "FTR",
        "HTHG",
        "HTAG",
        "HTR",
        "Referee",
        "HS",
        "AS",
        "HST",
        "AST",
        "HF",
        "AF",
        "HC",
        "AC",
        "HY",
        "AY",
        "HR",
        "AR",
        "Bb1X2",
        "BbOU",
        "BbAH",
        "AHh",
        "BbAHh",
        "AHCh",
        "Unnamed__70",
        "Unnamed__71",
        "Unnamed__72",
    }
)


def _one(column: str) -> OddsColumn:
    plan = plan_odds_columns([column])
    assert len(plan) == 1, f"{column} decoded as {plan}"
    return plan[0]


@pytest.mark.parametrize(
    ("column", "bookmaker", "market", "selection", "phase", "line"),
    [
        ("B365H", "bet365", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, None),
        ("B365D", "bet365", Market.MATCH_ODDS, Selection.DRAW, Phase.OPENING, None),
        ("PSCA", "pinnacle", Market.MATCH_ODDS, Selection.AWAY, Phase.CLOSING, None),
        ("PSH", "pinnacle", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, None),
        ("P>2.5", "pinnacle", Market.OVER_UNDER, Selection.OVER, Phase.OPENING, 2.5),
        ("PC<2.5", "pinnacle", Market.OVER_UNDER, Selection.UNDER, Phase.CLOSING, 2.5),
        ("MaxC<2.5", "market_max", Market.OVER_UNDER, Selection.UNDER, Phase.CLOSING, 2.5),
        ("BbMxH", "market_max", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, None),
        ("MaxH", "market_max", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, None),
        ("BbAvD", "market_avg", Market.MATCH_ODDS, Selection.DRAW, Phase.OPENING, None),
        ("AvgCA", "market_avg", Market.MATCH_ODDS, Selection.AWAY, Phase.CLOSING, None),
        ("BbAvAHA", "market_avg", Market.ASIAN_HANDICAP, Selection.AWAY, Phase.OPENING, None),
        ("BbMx>2.5", "market_max", Market.OVER_UNDER, Selection.OVER, Phase.OPENING, 2.5),
        ("B365CAHH", "bet365", Market.ASIAN_HANDICAP, Selection.HOME, Phase.CLOSING, None),
        ("PCAHA", "pinnacle", Market.ASIAN_HANDICAP, Selection.AWAY, Phase.CLOSING, None),
        ("BSH", "bluesquare", Market.MATCH_ODDS, Selection.HOME, Phase.OPENING, None),
        ("SJA", "stanjames", Market.MATCH_ODDS, Selection.AWAY, Phase.OPENING, None),
        ("VCCD", "betvictor", Market.MATCH_ODDS, Selection.DRAW, Phase.CLOSING, None),
        ("IWCH", "interwetten", Market.MATCH_ODDS, Selection.HOME, Phase.CLOSING, None),
        ("B365>3.5", "bet365", Market.OVER_UNDER, Selection.OVER, Phase.OPENING, 3.5),
    ],
)
def test_decodes_odds_columns(
    column: str, bookmaker: str, market: Market, selection: Selection, phase: Phase, line: float | None
) -> None:
    assert _one(column) == OddsColumn(column, bookmaker, market, selection, phase, line)


@pytest.mark.parametrize(
    "column",
    [
        *("HS", "HC", "AC", "HF", "HY", "AR", "AS", "HST", "Bb1X2", "BbOU", "BbAH", "BbAHh", "AHh", "AHCh", "Referee"),
        *("FTHG", "FTAG", "FTR", "HTR", "Div", "Date", "Time", "HomeTeam", "AwayTeam", "", "b365h", "B365X", "XYZH"),
    ],
)
def test_does_not_decode_other_columns(column: str) -> None:
    assert plan_odds_columns([column]) == []


def test_plan_keeps_header_order_and_skips_the_rest() -> None:
    header = ["Div", "Date", "FTHG", "B365H", "HS", "PSCA", "P>2.5", "AHh", "B365CAHH"]
    assert [c.column for c in plan_odds_columns(header)] == ["B365H", "PSCA", "P>2.5", "B365CAHH"]


def test_handicap_line_columns() -> None:
    assert ah_line_columns(Phase.OPENING) == ("AHh", "BbAHh")
    assert ah_line_columns(Phase.CLOSING) == ("AHCh",)


# --- every real header -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_headers(season_files: list[Path]) -> dict[str, tuple[str, ...]]:
    headers = {}
    for path in season_files:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            headers[f"{path.parent.name}/{path.name}"] = tuple(name.strip() for name in next(csv.reader(handle)))
    return headers


def test_allow_list_holds_no_price() -> None:
    assert plan_odds_columns(sorted(NOT_ODDS)) == []


def test_every_real_odds_column_is_decoded(real_headers: dict[str, tuple[str, ...]]) -> None:
    seen: set[str] = set()
    undecoded: dict[str, set[str]] = defaultdict(set)
    for name, header in real_headers.items():
        seen.update(header)
        decoded = {c.column for c in plan_odds_columns(header)}
        for column in header:
            if column not in decoded and column not in NOT_ODDS:
                undecoded[column].add(name)
    assert dict(undecoded) == {}
    # The allow-list describes the real files: nothing in it is stale.
    assert NOT_ODDS - seen == set()


def test_real_headers_decode_into_complete_markets(real_headers: dict[str, tuple[str, ...]]) -> None:
    """A mis-decoded column would leave a book with a missing or doubled selection."""
    problems = []
    for name, header in real_headers.items():
        groups: dict[tuple[str, Market, Phase, float | None], Counter[Selection]] = defaultdict(Counter)
        for column in plan_odds_columns(header):
            groups[(column.bookmaker, column.market, column.phase, column.line)][column.selection] += 1
        for (bookmaker, market, phase, line), selections in groups.items():
            expected = {
                Market.MATCH_ODDS: {Selection.HOME, Selection.DRAW, Selection.AWAY},
                Market.OVER_UNDER: {Selection.OVER, Selection.UNDER},
                Market.ASIAN_HANDICAP: {Selection.HOME, Selection.AWAY},
            }[market]
            if set(selections) != expected or set(selections.values()) != {1}:
                problems.append((name, bookmaker, market.value, phase.value, line, dict(selections)))
    assert problems == []


def test_real_files_carry_pinnacle_closing_prices_from_2012(real_headers: dict[str, tuple[str, ...]]) -> None:
    def has_pinnacle_closing(header: tuple[str, ...]) -> bool:
        return any(c.bookmaker == "pinnacle" and c.phase is Phase.CLOSING for c in plan_odds_columns(header))

    assert has_pinnacle_closing(real_headers["E0/2223.csv"])
    assert has_pinnacle_closing(real_headers["E0/1213.csv"])
    assert not has_pinnacle_closing(real_headers["E0/0506.csv"])
