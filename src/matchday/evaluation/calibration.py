"""Calibration of 1X2 probability forecasts: reliability curves and expected calibration error (ECE).

Every outcome is treated one-vs-rest: for outcome k the forecast is the column ``probs[:, k]`` and the event is
``outcomes == k``. The probabilities are grouped into bins, and a bin is calibrated when the share of its matches
that ended in k equals the mean probability it gave k. Bins with no forecast in them are skipped, never NaN.

Binning strategies:

* ``"uniform"``: ``bins`` equal-width bins on [0, 1]; bin j holds p with ``floor(p * bins) == j`` (p = 1 goes
  in the last bin).
* ``"quantile"``: edges at the empirical quantiles of that outcome's probabilities, so bins hold about equal
  numbers of forecasts; tied probabilities share a bin, so some bins can be empty (and are skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from matchday.evaluation.metrics import AWAY, HOME, N_OUTCOMES, validate_forecasts

__all__ = ["BinStrategy", "ReliabilityCurve", "expected_calibration_error", "reliability_curve"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BinStrategy = Literal["uniform", "quantile"]
_STRATEGIES = ("uniform", "quantile")
_ArrayT = TypeVar("_ArrayT", bound=npt.NDArray[np.generic])


@dataclass(frozen=True, eq=False)
class ReliabilityCurve:
    """The points of a reliability plot for one outcome, one per non-empty bin, in increasing bin order.

    The arrays are read-only and of equal length (at most ``bins``): ``mean_predicted`` is the mean forecast
    probability in the bin, ``observed_frequency`` the share of its matches that ended in the outcome, ``count``
    the number of matches in it. A calibrated forecast puts the points on the diagonal.
    """

    outcome: int
    mean_predicted: FloatArray
    observed_frequency: FloatArray
    count: IntArray


def _check_binning(bins: int, strategy: str) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")


def _bin_index(p: FloatArray, bins: int, strategy: str) -> IntArray:
    if strategy == "uniform":
        index = np.clip(np.floor(p * bins), 0, bins - 1)
    else:
        edges = np.quantile(p, np.linspace(0.0, 1.0, bins + 1))
        index = np.searchsorted(edges[1:-1], p, side="right")
    return index.astype(np.int64)


def _read_only(array: _ArrayT) -> _ArrayT:
    array.setflags(write=False)
    return array


def _curve(p: FloatArray, hit: FloatArray, outcome: int, bins: int, strategy: str) -> ReliabilityCurve:
    index = _bin_index(p, bins, strategy)
    count = np.bincount(index, minlength=bins)
    kept = count > 0
    n = count[kept]
    return ReliabilityCurve(
        outcome=outcome,
        mean_predicted=_read_only(np.bincount(index, weights=p, minlength=bins)[kept] / n),
        observed_frequency=_read_only(np.bincount(index, weights=hit, minlength=bins)[kept] / n),
        count=_read_only(n.astype(np.int64)),
    )


def _checked(probs: npt.ArrayLike, outcomes: npt.ArrayLike, bins: int, strategy: str) -> tuple[FloatArray, IntArray]:
    _check_binning(bins, strategy)
    p, o = validate_forecasts(probs, outcomes)
    if len(p) == 0:
        raise ValueError("calibration of no forecasts is undefined")
    return p, o


def reliability_curve(
    probs: npt.ArrayLike,
    outcomes: npt.ArrayLike,
    outcome: int,
    bins: int = 10,
    strategy: BinStrategy = "uniform",
) -> ReliabilityCurve:
    """Reliability-plot data for one outcome (0 = home, 1 = draw, 2 = away), one-vs-rest; empty bins left out."""
    if isinstance(outcome, bool) or not isinstance(outcome, int | np.integer) or not HOME <= outcome <= AWAY:
        raise ValueError(f"outcome must be 0 (home), 1 (draw) or 2 (away), got {outcome!r}")
    p, o = _checked(probs, outcomes, bins, strategy)
    k = int(outcome)
    return _curve(p[:, k], (o == k).astype(np.float64), k, bins, strategy)


def expected_calibration_error(
    probs: npt.ArrayLike,
    outcomes: npt.ArrayLike,
    bins: int = 10,
    strategy: BinStrategy = "uniform",
) -> float:
    """Classwise expected calibration error, in [0, 1], lower is better:

        ECE_k = sum_b (n_b / n) * |mean_predicted_b - observed_frequency_b|      (bins b of outcome k)
        ECE   = (ECE_home + ECE_draw + ECE_away) / 3

    i.e. over all 3n (match, outcome) pairs, each outcome binned separately, the gap of every non-empty bin
    weighted by its count. Binning follows ``strategy`` (see the module docstring). Even a perfectly calibrated
    forecast has a positive ECE on finite data: bins of n_b matches have gaps of order sqrt(p(1-p) / n_b).
    """
    p, o = _checked(probs, outcomes, bins, strategy)
    total = 0.0
    for k in range(N_OUTCOMES):
        curve = _curve(p[:, k], (o == k).astype(np.float64), k, bins, strategy)
        gap = np.abs(curve.mean_predicted - curve.observed_frequency)
        total += float(np.sum(curve.count * gap)) / len(p)
    return total / N_OUTCOMES
