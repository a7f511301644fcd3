"""The grammar of football-data.co.uk odds columns: header name -> bookmaker, market, selection, phase.

Examples: `B365H` bet365 1X2 home opening; `PSCA` Pinnacle 1X2 away closing; `P>2.5` Pinnacle over 2.5
opening; `MaxC<2.5` best price under 2.5 closing; `B365AHH` bet365 Asian-handicap home at the row's `AHh`
line; `BbMxH` (BetBrain maximum, before 2019) and `MaxH` (after) are both the market maximum.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from matchday.domain import Market, Phase, Selection

__all__ = ["BOOKMAKERS", "OddsColumn", "ah_line_columns", "plan_odds_columns"]

# Source code -> canonical bookmaker. Pinnacle is `PS` in 1X2 columns and `P` in over/under and handicap ones.
BOOKMAKERS: dict[str, str] = {
    "B365": "bet365",
    "BW": "bwin",
    "GB": "gamebookers",
    "IW": "interwetten",
    "LB": "ladbrokes",
    "PS": "pinnacle",
    "P": "pinnacle",
    "SB": "sportingbet",
    "SJ": "stanjames",
    "SO": "sportingodds",
    "SY": "stanleybet",
    "WH": "williamhill",
    "VC": "betvictor",
    "BS": "bluesquare",
    "Max": "market_max",
    "BbMx": "market_max",
    "Avg": "market_avg",
    "BbAv": "market_avg",
}
# Longest codes first so that `PS` wins over `P` and `BbMx` is never read as `B...`.
_CODE = "|".join(sorted(map(re.escape, BOOKMAKERS), key=len, reverse=True))
_MATCH_ODDS = re.compile(rf"^(?P<book>{_CODE})(?P<closing>C)?(?P<sel>[HDA])$")
_OVER_UNDER = re.compile(rf"^(?P<book>{_CODE})(?P<closing>C)?(?P<sel>[<>])(?P<line>\d+(?:\.\d+)?)$")
_HANDICAP = re.compile(rf"^(?P<book>{_CODE})(?P<closing>C)?AH(?P<sel>[HA])$")
# The handicap line shared by every book on a row, per phase.
_AH_LINE_COLUMNS = {Phase.OPENING: ("AHh", "BbAHh"), Phase.CLOSING: ("AHCh",)}

_SELECTIONS = {
    "H": Selection.HOME,
    "D": Selection.DRAW,
    "A": Selection.AWAY,
    ">": Selection.OVER,
    "<": Selection.UNDER,
}


@dataclass(frozen=True, slots=True)
class OddsColumn:
    column: str
    bookmaker: str
    market: Market
    selection: Selection
    phase: Phase
    line: float | None  # fixed by the column name (over/under); None: 1X2, or read from the row (handicap)


def _parse(column: str) -> OddsColumn | None:
    for market, pattern in (
        (Market.MATCH_ODDS, _MATCH_ODDS),
        (Market.OVER_UNDER, _OVER_UNDER),
        (Market.ASIAN_HANDICAP, _HANDICAP),
    ):
        found = pattern.match(column)
        if found is None:
            continue
        line = float(found["line"]) if market is Market.OVER_UNDER else None
        return OddsColumn(
            column=column,
            bookmaker=BOOKMAKERS[found["book"]],
            market=market,
            selection=_SELECTIONS[found["sel"]],
            phase=Phase.CLOSING if found["closing"] else Phase.OPENING,
            line=line,
        )
    return None


def plan_odds_columns(header: Sequence[str]) -> list[OddsColumn]:
    """Every odds column of a file's header, decoded once per file rather than once per row."""
    return [parsed for column in header if (parsed := _parse(column)) is not None]


def ah_line_columns(phase: Phase) -> tuple[str, ...]:
    return _AH_LINE_COLUMNS[phase]
