"""Recommendations for upcoming matches: the 1X2 value bets of a model's predictions at the prices on offer now,
each with a stake for a bankroll, sized by simultaneous fractional Kelly over the bets of each match day."""

from __future__ import annotations

import pandas as pd

from matchday.betting.backtest import Strategy, day_stakes
from matchday.betting.errors import BettingInputError, require_columns
from matchday.betting.kelly import KellyRules
from matchday.betting.value import ValueFilter, selection_probabilities, value_bets

__all__ = ["RECOMMENDATION_COLUMNS", "recommend"]

RECOMMENDATION_COLUMNS = (
    "match_id",
    "match_date",
    "market",
    "selection",
    "line",
    "bookmaker",
    "price",
    "probability",
    "edge",
    "stake",
)


def recommend(
    predictions: pd.DataFrame,
    prices: pd.DataFrame,
    bankroll: float,
    rules: ValueFilter | None = None,
    kelly: KellyRules | None = None,
) -> pd.DataFrame:
    """Value bets of `predictions` (match_id, match_date, p_home, p_draw, p_away and any carried columns) at
    `prices` (a price frame), with `stake` in money: each day's bets share `bankroll` through simultaneous Kelly,
    as if that day were the only one (upcoming matches are not settled in between)."""
    require_columns("predictions", predictions.columns, ("match_id", "match_date", "p_home", "p_draw", "p_away"))
    if not bankroll > 0:
        raise BettingInputError("bankroll", bankroll, "must be positive")
    strategy = Strategy("kelly", "kelly", rules or ValueFilter(), kelly=kelly or KellyRules())
    candidates = value_bets(selection_probabilities(predictions), prices, strategy.rules)
    if candidates.empty:
        return candidates.assign(stake=pd.Series(dtype="float64"))
    candidates = candidates.merge(predictions[["match_id", "p_home", "p_draw", "p_away"]], on="match_id")
    days = []
    for _, day in candidates.groupby("match_date", sort=True):
        days.append(day.assign(stake=day_stakes(day, bankroll, bankroll, strategy)))
    chosen = pd.concat(days, ignore_index=True).drop(columns=["p_home", "p_draw", "p_away"])
    chosen = chosen[chosen["stake"] > 0]
    return chosen.sort_values(["match_date", "match_id", "edge"], ascending=[True, True, False]).reset_index(drop=True)
