"""Arbitrage across bookmakers for 1X2 and over/under: when the best prices of a market's selections, each at
whichever book offers it, imply less than 100 % together, stakes proportional to 1/price pay the same whatever
happens, and the guaranteed return is 1 / sum(1/price) - 1 of the total staked.

Only named books count: football-data's `market_max` is the best price across books it does not name, so a
"surebet" built on it could not be placed at any one book it names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matchday.betting.errors import BettingInputError
from matchday.betting.prices import AGGREGATES, best_prices
from matchday.domain import Market, Phase

__all__ = ["ARBITRAGE_COLUMNS", "arbitrage"]

ARBITRAGE_COLUMNS = ("match_id", "market", "line", "selection", "bookmaker", "price", "stake", "payout", "margin")
_SELECTIONS = {Market.MATCH_ODDS.value: ("home", "draw", "away"), Market.OVER_UNDER.value: ("over", "under")}


def arbitrage(quotes: pd.DataFrame, phase: Phase, total_stake: float = 100.0, min_margin: float = 0.0) -> pd.DataFrame:
    """One row per selection of each arbitrage found at `phase`: the book, its price, the stake (of
    `total_stake` per opportunity), the equal payout, and the guaranteed `margin` (payout / total_stake - 1);
    opportunities with a margin above `min_margin`, largest first."""
    if not total_stake > 0:
        raise BettingInputError("total_stake", total_stake, "must be positive")
    if min_margin < 0:
        raise BettingInputError("min_margin", min_margin, "must be >= 0")
    books = sorted(set(quotes["bookmaker"]) - set(AGGREGATES))
    best = best_prices(quotes, phase, include_market_max=False, bookmakers=books)
    frames = []
    for market, selections in _SELECTIONS.items():
        rows = best[(best["market"] == market) & best["selection"].isin(selections)]
        rows = rows.assign(line=rows["line"].fillna(-np.inf))
        counts = rows.groupby(["match_id", "line"])["selection"].transform("nunique")
        rows = rows[counts == len(selections)].copy()
        rows["inverse"] = 1.0 / rows["price"]
        rows["implied"] = rows.groupby(["match_id", "line"])["inverse"].transform("sum")
        rows["margin"] = 1.0 / rows["implied"] - 1.0
        rows = rows[rows["margin"] > min_margin]
        rows = rows.assign(stake=total_stake * rows["inverse"] / rows["implied"])
        rows = rows.assign(payout=rows["stake"] * rows["price"])
        frames.append(rows)
    found = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ARBITRAGE_COLUMNS))
    found = found.assign(line=found["line"].replace(-np.inf, np.nan))
    order = found.sort_values(["margin", "match_id", "market", "line"], ascending=[False, True, True, True])
    return order[list(ARBITRAGE_COLUMNS)].reset_index(drop=True)
