"""Field parsers and plausibility checks for source rows. Each failure names the field, the value and why.

Thresholds are those of real books: a single bookmaker's 1X2 overround lies within [0.99, 1.25] (the real
files span 1.00-1.22 apart from data-entry errors such as Bayern 1.20 / 7.0 / 3.0), the market average within
[1.0, 1.25], and the market maximum (best price per selection across books) within [0.90, 1.20]: below 0.90
it would be a 10 % arbitrage, which in these files is always a stale or mistyped price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time

__all__ = [
    "IMPLAUSIBLE_OVERROUND",
    "OVERROUND_BOUNDS",
    "FieldError",
    "overround_problem",
    "parse_date",
    "parse_goals",
    "parse_optional_count",
    "parse_price",
    "parse_time",
]

OVERROUND_BOUNDS: dict[str, tuple[float, float]] = {
    "market_max": (0.90, 1.20),
    "market_avg": (1.0, 1.25),
}
_SINGLE_BOOK_BOUNDS = (0.99, 1.25)


@dataclass(frozen=True, slots=True)
class FieldError(Exception):
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}={self.value!r}: {self.reason}"


def parse_date(field: str, value: str) -> date:
    """dd/mm/yy (football-data before 2018), dd/mm/yyyy (after) or ISO yyyy-mm-dd (international results)."""
    for fmt in ("%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        # %d/%m/%Y happily reads '13/08/05' as the year 5 AD; only a 4-digit year may take that branch.
        if fmt == "%d/%m/%Y" and len(value.rsplit("/", 1)[-1]) != 4:
            continue
        return parsed
    raise FieldError(field, value, "unparseable date (expected dd/mm/yy, dd/mm/yyyy or yyyy-mm-dd)")


def parse_time(field: str, value: str) -> time | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%H:%M").time()
    except ValueError:
        raise FieldError(field, value, "unparseable kickoff time (expected HH:MM)") from None


def _whole_number(field: str, value: str, what: str) -> int:
    try:
        number = float(value)
    except ValueError:
        raise FieldError(field, value, f"{what} is not a number") from None
    if not math.isfinite(number) or number != int(number):
        raise FieldError(field, value, f"{what} is not a whole number")
    if number < 0:
        raise FieldError(field, value, f"{what} is negative")
    return int(number)


def parse_goals(field: str, value: str) -> int:
    """Goals are required whole numbers; some files write them as `2.0`, which is accepted."""
    if not value:
        raise FieldError(field, value, "goals missing")
    return _whole_number(field, value, "goals")


def parse_optional_count(field: str, value: str) -> int | None:
    """Half-time goals and match statistics: absent in some seasons, so empty means unknown."""
    return None if not value else _whole_number(field, value, "count")


def parse_price(field: str, value: str) -> float | None:
    """A decimal price, or None when the book did not quote it. A price must exceed 1.0."""
    if not value:
        return None
    try:
        price = float(value)
    except ValueError:
        raise FieldError(field, value, "price is not a number") from None
    if not math.isfinite(price) or price <= 1.0:
        raise FieldError(field, value, "price must be a decimal price above 1.0")
    return price


IMPLAUSIBLE_OVERROUND = "implausible 1X2 overround"


def overround_problem(bookmaker: str, prices: tuple[float, float, float]) -> str | None:
    """What makes a complete 1X2 book implausible (prices, overround, bounds), or None when it is fine."""
    overround = sum(1.0 / price for price in prices)
    low, high = OVERROUND_BOUNDS.get(bookmaker, _SINGLE_BOOK_BOUNDS)
    if low <= overround <= high:
        return None
    shown = "/".join(f"{price:g}" for price in prices)
    return f"{shown}: overround {overround:.3f} at {bookmaker}, expected {low:.2f}-{high:.2f}"
