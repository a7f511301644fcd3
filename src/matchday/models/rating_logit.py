"""An ordered logit from one rating feature (an Elo difference, a pi-rating goal difference) to 1X2 probabilities.

A latent home-side margin y* = slope * x + e, with e standard logistic, falls below `cut_away_draw` for an away
win, between the cutpoints for a draw, and above `cut_draw_home` for a home win:

    P(away)           = sigma(c1 - slope * x)
    P(away or draw)   = sigma(c2 - slope * x),   c1 = cut_away_draw < c2 = cut_draw_home
    P(home)           = 1 - sigma(c2 - slope * x)

The fit is maximum likelihood over (c1, log(c2 - c1), slope), so c1 < c2 holds at every step of the optimiser,
on x standardised so that one step means the same whatever the rating's units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from matchday.evaluation.metrics import AWAY, DRAW, HOME, N_OUTCOMES

__all__ = ["OrderedLogit"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Objective = tuple[float, FloatArray]

# On the mean log-likelihood of standardised x, a gradient this small moves the parameters by ~1e-8 or less
# (the information per match is of order 0.1 to 1), far below any sampling error.
_GTOL = 1e-8


def _rating(x: npt.ArrayLike) -> FloatArray:
    values = np.asarray(x, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"x must be a 1-D array of ratings, got shape {values.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"x holds {int(bad.sum())} NaN or infinite value(s), the first at index {row}: {values[row]}")
    return values


def _outcome_codes(outcomes: npt.ArrayLike, n: int) -> IntArray:
    codes = np.asarray(outcomes)
    if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"outcomes must be {n} integer codes 0 (home), 1 (draw), 2 (away), got {codes.dtype} {codes.shape}"
        )
    unknown = (codes < HOME) | (codes > AWAY)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise ValueError(f"outcomes row {row} is {int(codes[row])}, not 0 (home), 1 (draw) or 2 (away)")
    # Without every outcome the maximum likelihood does not exist: a cutpoint runs off to infinity.
    counts = np.bincount(codes, minlength=N_OUTCOMES)
    if (counts == 0).any():
        raise ValueError(f"outcomes must hold home wins, draws and away wins; counts (home, draw, away) = {counts}")
    return codes.astype(np.int64)


def _negative_log_likelihood(theta: FloatArray, z: FloatArray, codes: IntArray) -> Objective:
    """Mean negative log-likelihood and its gradient in theta = (c1, log(c2 - c1), slope), on ratings z."""
    c1, log_gap, slope = theta
    gap = np.exp(log_gap)
    a = c1 - slope * z  # P(away) = sigma(a)
    b = a + gap  # P(away or draw) = sigma(b)
    home, draw, away = (codes == HOME), (codes == DRAW), (codes == AWAY)
    # log P(draw) = log(sigma(b) - sigma(a)) = log sigma(b) + log sigma(-a) + log(1 - exp(-gap)), free of the
    # cancellation of the plain difference when both probabilities are close.
    log_p = np.where(away, log_expit(a), np.where(home, log_expit(-b), log_expit(b) + log_expit(-a)))
    log_p = log_p + draw * np.log(-np.expm1(-gap))
    # d log p / da and d log p / db per match; 1 / expm1(gap) comes from the log(1 - exp(-gap)) term.
    inverse = 1.0 / np.expm1(gap)
    d_a = np.where(away, expit(-a), np.where(draw, -expit(a) - inverse, 0.0))
    d_b = np.where(home, -expit(b), np.where(draw, expit(-b) + inverse, 0.0))
    gradient = np.array([np.sum(d_a + d_b), np.sum(d_b) * gap, -np.sum((d_a + d_b) * z)])
    n = len(codes)
    return float(-np.sum(log_p) / n), -gradient / n


def _start(codes: IntArray) -> FloatArray:
    # slope 0 with cutpoints at the logits of the cumulative frequencies: the base-rate forecast.
    away, away_or_draw = np.mean(codes == AWAY), np.mean(codes >= DRAW)
    c1, c2 = np.log(away / (1.0 - away)), np.log(away_or_draw / (1.0 - away_or_draw))
    return np.array([c1, np.log(c2 - c1), 0.0])


@dataclass(frozen=True, slots=True)
class OrderedLogit:
    """Fitted (or given) slope and cutpoints; see the module docstring for the model."""

    slope: float
    cut_away_draw: float  # c1
    cut_draw_home: float  # c2

    def __post_init__(self) -> None:
        values = (self.slope, self.cut_away_draw, self.cut_draw_home)
        if not all(np.isfinite(values)):
            raise ValueError(f"slope and cutpoints must be finite, got {values}")
        if not self.cut_away_draw < self.cut_draw_home:
            raise ValueError(f"cut_away_draw ({self.cut_away_draw}) must be below cut_draw_home ({self.cut_draw_home})")

    @classmethod
    def fit(cls, x: npt.ArrayLike, outcomes: npt.ArrayLike) -> OrderedLogit:
        """Maximum-likelihood fit on ratings `x` and result codes `outcomes` (0 home, 1 draw, 2 away)."""
        values = _rating(x)
        codes = _outcome_codes(outcomes, len(values))
        centre, scale = float(np.mean(values)), float(np.std(values))
        if scale == 0.0:
            raise ValueError("x is constant, so the slope cannot be told apart from the cutpoints")
        z = (values - centre) / scale
        result = minimize(
            _negative_log_likelihood, _start(codes), args=(z, codes), jac=True, method="BFGS", options={"gtol": _GTOL}
        )
        if not result.success:
            raise RuntimeError(f"ordered logit fit did not converge: {result.message}")
        c1, log_gap, slope_z = (float(v) for v in result.x)
        # Back to x's units: c - slope_z * (x - centre) / scale = (c + slope_z * centre / scale) - slope * x.
        shift = slope_z * centre / scale
        return cls(slope=slope_z / scale, cut_away_draw=c1 + shift, cut_draw_home=c1 + math.exp(log_gap) + shift)

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        """(n, 3) probabilities ordered (home, draw, away) for ratings `x`."""
        values = _rating(x)
        a = self.cut_away_draw - self.slope * values
        b = self.cut_draw_home - self.slope * values
        gap = self.cut_draw_home - self.cut_away_draw
        # sigma(b) - sigma(a) in the product form, which stays accurate (and >= 0) when both are near 1 or 0.
        draw = expit(b) * expit(-a) * -np.expm1(-gap)
        probs: FloatArray = np.column_stack([expit(-b), draw, expit(a)])
        return probs
