"""The bankroll backtest: walk-forward predictions + prices at the decision moment -> bets -> settlement on real
results -> bankroll curve, with closing line value against Pinnacle's no-vig close.

The order of work is the guard against leakage. `place_bets` sees only the predictions (made before each block,
`matchday.evaluation.walk_forward`), the decision prices (opening, `prices.best_prices(..., Phase.OPENING)`) and
the bankroll, which moves only with the results of earlier days: a day's bets are sized and fixed before its
matches are settled. Closing prices enter only afterwards, in `closing_line_value`, to judge the bets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from matchday.betting.errors import BettingInputError, require_columns
from matchday.betting.kelly import KellyRules, MatchBets, one_x_two, simultaneous_kelly, single_kelly_stakes
from matchday.betting.prices import KEY_COLUMNS, settle_frame
from matchday.betting.value import ValueFilter, selection_probabilities, value_bets

__all__ = [
    "DECISION_COLUMNS",
    "Strategy",
    "closing_line_value",
    "day_stakes",
    "every_selection",
    "parse_strategy",
    "place_bets",
]

Staking = Literal["flat", "kelly"]
DECISION_COLUMNS = ("match_id", "match_date", "market", "selection", "line", "bookmaker", "price", "stake")
_PREDICTION_COLUMNS = ("match_id", "competition", "season", "match_date", "p_home", "p_draw", "p_away")


@dataclass(frozen=True, slots=True)
class Strategy:
    """`flat`: `flat_stake` of the starting bankroll on every value bet. `kelly`: fractional Kelly of the current
    bankroll, joint over the day's bets when `simultaneous`, else each bet sized alone; both capped by `kelly`."""

    name: str
    staking: Staking = "flat"
    rules: ValueFilter = field(default_factory=ValueFilter)
    flat_stake: float = 0.01
    kelly: KellyRules = field(default_factory=KellyRules)
    simultaneous: bool = True

    def __post_init__(self) -> None:
        if self.staking not in ("flat", "kelly"):
            raise BettingInputError("staking", self.staking, "must be 'flat' or 'kelly'")
        if not 0.0 < self.flat_stake <= 1.0:
            raise BettingInputError("flat_stake", self.flat_stake, "must be a fraction of the bankroll in (0, 1]")


def parse_strategy(text: str, rules: ValueFilter | None = None) -> Strategy:
    """'flat', 'flat:0.02' (stake fraction of the starting bankroll), 'kelly' or 'kelly:0.25' (Kelly fraction)."""
    kind, _, number = text.partition(":")
    rules = rules or ValueFilter()
    try:
        value = float(number) if number else None
    except ValueError:
        raise BettingInputError("strategy", text, "the part after ':' must be a number") from None
    if kind == "flat":
        return Strategy(text, "flat", rules, flat_stake=value if value is not None else 0.01)
    if kind == "kelly":
        return Strategy(text, "kelly", rules, kelly=KellyRules(fraction=value if value is not None else 0.25))
    raise BettingInputError("strategy", text, "must be flat[:stake] or kelly[:fraction]")


def day_stakes(day: pd.DataFrame, bankroll: float, start: float, strategy: Strategy) -> np.ndarray:
    """Money staked on each of one day's bets (rows with probability, price, selection, match_id and the
    match's p_home, p_draw, p_away), from the current `bankroll` and the `start` one (flat stakes)."""
    if strategy.staking == "flat":
        return np.full(len(day), strategy.flat_stake * start)
    if not strategy.simultaneous:
        return bankroll * single_kelly_stakes(day["probability"].to_numpy(), day["price"].to_numpy(), strategy.kelly)
    matches: list[MatchBets] = []
    order: list[int] = []
    for _, bets in day.groupby("match_id", sort=True):
        first = bets.iloc[0]
        probs = [first["p_home"], first["p_draw"], first["p_away"]]
        matches.append(one_x_two(probs, list(zip(bets["selection"], bets["price"], strict=True))))
        order.extend(bets.index)
    fractions = pd.Series(simultaneous_kelly(matches, strategy.kelly), index=order)
    return bankroll * fractions.loc[day.index].to_numpy()


def place_bets(
    predictions: pd.DataFrame,
    prices: pd.DataFrame,
    results: pd.DataFrame,
    strategy: Strategy,
    bankroll: float = 1000.0,
) -> pd.DataFrame:
    """Every bet `strategy` places on the 1X2 value bets of `predictions` at `prices`, day by day, each day's stakes
    set from the bankroll after the earlier days' results. Columns: the value bet's (KEY_COLUMNS, competition,
    season, match_date, probability, price, bookmaker, edge), stake, bankroll_before, returned, profit."""
    require_columns("predictions", predictions.columns, _PREDICTION_COLUMNS)
    if not bankroll > 0:
        raise BettingInputError("bankroll", bankroll, "must be positive")
    candidates = value_bets(selection_probabilities(predictions[list(_PREDICTION_COLUMNS)]), prices, strategy.rules)
    candidates = candidates.merge(predictions[["match_id", "p_home", "p_draw", "p_away"]], on="match_id")
    candidates = candidates.sort_values(["match_date", "match_id", "selection"], kind="stable").reset_index(drop=True)
    days = []
    current = bankroll
    for _, day in candidates.groupby("match_date", sort=True):
        stakes = day_stakes(day, current, bankroll, strategy)
        placed = day.assign(stake=stakes, bankroll_before=current)
        placed = placed[placed["stake"] > 0]
        if placed.empty:
            continue
        placed = placed.assign(returned=placed["stake"] * settle_frame(placed, results))
        placed = placed.assign(profit=placed["returned"] - placed["stake"])
        current += float(placed["profit"].sum())
        days.append(placed)
    if not days:
        return candidates.head(0).assign(stake=0.0, bankroll_before=0.0, returned=0.0, profit=0.0)
    return pd.concat(days, ignore_index=True).drop(columns=["p_home", "p_draw", "p_away"])


def every_selection(
    matches: pd.DataFrame, prices: pd.DataFrame, results: pd.DataFrame, stake: float = 1.0
) -> pd.DataFrame:
    """A model-free control: `stake` on every 1X2 selection of `matches` (match_id, competition, season,
    match_date) at `prices`, settled; the same columns as `place_bets` (edge and probability NaN)."""
    require_columns("matches", matches.columns, ("match_id", "competition", "season", "match_date"))
    chosen = prices[(prices["market"] == "1x2") & prices["match_id"].isin(matches["match_id"])]
    bets = chosen.merge(matches[["match_id", "competition", "season", "match_date"]], on="match_id")
    bets = bets.sort_values(["match_date", "match_id", "selection"], kind="stable").reset_index(drop=True)
    bets = bets.assign(probability=np.nan, push=0.0, edge=np.nan, stake=stake, bankroll_before=np.nan)
    bets["returned"] = stake * settle_frame(bets, results)
    return bets.assign(profit=bets["returned"] - bets["stake"])


def closing_line_value(bets: pd.DataFrame, fair_closing: pd.DataFrame) -> pd.DataFrame:
    """`bets` with fair_close (the closing no-vig price of the same selection and line) and clv = price /
    fair_close - 1; NaN where the closing book did not price that selection."""
    keys = list(KEY_COLUMNS)
    left = bets.assign(line=bets["line"].fillna(-np.inf))
    right = fair_closing[[*keys, "fair_price"]].assign(line=fair_closing["line"].fillna(-np.inf))
    joined = left.merge(right.rename(columns={"fair_price": "fair_close"}), on=keys, how="left", validate="m:1")
    joined = joined.assign(line=joined["line"].replace(-np.inf, np.nan))
    return joined.assign(clv=joined["price"] / joined["fair_close"] - 1.0)
