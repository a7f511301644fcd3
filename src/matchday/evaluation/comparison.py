"""Paired comparison of two forecasters scored on the same matches: a bootstrap interval and the Diebold-Mariano test.

Inputs are per-match scores (e.g. `matchday.evaluation.metrics.rps`) of forecaster a and forecaster b, aligned
match by match, as equal-length finite 1-D arrays. Everything is in terms of the loss differential
``d = score_a - score_b``: for losses (RPS, log loss, Brier) a negative mean difference means a is better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["DieboldMariano", "PairedInterval", "diebold_mariano", "paired_bootstrap"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_MIN_MATCHES = 2
_CHUNK_ELEMENTS = 1 << 22  # resampled indices held at once (32 MiB), to bound memory for long series


@dataclass(frozen=True)
class PairedInterval:
    """Bootstrap percentile interval for the mean of ``score_a - score_b``.

    ``share_a_lower`` is the share of resamples whose mean difference is below 0 (a scored lower than b): for
    losses, a bootstrap "probability" that a is the better forecaster. It is not a p-value.
    """

    mean_difference: float
    lower: float
    upper: float
    share_a_lower: float
    confidence: float
    n_resamples: int
    block: int


@dataclass(frozen=True)
class DieboldMariano:
    """Diebold-Mariano test of equal expected score, with the Harvey-Leybourne-Newbold correction.

    ``statistic`` is positive when a's mean score is higher than b's (for losses: a is worse); ``p_value`` is
    two-sided, from Student's t with n - 1 degrees of freedom.
    """

    statistic: float
    p_value: float
    mean_difference: float
    horizon: int
    n_matches: int


def _differential(score_a: npt.ArrayLike, score_b: npt.ArrayLike) -> FloatArray:
    a = np.asarray(score_a, dtype=np.float64)
    b = np.asarray(score_b, dtype=np.float64)
    for name, s in (("score_a", a), ("score_b", b)):
        if s.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of per-match scores, got shape {s.shape}")
        if not np.isfinite(s).all():
            row = int(np.flatnonzero(~np.isfinite(s))[0])
            raise ValueError(f"{name} row {row} is not finite: {s[row]!r}")
    if len(a) != len(b):
        raise ValueError(f"score_a and score_b must score the same matches, got lengths {len(a)} and {len(b)}")
    if len(a) < _MIN_MATCHES:
        raise ValueError(f"a paired comparison needs at least {_MIN_MATCHES} matches, got {len(a)}")
    d: FloatArray = a - b
    return d


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and int(value) >= 1


def _check_bootstrap_args(n: int, n_resamples: int, confidence: float, block: int) -> None:
    if not _is_positive_int(n_resamples):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    if not _is_positive_int(block) or block > n:
        raise ValueError(f"block must be an integer from 1 to the number of matches ({n}), got {block!r}")


def _resample_means(d: FloatArray, n_resamples: int, block: int, rng: np.random.Generator) -> FloatArray:
    """Means of moving-block resamples of d: ceil(n / block) blocks of ``block`` consecutive matches, starting at
    uniform positions in 0..n - block, laid end to end and cut to n. block = 1 is the ordinary iid bootstrap."""
    n = len(d)
    n_blocks = -(-n // block)
    offsets = np.arange(block)
    rows = max(1, _CHUNK_ELEMENTS // (n_blocks * block))
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        starts = rng.integers(0, n - block + 1, size=(size, n_blocks))
        index = (starts[:, :, None] + offsets).reshape(size, n_blocks * block)[:, :n]
        means[start : start + size] = d[index].mean(axis=1)
    return means


def paired_bootstrap(
    score_a: npt.ArrayLike,
    score_b: npt.ArrayLike,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    block: int = 1,
) -> PairedInterval:
    """Percentile bootstrap interval for the mean of ``score_a - score_b`` over the matches.

    Matches are resampled in pairs (both forecasters keep the same resampled matches), so the interval reflects
    the correlation between the two scores. With ``block`` > 1 it is the moving-block bootstrap (Kuensch 1989):
    runs of ``block`` consecutive matches are resampled together, keeping serial correlation within a run (order
    the scores by kick-off). Choose ``block`` larger than the range of the correlation, e.g. around n ** (1/3) or
    a matchday's worth of games; the edges of the series fall in fewer blocks, a small bias for small n / block.
    Deterministic for a given ``seed``. Identical scores give the interval [0, 0] and ``share_a_lower`` 0.
    """
    d = _differential(score_a, score_b)
    _check_bootstrap_args(len(d), n_resamples, confidence, block)
    means = _resample_means(d, int(n_resamples), int(block), np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(means, [tail, 1.0 - tail])
    return PairedInterval(
        mean_difference=float(np.mean(d)),
        lower=float(lower),
        upper=float(upper),
        share_a_lower=float(np.mean(means < 0.0)),
        confidence=float(confidence),
        n_resamples=int(n_resamples),
        block=int(block),
    )


def _long_run_variance(d: FloatArray, horizon: int) -> float:
    """Newey-West (Bartlett-weighted) estimate of the long-run variance of d with horizon - 1 lags:

    gamma_0 + 2 * sum_{k=1}^{h-1} (1 - k/h) gamma_k,   gamma_k = (1/n) sum_{t=k}^{n-1} (d_t - dbar)(d_{t-k} - dbar).
    """
    e = d - np.mean(d)
    n = len(e)
    total = float(np.dot(e, e)) / n
    for k in range(1, horizon):
        total += 2.0 * (1.0 - k / horizon) * float(np.dot(e[k:], e[:-k])) / n
    return total


def diebold_mariano(score_a: npt.ArrayLike, score_b: npt.ArrayLike, horizon: int = 1) -> DieboldMariano:
    """Diebold-Mariano (1995) test that a and b have equal expected score, with the small-sample correction of
    Harvey, Leybourne & Newbold (1997):

        DM  = dbar / sqrt(V / n),   V = Newey-West long-run variance of d with h - 1 lags (see _long_run_variance)
        DM* = DM * sqrt((n + 1 - 2h + h(h - 1) / n) / n),   p = 2 * P(T_{n-1} > |DM*|)

    For h = 1, V is the (1/n) sample variance and DM* is exactly the paired t statistic. Note HLN derived their
    factor for the truncated (unweighted) variance of the original DM paper; the Bartlett weights used here for
    h > 1 keep V non-negative at the cost of that exactness. Requires 1 <= h < n.

    Zero variance (d exactly constant over the matches, e.g. identical forecasters): d = 0 gives statistic 0 and
    p-value 1 (no evidence of a difference); a constant non-zero d gives statistic +-inf and p-value 0. A d that
    is constant only up to rounding takes the ordinary path (a huge statistic, p-value 0).
    """
    d = _differential(score_a, score_b)
    n = len(d)
    if not _is_positive_int(horizon) or horizon >= n:
        raise ValueError(f"horizon must be an integer from 1 to n - 1 = {n - 1}, got {horizon!r}")
    h = int(horizon)
    variance = 0.0 if np.ptp(d) == 0.0 else _long_run_variance(d, h)
    mean = float(np.mean(d)) if variance > 0.0 else float(d[0])
    if variance <= 0.0:
        statistic = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        return DieboldMariano(statistic, 1.0 if mean == 0.0 else 0.0, mean, h, n)
    correction = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    statistic = mean / math.sqrt(variance / n) * correction
    p_value = float(2.0 * stats.t.sf(abs(statistic), df=n - 1))
    return DieboldMariano(statistic, p_value, mean, h, n)
