"""Best prices, fair closing prices and settlement; the model-free controls on the real EPL against the issue's
reference figures (mean CLV vs Pinnacle's no-vig close: best opening +1.1 %, Pinnacle opening -2.2 %, market
average opening -4.0 %)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matchday.betting.backtest import closing_line_value, every_selection
from matchday.betting.errors import BettingInputError
from matchday.betting.prices import best_prices, bookmaker_prices, fair_prices, settle
from matchday.domain import Phase


def _quotes(rows: list[tuple[int, str, str, str, str, float | None, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["match_id", "bookmaker", "market", "selection", "phase", "line", "price"])
    return frame.assign(line=frame["line"].astype("float64"))


QUOTES = _quotes(
    [
        (1, "bet365", "1x2", "home", "opening", None, 2.0),
        (1, "pinnacle", "1x2", "home", "opening", None, 2.1),
        (1, "market_max", "1x2", "home", "opening", None, 2.3),
        (1, "market_avg", "1x2", "home", "opening", None, 2.5),
        (1, "bet365", "1x2", "home", "closing", None, 9.0),
        (1, "pinnacle", "1x2", "home", "closing", None, 2.0),
        (1, "pinnacle", "1x2", "draw", "closing", None, 4.0),
        (1, "pinnacle", "1x2", "away", "closing", None, 4.0),
        (1, "bet365", "over_under", "over", "opening", 2.5, 1.9),
        (1, "bwin", "over_under", "over", "opening", 2.5, 1.9),
    ]
)


def test_best_price_is_the_maximum_at_the_phase_with_max_optional_and_avg_never() -> None:
    best = best_prices(QUOTES, Phase.OPENING)
    home = best[best["selection"] == "home"].iloc[0]
    assert (home["price"], home["bookmaker"]) == (2.3, "market_max")
    named = best_prices(QUOTES, Phase.OPENING, include_market_max=False)
    assert named.loc[named["selection"] == "home", "bookmaker"].item() == "pinnacle"
    over = best[best["market"] == "over_under"].iloc[0]
    assert (over["price"], over["bookmaker"], over["line"]) == (1.9, "bet365", 2.5)  # a tie goes to the first name
    assert np.isnan(home["line"])


def test_fair_prices_remove_the_overround_of_one_book() -> None:
    fair = fair_prices(QUOTES, "pinnacle", Phase.CLOSING)
    implied = 1 / 2.0 + 1 / 4.0 + 1 / 4.0  # 1.0: no margin, so fair equals the price
    assert implied == pytest.approx(1.0)
    assert fair.set_index("selection")["fair_price"].to_dict() == pytest.approx({"home": 2.0, "draw": 4.0, "away": 4.0})
    margin = QUOTES.assign(price=np.where(QUOTES["phase"] == "closing", QUOTES["price"] / 1.05, QUOTES["price"]))
    again = fair_prices(margin, "pinnacle", Phase.CLOSING).set_index("selection")["fair_price"]
    assert again.to_dict() == pytest.approx({"home": 2.0, "draw": 4.0, "away": 4.0})


@pytest.mark.parametrize(
    ("market", "selection", "line", "score", "expected"),
    [
        ("1x2", "home", None, (2, 1), 2.0),
        ("1x2", "draw", None, (1, 1), 2.0),
        ("1x2", "away", None, (1, 1), 0.0),
        ("over_under", "over", 2.5, (2, 1), 2.0),
        ("over_under", "under", 3.0, (2, 1), 1.0),  # whole line: refund
        ("asian_handicap", "home", -0.5, (1, 1), 0.0),
        ("asian_handicap", "away", -0.5, (1, 1), 2.0),
        ("asian_handicap", "home", -0.25, (1, 1), 0.5),  # half on 0 (refund), half on -0.5 (lost)
        ("asian_handicap", "home", -0.75, (2, 1), 1.5),  # half on -0.5 (won), half on -1 (refund)
        ("asian_handicap", "away", -0.75, (2, 1), 0.5),
    ],
)
def test_settle(market: str, selection: str, line: float | None, score: tuple[int, int], expected: float) -> None:
    assert settle(market, selection, line, 2.0, *score) == pytest.approx(expected)


def test_settle_refuses_a_line_off_the_quarter_grid() -> None:
    with pytest.raises(BettingInputError, match=r"line=0\.3"):
        settle("over_under", "over", 0.3, 2.0, 1, 0)


def test_the_model_free_controls_reproduce_the_issue_figures(epl: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    matches, quotes = epl
    results = matches[["match_id", "home_goals", "away_goals"]]
    fair = fair_prices(quotes, "pinnacle", Phase.CLOSING)
    sources = {
        "best": best_prices(quotes, Phase.OPENING),
        "pinnacle": bookmaker_prices(quotes, "pinnacle", Phase.OPENING),
        "average": bookmaker_prices(quotes, "market_avg", Phase.OPENING),
    }
    clv = {
        name: closing_line_value(every_selection(matches, prices, results), fair)["clv"].mean() * 100
        for name, prices in sources.items()
    }
    assert len(matches) == 1520
    assert clv["best"] == pytest.approx(1.1, abs=0.05)
    assert clv["pinnacle"] == pytest.approx(-2.2, abs=0.05)
    assert clv["average"] == pytest.approx(-4.0, abs=0.05)
