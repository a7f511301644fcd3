"""Bookmaker odds to probabilities (overround removal), and the market features of a quote frame.

Every remover takes decimal odds of shape (n, k), one book per row with k >= 2 outcomes in (home, draw, away)
order, and returns probabilities of the same shape. A row with a missing price, or a price that is not a decimal
price above 1.0, comes back as NaN: a missing book is data, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.domain import Market, Phase, Selection
from matchday.features.frames import QUOTE_COLUMNS

__all__ = [
    "Method",
    "PriceArrays",
    "additive",
    "market_features",
    "multiplicative",
    "power",
    "price_features",
    "remove_overround",
    "shin",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Column = npt.NDArray[Any]  # a feature column: float, or int for counts
Residual = Callable[[FloatArray], tuple[FloatArray, FloatArray]]

_TOLERANCE = 1e-13
_MAX_ITERATIONS = 100
_PINNACLE = "pinnacle"
_AGGREGATES = ("market_max", "market_avg")
_MOMENTS = {Phase.OPENING: "open", Phase.CLOSING: "close"}
_OUTCOMES = ("h", "d", "a")
_MARKETS = tuple(Market)
_SELECTIONS = tuple(Selection)  # home, draw, away, over, under: 1X2 at offset 0, over/under at offset 3


class Method(StrEnum):
    MULTIPLICATIVE = "multiplicative"
    ADDITIVE = "additive"
    POWER = "power"
    SHIN = "shin"


def _inverse(odds: npt.ArrayLike) -> FloatArray:
    """1/odds as an (n, k) float array, NaN across every row that holds an invalid price."""
    prices = np.asarray(odds, dtype=np.float64)
    if prices.ndim != 2 or prices.shape[1] < 2:
        raise ValueError(f"odds must have shape (n, k) with k >= 2, got {prices.shape}")
    valid = np.all((prices > 1.0) & (prices < np.inf), axis=1)  # NaN compares False, so a gap invalidates its row
    inverse = np.full_like(prices, np.nan)
    inverse[valid] = 1.0 / prices[valid]
    return inverse


def multiplicative(odds: npt.ArrayLike) -> FloatArray:
    """p_i = (1/o_i) / sum_j (1/o_j): the overround taken off in proportion to each implied probability."""
    inverse = _inverse(odds)
    probs: FloatArray = inverse / inverse.sum(axis=1, keepdims=True)
    return probs


def additive(odds: npt.ArrayLike) -> FloatArray:
    """p_i = 1/o_i - (sum_j 1/o_j - 1) / k: an equal share of the overround taken off every outcome.

    A row where that leaves a probability at or below zero (a long shot priced shorter than its share of the
    overround) is NaN: clipping and renormalising would silently turn this into a different method.
    """
    inverse = _inverse(odds)
    probs: FloatArray = inverse - (inverse.sum(axis=1, keepdims=True) - 1.0) / inverse.shape[1]
    probs[~np.all(probs > 0.0, axis=1)] = np.nan
    return probs


def power(odds: npt.ArrayLike) -> FloatArray:
    """p_i = (1/o_i)^kappa, one kappa per row making them sum to 1 (> 1 for an overround, < 1 for an arbitrage)."""
    log_price = np.log(np.reciprocal(_inverse(odds)))  # ln o_i > 0
    # sum_i o_i^-kappa = 1 lies between the kappas that solve it with every price set to the longest or the
    # shortest one, a finite bracket for any valid book.
    spread = np.log(log_price.shape[1])
    lo, hi = spread / log_price.max(axis=1), spread / log_price.min(axis=1)

    def residual(kappa: FloatArray) -> tuple[FloatArray, FloatArray]:
        terms = np.exp(-kappa[:, None] * log_price)
        return terms.sum(axis=1) - 1.0, -(terms * log_price).sum(axis=1)

    kappa = _decreasing_root(residual, lo, hi, np.clip(1.0, lo, hi))
    return np.exp(-kappa[:, None] * log_price)


def shin(odds: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Shin's (1992, 1993) probabilities and insider share z per row, with z solving sum_i p_i(z) = 1 for

        p_i(z) = (sqrt(z^2 + 4 (1 - z) pi_i^2 / S) - z) / (2 (1 - z)),  pi_i = 1/o_i, S = sum_i pi_i,

    the formulation of Jullien & Salanie (1994) and of the R package `implied`. A book with an overround
    (S >= 1) has z in [0, 1), a fair one z = 0 and p = 1/o. An arbitrage book (S < 1, such as best prices across
    bookmakers) gets the same equation's root, z < 0: not an insider share any more, but probabilities that still
    sum to 1 and follow the prices, continuous across S = 1 where NaN or another method would jump.
    """
    inverse = _inverse(odds)
    scaled = inverse**2 / inverse.sum(axis=1, keepdims=True)  # pi_i^2 / S
    valid = ~np.isnan(scaled[:, 0])

    def residual(z: FloatArray) -> tuple[FloatArray, FloatArray]:
        probs, root = _shin_probs(scaled, z)
        # implicit derivative of pi_i^2 / S = p_i^2 + z p_i (1 - p_i), whose derivative in p_i is `root`
        return probs.sum(axis=1) - 1.0, -(probs * (1.0 - probs) / root).sum(axis=1)

    # p_i(-1) >= 1/2 for every i, so the sum is >= 1 at z = -1; as z -> 1 it tends to sum_i pi_i^2 / S < 1
    lo, hi = np.where(valid, -1.0, np.nan), np.where(valid, 1.0, np.nan)
    z = _decreasing_root(residual, lo, hi, np.where(valid, 0.0, np.nan))
    return _shin_probs(scaled, z)[0], z


def _shin_probs(scaled: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
    zc = z[:, None]
    root = np.sqrt(zc**2 + 4.0 * (1.0 - zc) * scaled)
    # two algebraically equal forms, each free of cancellation (and of the pole at z = 1) on its side of 0
    probs = np.where(zc >= 0.0, 2.0 * scaled / (root + zc), (root - zc) / (2.0 * (1.0 - zc)))
    return probs, root


def _decreasing_root(residual: Residual, lo: FloatArray, hi: FloatArray, start: FloatArray) -> FloatArray:
    """The root per row of a decreasing function bracketed by [lo, hi]: Newton steps, bisecting whenever one
    would leave the bracket, so it converges on every row. `residual(x)` gives the value and derivative at x."""
    x = start
    for _ in range(_MAX_ITERATIONS):
        value, slope = residual(x)
        lo, hi = np.where(value > 0.0, x, lo), np.where(value < 0.0, x, hi)
        newton = x - value / slope
        inside = (newton > lo) & (newton < hi)
        step = np.where(value == 0.0, x, np.where(inside, newton, 0.5 * (lo + hi)))
        moving = np.abs(step - x) > _TOLERANCE * np.maximum(1.0, np.abs(x))  # False on NaN rows
        x = step
        if not moving.any():
            break
    return x


_REMOVERS: dict[Method, Callable[[npt.ArrayLike], FloatArray]] = {
    Method.MULTIPLICATIVE: multiplicative,
    Method.ADDITIVE: additive,
    Method.POWER: power,
    Method.SHIN: lambda odds: shin(odds)[0],
}


def remove_overround(odds: npt.ArrayLike, method: Method) -> FloatArray:
    """Probabilities from (n, k) decimal odds by the given method (Shin's z is dropped; call `shin` for it)."""
    return _REMOVERS[Method(method)](odds)


@dataclass(frozen=True, slots=True)
class PriceArrays:
    """One market's prices as an array (phase, bookmaker, match, selection), NaN where not quoted; phase 0 is
    the opening, 1 the closing snapshot."""

    books: list[str]
    prices: FloatArray

    def of(self, phase: int, bookmaker: str) -> FloatArray:
        if bookmaker not in self.books:
            return np.full(self.prices.shape[2:], np.nan)
        prices: FloatArray = self.prices[phase, self.books.index(bookmaker)]
        return prices


@dataclass(frozen=True, slots=True)
class _Coded:
    """The quote frame's key columns as integer codes, computed once: -1 where a value is not one we use."""

    match: IntArray
    phase: IntArray
    market: IntArray
    selection: IntArray
    line: FloatArray


def _codes(values: pd.Series, categories: Sequence[str]) -> IntArray:
    return np.asarray(pd.Categorical(values, categories=list(categories)).codes, dtype=np.intp)


def _code(quotes: pd.DataFrame, index: pd.Index) -> _Coded:
    return _Coded(
        match=np.asarray(index.get_indexer(pd.Index(quotes["match_id"])), dtype=np.intp),
        phase=_codes(quotes["phase"], [phase.value for phase in _MOMENTS]),
        market=_codes(quotes["market"], [market.value for market in _MARKETS]),
        selection=_codes(quotes["selection"], [selection.value for selection in _SELECTIONS]),
        line=quotes["line"].to_numpy(dtype=np.float64),
    )


def _gather(quotes: pd.DataFrame, coded: _Coded, keep: npt.NDArray[np.bool_], n: int, selections: slice) -> PriceArrays:
    """The kept quotes of one market, placed by one fancy-indexed assignment rather than a pandas pivot."""
    keep = keep & (coded.match >= 0) & (coded.phase >= 0)
    keep &= (coded.selection >= selections.start) & (coded.selection < selections.stop)
    book_codes, books = pd.factorize(quotes["bookmaker"].to_numpy()[keep])
    prices = np.full((len(_MOMENTS), len(books), n, selections.stop - selections.start), np.nan)
    target = (coded.phase[keep], book_codes, coded.match[keep], coded.selection[keep] - selections.start)
    if not pd.Index(np.ravel_multi_index(target, prices.shape)).is_unique:
        raise ValueError("quote frame holds two prices for one match, bookmaker, market, selection and phase")
    prices[target] = quotes["price"].to_numpy(dtype=np.float64)[keep]
    return PriceArrays([str(book) for book in books], prices)


def _ah_lines(coded: _Coded, n: int) -> FloatArray:
    """The Asian-handicap line per (phase, match): the median of the lines quoted, which is the one line every
    book shares in football-data files (a consensus summary should sources ever disagree)."""
    keep = (coded.match >= 0) & (coded.phase >= 0) & (coded.market == _MARKETS.index(Market.ASIAN_HANDICAP))
    keep &= ~np.isnan(coded.line)
    median = pd.Series(coded.line[keep]).groupby([coded.phase[keep], coded.match[keep]]).median()
    lines = np.full((len(_MOMENTS), n), np.nan)
    phases, matches = (median.index.get_level_values(level).to_numpy(dtype=np.intp) for level in (0, 1))
    lines[phases, matches] = median.to_numpy()
    return lines


def _triplet(prefix: str, probs: FloatArray) -> dict[str, FloatArray]:
    return {f"{prefix}_{outcome}": probs[:, i] for i, outcome in enumerate(_OUTCOMES)}


def _dispersion(prefix: str, match_odds: PriceArrays, phase: int) -> dict[str, Column]:
    """Population standard deviation across complete individual books (NaN below two) and their count."""
    books = [i for i, book in enumerate(match_odds.books) if book not in _AGGREGATES]
    prices = match_odds.prices[phase, books]  # (book, match, outcome)
    probs = multiplicative(prices.reshape(-1, len(_OUTCOMES))).reshape(prices.shape)
    complete = ~np.isnan(probs[..., :1])
    count = complete.sum(axis=0)  # (match, 1)
    denominator = np.maximum(count, 1)
    mean = np.where(complete, probs, 0.0).sum(axis=0) / denominator
    variance = np.where(complete, (probs - mean) ** 2, 0.0).sum(axis=0) / denominator
    spread = np.where(count >= 2, np.sqrt(variance), np.nan)
    return {**_triplet(f"{prefix}_dispersion", spread), f"{prefix}_n_books": count[:, 0]}


def _phase_features(prefix: str, phase: int, match_odds: PriceArrays, totals: PriceArrays) -> dict[str, Column]:
    pinnacle = match_odds.of(phase, _PINNACLE)
    features: dict[str, Column] = {}
    for source, bookmaker in (("pinnacle", _PINNACLE), ("avg", "market_avg"), ("max", "market_max")):
        features |= _triplet(f"{prefix}_{source}", multiplicative(match_odds.of(phase, bookmaker)))
    shin_probs, z = shin(pinnacle)
    features |= _triplet(f"{prefix}_pinnacle_shin", shin_probs)
    features[f"{prefix}_pinnacle_shin_z"] = z
    features |= _triplet(f"{prefix}_pinnacle_power", power(pinnacle))
    features |= _triplet(f"{prefix}_pinnacle_additive", additive(pinnacle))
    features[f"{prefix}_pinnacle_overround"] = _inverse(pinnacle).sum(axis=1)
    features |= _dispersion(prefix, match_odds, phase)
    # Pinnacle's over 2.5 where it quotes both sides, the market average otherwise
    over = multiplicative(totals.of(phase, _PINNACLE))[:, 0]
    features[f"{prefix}_over25"] = np.where(np.isnan(over), multiplicative(totals.of(phase, "market_avg"))[:, 0], over)
    return features


def price_features(match_odds: PriceArrays, totals: PriceArrays, ah_lines: FloatArray) -> dict[str, Column]:
    """The market features of `market_features` from prices already in arrays: the 1X2 prices, the over/under 2.5
    prices and the Asian-handicap line per (phase, match). The serving path builds these from a request."""
    features: dict[str, Column] = {}
    for phase, prefix in enumerate(_MOMENTS.values()):
        features |= _phase_features(prefix, phase, match_odds, totals)
        features[f"{prefix}_ah_line"] = ah_lines[phase]
    for outcome in _OUTCOMES:
        features[f"close_move_pinnacle_{outcome}"] = (
            features[f"close_pinnacle_{outcome}"] - features[f"open_pinnacle_{outcome}"]
        )
    return features


def market_features(quotes: pd.DataFrame, match_ids: Sequence[int]) -> pd.DataFrame:
    """Market features per match, indexed by `match_id` in the order given, NaN where a price is missing.

    For each moment p in (open, close), from the opening and closing prices: `{p}_{pinnacle,avg,max}_{h,d,a}`
    (multiplicative), Pinnacle's `{p}_pinnacle_{shin,power,additive}_{h,d,a}`, `{p}_pinnacle_shin_z` and
    `{p}_pinnacle_overround`, `{p}_dispersion_{h,d,a}` with `{p}_n_books`, `{p}_over25` and `{p}_ah_line`;
    then `close_move_pinnacle_{h,d,a}`, the closing minus the opening Pinnacle probability.
    """
    missing = [column for column in QUOTE_COLUMNS if column not in quotes.columns]
    if missing:
        raise ValueError(f"quote frame lacks column(s) {', '.join(missing)}")
    index = pd.Index(match_ids, name="match_id")
    if not index.is_unique:
        raise ValueError("match_ids must be unique")
    coded, n = _code(quotes, index), len(index)
    match_odds = _gather(quotes, coded, coded.market == _MARKETS.index(Market.MATCH_ODDS), n, slice(0, 3))
    over_under = (coded.market == _MARKETS.index(Market.OVER_UNDER)) & (coded.line == 2.5)
    totals = _gather(quotes, coded, over_under, n, slice(3, 5))
    return pd.DataFrame(price_features(match_odds, totals, _ah_lines(coded, n)), index=index)
