"""Calibrators: maps from (n, 3) probabilities ordered (home, draw, away) to calibrated (n, 3) probabilities.

    none         the identity
    temperature  softmax(log p / T): one scalar; T > 1 softens an overconfident forecaster, T < 1 sharpens
    dirichlet    softmax(W log p + b), Kull et al. (2019): multinomial logistic regression on log-probabilities,
                 with an L2 penalty pulling W towards the identity (so, with little data, towards no change)
    isotonic     one-vs-rest isotonic regression of each outcome's indicator on its probability, renormalised

Each is fitted by `fit(probs, outcomes)` and keeps explicit parameters (`to_dict` / `calibrator_from_dict`), so a
saved calibrator is plain JSON. `select_calibrator` picks one by out-of-sample log loss over a time-ordered
cross-fit. A row of NaN (a forecaster that could not price the match) passes through `transform` as NaN.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.isotonic import IsotonicRegression

from matchday.evaluation.metrics import N_OUTCOMES, validate_forecasts

__all__ = [
    "CALIBRATORS",
    "CalibrationChoice",
    "Calibrator",
    "DirichletCalibrator",
    "IdentityCalibrator",
    "IsotonicCalibrator",
    "TemperatureCalibrator",
    "calibrator_from_dict",
    "check_probabilities",
    "fit_penalised_logit",
    "make_calibrator",
    "select_calibrator",
    "time_ordered_folds",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]

# Floor before taking logs: 1e-6 is far below any 1X2 probability worth telling apart, and keeps log p >= -13.8
# so that one forecaster's zero cannot swamp a fit.
PROB_FLOOR = 1e-6
# An isotonic step at 0 rests on a handful of rows without that outcome, not on evidence that it is impossible.
_ISOTONIC_FLOOR = 1e-3
_ROW_SUM_TOLERANCE = 1e-6
_LOG_T_BOUNDS = (math.log(0.05), math.log(20.0))
_MIN_SELECT_ROWS = 40  # two folds of 20: fewer and every candidate's score is noise
# On the mean log loss: parameters within ~1e-6 of the optimum, far below any sampling error.
_NEWTON_TOLERANCE = 1e-14
_NEWTON_MAX_STEPS = 100
_INTERCEPT_PRIOR_VARIANCE = 100.0


def check_probabilities(probs: npt.ArrayLike, what: str = "probs") -> FloatArray:
    """`probs` as an (n, 3) float array whose rows are either all NaN (cannot be priced) or probabilities summing
    to 1; ValueError naming the first offending row otherwise."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != N_OUTCOMES:
        raise ValueError(f"{what} must have shape (n, 3) ordered (home, draw, away), got shape {p.shape}")
    missing = np.isnan(p).all(axis=1)
    q = p[~missing]
    bad = ~np.isfinite(q).all(axis=1) | ((q < 0.0) | (q > 1.0)).any(axis=1)
    bad |= np.abs(q.sum(axis=1) - 1.0) > _ROW_SUM_TOLERANCE
    if bad.any():
        row = int(np.flatnonzero(~missing)[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"{what} row {row} is neither all NaN nor probabilities in [0, 1] summing to 1: {p[row].tolist()}"
        )
    return p


def _log_probs(p: FloatArray) -> FloatArray:
    logs: FloatArray = np.log(np.clip(p, PROB_FLOOR, 1.0))
    return logs


def fit_penalised_logit(
    features: FloatArray,
    outcomes: IntArray,
    prior_coef: FloatArray,
    C: float,  # noqa: N803 - sklearn's name for the inverse penalty
) -> tuple[FloatArray, FloatArray]:
    """Multinomial logistic regression p = softmax(features @ coef.T + intercept), coef of shape (3, k), by
    minimising mean log loss + ||coef - prior_coef||^2 / (2 C n) + ||intercept||^2 / (2 * 100 * n): a
    Normal(prior_coef, C) prior on each coefficient (sklearn's scaling of C) and a Normal(0, 10^2) one on each
    intercept. Centring the penalty on a meaningful map (the identity, an equal pool of forecasters) rather than on
    zero means that with little data the fit stays near that map instead of collapsing to the base rates. The
    intercept prior is too wide to move any real fit; it keeps the intercepts finite when an outcome never occurs
    in the rows given, and fixes the shift of all three intercepts that the softmax cannot see.

    Solved by Newton's method with backtracking: the problem has a few dozen parameters and is strictly convex, so a
    handful of exact steps beat the hundreds of gradient calls of a quasi-Newton method."""
    n, k = features.shape
    if prior_coef.shape != (N_OUTCOMES, k):
        raise ValueError(f"prior_coef must have shape (3, {k}), got {prior_coef.shape}")
    if not C > 0.0:
        raise ValueError(f"C must be positive, got {C}")
    design = np.column_stack([features, np.ones(n)])  # (n, k + 1): the intercept as a last column
    width = k + 1
    target = np.eye(N_OUTCOMES)[outcomes]
    prior = np.column_stack([prior_coef, np.zeros(N_OUTCOMES)])
    ridge = np.full(width, 1.0 / (C * n))  # per column of theta: the inverse prior variance over n
    ridge[-1] = 1.0 / (_INTERCEPT_PRIOR_VARIANCE * n)

    def loss(theta: FloatArray) -> tuple[float, FloatArray]:
        log_p = log_softmax(design @ theta.T, axis=1)
        value = -float(np.sum(log_p * target)) / n + 0.5 * float(np.sum(ridge * (theta - prior) ** 2))
        return value, log_p

    theta = prior.copy()
    value, log_p = loss(theta)
    for _ in range(_NEWTON_MAX_STEPS):
        q = np.exp(log_p)
        gradient = ((q - target).T @ design) / n + ridge * (theta - prior)
        weighted = (q[:, :, None] * design[:, None, :]).reshape(n, N_OUTCOMES * width)
        hessian = -(weighted.T @ weighted) / n
        for c in range(N_OUTCOMES):
            block = slice(c * width, (c + 1) * width)
            hessian[block, block] += (design * q[:, [c]]).T @ design / n + np.diag(ridge)
        step = np.linalg.solve(hessian, gradient.ravel()).reshape(N_OUTCOMES, width)
        decrement = float(np.sum(gradient * step))  # the Newton decrement squared: twice the expected gain
        if decrement < _NEWTON_TOLERANCE:
            return theta[:, :k].copy(), theta[:, k].copy()
        size = 1.0
        while True:
            candidate = theta - size * step
            new_value, new_log_p = loss(candidate)
            if new_value <= value - 1e-4 * size * decrement:
                break
            size /= 2.0
            if size < 1e-10:  # no step gains any more at float precision: this is the optimum
                return theta[:, :k].copy(), theta[:, k].copy()
        theta, value, log_p = candidate, new_value, new_log_p
    raise RuntimeError(f"penalised multinomial logit fit did not converge in {_NEWTON_MAX_STEPS} Newton steps")


class Calibrator(ABC):
    """A fitted or unfitted map of (n, 3) probabilities; `name` is its key in `CALIBRATORS`."""

    name: ClassVar[str]

    @abstractmethod
    def fit(self, probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> Self:
        """Learn the map from forecasts `probs` and result codes `outcomes` (0 home, 1 draw, 2 away)."""

    @abstractmethod
    def _transform(self, p: FloatArray) -> FloatArray:
        """The map on finite, valid rows."""

    @abstractmethod
    def _parameters(self) -> dict[str, Any]:
        """The fitted parameters as JSON-able values."""

    @classmethod
    @abstractmethod
    def _from_parameters(cls, data: Mapping[str, Any]) -> Self:
        """The calibrator whose `_parameters()` are `data`."""

    def transform(self, probs: npt.ArrayLike) -> FloatArray:
        """Calibrated probabilities for `probs`; all-NaN rows stay NaN."""
        p = check_probabilities(probs)
        out = np.full_like(p, np.nan)
        priced = ~np.isnan(p).all(axis=1)
        if priced.any():
            out[priced] = self._transform(p[priced])
        return out

    def to_dict(self) -> dict[str, Any]:
        """The name and explicit fitted parameters, for `calibrator_from_dict`."""
        return {"name": self.name, **self._parameters()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        if data.get("name") != cls.name:
            raise ValueError(f"expected a {cls.name!r} calibrator, got name {data.get('name')!r}")
        return cls._from_parameters(data)


class IdentityCalibrator(Calibrator):
    """No calibration: the candidate every other one has to beat."""

    name = "none"

    def fit(self, probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> Self:
        validate_forecasts(probs, outcomes)
        return self

    def _transform(self, p: FloatArray) -> FloatArray:
        return p.copy()

    def _parameters(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_parameters(cls, data: Mapping[str, Any]) -> Self:
        return cls()


class TemperatureCalibrator(Calibrator):
    """softmax(log p / T), T fitted by minimising log loss over log T (so T stays positive)."""

    name = "temperature"

    def __init__(self, temperature: float | None = None) -> None:
        if temperature is not None and not (math.isfinite(temperature) and temperature > 0.0):
            raise ValueError(f"temperature must be positive and finite, got {temperature}")
        self.temperature = temperature

    def fit(self, probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> Self:
        p, o = validate_forecasts(probs, outcomes)
        log_p = _log_probs(p)
        rows = np.arange(len(o))

        def loss(log_t: float) -> float:
            return -float(np.mean(log_softmax(log_p / math.exp(log_t), axis=1)[rows, o]))

        result = minimize_scalar(loss, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
        self.temperature = math.exp(float(result.x))
        return self

    def _fitted(self) -> float:
        if self.temperature is None:
            raise RuntimeError("temperature calibrator is not fitted")
        return self.temperature

    def _transform(self, p: FloatArray) -> FloatArray:
        out: FloatArray = softmax(_log_probs(p) / self._fitted(), axis=1)
        return out

    def _parameters(self) -> dict[str, Any]:
        return {"temperature": self._fitted()}

    @classmethod
    def _from_parameters(cls, data: Mapping[str, Any]) -> Self:
        return cls(float(data["temperature"]))


class DirichletCalibrator(Calibrator):
    """softmax(coef @ log p + intercept); see `fit_penalised_logit` for the penalty (centred on the identity)."""

    name = "dirichlet"

    def __init__(
        self,
        C: float = 0.1,  # noqa: N803 - sklearn's name for the inverse penalty
        coef: FloatArray | None = None,
        intercept: FloatArray | None = None,
    ) -> None:
        # C = 0.1: a Normal prior of sd 0.32 on each entry of W - I. Enough room for the sharpening or softening
        # of real forecasters (a temperature of 2 moves the diagonal by 0.5) while keeping the six off-diagonal
        # entries from chasing noise on a few hundred matches.
        self.C = C
        if (coef is None) != (intercept is None):
            raise ValueError("give both coef and intercept, or neither")
        if coef is not None and intercept is not None:
            coef, intercept = np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)
            if coef.shape != (N_OUTCOMES, N_OUTCOMES) or intercept.shape != (N_OUTCOMES,):
                raise ValueError(f"coef must be (3, 3) and intercept (3,), got {coef.shape} and {intercept.shape}")
        self.coef, self.intercept = coef, intercept

    def fit(self, probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> Self:
        p, o = validate_forecasts(probs, outcomes)
        self.coef, self.intercept = fit_penalised_logit(_log_probs(p), o, np.eye(N_OUTCOMES), self.C)
        return self

    def _fitted(self) -> tuple[FloatArray, FloatArray]:
        if self.coef is None or self.intercept is None:
            raise RuntimeError("dirichlet calibrator is not fitted")
        return self.coef, self.intercept

    def _transform(self, p: FloatArray) -> FloatArray:
        coef, intercept = self._fitted()
        out: FloatArray = softmax(_log_probs(p) @ coef.T + intercept, axis=1)
        return out

    def _parameters(self) -> dict[str, Any]:
        coef, intercept = self._fitted()
        return {"C": self.C, "coef": coef.tolist(), "intercept": intercept.tolist()}

    @classmethod
    def _from_parameters(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            float(data["C"]),
            np.asarray(data["coef"], dtype=np.float64),
            np.asarray(data["intercept"], dtype=np.float64),
        )


class IsotonicCalibrator(Calibrator):
    """Per outcome k, a non-decreasing step-linear map of p_k fitted to the indicator of k (one-vs-rest), kept as
    its thresholds and applied by linear interpolation (clipped outside them, as sklearn does); the three values
    are floored at 1e-3 and renormalised to sum to 1."""

    name = "isotonic"

    def __init__(self, thresholds: Sequence[tuple[Sequence[float], Sequence[float]]] | None = None) -> None:
        self.thresholds: list[tuple[FloatArray, FloatArray]] | None = None
        if thresholds is not None:
            if len(thresholds) != N_OUTCOMES:
                raise ValueError(f"isotonic calibrator needs thresholds for 3 outcomes, got {len(thresholds)}")
            pairs = [(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)) for x, y in thresholds]
            for k, (x, y) in enumerate(pairs):
                if x.ndim != 1 or x.shape != y.shape or len(x) == 0 or (np.diff(x) < 0).any():
                    raise ValueError(f"isotonic thresholds of outcome {k} must be equal-length, non-empty, x sorted")
            self.thresholds = pairs

    def fit(self, probs: npt.ArrayLike, outcomes: npt.ArrayLike) -> Self:
        p, o = validate_forecasts(probs, outcomes)
        pairs = []
        for k in range(N_OUTCOMES):
            regression = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            regression.fit(p[:, k], (o == k).astype(np.float64))
            pairs.append(
                (np.asarray(regression.X_thresholds_, np.float64), np.asarray(regression.y_thresholds_, np.float64))
            )
        self.thresholds = pairs
        return self

    def _fitted(self) -> list[tuple[FloatArray, FloatArray]]:
        if self.thresholds is None:
            raise RuntimeError("isotonic calibrator is not fitted")
        return self.thresholds

    def _transform(self, p: FloatArray) -> FloatArray:
        raw = np.column_stack([np.interp(p[:, k], x, y) for k, (x, y) in enumerate(self._fitted())])
        floored = np.maximum(raw, _ISOTONIC_FLOOR)
        out: FloatArray = floored / floored.sum(axis=1, keepdims=True)
        return out

    def _parameters(self) -> dict[str, Any]:
        return {"thresholds": [[x.tolist(), y.tolist()] for x, y in self._fitted()]}

    @classmethod
    def _from_parameters(cls, data: Mapping[str, Any]) -> Self:
        return cls([(x, y) for x, y in data["thresholds"]])


CALIBRATORS: dict[str, type[Calibrator]] = {
    cls.name: cls for cls in (IdentityCalibrator, TemperatureCalibrator, DirichletCalibrator, IsotonicCalibrator)
}


def _calibrator_class(name: object) -> type[Calibrator]:
    if not isinstance(name, str) or name not in CALIBRATORS:
        raise ValueError(f"unknown calibrator {name!r}; known: {', '.join(CALIBRATORS)}")
    return CALIBRATORS[name]


def make_calibrator(name: str) -> Calibrator:
    """An unfitted calibrator of kind `name` with its default settings."""
    return _calibrator_class(name)()


def calibrator_from_dict(data: Mapping[str, Any]) -> Calibrator:
    """The calibrator that `Calibrator.to_dict` described."""
    return _calibrator_class(data.get("name")).from_dict(data)


@dataclass(frozen=True, slots=True)
class CalibrationChoice:
    """The calibrator chosen by `select_calibrator`, fitted on all its rows, and every candidate's out-of-sample
    log loss (mean over all rows, each scored by the fold that did not see it)."""

    name: str
    scores: dict[str, float]
    calibrator: Calibrator


def time_ordered_folds(n: int) -> list[tuple[IndexArray, IndexArray]]:
    """(fit rows, score rows) of the cross-fit: the earlier half and the later half, each scored by a fit on the
    other. Contiguous blocks in time, never shuffled: neighbouring matches share form and team news, so a random
    split would let a calibrator learn from the week it is scored on and flatter the flexible candidates."""
    half = n // 2
    earlier, later = np.arange(half), np.arange(half, n)
    return [(earlier, later), (later, earlier)]


def select_calibrator(
    probs: npt.ArrayLike,
    outcomes: npt.ArrayLike,
    candidates: Sequence[str] = ("none", "temperature", "dirichlet", "isotonic"),
) -> CalibrationChoice:
    """Choose among `candidates` by log loss over `time_ordered_folds`; rows must be in time order. Ties go to the
    earlier candidate, so list the simpler ones first. One-standard-error rule: the first candidate (the simplest)
    is kept unless the best beats it by more than one standard error of their per-match log-loss difference. On the
    few hundred recent matches a stack calibrates on, a calibrator that wins by less than that is fitting noise:
    choosing by the bare minimum picked `temperature` on most EPL weeks and cost 0.0008 RPS out of sample."""
    p, o = validate_forecasts(probs, outcomes)
    if not candidates:
        raise ValueError(f"no candidate calibrators given; known: {', '.join(CALIBRATORS)}")
    classes = [_calibrator_class(name) for name in candidates]
    if len(o) < _MIN_SELECT_ROWS:
        raise ValueError(f"choosing a calibrator needs at least {_MIN_SELECT_ROWS} rows, got n={len(o)}")
    losses: dict[str, FloatArray] = {}
    for cls in classes:
        per_match = np.empty(len(o))
        for fit_rows, score_rows in time_ordered_folds(len(o)):
            fitted = cls().fit(p[fit_rows], o[fit_rows])
            scored = np.clip(fitted.transform(p[score_rows])[np.arange(len(score_rows)), o[score_rows]], 1e-15, 1.0)
            per_match[score_rows] = -np.log(scored)
        losses[cls.name] = per_match
    scores = {name: float(loss.mean()) for name, loss in losses.items()}
    best = min(scores, key=scores.__getitem__)  # the first of equal minima
    simplest = classes[0].name
    gain = losses[simplest] - losses[best]
    if best != simplest and gain.mean() <= gain.std(ddof=1) / math.sqrt(len(gain)):
        best = simplest
    return CalibrationChoice(name=best, scores=scores, calibrator=_calibrator_class(best)().fit(p, o))
