"""Field parsers and the 1X2 overround plausibility check."""

from __future__ import annotations

from datetime import date, time

import pytest

from matchday.ingest.validation import (
    FieldError,
    overround_problem,
    parse_date,
    parse_goals,
    parse_optional_count,
    parse_price,
    parse_time,
)


def _overround(prices: tuple[float, float, float]) -> float:
    return sum(1.0 / price for price in prices)


# --- dates and times ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13/08/05", date(2005, 8, 13)),  # football-data before 2018: dd/mm/yy
        ("05/08/2022", date(2022, 8, 5)),  # after: dd/mm/yyyy
        ("1872-11-30", date(1872, 11, 30)),  # international results: ISO
        ("31/12/99", date(1999, 12, 31)),
        ("29/02/2020", date(2020, 2, 29)),
    ],
)
def test_parse_date_formats(value: str, expected: date) -> None:
    assert parse_date("Date", value) == expected


@pytest.mark.parametrize("value", ["32/13/05", "", "yesterday", "29/02/05", "2022-13-01", "13/08/205"])
def test_parse_date_errors_name_field_and_value(value: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_date("Date", value)
    error = caught.value
    assert (error.field, error.value) == ("Date", value)
    assert str(error).startswith(f"Date={value!r}: ")
    assert "unparseable date" in str(error)


def test_parse_time() -> None:
    assert parse_time("Time", "20:00") == time(20, 0)
    assert parse_time("Time", "12:30") == time(12, 30)
    assert parse_time("Time", "") is None
    with pytest.raises(FieldError) as caught:
        parse_time("Time", "8pm")
    assert str(caught.value).startswith("Time='8pm': ")


# --- goals and counts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("2", 2), ("2.0", 2), ("0", 0), ("0.0", 0), ("10", 10)])
def test_parse_goals_accepts_whole_numbers(value: str, expected: int) -> None:
    goals = parse_goals("FTHG", value)
    assert goals == expected
    assert type(goals) is int


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("-1", "goals is negative"),
        ("2.5", "goals is not a whole number"),
        ("", "goals missing"),
        ("x", "goals is not a number"),
        ("nan", "goals is not a whole number"),
        ("inf", "goals is not a whole number"),
    ],
)
def test_parse_goals_rejects(value: str, reason: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_goals("FTHG", value)
    assert caught.value == FieldError("FTHG", value, reason)
    assert str(caught.value) == f"FTHG={value!r}: {reason}"


def test_parse_optional_count() -> None:
    assert parse_optional_count("HS", "") is None
    assert parse_optional_count("HS", "13") == 13
    assert parse_optional_count("HTHG", "1.0") == 1
    with pytest.raises(FieldError, match="count is negative"):
        parse_optional_count("HS", "-2")
    with pytest.raises(FieldError, match="count is not a number"):
        parse_optional_count("HS", "many")


# --- prices ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("2.5", 2.5), ("1.01", 1.01), ("13", 13.0), ("1001.0", 1001.0)])
def test_parse_price_accepts_decimal_prices(value: str, expected: float) -> None:
    assert parse_price("B365H", value) == expected


def test_parse_price_empty_means_not_quoted() -> None:
    assert parse_price("B365H", "") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1.0", "price must be a decimal price above 1.0"),
        ("0", "price must be a decimal price above 1.0"),
        ("0.42", "price must be a decimal price above 1.0"),
        ("-3", "price must be a decimal price above 1.0"),
        ("nan", "price must be a decimal price above 1.0"),
        ("inf", "price must be a decimal price above 1.0"),
        ("evens", "price is not a number"),
    ],
)
def test_parse_price_rejects(value: str, reason: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_price("PSCH", value)
    assert caught.value == FieldError("PSCH", value, reason)


# --- overround ---------------------------------------------------------------------------------------------------


def test_normal_book_is_plausible() -> None:
    assert overround_problem("bet365", (2.0, 3.4, 3.8)) is None


def test_bayern_interwetten_typo_is_a_problem() -> None:
    # D1/1920.csv line 240: interwetten quoted Bayern v Frankfurt at 1.2 / 7.0 / 3.0 (the away price is a typo).
    problem = overround_problem("interwetten", (1.2, 7.0, 3.0))
    assert problem is not None
    assert "1.310" in problem
    assert problem == "1.2/7/3: overround 1.310 at interwetten, expected 0.99-1.25"


def test_market_max_allows_a_small_arbitrage_but_not_a_large_one() -> None:
    fine, stale = (2.4, 3.6, 4.4), (2.7, 3.8, 4.6)
    assert _overround(fine) == pytest.approx(0.92, abs=0.005)
    assert _overround(stale) == pytest.approx(0.85, abs=0.005)
    assert overround_problem("market_max", fine) is None
    problem = overround_problem("market_max", stale)
    assert problem == "2.7/3.8/4.6: overround 0.851 at market_max, expected 0.90-1.20"


def test_single_book_bounds_are_stricter_than_market_max() -> None:
    # The same 0.92 book is fine as a market maximum but impossible for one bookmaker.
    assert overround_problem("bet365", (2.4, 3.6, 4.4)) is not None


def test_single_book_below_one_is_a_problem() -> None:
    # I1/0506.csv line 134: stanjames 3.2 / 2.88 / 3.25 sums to 0.967.
    problem = overround_problem("stanjames", (3.2, 2.88, 3.25))
    assert problem == "3.2/2.88/3.25: overround 0.967 at stanjames, expected 0.99-1.25"


def test_market_average_bounds() -> None:
    assert overround_problem("market_avg", (2.0, 3.4, 3.8)) is None
    assert overround_problem("market_avg", (2.4, 3.6, 4.4)) is not None  # an average cannot be an arbitrage
    assert overround_problem("market_avg", (1.5, 2.5, 3.0)) is not None  # 1.40: far above any real average


def test_single_book_upper_bound() -> None:
    assert overround_problem("williamhill", (1.8, 3.0, 3.5)) is None  # 1.17
    assert overround_problem("williamhill", (2.4, 1.02, 3.0)) is not None  # D1/1112.csv line 304, 1.73
