"""Value bets: edge = p x price + p_push - 1 at the best price available at the decision moment, with filters.

A *probability frame* has one row per selection the model prices: KEY_COLUMNS (match_id, market, selection, line),
`probability` (the fraction of stake won, expected: a quarter-line Asian half-win counts half) and `push` (the
expected refunded fraction; 0 for 1X2). `selection_probabilities` builds it from walk-forward 1X2 predictions,
`grid_probabilities` from a model's ScoreGrid for over/under and Asian handicap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matchday.betting.errors import BettingInputError, require_columns
from matchday.betting.prices import KEY_COLUMNS, PRICE_COLUMNS
from matchday.domain import Market, ScoreGrid

__all__ = ["PROBABILITY_COLUMNS", "ValueFilter", "grid_probabilities", "selection_probabilities", "value_bets"]

PROBABILITY_COLUMNS = (*KEY_COLUMNS, "probability", "push")
_OUTCOMES = (("home", "p_home"), ("draw", "p_draw"), ("away", "p_away"))


@dataclass(frozen=True, slots=True)
class ValueFilter:
    """Which value bets to keep. `competitions`/`markets` None: all. Bounds are inclusive."""

    min_edge: float = 0.0
    min_probability: float = 0.0
    max_probability: float = 1.0
    min_price: float = 1.01
    max_price: float = 1000.0
    competitions: tuple[str, ...] | None = None
    markets: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_edge < 10.0:
            raise BettingInputError("min_edge", self.min_edge, "must be in [0, 10)")
        if not 0.0 <= self.min_probability <= self.max_probability <= 1.0:
            raise BettingInputError(
                "min_probability", (self.min_probability, self.max_probability), "needs 0 <= min <= max <= 1"
            )
        if not 1.0 < self.min_price <= self.max_price:
            raise BettingInputError("min_price", (self.min_price, self.max_price), "needs 1 < min <= max")
        known = {m.value for m in Market}
        for market in self.markets or ():
            if market not in known:
                raise BettingInputError("markets", market, f"must be one of {', '.join(sorted(known))}")


def selection_probabilities(predictions: pd.DataFrame) -> pd.DataFrame:
    """A probability frame of 1X2 selections from predictions with match_id, p_home, p_draw, p_away (other
    columns, such as competition or match_date, are carried along)."""
    require_columns("predictions", predictions.columns, ("match_id", "p_home", "p_draw", "p_away"))
    probs = predictions[["p_home", "p_draw", "p_away"]].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1) | (np.abs(probs.sum(axis=1) - 1) > 1e-6)
    if bad.any():
        row = predictions.iloc[int(np.flatnonzero(bad)[0])]
        raise BettingInputError("predictions", int(row["match_id"]), "p_home, p_draw, p_away must be a distribution")
    carried = [c for c in predictions.columns if c not in ("p_home", "p_draw", "p_away", "market", "selection")]
    frames = [
        predictions[carried].assign(
            market=Market.MATCH_ODDS.value, selection=name, line=np.nan, probability=predictions[column], push=0.0
        )
        for name, column in _OUTCOMES
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["match_id", "selection"], kind="stable")


def grid_probabilities(
    match_id: int, grid: ScoreGrid, totals: Iterable[float], handicaps: Iterable[float]
) -> pd.DataFrame:
    """The probability frame of one match's over/under lines `totals` and Asian handicap lines `handicaps` (the
    home side's handicap, as quotes store it) from the model's score grid."""
    rows = []
    for line in totals:
        over, under, push = grid.over_under(float(line))
        rows += [(match_id, Market.OVER_UNDER.value, "over", line, over, push)]
        rows += [(match_id, Market.OVER_UNDER.value, "under", line, under, push)]
    for line in handicaps:
        home, away, push = grid.asian_handicap(float(line))
        rows += [(match_id, Market.ASIAN_HANDICAP.value, "home", line, home, push)]
        rows += [(match_id, Market.ASIAN_HANDICAP.value, "away", line, away, push)]
    return pd.DataFrame(rows, columns=list(PROBABILITY_COLUMNS)).astype({"line": "float64"})


def _joined(probabilities: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    require_columns("probabilities", probabilities.columns, PROBABILITY_COLUMNS)
    require_columns("prices", prices.columns, PRICE_COLUMNS)
    keys = list(KEY_COLUMNS)
    # NaN never equals NaN in a merge key: 1X2 lines are joined as -inf.
    left = probabilities.assign(line=probabilities["line"].fillna(-np.inf))
    right = prices[list(PRICE_COLUMNS)].assign(line=prices["line"].fillna(-np.inf))
    joined = left.merge(right, on=keys, how="inner", validate="many_to_one")
    return joined.assign(line=joined["line"].replace(-np.inf, np.nan))


def value_bets(probabilities: pd.DataFrame, prices: pd.DataFrame, rules: ValueFilter | None = None) -> pd.DataFrame:
    """Every priced selection with a positive edge that passes `rules`, edge = probability x price + push - 1, best edge
    first within each match (rows keep the probability frame's extra columns)."""
    rules = rules or ValueFilter()
    bets = _joined(probabilities, prices)
    bets["edge"] = bets["probability"] * bets["price"] + bets["push"] - 1.0
    keep = (
        (bets["edge"] >= rules.min_edge)
        & (bets["edge"] > 0.0)
        & bets["probability"].between(rules.min_probability, rules.max_probability)
        & bets["price"].between(rules.min_price, rules.max_price)
    )
    keep &= _member(bets, "competition", rules.competitions) & _member(bets, "market", rules.markets)
    chosen = bets[keep]
    return chosen.sort_values(["match_id", "edge"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _member(bets: pd.DataFrame, column: str, allowed: Sequence[str] | None) -> pd.Series:
    if allowed is None:
        return pd.Series(True, index=bets.index)
    if column not in bets.columns:
        raise BettingInputError("probabilities", column, f"is needed to filter by {column}")
    return bets[column].isin(list(allowed))
