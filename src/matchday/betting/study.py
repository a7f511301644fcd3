"""The backtest study the figures come from: a model's value bets under several strategies, side by side with
controls on the same matches: the market average's own value bets (the same filter, flat stakes) and the
model-free controls, one unit on every 1X2 selection at the best opening price, at Pinnacle's opening price and at
the market average's. Every bet is judged by CLV against Pinnacle's no-vig close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from matchday.betting.backtest import Strategy, closing_line_value, every_selection, place_bets
from matchday.betting.errors import BettingInputError, require_columns
from matchday.betting.prices import best_prices, bookmaker_prices, fair_prices
from matchday.betting.summary import Bootstrap, summarise
from matchday.domain import Phase
from matchday.features.market import Method

__all__ = ["Study", "StudyInputs", "run_study", "study_table"]

CONTROL_MODEL = "market_avg_open"


@dataclass(frozen=True)
class StudyInputs:
    """`predictions`: the walk-forward long table (match_id, competition, season, match_date, model, p_home,
    p_draw, p_away); `results`: match_id, home_goals, away_goals; `quotes`: the quote frame of those matches."""

    predictions: pd.DataFrame
    results: pd.DataFrame
    quotes: pd.DataFrame


@dataclass(frozen=True)
class Study:
    """`ledgers[label]`: every bet of that line, with CLV; `compounding[label]`: whether its stakes compound."""

    ledgers: dict[str, pd.DataFrame]
    compounding: dict[str, bool]
    bankroll: float


def _model_rows(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    rows = predictions[predictions["model"] == model].dropna(subset=["p_home", "p_draw", "p_away"])
    if rows.empty:
        known = ", ".join(sorted(set(predictions["model"])))
        raise BettingInputError("model", model, f"has no predictions; the file holds {known}")
    return rows.drop(columns=["model"]).reset_index(drop=True)


def run_study(
    inputs: StudyInputs,
    model: str,
    strategies: Sequence[Strategy],
    *,
    bankroll: float = 1000.0,
    include_market_max: bool = True,
    fair_method: Method = Method.MULTIPLICATIVE,
) -> Study:
    """Every strategy on `model`'s value bets and the controls, on the matches both `model` and the market
    average predicted. Decisions use opening prices only; the closing prices are read after, for CLV."""
    require_columns("predictions", inputs.predictions.columns, ("match_id", "model", "p_home", "p_draw", "p_away"))
    own = _model_rows(inputs.predictions, model)
    control = _model_rows(inputs.predictions, CONTROL_MODEL)
    common = set(own["match_id"]) & set(control["match_id"])
    own, control = own[own["match_id"].isin(common)], control[control["match_id"].isin(common)]
    best = best_prices(inputs.quotes, Phase.OPENING, include_market_max=include_market_max)
    fair = fair_prices(inputs.quotes, "pinnacle", Phase.CLOSING, fair_method)
    ledgers: dict[str, pd.DataFrame] = {}
    compounding: dict[str, bool] = {}
    for strategy in strategies:
        label = f"{model} {strategy.name}"
        ledgers[label] = place_bets(own, best, inputs.results, strategy, bankroll)
        compounding[label] = strategy.staking == "kelly"
    flat = next((s for s in strategies if s.staking == "flat"), None)
    if flat is not None:
        ledgers[f"control: {CONTROL_MODEL} value {flat.name}"] = place_bets(
            control, best, inputs.results, flat, bankroll
        )
    matches = own[["match_id", "competition", "season", "match_date"]]
    per_book = {
        "best open": best,
        "pinnacle open": bookmaker_prices(inputs.quotes, "pinnacle", Phase.OPENING),
        "market avg open": bookmaker_prices(inputs.quotes, "market_avg", Phase.OPENING),
    }
    for name, prices in per_book.items():
        ledgers[f"control: every selection @ {name}"] = every_selection(matches, prices, inputs.results, 1.0)
    compounding |= {label: False for label in ledgers if label not in compounding}
    ledgers = {label: closing_line_value(bets, fair) for label, bets in ledgers.items()}
    return Study(ledgers, compounding, bankroll)


def study_table(study: Study, by: Sequence[str] = (), bootstrap: Bootstrap | None = None) -> pd.DataFrame:
    """`summarise` of every ledger, one block of rows per line of the study (column `line` first)."""
    frames = []
    for label, bets in study.ledgers.items():
        table = summarise(bets, study.bankroll, compounding=study.compounding[label], by=by, bootstrap=bootstrap)
        frames.append(table.assign(strategy=label))
    combined = pd.concat(frames, ignore_index=True)
    return combined[["strategy", *[c for c in combined.columns if c != "strategy"]]]
