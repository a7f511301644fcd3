"""Scores of 1X2 probability forecasts against results: ranked probability score, log loss, Brier, accuracy.

Forecasts are an (n, 3) array of probabilities ordered (home, draw, away), each row summing to 1; results are
integer codes 0 = home win, 1 = draw, 2 = away win. Every metric validates both once and raises ValueError
naming the first offending row, so a bad forecast never turns into a quietly wrong score.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "AWAY",
    "DRAW",
    "HOME",
    "N_OUTCOMES",
    "accuracy",
    "brier",
    "log_loss",
    "mean_rps",
    "rps",
    "validate_forecasts",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HOME, DRAW, AWAY = 0, 1, 2
N_OUTCOMES = 3
_ROW_SUM_TOLERANCE = 1e-6


def _first_bad_row(bad: npt.ArrayLike) -> int:
    return int(np.flatnonzero(bad)[0])


def _validate_probs(probs: npt.ArrayLike) -> FloatArray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != N_OUTCOMES:
        raise ValueError(f"probs must have shape (n, 3) ordered (home, draw, away), got shape {p.shape}")
    finite = np.isfinite(p).all(axis=1)
    if not finite.all():
        row = _first_bad_row(~finite)
        raise ValueError(f"probs row {row} is not finite: {p[row].tolist()}")
    in_range = ((p >= 0.0) & (p <= 1.0)).all(axis=1)
    if not in_range.all():
        row = _first_bad_row(~in_range)
        raise ValueError(f"probs row {row} has a probability outside [0, 1]: {p[row].tolist()}")
    off = np.abs(p.sum(axis=1) - 1.0) > _ROW_SUM_TOLERANCE
    if off.any():
        row = _first_bad_row(off)
        raise ValueError(f"probs row {row} sums to {p[row].sum():.10g}, not 1 (tolerance {_ROW_SUM_TOLERANCE})")
    return p


def _validate_outcomes(outcomes: npt.ArrayLike, n: int) -> IntArray:
    o = np.asarray(outcomes)
    if o.ndim != 1 or len(o) != n:
        raise ValueError(f"outcomes must have shape ({n},) to match probs, got shape {o.shape}")
    # Floats would let 0.5 or NaN pass as a code; bools would pass as 0/1: integer codes only.
    if n and (not np.issubdtype(o.dtype, np.integer) or o.dtype == np.bool_):
        raise ValueError(f"outcomes must be integer codes 0 (home), 1 (draw), 2 (away), got dtype {o.dtype}")
    unknown = (o < HOME) | (o > AWAY)
    if unknown.any():
        row = _first_bad_row(unknown)
        raise ValueError(f"outcomes row {row} is {o[row].item()!r}, not 0 (home), 1 (draw) or 2 (away)")
    return o.astype(np.int64)


def validate_forecasts(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> tuple[FloatArray, IntArray]:
    p = _validate_probs(probs)
    return p, _validate_outcomes(outcomes, len(p))


def _one_hot(outcomes: IntArray) -> FloatArray:
    return np.eye(N_OUTCOMES, dtype=np.float64)[outcomes]


def _mean(scores: FloatArray, name: str) -> float:
    if len(scores) == 0:
        raise ValueError(f"{name} of no forecasts is undefined")
    return float(np.mean(scores))


def rps(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> FloatArray:
    """Ranked probability score of each match, in [0, 1], lower is better (Constantinou & Fenton 2012):

        RPS = 1/(r-1) * sum_{i=1}^{r-1} (sum_{j<=i} p_j - sum_{j<=i} o_j)^2,   r = 3,

    so a forecast is penalised more for mass put on outcomes further from the result (an away win forecast for
    a home win costs more than a draw forecast): the outcomes are ordered.
    """
    p, o = validate_forecasts(probs, outcomes)
    # The last cumulative sum is 1 for both sides, so only the first r - 1 terms carry information.
    gap = np.cumsum(p, axis=1)[:, :-1] - np.cumsum(_one_hot(o), axis=1)[:, :-1]
    scores: FloatArray = np.sum(gap**2, axis=1) / (N_OUTCOMES - 1)
    return scores


def mean_rps(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> float:
    """The mean of `rps` over the matches."""
    return _mean(rps(probs, outcomes), "mean RPS")


def log_loss(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> float:
    """Mean negative natural log of the probability given to the result (nats). A zero probability on what
    happened gives inf: no clipping, since a clipped score would hide a forecast that ruled out the result."""
    p, o = validate_forecasts(probs, outcomes)
    observed = p[np.arange(len(p)), o]
    with np.errstate(divide="ignore"):
        return _mean(-np.log(observed), "log loss")


def brier(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> float:
    """Mean multi-class Brier score: per match the sum over the three outcomes of (p_i - o_i)^2, in [0, 2]."""
    p, o = validate_forecasts(probs, outcomes)
    return _mean(np.sum((p - _one_hot(o)) ** 2, axis=1), "Brier score")


def accuracy(probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> float:
    """Share of matches whose most probable outcome happened; a tie goes to the first in (home, draw, away)."""
    p, o = validate_forecasts(probs, outcomes)
    return _mean((np.argmax(p, axis=1) == o).astype(np.float64), "accuracy")
