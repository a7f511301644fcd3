"""Prices at a moment, from a quote frame (`matchday.features.frames`): the best price across bookmakers, one
bookmaker's price, Pinnacle's no-vig fair closing price, and the settlement of a selection on a final score.

A *price frame* has one row per selection: match_id, market, selection, line (NaN for 1X2), price, bookmaker.
`market_max` is football-data's market maximum (the best price across the many books its source polls, not only
the named ones in the file); `market_avg` is the market average. Both are aggregates, so `best_prices` takes the
named books and, unless told otherwise, `market_max` too; `market_avg` never.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.betting.errors import BettingInputError, require_columns
from matchday.domain import Market, Phase, Selection
from matchday.features.frames import QUOTE_COLUMNS
from matchday.features.market import Method, remove_overround

__all__ = [
    "AGGREGATES",
    "KEY_COLUMNS",
    "PRICE_COLUMNS",
    "best_prices",
    "bookmaker_prices",
    "fair_prices",
    "settle",
    "settle_frame",
]

AGGREGATES = ("market_max", "market_avg")
KEY_COLUMNS = ("match_id", "market", "selection", "line")
PRICE_COLUMNS = (*KEY_COLUMNS, "price", "bookmaker")
# The selections of one book's quote that together cover every outcome, per market.
_BOOKS: dict[str, tuple[str, ...]] = {
    Market.MATCH_ODDS.value: (Selection.HOME.value, Selection.DRAW.value, Selection.AWAY.value),
    Market.OVER_UNDER.value: (Selection.OVER.value, Selection.UNDER.value),
    Market.ASIAN_HANDICAP.value: (Selection.HOME.value, Selection.AWAY.value),
}


def _phase_quotes(quotes: pd.DataFrame, phase: Phase) -> pd.DataFrame:
    require_columns("quotes", quotes.columns, QUOTE_COLUMNS)
    chosen = quotes[(quotes["phase"] == Phase(phase).value) & (quotes["price"] > 1.0)]
    return chosen.assign(line=chosen["line"].astype("float64"))


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """NaN lines (1X2) grouped as a value: pandas drops NaN group keys, so 1X2 lines are -inf while grouped."""
    return frame.assign(line=frame["line"].fillna(-np.inf))


def _unkeyed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(line=frame["line"].replace(-np.inf, np.nan)).reset_index(drop=True)


def best_prices(
    quotes: pd.DataFrame, phase: Phase, *, include_market_max: bool = True, bookmakers: Sequence[str] | None = None
) -> pd.DataFrame:
    """The highest price of each selection at `phase` across bookmakers (a price frame). `bookmakers` restricts
    the books; ties go to the first book in name order, so the result is deterministic."""
    chosen = _phase_quotes(quotes, phase)
    excluded = {"market_avg"} if include_market_max else set(AGGREGATES)
    chosen = chosen[~chosen["bookmaker"].isin(excluded)]
    if bookmakers is not None:
        chosen = chosen[chosen["bookmaker"].isin(list(bookmakers))]
    ordered = _keyed(chosen).sort_values([*KEY_COLUMNS, "price", "bookmaker"], ascending=[*[True] * 4, False, True])
    best = ordered.drop_duplicates(list(KEY_COLUMNS), keep="first")
    return _unkeyed(best[list(PRICE_COLUMNS)])


def bookmaker_prices(quotes: pd.DataFrame, bookmaker: str, phase: Phase) -> pd.DataFrame:
    """One bookmaker's (or aggregate's) prices at `phase`, as a price frame."""
    chosen = _phase_quotes(quotes, phase)
    chosen = chosen[chosen["bookmaker"] == bookmaker]
    return _unkeyed(_keyed(chosen).drop_duplicates(list(KEY_COLUMNS), keep="last")[list(PRICE_COLUMNS)])


def fair_prices(
    quotes: pd.DataFrame,
    bookmaker: str = "pinnacle",
    phase: Phase = Phase.CLOSING,
    method: Method = Method.MULTIPLICATIVE,
) -> pd.DataFrame:
    """`bookmaker`'s no-vig prices at `phase` (1 / probability after removing the overround by `method`) for
    every market whose book is complete (all of 1X2; over and under; home and away at one line). Columns:
    KEY_COLUMNS and fair_price."""
    prices = _keyed(bookmaker_prices(quotes, bookmaker, phase))
    frames = []
    for market, selections in _BOOKS.items():
        wide = prices[prices["market"] == market].pivot_table(
            index=["match_id", "line"], columns="selection", values="price", aggfunc="last"
        )
        if wide.empty or not set(selections) <= set(wide.columns):
            continue
        odds = wide[list(selections)].to_numpy(dtype=np.float64)
        fair = pd.DataFrame(
            1.0 / remove_overround(odds, method), index=wide.index, columns=pd.Index(list(selections), name="selection")
        )
        stacked = pd.Series(fair.stack(), name="fair_price")
        long = stacked.reset_index().assign(market=market)
        frames.append(long.dropna(subset=["fair_price"]))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _FAIR_DTYPES.items()})
    return _unkeyed(pd.concat(frames, ignore_index=True)[[*KEY_COLUMNS, "fair_price"]])


_FAIR_DTYPES = {"match_id": "int64", "market": "object", "selection": "object", "line": "float64", "fair_price": "f8"}


def _parts(line: float) -> tuple[float, ...]:
    if (2 * line).is_integer():
        return (line,)
    if (4 * line).is_integer():
        return (line - 0.25, line + 0.25)
    raise BettingInputError("line", line, "must be a multiple of 0.25")


def _margin(market: str, selection: str, line: float, home: int, away: int) -> float:
    """How far the selection is ahead of its line on this score (> 0 wins, 0 refunds, < 0 loses)."""
    if market == Market.MATCH_ODDS.value:
        diff = home - away
        return {"home": diff, "away": -diff, "draw": 1 if diff == 0 else -1}[selection]
    if market == Market.OVER_UNDER.value:
        return (home + away - line) if selection == Selection.OVER.value else (line - home - away)
    if market == Market.ASIAN_HANDICAP.value:
        return (home - away + line) if selection == Selection.HOME.value else (away - home - line)
    raise BettingInputError("market", market, f"must be one of {', '.join(m.value for m in Market)}")


def settle(market: str, selection: str, line: float | None, price: float, home_goals: int, away_goals: int) -> float:
    """The return per unit staked (stake included: 0 a lost bet, `price` a won one, 1 a refund); Asian quarter
    lines settle half the stake on each neighbouring line. For Asian handicap `line` is the home side's handicap
    for both selections, as the quote frame stores it."""
    if market == Market.MATCH_ODDS.value:
        return price if _margin(market, selection, 0.0, home_goals, away_goals) > 0 else 0.0
    if line is None or not np.isfinite(line):
        raise BettingInputError("line", line, f"a {market} bet needs a line")
    parts = _parts(float(line))
    total = 0.0
    for part in parts:
        margin = _margin(market, selection, part, home_goals, away_goals)
        total += price if margin > 0 else (1.0 if margin == 0 else 0.0)
    return total / len(parts)


def settle_frame(bets: pd.DataFrame, results: pd.DataFrame) -> npt.NDArray[np.float64]:
    """`settle` for every bet row (KEY_COLUMNS, price) against results (match_id, home_goals, away_goals)."""
    require_columns("results", results.columns, ("match_id", "home_goals", "away_goals"))
    goals = results.set_index("match_id")[["home_goals", "away_goals"]]
    if not bets["match_id"].isin(goals.index).all():
        missing = bets.loc[~bets["match_id"].isin(goals.index), "match_id"].iloc[0]
        raise BettingInputError("results", int(missing), "has no result for this match_id")
    home = goals.loc[bets["match_id"], "home_goals"].to_numpy()
    away = goals.loc[bets["match_id"], "away_goals"].to_numpy()
    rows = zip(bets["market"], bets["selection"], bets["line"], bets["price"], home, away, strict=True)
    return np.array([settle(m, s, None if pd.isna(li) else li, p, int(h), int(a)) for m, s, li, p, h, a in rows])
