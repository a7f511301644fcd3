"""Parlays (accumulators): legs on different matches multiplied together. Legs are assumed independent, which
holds across matches and not within one, so legs of the same match are refused with the reason.

A parlay of legs with win probabilities p_i at prices o_i pays prod(o_i) with probability prod(p_i): expected
return per unit EV = P x O - 1 and variance P O^2 - (P O)^2 (refunds are not modelled: legs are win-or-lose).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from matchday.betting.errors import BettingInputError

__all__ = ["Leg", "Parlay", "SameMatchLegsError", "parlay", "rank_parlays"]


class SameMatchLegsError(BettingInputError):
    """Two legs share a match: their outcomes are not independent, so the product price would be wrong."""


@dataclass(frozen=True, slots=True)
class Leg:
    match_id: int
    selection: str
    probability: float
    price: float

    def __post_init__(self) -> None:
        if not 0.0 < self.probability < 1.0:
            raise BettingInputError("probability", self.probability, "a leg's win probability must be in (0, 1)")
        if not self.price > 1.0:
            raise BettingInputError("price", self.price, "must be a decimal price above 1")


@dataclass(frozen=True, slots=True)
class Parlay:
    legs: tuple[Leg, ...]
    price: float
    probability: float
    expected_value: float
    variance: float


def parlay(legs: Sequence[Leg]) -> Parlay:
    """The combined price, probability, EV per unit and variance of independent `legs` (two or more)."""
    if len(legs) < 2:
        raise BettingInputError("legs", len(legs), "a parlay needs at least two legs")
    seen: dict[int, Leg] = {}
    for leg in legs:
        if leg.match_id in seen:
            first = seen[leg.match_id]
            raise SameMatchLegsError(
                "legs",
                (first.selection, leg.selection),
                f"both on match {leg.match_id}: same-match legs are not independent and cannot be multiplied",
            )
        seen[leg.match_id] = leg
    price = math.prod(leg.price for leg in legs)
    probability = math.prod(leg.probability for leg in legs)
    mean = probability * price
    return Parlay(tuple(legs), price, probability, mean - 1.0, probability * price**2 - mean**2)


def rank_parlays(legs: Sequence[Leg], size: int, top: int = 10, max_variance: float | None = None) -> list[Parlay]:
    """The `top` parlays of `size` legs on different matches by expected value (then lower variance), among
    those with variance at most `max_variance`; combinations that repeat a match are skipped."""
    if size < 2:
        raise BettingInputError("size", size, "a parlay needs at least two legs")
    if top < 1:
        raise BettingInputError("top", top, "must be >= 1")
    ranked = []
    for combo in itertools.combinations(legs, size):
        if len({leg.match_id for leg in combo}) < size:
            continue
        candidate = parlay(combo)
        if max_variance is None or candidate.variance <= max_variance:
            ranked.append(candidate)
    ranked.sort(key=lambda p: (-p.expected_value, p.variance))
    return ranked[:top]
