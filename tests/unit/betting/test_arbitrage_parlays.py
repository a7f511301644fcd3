"""Arbitrage stakes that equalise the payout; parlays of independent legs, same-match legs refused."""

from __future__ import annotations

import pandas as pd
import pytest

from matchday.betting.arbitrage import arbitrage
from matchday.betting.errors import BettingInputError
from matchday.betting.parlays import Leg, SameMatchLegsError, parlay, rank_parlays
from matchday.domain import Phase


def _quotes(rows: list[tuple[int, str, str, str, float | None, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["match_id", "bookmaker", "market", "selection", "line", "price"])
    return frame.assign(line=frame["line"].astype("float64"), phase="opening")


def test_an_arbitrage_pays_the_same_whatever_happens() -> None:
    quotes = _quotes(
        [
            (1, "bet365", "1x2", "home", None, 2.9),
            (1, "bwin", "1x2", "draw", None, 3.8),
            (1, "pinnacle", "1x2", "away", None, 3.6),
            (1, "pinnacle", "1x2", "home", None, 2.5),
            (1, "market_max", "1x2", "home", None, 9.0),  # an aggregate, not a book to stake at
            (2, "bet365", "over_under", "over", 2.5, 1.9),
            (2, "bwin", "over_under", "under", 2.5, 1.95),
        ]
    )
    found = arbitrage(quotes, Phase.OPENING, total_stake=100.0)
    implied = 1 / 2.9 + 1 / 3.8 + 1 / 3.6
    assert implied < 1
    assert set(found["match_id"]) == {1}  # match 2 implies 1/1.9 + 1/1.95 > 1
    assert found["bookmaker"].tolist() == ["bet365", "bwin", "pinnacle"] or set(found["bookmaker"]) == {
        "bet365",
        "bwin",
        "pinnacle",
    }
    assert found["stake"].sum() == pytest.approx(100.0)
    assert found["payout"].to_numpy() == pytest.approx([100.0 / implied] * 3)
    assert found["margin"].iloc[0] == pytest.approx(1 / implied - 1)


def test_parlay_price_probability_and_variance() -> None:
    legs = [Leg(1, "home", 0.5, 2.1), Leg(2, "away", 0.4, 2.7)]
    combined = parlay(legs)
    assert combined.price == pytest.approx(2.1 * 2.7)
    assert combined.probability == pytest.approx(0.2)
    assert combined.expected_value == pytest.approx(0.2 * 2.1 * 2.7 - 1)
    assert combined.variance == pytest.approx(0.2 * (2.1 * 2.7) ** 2 - (0.2 * 2.1 * 2.7) ** 2)


def test_same_match_legs_are_refused_with_the_reason() -> None:
    with pytest.raises(SameMatchLegsError, match="same-match legs are not independent"):
        parlay([Leg(1, "home", 0.5, 2.1), Leg(1, "over", 0.55, 1.9)])
    with pytest.raises(BettingInputError, match="probability"):
        Leg(1, "home", 1.2, 2.0)


def test_rank_parlays_skips_same_match_combinations_and_orders_by_value() -> None:
    legs = [Leg(1, "home", 0.55, 2.0), Leg(1, "draw", 0.3, 3.5), Leg(2, "away", 0.45, 2.4), Leg(3, "home", 0.5, 1.9)]
    ranked = rank_parlays(legs, size=2, top=10)
    assert all(len({leg.match_id for leg in p.legs}) == 2 for p in ranked)
    assert len(ranked) == 5  # 6 pairs less the one on match 1 twice
    values = [p.expected_value for p in ranked]
    assert values == sorted(values, reverse=True)
