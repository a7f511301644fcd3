"""Value bets and their filters; Kelly stakes, alone and simultaneous, against closed forms and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from matchday.betting.errors import BettingInputError
from matchday.betting.kelly import KellyRules, MatchBets, kelly_fraction, one_x_two, simultaneous_kelly
from matchday.betting.value import ValueFilter, grid_probabilities, selection_probabilities, value_bets
from matchday.domain import ScoreGrid

FULL = KellyRules(fraction=1.0, max_bet=1.0, max_day=1.0)


def _prices(rows: list[tuple[int, str, str, float | None, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["match_id", "market", "selection", "line", "price"])
    return frame.assign(line=frame["line"].astype("float64"), bookmaker="bet365")


def test_value_bets_keep_positive_edges_that_pass_the_filter() -> None:
    predictions = pd.DataFrame(
        {
            "match_id": [1, 2],
            "competition": ["E0", "D1"],
            "p_home": [0.5, 0.3],
            "p_draw": [0.3, 0.3],
            "p_away": [0.2, 0.4],
        }
    )
    prices = _prices([(1, "1x2", "home", None, 2.2), (1, "1x2", "away", None, 4.0), (2, "1x2", "away", None, 2.4)])
    bets = value_bets(selection_probabilities(predictions), prices)
    assert bets[["match_id", "selection"]].values.tolist() == [[1, "home"]]
    assert bets["edge"].item() == pytest.approx(0.5 * 2.2 - 1)
    assert value_bets(selection_probabilities(predictions), prices, ValueFilter(min_edge=0.2)).empty
    assert value_bets(selection_probabilities(predictions), prices, ValueFilter(competitions=("D1",))).empty


def test_grid_markets_count_refunds_in_the_edge() -> None:
    grid = ScoreGrid.from_poisson(1.6, 1.1)
    probs = grid_probabilities(7, grid, totals=[2.0], handicaps=[-0.25])
    prices = _prices([(7, "over_under", "over", 2.0, 2.0), (7, "asian_handicap", "home", -0.25, 2.0)])
    bets = value_bets(probs, prices).set_index("market")
    over, _, push = grid.over_under(2.0)
    if "over_under" in bets.index:
        assert bets.loc["over_under", "edge"] == pytest.approx(over * 2.0 + push - 1.0)
    home, _, refund = grid.asian_handicap(-0.25)
    assert bets.loc["asian_handicap", "edge"] == pytest.approx(home * 2.0 + refund - 1.0)


def test_bad_filters_and_predictions_name_the_field() -> None:
    with pytest.raises(BettingInputError, match="min_edge"):
        ValueFilter(min_edge=-0.1)
    with pytest.raises(BettingInputError, match="markets='1X2'"):
        ValueFilter(markets=("1X2",))
    with pytest.raises(BettingInputError, match="predictions=3"):
        selection_probabilities(pd.DataFrame({"match_id": [3], "p_home": [0.5], "p_draw": [0.5], "p_away": [0.5]}))


def test_kelly_fraction_closed_form() -> None:
    assert kelly_fraction(0.5, 2.2) == pytest.approx((0.5 * 1.2 - 0.5) / 1.2)
    assert kelly_fraction(0.4, 2.2) == 0.0
    # a refund state leaves the bankroll as it was: Kelly on the bet given no refund
    assert kelly_fraction(0.4, 2.0, push=0.3) == pytest.approx((0.4 / 0.7) * 1.0 - 0.3 / 0.7)
    with pytest.raises(BettingInputError, match=r"price=1\.0"):
        kelly_fraction(0.5, 1.0)


def test_simultaneous_kelly_of_one_bet_is_the_single_kelly_stake() -> None:
    stakes = simultaneous_kelly([one_x_two([0.5, 0.3, 0.2], [("home", 2.2)])], FULL)
    assert stakes[0] == pytest.approx(kelly_fraction(0.5, 2.2), abs=1e-5)


def _brute_force(matches: list[MatchBets], step: float = 0.005, top: float = 0.3) -> np.ndarray:
    grid = np.arange(0.0, top + step / 2, step)
    probs = [m.probabilities for m in matches]
    returns = np.vstack([m.returns for m in matches])
    best, best_value = np.zeros(returns.shape[0]), -np.inf
    states = list(itertools.product(*(range(p.size) for p in probs)))
    for stakes in itertools.product(grid, repeat=returns.shape[0]):
        f = np.array(stakes)
        if f.sum() >= 1:
            continue
        value = 0.0
        for state in states:
            weight = float(np.prod([p[s] for p, s in zip(probs, state, strict=True)]))
            column = np.concatenate([m.returns[:, s] for m, s in zip(matches, state, strict=True)])
            value += weight * np.log(1 - f.sum() + f @ column)
        if value > best_value:
            best, best_value = f, value
    return best


def test_simultaneous_kelly_matches_brute_force_on_exclusive_and_independent_bets() -> None:
    same_match = [one_x_two([0.45, 0.3, 0.25], [("home", 2.6), ("draw", 3.8)])]
    assert simultaneous_kelly(same_match, FULL) == pytest.approx(_brute_force(same_match), abs=0.006)
    two_matches = [one_x_two([0.5, 0.3, 0.2], [("home", 2.3)]), one_x_two([0.3, 0.3, 0.4], [("away", 2.9)])]
    assert simultaneous_kelly(two_matches, FULL) == pytest.approx(_brute_force(two_matches), abs=0.006)


def test_simultaneous_kelly_respects_fraction_and_caps() -> None:
    matches = [one_x_two([0.6, 0.25, 0.15], [("home", 2.2)]) for _ in range(6)]
    full = simultaneous_kelly(matches, FULL)
    quarter = simultaneous_kelly(matches, KellyRules(fraction=0.25, max_bet=1.0, max_day=1.0))
    assert quarter == pytest.approx(full * 0.25, abs=1e-6)
    capped = simultaneous_kelly(matches, KellyRules(fraction=1.0, max_bet=0.05, max_day=0.2))
    assert capped.max() <= 0.05 + 1e-9 and capped.sum() <= 0.2 + 1e-6
    # independent bets share the bankroll: each is staked less than it would be alone
    assert full.max() < kelly_fraction(0.6, 2.2)
