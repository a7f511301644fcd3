"""The backtest on real EPL prices and results: the leakage guard (decisions must not move when closing prices and
future results are rewritten), settlement and bankroll bookkeeping, and the summary's definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matchday.betting.backtest import DECISION_COLUMNS, closing_line_value, parse_strategy, place_bets
from matchday.betting.errors import BettingInputError
from matchday.betting.prices import best_prices, fair_prices
from matchday.betting.recommend import recommend
from matchday.betting.study import StudyInputs, run_study, study_table
from matchday.betting.summary import Bootstrap, summarise
from matchday.betting.value import ValueFilter
from matchday.domain import Phase
from matchday.features.market import multiplicative

CUT = pd.Timestamp("2021-08-01")
STRATEGIES = ("flat:0.01", "kelly:0.25")


def _opening_model(matches: pd.DataFrame, quotes: pd.DataFrame) -> pd.DataFrame:
    """A stand-in forecaster that knows only opening prices: Pinnacle's opening no-vig probabilities, tilted
    towards the favourite so that it disagrees with the market and finds value bets."""
    opening = quotes[(quotes["bookmaker"] == "pinnacle") & (quotes["phase"] == "opening") & (quotes["market"] == "1x2")]
    wide = opening.pivot_table(index="match_id", columns="selection", values="price")[["home", "draw", "away"]]
    probs = multiplicative(wide.to_numpy()) ** 1.15
    probs /= probs.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(probs, index=wide.index, columns=["p_home", "p_draw", "p_away"]).dropna().reset_index()
    keys = matches[["match_id", "competition", "season", "match_date"]]
    return keys.merge(frame, on="match_id")


def _decisions(matches: pd.DataFrame, quotes: pd.DataFrame, strategy: str) -> pd.DataFrame:
    """The whole pipeline from raw frames: model, opening best prices, bets placed and settled."""
    results = matches[["match_id", "home_goals", "away_goals"]]
    bets = place_bets(
        _opening_model(matches, quotes), best_prices(quotes, Phase.OPENING), results, parse_strategy(strategy)
    )
    return bets


def _rewrite_future(matches: pd.DataFrame, quotes: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every closing price perturbed, and the results of matches on or after CUT shuffled among them."""
    rng = np.random.default_rng(seed)
    closing = quotes["phase"] == "closing"
    quotes = quotes.assign(
        price=np.where(closing, 1.01 + rng.uniform(0.5, 2.0, len(quotes)) * quotes["price"], quotes["price"])
    )
    later = (matches["match_date"] >= CUT).to_numpy()
    goals = matches.loc[later, ["home_goals", "away_goals"]].to_numpy()
    matches = matches.copy()
    matches.loc[later, ["home_goals", "away_goals"]] = goals[rng.permutation(len(goals))]
    return matches, quotes


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_decisions_never_see_a_closing_price_or_a_result_of_their_day_or_later(
    epl: tuple[pd.DataFrame, pd.DataFrame], strategy: str
) -> None:
    matches, quotes = epl
    before = _decisions(matches, quotes, strategy)
    rewritten = _decisions(*_rewrite_future(matches, quotes, seed=1), strategy)
    decided = list(DECISION_COLUMNS)
    early_before = before[before["match_date"] <= CUT][decided].reset_index(drop=True)
    early_after = rewritten[rewritten["match_date"] <= CUT][decided].reset_index(drop=True)
    assert len(early_before) > 200
    pd.testing.assert_frame_equal(early_before, early_after, check_exact=True)
    # the rewrite bites: the bets from the cut on settle differently, so a decision that read them would move
    late_before = before.loc[before["match_date"] >= CUT, "profit"].sum()
    late_after = rewritten.loc[rewritten["match_date"] >= CUT, "profit"].sum()
    assert late_before != pytest.approx(late_after)


def test_closing_prices_alone_never_move_any_decision(epl: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    matches, quotes = epl
    rng = np.random.default_rng(2)
    shuffled = quotes.assign(
        price=np.where(quotes["phase"] == "closing", rng.permutation(quotes["price"].to_numpy()) + 0.5, quotes["price"])
    )
    for strategy in STRATEGIES:
        pd.testing.assert_frame_equal(
            _decisions(matches, quotes, strategy), _decisions(matches, shuffled, strategy), check_exact=True
        )


def test_settlement_and_bankroll_bookkeeping(epl: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    matches, quotes = epl
    bets = _decisions(matches, quotes, "kelly:0.25")
    assert (bets["stake"] > 0).all()
    won = bets["returned"] > 0
    assert bets.loc[won, "returned"].to_numpy() == pytest.approx((bets["stake"] * bets["price"])[won].to_numpy())
    daily = bets.groupby("match_date").agg(before=("bankroll_before", "first"), profit=("profit", "sum"))
    assert daily["before"].iloc[1:].to_numpy() == pytest.approx(
        (daily["before"] + daily["profit"]).iloc[:-1].to_numpy()
    )
    per_day = bets.groupby("match_date")["stake"].sum() / daily["before"]
    assert per_day.max() <= 0.25 + 1e-6 and (bets["stake"] / bets["bankroll_before"]).max() <= 0.05 + 1e-6


def test_summary_definitions_on_a_small_ledger() -> None:
    bets = pd.DataFrame(
        {
            "match_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-08"]),
            "stake": [10.0, 10.0, 20.0],
            "returned": [25.0, 0.0, 0.0],
            "price": [2.5, 3.0, 2.0],
            "clv": [0.05, -0.01, np.nan],
        }
    ).assign(profit=lambda f: f["returned"] - f["stake"])
    row = summarise(bets, 100.0, compounding=False, bootstrap=Bootstrap(resamples=200)).iloc[0]
    assert row["bets"] == 3 and row["turnover"] == 40.0 and row["profit"] == -15.0
    assert row["yield"] == pytest.approx(-15 / 40) and row["roi"] == pytest.approx(-0.15)
    assert row["hit_rate"] == pytest.approx(1 / 3) and row["mean_clv"] == pytest.approx(0.02)
    assert row["max_drawdown"] == pytest.approx((105 - 85) / 105)
    compounded = summarise(bets, 100.0, compounding=True, bootstrap=Bootstrap(resamples=200)).iloc[0]
    assert compounded["roi"] == pytest.approx((1 + 5 / 100) * (1 - 20 / 105) - 1)
    assert row["yield_low"] <= row["yield"] <= row["yield_high"]


def test_study_lines_and_the_market_average_control(epl: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    matches, quotes = epl
    model = _opening_model(matches, quotes)
    average = model.assign(p_home=1 / 3, p_draw=1 / 3, p_away=1 / 3)
    long = pd.concat([model.assign(model="tilted"), average.assign(model="market_avg_open")], ignore_index=True)
    inputs = StudyInputs(long, matches[["match_id", "home_goals", "away_goals"]], quotes)
    study = run_study(inputs, "tilted", [parse_strategy(s) for s in STRATEGIES])
    assert list(study.ledgers) == [
        "tilted flat:0.01",
        "tilted kelly:0.25",
        "control: market_avg_open value flat:0.01",
        "control: every selection @ best open",
        "control: every selection @ pinnacle open",
        "control: every selection @ market avg open",
    ]
    table = study_table(study, bootstrap=Bootstrap(resamples=100))
    assert table.loc[table["strategy"] == "control: every selection @ best open", "bets"].item() == 1520 * 3
    with pytest.raises(BettingInputError, match="model='stack'"):
        run_study(inputs, "stack", [parse_strategy("flat")])


def test_recommendations_share_the_bankroll_per_day(epl: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    matches, quotes = epl
    model = _opening_model(matches, quotes).head(40)
    bets = recommend(model, best_prices(quotes, Phase.OPENING), 500.0, ValueFilter(min_edge=0.01))
    assert not bets.empty and (bets["edge"] >= 0.01).all()
    assert bets.groupby("match_date")["stake"].sum().max() <= 0.25 * 500 + 1e-6
    with pytest.raises(BettingInputError, match="bankroll=0"):
        recommend(model, best_prices(quotes, Phase.OPENING), 0)


def test_clv_is_price_over_the_fair_close(epl: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    matches, quotes = epl
    bets = closing_line_value(_decisions(matches, quotes, "flat"), fair_prices(quotes))
    priced = bets.dropna(subset=["fair_close"])
    assert len(priced) > 0.99 * len(bets)
    assert priced["clv"].to_numpy() == pytest.approx((priced["price"] / priced["fair_close"] - 1).to_numpy())
