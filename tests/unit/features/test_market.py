"""Overround removal against worked examples and published reference values, its properties, and the market
features of hand-built and real quote frames."""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchday.domain import Match
from matchday.features.frames import QUOTE_COLUMNS
from matchday.features.market import (
    Method,
    additive,
    market_features,
    multiplicative,
    power,
    remove_overround,
    shin,
)
from matchday.ingest.football_data import parse_season_file

WORKED = [2.0, 3.4, 3.8]
# The three books of the R package `implied`'s README (Lindstrøm), with its printed results below.
IMPLIED_ODDS = np.array([[4.20, 3.70, 1.95], [2.45, 3.70, 2.90], [2.05, 3.20, 3.80]])
IMPLIED_BASIC = [
    [0.2331556, 0.2646631, 0.5021813],
    [0.3988848, 0.2641264, 0.3369888],
    [0.4586948, 0.2938514, 0.2474538],
]
# Its 'wpo' method, p_i = 1/o_i - margin/k, is the additive method under another name.
IMPLIED_WPO = [[0.2310332, 0.2632083, 0.5057585], [0.4004096, 0.2625166, 0.3370739], [0.4666506, 0.2913457, 0.2420036]]
# Its power and Shin results come from R's uniroot at its default tolerance (1.2e-4 on the root), so they match
# a tight solution only to a few 1e-6 (and the root itself to 1e-4).
IMPLIED_POWER = [
    [0.2311414, 0.2630644, 0.5057942],
    [0.4003156, 0.2627189, 0.3369655],
    [0.4667139, 0.2908985, 0.2423876],
]
IMPLIED_SHIN = [[0.2315716, 0.2635742, 0.5048542], [0.4000221, 0.2629271, 0.3370508], [0.4645882, 0.2919788, 0.2434331]]
REMOVERS = (multiplicative, additive, power, lambda odds: shin(odds)[0])


def _exact_inverse(prices: Sequence[float]) -> list[Fraction]:
    return [1 / Fraction(str(price)) for price in prices]


def _exact_multiplicative(prices: Sequence[float]) -> list[float]:
    inverse = _exact_inverse(prices)
    return [float(share / sum(inverse)) for share in inverse]


def _exact_additive(prices: Sequence[float]) -> list[float]:
    inverse = _exact_inverse(prices)
    return [float(share - (sum(inverse) - 1) / len(inverse)) for share in inverse]


def _shin_from_z(prices: Sequence[float], z: float) -> list[float]:
    """Shin's closed form for the probabilities given z (Jullien & Salanié 1994)."""
    inverse = [1.0 / price for price in prices]
    total = sum(inverse)
    return [(math.sqrt(z * z + 4 * (1 - z) * share**2 / total) - z) / (2 * (1 - z)) for share in inverse]


def test_multiplicative_normalises_the_inverse_odds() -> None:
    # 1/2 + 5/17 + 5/19 = 683/646, so the probabilities are 323/683, 190/683 and 170/683
    assert multiplicative([WORKED])[0].tolist() == pytest.approx([323 / 683, 190 / 683, 170 / 683], abs=1e-15)
    assert multiplicative(IMPLIED_ODDS) == pytest.approx(np.array(IMPLIED_BASIC), abs=5e-8)


def test_additive_takes_an_equal_share_of_the_overround() -> None:
    assert additive([WORKED])[0].tolist() == pytest.approx(_exact_additive(WORKED), abs=1e-15)
    assert _exact_additive(WORKED)[0] == pytest.approx(466 / 969, abs=1e-15)  # 1/2 - (37/646)/3
    assert additive(IMPLIED_ODDS) == pytest.approx(np.array(IMPLIED_WPO), abs=5e-8)


def test_additive_is_nan_where_a_long_shot_would_go_negative() -> None:
    # overround 0.0724, a third of it 0.0241 > 1/50: the long shot would get -0.004
    probs = additive([[1.05, 10.0, 50.0], WORKED])
    assert np.isnan(probs[0]).all()
    assert probs[1].tolist() == pytest.approx(_exact_additive(WORKED), abs=1e-15)


def test_power_solves_its_defining_equation() -> None:
    probs = power(np.vstack([WORKED, IMPLIED_ODDS]))
    exponents = np.log(probs) / np.log(1.0 / np.vstack([WORKED, IMPLIED_ODDS]))
    assert probs.sum(axis=1) == pytest.approx(np.ones(4), abs=1e-12)
    assert (exponents.max(axis=1) - exponents.min(axis=1)).max() < 1e-12  # one exponent per book
    assert (exponents > 1.0).all()  # books with an overround
    # `implied` reports 1/kappa
    assert 1.0 / exponents[1:, 0] == pytest.approx([0.9797664, 0.9788115, 0.9419744], abs=1.2e-4)
    assert probs[1:] == pytest.approx(np.array(IMPLIED_POWER), abs=3e-6)


def test_shin_probabilities_follow_the_closed_form_of_the_returned_z() -> None:
    books = np.vstack([WORKED, IMPLIED_ODDS])
    probs, z = shin(books)
    for row, prices in enumerate(books):
        assert 0.0 < z[row] < 0.1
        assert probs[row].tolist() == pytest.approx(_shin_from_z(prices, z[row]), abs=1e-14)
        assert sum(_shin_from_z(prices, z[row])) == pytest.approx(1.0, abs=1e-12)
    assert probs[1:] == pytest.approx(np.array(IMPLIED_SHIN), abs=3e-6)


def test_shin_matches_the_python_shin_package() -> None:
    # The README example of the `shin` package (Mark Watson), solved to 1e-12 on z.
    probs, z = shin([[2.6, 2.4, 4.3]])
    assert z[0] == pytest.approx(0.01694251276407055, abs=1e-10)
    assert probs[0].tolist() == pytest.approx([0.37299406033208965, 0.4047794109200184, 0.2222265287474275], abs=1e-10)


def test_shin_on_an_arbitrage_book_has_a_negative_z() -> None:
    # 1/2.2 + 1/3.6 + 1/4.2 = 0.970: best prices across books can sum below 1
    probs, z = shin([[2.2, 3.6, 4.2]])
    assert -0.1 < z[0] < 0.0
    assert probs[0].tolist() == pytest.approx(_shin_from_z([2.2, 3.6, 4.2], z[0]), abs=1e-14)
    assert probs[0].sum() == pytest.approx(1.0, abs=1e-12)
    assert probs[0, 0] > probs[0, 1] > probs[0, 2] > 0.0


def test_shin_z_is_continuous_through_a_fair_book() -> None:
    scales = np.array([0.98, 0.999, 1.0, 1.001, 1.02])  # overround 1/scale around 1
    _, z = shin(np.outer(scales, [2.0, 4.0, 4.0]))
    assert np.sign(z).tolist() == [1.0, 1.0, 0.0, -1.0, -1.0]
    assert np.abs(z[1:4]).max() < 1e-2


@pytest.mark.parametrize("prices", [[2.0, 4.0, 4.0], [2.0, 3.0, 6.0], [2.0, 2.0], [1.25, 5.0]])
def test_a_fair_book_keeps_its_inverse_odds(prices: list[float]) -> None:
    expected = [1.0 / price for price in prices]
    for method in Method:
        assert remove_overround([prices], method)[0].tolist() == pytest.approx(expected, abs=1e-12), method
    assert shin([prices])[1][0] == pytest.approx(0.0, abs=1e-12)


def test_two_way_markets() -> None:
    prices = [1.5, 2.6]  # overround 1.0513
    inverse = [1 / 1.5, 1 / 2.6]
    assert multiplicative([prices])[0].tolist() == pytest.approx([i / sum(inverse) for i in inverse], abs=1e-15)
    assert additive([prices])[0].tolist() == pytest.approx(_exact_additive(prices), abs=1e-15)
    probs, z = shin([prices])
    assert probs[0].tolist() == pytest.approx(_shin_from_z(prices, z[0]), abs=1e-14)
    assert power([prices])[0].sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("bad", [[np.nan, 3.4, 3.8], [1.0, 3.4, 3.8], [0.5, 3.4, 3.8], [2.0, np.inf, 3.8]])
def test_a_missing_or_invalid_price_makes_its_row_nan(bad: list[float]) -> None:
    books = np.array([WORKED, bad, IMPLIED_ODDS[0]])
    for remove in REMOVERS:
        probs = remove(books)
        assert np.isnan(probs[1]).all()
        assert not np.isnan(probs[[0, 2]]).any()
        assert probs[[0, 2]] == pytest.approx(remove(books[[0, 2]]), abs=1e-15)
    assert np.isnan(shin(books)[1][1])


@pytest.mark.parametrize("odds", [[2.0, 3.4, 3.8], [[2.0]], np.ones((2, 3, 3)) * 2])
def test_odds_of_the_wrong_shape_are_rejected(odds: object) -> None:
    for remove in REMOVERS:
        with pytest.raises(ValueError, match="shape"):
            remove(odds)  # type: ignore[arg-type]


def test_remove_overround_dispatches_by_method() -> None:
    books = np.vstack([WORKED, IMPLIED_ODDS])
    assert remove_overround(books, Method.MULTIPLICATIVE).tolist() == multiplicative(books).tolist()
    assert remove_overround(books, Method.ADDITIVE).tolist() == additive(books).tolist()
    assert remove_overround(books, Method.POWER).tolist() == power(books).tolist()
    assert remove_overround(books, Method.SHIN).tolist() == shin(books)[0].tolist()
    assert remove_overround(books, Method("shin")).tolist() == shin(books)[0].tolist()
    assert [method.value for method in Method] == ["multiplicative", "additive", "power", "shin"]


@st.composite
def _books(draw: st.DrawFn) -> np.ndarray:
    k = draw(st.sampled_from([2, 3]))
    rows = draw(st.lists(st.lists(st.floats(1.01, 60.0), min_size=k, max_size=k), min_size=1, max_size=6))
    return np.array(rows)


@given(_books())
def test_probabilities_are_proper_and_follow_the_prices(books: np.ndarray) -> None:
    for remove in REMOVERS:
        probs = remove(books)
        solved = ~np.isnan(probs).any(axis=1)
        assert np.allclose(probs[solved].sum(axis=1), 1.0, rtol=0, atol=1e-9)
        assert ((probs[solved] > 0.0) & (probs[solved] < 1.0)).all()
        for row in np.flatnonzero(solved):
            for i in range(books.shape[1]):
                for j in range(books.shape[1]):
                    if books[row, i] < books[row, j] / (1 + 1e-9):
                        assert probs[row, i] > probs[row, j]
                    if books[row, i] == books[row, j]:
                        assert probs[row, i] == probs[row, j]


@given(_books())
def test_only_additive_can_fail_and_only_on_a_negative_probability(books: np.ndarray) -> None:
    for remove in (multiplicative, power, lambda odds: shin(odds)[0]):
        assert not np.isnan(remove(books)).any()
    inverse = 1.0 / books
    shortfall = inverse.min(axis=1) - (inverse.sum(axis=1) - 1.0) / books.shape[1]
    failed = np.isnan(additive(books)).any(axis=1)
    assert (shortfall[failed] <= 1e-12).all()
    assert (shortfall[~failed] > -1e-12).all()


@given(_books())
def test_shin_z_and_the_row_by_row_solution(books: np.ndarray) -> None:
    probs, z = shin(books)
    overround = (1.0 / books).sum(axis=1)
    assert ((z >= 0.0) & (z < 1.0))[overround >= 1.0].all()
    assert (z < 0.0)[overround < 1.0 - 1e-12].all()
    for row, prices in enumerate(books):
        assert probs[row].tolist() == pytest.approx(_shin_from_z(prices, z[row]), abs=1e-12)
        _, z_alone = shin(books[row : row + 1])
        assert z_alone[0] == pytest.approx(z[row], abs=1e-12)  # batching does not change a row's answer
        assert power(books[row : row + 1])[0] == pytest.approx(power(books)[row], abs=1e-12)


MOMENT_COLUMNS = [
    *(f"{source}_{o}" for source in ("pinnacle", "avg", "max", "pinnacle_shin") for o in "hda"),
    "pinnacle_shin_z",
    *(f"{source}_{o}" for source in ("pinnacle_power", "pinnacle_additive") for o in "hda"),
    "pinnacle_overround",
    *(f"dispersion_{o}" for o in "hda"),
    "n_books",
    "over25",
    "ah_line",
]
FEATURE_COLUMNS = [f"{p}_{c}" for p in ("open", "close") for c in MOMENT_COLUMNS] + [
    f"close_move_pinnacle_{o}" for o in "hda"
]
PROBABILITY_TRIPLETS = [
    c[:-2] for c in FEATURE_COLUMNS if c.endswith("_h") and "dispersion" not in c and "move" not in c
]


def _book(match_id: int, bookmaker: str, market: str, phase: str, line: float, **prices: float) -> list[tuple]:
    return [(match_id, bookmaker, market, selection, phase, line, price) for selection, price in prices.items()]


def _x12(match_id: int, bookmaker: str, phase: str, prices: Sequence[float]) -> list[tuple]:
    home, draw, away = prices
    return _book(match_id, bookmaker, "1x2", phase, math.nan, home=home, draw=draw, away=away)


def _hand_built_quotes() -> pd.DataFrame:
    rows = [
        *_x12(10, "pinnacle", "opening", WORKED),
        *_x12(10, "pinnacle", "closing", [1.9, 3.5, 4.5]),
        *_x12(10, "bet365", "opening", [2.1, 3.3, 3.6]),
        *_x12(10, "williamhill", "opening", [2.0, 3.25, 3.75]),
        *_x12(10, "market_avg", "opening", [2.05, 3.35, 3.7]),
        *_x12(10, "market_max", "opening", [2.15, 3.5, 4.0]),
        *_x12(10, "market_max", "closing", [2.0, 3.6, 4.75]),
        *_book(10, "pinnacle", "over_under", "opening", 2.5, over=1.9, under=2.0),
        *_book(10, "pinnacle", "over_under", "opening", 3.5, over=3.0, under=1.4),  # not the 2.5 line
        *_book(10, "pinnacle", "over_under", "closing", 2.5, over=1.85),  # one side only: the average stands in
        *_book(10, "market_avg", "over_under", "closing", 2.5, over=1.8, under=2.05),
        *_book(10, "pinnacle", "asian_handicap", "opening", -0.5, home=1.95, away=1.95),
        *_book(10, "market_avg", "asian_handicap", "opening", -0.5, home=1.9, away=1.9),
        *_book(10, "pinnacle", "asian_handicap", "closing", -0.75, home=2.0, away=1.85),
        *_book(20, "bet365", "1x2", "opening", math.nan, home=1.5, draw=4.0),  # incomplete book
        *_x12(20, "pinnacle", "closing", [1.5, 4.2, 6.5]),
        *_x12(99, "pinnacle", "opening", [1.5, 4.2, 6.5]),  # a match not asked for
    ]
    return pd.DataFrame(rows, columns=list(QUOTE_COLUMNS))


def _row(features: pd.DataFrame, match_id: int, prefix: str) -> list[float]:
    return features.loc[match_id, [f"{prefix}_{o}" for o in "hda"]].astype(float).tolist()


def test_market_features_of_a_hand_built_frame() -> None:
    features = market_features(_hand_built_quotes(), [20, 10, 30])
    assert features.index.tolist() == [20, 10, 30] and features.index.name == "match_id"
    assert features.columns.tolist() == FEATURE_COLUMNS
    opening, closing = _exact_multiplicative(WORKED), _exact_multiplicative([1.9, 3.5, 4.5])
    assert _row(features, 10, "open_pinnacle") == pytest.approx(opening, abs=1e-15)
    assert _row(features, 10, "close_pinnacle") == pytest.approx(closing, abs=1e-15)
    assert _row(features, 10, "open_avg") == pytest.approx(_exact_multiplicative([2.05, 3.35, 3.7]), abs=1e-15)
    assert _row(features, 10, "open_max") == pytest.approx(_exact_multiplicative([2.15, 3.5, 4.0]), abs=1e-15)
    assert _row(features, 10, "close_max") == pytest.approx(_exact_multiplicative([2.0, 3.6, 4.75]), abs=1e-15)
    assert np.isnan(_row(features, 10, "close_avg")).all()
    z = features.loc[10, "open_pinnacle_shin_z"]
    assert z == pytest.approx(shin([WORKED])[1][0], abs=1e-15) and 0 < z < 0.1
    assert _row(features, 10, "open_pinnacle_shin") == pytest.approx(_shin_from_z(WORKED, z), abs=1e-14)
    assert _row(features, 10, "open_pinnacle_power") == pytest.approx(power([WORKED])[0].tolist(), abs=1e-15)
    assert _row(features, 10, "open_pinnacle_additive") == pytest.approx(_exact_additive(WORKED), abs=1e-15)
    assert features.loc[10, "open_pinnacle_overround"] == pytest.approx(683 / 646, abs=1e-15)
    books = [WORKED, [2.1, 3.3, 3.6], [2.0, 3.25, 3.75]]  # the aggregates are not books
    spread = [statistics.pstdev(probs) for probs in zip(*map(_exact_multiplicative, books), strict=True)]
    assert _row(features, 10, "open_dispersion") == pytest.approx(spread, abs=1e-15)
    assert features.loc[10, ["open_n_books", "close_n_books"]].tolist() == [3, 1]
    assert np.isnan(_row(features, 10, "close_dispersion")).all()  # one book has no spread
    assert features.loc[10, "open_over25"] == pytest.approx(20 / 39, abs=1e-15)  # (1/1.9) / (1/1.9 + 1/2)
    assert features.loc[10, "close_over25"] == pytest.approx(_exact_multiplicative([1.8, 2.05])[0], abs=1e-15)
    assert features.loc[10, ["open_ah_line", "close_ah_line"]].tolist() == [-0.5, -0.75]
    moves = [close - open_ for close, open_ in zip(closing, opening, strict=True)]
    assert _row(features, 10, "close_move_pinnacle") == pytest.approx(moves, abs=1e-15)


def test_market_features_leave_missing_prices_nan() -> None:
    features = market_features(_hand_built_quotes(), [20, 10, 30])
    assert _row(features, 20, "close_pinnacle") == pytest.approx(_exact_multiplicative([1.5, 4.2, 6.5]), abs=1e-15)
    assert features.loc[20, ["open_n_books", "close_n_books"]].tolist() == [0, 1]
    assert (
        features.loc[20]
        .drop([c for c in FEATURE_COLUMNS if c.startswith("close_pinnacle")])
        .drop(["open_n_books", "close_n_books"])
        .isna()
        .all()
    )
    assert features.loc[30].drop(["open_n_books", "close_n_books"]).isna().all()
    assert features.loc[30, ["open_n_books", "close_n_books"]].tolist() == [0, 0]
    assert features["open_n_books"].dtype.kind == "i"


def test_market_features_of_no_quotes() -> None:
    features = market_features(pd.DataFrame({column: [] for column in QUOTE_COLUMNS}), [1, 2])
    assert features.shape == (2, len(FEATURE_COLUMNS))
    assert features.drop(columns=["open_n_books", "close_n_books"]).isna().all().all()


def test_market_features_reject_bad_input() -> None:
    quotes = _hand_built_quotes()
    with pytest.raises(ValueError, match="two prices for one match"):
        market_features(pd.concat([quotes, quotes.iloc[[0]]]), [10])
    with pytest.raises(ValueError, match=r"lacks column\(s\) price"):
        market_features(quotes.drop(columns="price"), [10])
    with pytest.raises(ValueError, match="unique"):
        market_features(quotes, [10, 20, 10])


def _quote_frame(matches: Sequence[Match]) -> pd.DataFrame:
    rows = [
        (
            match_id,
            q.bookmaker,
            q.market.value,
            q.selection.value,
            q.phase.value,
            math.nan if q.line is None else q.line,
            q.price,
        )
        for match_id, match in enumerate(matches)
        for q in match.quotes
    ]
    return pd.DataFrame(rows, columns=list(QUOTE_COLUMNS))


def test_market_features_of_a_real_season(football_data_dir: Path) -> None:
    path = football_data_dir / "E0" / "2223.csv"
    parsed = parse_season_file(path)
    features = market_features(_quote_frame([match for _, match in parsed.matches]), range(len(parsed.matches)))
    assert features.shape == (380, len(FEATURE_COLUMNS))
    assert not features[[f"close_pinnacle_{o}" for o in "hda"]].isna().any().any()
    for prefix, total in [*((prefix, 1.0) for prefix in PROBABILITY_TRIPLETS), ("close_move_pinnacle", 0.0)]:
        sums = features[[f"{prefix}_{o}" for o in "hda"]].sum(axis=1, min_count=3).dropna()
        assert len(sums) > 0 and np.allclose(sums, total, rtol=0, atol=1e-9), prefix
    assert features["open_n_books"].max() == 6  # bet365, bwin, interwetten, pinnacle, williamhill, betvictor
    with path.open(encoding="utf-8-sig", newline="") as handle:
        source = list(csv.DictReader(handle))
    for match_id, (line, match) in enumerate(parsed.matches):
        values = source[line - 2]
        assert values["HomeTeam"] == match.home_team
        closing = _exact_multiplicative([float(values[f"PSC{o}"]) for o in "HDA"])
        assert _row(features, match_id, "close_pinnacle") == pytest.approx(closing, abs=1e-12)
        book = "P" if values["P>2.5"] and values["P<2.5"] else "Avg"  # one match lacks Pinnacle's total
        over = _exact_multiplicative([float(values[f"{book}>2.5"]), float(values[f"{book}<2.5"])])[0]
        assert features.loc[match_id, "open_over25"] == pytest.approx(over, abs=1e-12)
        assert features.loc[match_id, "close_ah_line"] == float(values["AHCh"])


@pytest.mark.slow
def test_market_features_are_fast_at_full_scale() -> None:
    # 35,000 matches x 9 books x 2 phases x 3 outcomes: 1.9 million quotes, the size of the shared data
    n = 35_000
    books = ["pinnacle", "bet365", "bwin", "interwetten", "williamhill", "betvictor", "stanjames"]
    keys = ([*books, "market_max", "market_avg"], ["opening", "closing"], ["home", "draw", "away"])
    grid = pd.MultiIndex.from_product([range(n), *keys], names=["match_id", "bookmaker", "phase", "selection"])
    quotes = grid.to_frame(index=False).assign(market="1x2", line=math.nan)
    quotes["price"] = np.random.default_rng(7).uniform(1.2, 8.0, len(quotes))
    start = time.perf_counter()
    features = market_features(quotes, range(n))
    elapsed = time.perf_counter() - start
    assert features.shape == (n, len(FEATURE_COLUMNS)) and (features["open_n_books"] == len(books)).all()
    assert elapsed < 5.0, f"market_features took {elapsed:.1f} s"
