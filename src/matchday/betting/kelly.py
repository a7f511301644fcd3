"""Kelly staking: the single-bet fraction, fractional Kelly with caps, and simultaneous Kelly for the bets of one
day, which maximises the expected log growth of the bankroll over the joint outcomes of their matches.

Matches are independent; the bets on one match share its outcome (1X2 selections are mutually exclusive). A
match is described by the probabilities of its states (for 1X2: home, draw, away) and each bet on it by its
return per unit staked in each state (stake included: `price` when it wins, 0 when it loses, 1 refunded).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from matchday.betting.errors import BettingInputError

__all__ = ["KellyRules", "MatchBets", "kelly_fraction", "one_x_two", "simultaneous_kelly", "single_kelly_stakes"]

FloatArray = npt.NDArray[np.float64]
_MAX_EXACT_STATES = 60_000  # joint outcomes enumerated exactly up to this many, sampled beyond
_SAMPLES = 20_000
_OUTCOMES = ("home", "draw", "away")


@dataclass(frozen=True, slots=True)
class KellyRules:
    """`fraction` of the Kelly stake (1 full, 0.25 quarter); stakes capped at `max_bet` of the bankroll each and
    `max_day` of it together."""

    fraction: float = 0.25
    max_bet: float = 0.05
    max_day: float = 0.25

    def __post_init__(self) -> None:
        for name in ("fraction", "max_bet", "max_day"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise BettingInputError(name, value, "must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class MatchBets:
    """One match: `probabilities` of its states (sum 1) and `returns[i, s]` of bet i in state s."""

    probabilities: FloatArray
    returns: FloatArray

    def __post_init__(self) -> None:
        probs, returns = np.asarray(self.probabilities, float), np.asarray(self.returns, float)
        if probs.ndim != 1 or abs(probs.sum() - 1.0) > 1e-6 or (probs < 0).any():
            raise BettingInputError("probabilities", probs.tolist(), "must be a probability vector")
        if returns.ndim != 2 or returns.shape[1] != probs.size or (returns < 0).any():
            raise BettingInputError("returns", returns.shape, f"must be (bets, {probs.size}) and non-negative")


def one_x_two(probabilities: Sequence[float], bets: Sequence[tuple[str, float]]) -> MatchBets:
    """A 1X2 match: (p_home, p_draw, p_away) and bets as (selection, price)."""
    returns = np.zeros((len(bets), 3))
    for row, (selection, price) in enumerate(bets):
        if selection not in _OUTCOMES:
            raise BettingInputError("selection", selection, f"must be one of {', '.join(_OUTCOMES)}")
        returns[row, _OUTCOMES.index(selection)] = price
    return MatchBets(np.asarray(probabilities, dtype=np.float64), returns)


def kelly_fraction(probability: float, price: float, push: float = 0.0) -> float:
    """Full Kelly fraction of one bet alone, (p (o - 1) - q) / ((o - 1)(p + q)) with p the win and q the loss
    probability (a refund leaves the bankroll as it was); 0 without an edge."""
    if not price > 1.0:
        raise BettingInputError("price", price, "must be a decimal price above 1")
    if not (0.0 <= probability <= 1.0 and 0.0 <= push <= 1.0 - probability + 1e-12):
        raise BettingInputError("probability", (probability, push), "win and push must be probabilities")
    lose = max(1.0 - probability - push, 0.0)
    if lose == 0.0:
        return 1.0 if probability > 0.0 else 0.0
    return max((probability * (price - 1.0) - lose) / ((price - 1.0) * (probability + lose)), 0.0)


def _capped(stakes: FloatArray, rules: KellyRules) -> FloatArray:
    stakes = np.minimum(stakes * rules.fraction, rules.max_bet)
    total = stakes.sum()
    return stakes * (rules.max_day / total) if total > rules.max_day else stakes


def single_kelly_stakes(probabilities: FloatArray, prices: FloatArray, rules: KellyRules) -> FloatArray:
    """Fractions of the bankroll per bet, each Kelly-sized as if alone, then capped per bet and per day."""
    full = np.array([kelly_fraction(p, o) for p, o in zip(probabilities, prices, strict=True)])
    return _capped(full, rules)


def _joint(matches: Sequence[MatchBets], seed: int) -> tuple[FloatArray, FloatArray]:
    """(weights per joint state, returns[bet, joint state]) over the matches' independent outcomes."""
    sizes = [m.probabilities.size for m in matches]
    if int(np.prod(sizes, dtype=np.float64)) <= _MAX_EXACT_STATES:
        states = np.array(list(itertools.product(*(range(n) for n in sizes))), dtype=np.intp)
        weights = np.prod([m.probabilities[states[:, k]] for k, m in enumerate(matches)], axis=0)
    else:  # too many joint outcomes: a fixed-seed sample of them, equally weighted
        rng = np.random.default_rng(seed)
        states = np.column_stack([rng.choice(m.probabilities.size, _SAMPLES, p=m.probabilities) for m in matches])
        weights = np.full(_SAMPLES, 1.0 / _SAMPLES)
    returns = np.vstack([m.returns[:, states[:, k]] for k, m in enumerate(matches)])
    return weights, returns


def simultaneous_kelly(matches: Sequence[MatchBets], rules: KellyRules, seed: int = 0) -> FloatArray:
    """Bankroll fractions of every bet (in the matches' order, then their bets') maximising
    E[log(1 - sum f + sum f_i R_i)] under 0 <= f_i <= max_bet / fraction and sum f <= max_day / fraction, then
    scaled by `rules.fraction` (fractional Kelly of the joint optimum)."""
    if not matches:
        return np.zeros(0)
    weights, returns = _joint(matches, seed)
    n = returns.shape[0]
    net = returns - 1.0  # profit per unit staked in each joint state

    def objective(f: FloatArray) -> tuple[float, FloatArray]:
        wealth = np.maximum(1.0 + f @ net, 1e-12)
        return -float(weights @ np.log(wealth)), -(net @ (weights / wealth))

    per_bet, per_day = min(rules.max_bet / rules.fraction, 1.0), min(rules.max_day / rules.fraction, 0.999)
    result = minimize(
        objective,
        np.zeros(n),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, per_bet)] * n,
        constraints=[{"type": "ineq", "fun": lambda f: per_day - f.sum(), "jac": lambda f: -np.ones_like(f)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    stakes = np.clip(np.asarray(result.x, dtype=np.float64), 0.0, per_bet)
    stakes[stakes < 1e-9] = 0.0
    return stakes * rules.fraction
