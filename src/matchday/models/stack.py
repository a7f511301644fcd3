"""A stacked meta-model over base forecasters' out-of-fold 1X2 predictions, with a calibrator on top.

Features: per base b its two log-odds x_b = (log(p_home / p_away), log(p_draw / p_away)). Two meta-models:
- `pool` (the default): a log-linear opinion pool, p proportional to exp(sum_b w_b log p_b + c), one weight per
  base and two intercepts, L2-penalised towards the equal pool w_b = 1/K. K + 2 parameters: the bases (several of
  them near-copies of the market) are strongly collinear, and on the ~1,000-2,000 out-of-fold matches a stack
  learns from, the full model's 6K + 3 coefficients fit noise (EPL 2019-23 walk-forward RPS 0.2018 against 0.2001
  for Pinnacle's opening prices alone, see BENCHMARKS.md).
- `full`: a multinomial logistic regression p = softmax(W x + c), W penalised towards the equal pool
  (`fit_penalised_logit`). Both are stored as the same (3, 2K) coefficient matrix.

Missing prices: a base row of NaN (a bookmaker that did not quote the match) is imputed by the mean log-odds of
the bases that priced that row, i.e. that base is taken to agree with the geometric-mean pool of the others, which
adds no information of its own. A row that no base priced is left out of the fit and predicted as NaN.

Honesty of the fit: rows come in time order, out-of-fold for every base. The meta-model is fitted on the older
(1 - calibration_fraction) of the priced rows; the calibrator is chosen (`select_calibrator`, itself a time-ordered
cross-fit) and fitted on the meta-model's predictions for the recent calibration_fraction rows, which the
meta-model never saw. So the calibrator corrects the meta-model's out-of-sample errors, not its in-sample ones.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import log_softmax

from matchday.evaluation.metrics import AWAY, DRAW, HOME, N_OUTCOMES
from matchday.models.calibrators import (
    CALIBRATORS,
    PROB_FLOOR,
    Calibrator,
    calibrator_from_dict,
    check_probabilities,
    fit_penalised_logit,
    select_calibrator,
)
from matchday.models.persistence import read_manifest, write_manifest

__all__ = ["StackModel"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

logger = logging.getLogger(__name__)

MIN_ROWS = 200  # priced rows: enough for ~140 meta-model rows and ~60 calibration rows at the default fraction
_MIN_META_ROWS = 100
_MIN_CALIBRATION_ROWS = 50
_N_LOG_ODDS = N_OUTCOMES - 1  # (home, draw) against away
_META_MODELS = ("pool", "full")


def _fit_pool(features: FloatArray, outcomes: IntArray, k: int, C: float) -> tuple[FloatArray, FloatArray]:  # noqa: N803
    """The log-linear pool's weights w (one per base) and intercepts (home, draw; away is 0), by minimising mean
    log loss + ||w - 1/K||^2 / (2 C n), returned as the (3, 2K) coefficient matrix and (3,) intercept of the full
    model: coef[home, 2b] = coef[draw, 2b + 1] = w_b."""
    n = len(outcomes)
    home_odds, draw_odds = features[:, 0::_N_LOG_ODDS], features[:, 1::_N_LOG_ODDS]  # (n, K) each
    target = np.eye(N_OUTCOMES)[outcomes]
    prior = np.full(k, 1.0 / k)

    def loss(theta: FloatArray) -> tuple[float, FloatArray]:
        w, c_home, c_draw = theta[:k], theta[k], theta[k + 1]
        logits = np.column_stack([home_odds @ w + c_home, draw_odds @ w + c_draw, np.zeros(n)])
        log_p = log_softmax(logits, axis=1)
        residual = np.exp(log_p) - target  # d(-log p_y)/d logits
        gradient = np.concatenate(
            [
                (residual[:, HOME] @ home_odds + residual[:, DRAW] @ draw_odds) / n + (w - prior) / (C * n),
                [residual[:, HOME].mean(), residual[:, DRAW].mean()],
            ]
        )
        value = -float(np.sum(log_p * target)) / n + float(np.sum((w - prior) ** 2)) / (2.0 * C * n)
        return value, gradient

    result = minimize(loss, np.concatenate([prior, [0.0, 0.0]]), jac=True, method="L-BFGS-B")
    if not result.success:
        raise RuntimeError(f"log-linear pool fit did not converge: {result.message}")
    w = result.x[:k]
    coef = np.zeros((N_OUTCOMES, _N_LOG_ODDS * k))
    coef[HOME, 0::_N_LOG_ODDS] = w
    coef[DRAW, 1::_N_LOG_ODDS] = w
    return coef, np.array([result.x[k], result.x[k + 1], 0.0])


def _outcome_codes(outcomes: npt.ArrayLike, n: int) -> IntArray:
    codes = np.asarray(outcomes)
    if codes.shape != (n,) or (n and (not np.issubdtype(codes.dtype, np.integer) or codes.dtype == np.bool_)):
        raise ValueError(
            f"outcomes must be {n} integer codes 0 (home), 1 (draw), 2 (away), got {codes.dtype} {codes.shape}"
        )
    unknown = (codes < HOME) | (codes > AWAY)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise ValueError(f"outcomes row {row} is {int(codes[row])}, not 0 (home), 1 (draw) or 2 (away)")
    return codes.astype(np.int64)


class StackModel:
    """Meta-model over the out-of-fold predictions of the bases `base_names`. `calibration` is "auto" (chosen by
    `select_calibrator`) or one calibrator name; `C` is the prior variance of each meta coefficient around the
    equal pool (larger: trust the data more)."""

    KIND: ClassVar[str] = "stack"
    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(
        self,
        base_names: Sequence[str],
        calibration: str = "auto",
        name: str = "stack",
        calibration_fraction: float = 0.3,
        C: float = 1.0,  # noqa: N803 - sklearn's name for the inverse penalty
        meta: str = "pool",
    ) -> None:
        names = list(base_names)
        if meta not in _META_MODELS:
            raise ValueError(f"unknown meta-model {meta!r}; known: {', '.join(_META_MODELS)}")
        if not names:
            raise ValueError("a stack needs at least one base forecaster")
        if len(set(names)) != len(names):
            raise ValueError(f"base names must be unique, got {names}")
        if calibration != "auto" and calibration not in CALIBRATORS:
            raise ValueError(f"unknown calibration {calibration!r}; known: auto, {', '.join(CALIBRATORS)}")
        if not 0.0 < calibration_fraction < 1.0:
            raise ValueError(f"calibration_fraction must be strictly between 0 and 1, got {calibration_fraction}")
        if not (math.isfinite(C) and C > 0.0):
            raise ValueError(f"C must be positive and finite, got {C}")
        self.base_names = names
        self.calibration = calibration
        self.name = name
        self.calibration_fraction = calibration_fraction
        self.C = C
        self.meta = meta
        self.chosen_calibration: str | None = None
        self.calibration_scores: dict[str, float] = {}
        self._coef: FloatArray | None = None
        self._intercept: FloatArray | None = None
        self._calibrator: Calibrator | None = None

    # ---- features

    def _features(self, base_predictions: Mapping[str, npt.ArrayLike]) -> tuple[FloatArray, BoolArray]:
        """(n, 2K) log-odds with missing bases imputed, and the mask of rows that at least one base priced."""
        missing = [base for base in self.base_names if base not in base_predictions]
        if missing:
            raise ValueError(f"no predictions for base(s) {', '.join(missing)}; the stack needs {self.base_names}")
        arrays = [check_probabilities(base_predictions[base], f"predictions of {base!r}") for base in self.base_names]
        lengths = {base: len(a) for base, a in zip(self.base_names, arrays, strict=True)}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"base predictions must cover the same rows, got lengths {lengths}")
        log_p = np.log(np.clip(np.stack(arrays, axis=1), PROB_FLOOR, 1.0))  # (n, K, 3); NaN rows stay NaN
        odds = log_p[:, :, [HOME, DRAW]] - log_p[:, :, [AWAY]]  # (n, K, 2)
        present = ~np.isnan(odds[:, :, 0])
        count = present.sum(axis=1)
        priced = count > 0
        pool = np.where(present[:, :, None], odds, 0.0).sum(axis=1) / np.maximum(count, 1)[:, None]
        filled = np.where(present[:, :, None], odds, pool[:, None, :])
        return filled.reshape(len(filled), -1), priced

    def _prior_coef(self) -> FloatArray:
        k = len(self.base_names)
        prior = np.zeros((N_OUTCOMES, _N_LOG_ODDS * k))
        prior[HOME, 0::_N_LOG_ODDS] = 1.0 / k
        prior[DRAW, 1::_N_LOG_ODDS] = 1.0 / k
        return prior

    def _meta(self, features: FloatArray) -> FloatArray:
        if self._coef is None or self._intercept is None:
            raise RuntimeError(f"stack {self.name!r} is not fitted")
        logits = features @ self._coef.T + self._intercept
        logits -= logits.max(axis=1, keepdims=True)
        expd = np.exp(logits)
        probs: FloatArray = expd / expd.sum(axis=1, keepdims=True)
        return probs

    # ---- fit and predict

    def fit(self, base_predictions: Mapping[str, npt.ArrayLike], outcomes: npt.ArrayLike) -> None:
        """Fit on out-of-fold base predictions for n matches in time order and their result codes."""
        features, priced = self._features(base_predictions)
        codes = _outcome_codes(outcomes, len(features))
        x, y = features[priced], codes[priced]
        n = len(y)
        if n < MIN_ROWS:
            raise ValueError(f"a stack needs at least {MIN_ROWS} rows priced by some base, got n={n}")
        n_calibration = round(self.calibration_fraction * n)
        n_meta = n - n_calibration
        if n_meta < _MIN_META_ROWS or n_calibration < _MIN_CALIBRATION_ROWS:
            raise ValueError(
                f"calibration_fraction {self.calibration_fraction} splits n={n} priced rows into {n_meta} for the "
                f"meta-model and {n_calibration} for the calibrator; each needs at least "
                f"{_MIN_META_ROWS} and {_MIN_CALIBRATION_ROWS}"
            )
        if self.meta == "pool":
            self._coef, self._intercept = _fit_pool(x[:n_meta], y[:n_meta], len(self.base_names), self.C)
        else:
            self._coef, self._intercept = fit_penalised_logit(x[:n_meta], y[:n_meta], self._prior_coef(), self.C)
        recent = self._meta(x[n_meta:])
        candidates = tuple(CALIBRATORS) if self.calibration == "auto" else (self.calibration,)
        choice = select_calibrator(recent, y[n_meta:], candidates)
        self._calibrator = choice.calibrator
        self.chosen_calibration = choice.name
        self.calibration_scores = choice.scores
        logger.info(
            "stack %s: meta-model on %d rows, calibrator %s on the %d most recent (scores %s)",
            self.name,
            n_meta,
            choice.name,
            n_calibration,
            choice.scores,
        )

    def predict_uncalibrated(self, base_predictions: Mapping[str, npt.ArrayLike]) -> FloatArray:
        """The meta-model's (n, 3) probabilities before calibration; NaN where no base priced the row."""
        features, priced = self._features(base_predictions)
        out = np.full((len(features), N_OUTCOMES), np.nan)
        out[priced] = self._meta(features[priced])
        return out

    def predict(self, base_predictions: Mapping[str, npt.ArrayLike]) -> FloatArray:
        """Calibrated (n, 3) probabilities ordered (home, draw, away); NaN where no base priced the row."""
        return self.calibrator.transform(self.predict_uncalibrated(base_predictions))

    # ---- fitted parameters, for reports

    @property
    def calibrator(self) -> Calibrator:
        if self._calibrator is None:
            raise RuntimeError(f"stack {self.name!r} is not fitted")
        return self._calibrator

    @property
    def coefficients(self) -> FloatArray:
        """(3, 2K) meta coefficients: rows (home, draw, away), columns per base (home, draw) log-odds."""
        if self._coef is None:
            raise RuntimeError(f"stack {self.name!r} is not fitted")
        return self._coef.copy()

    @property
    def intercept(self) -> FloatArray:
        if self._intercept is None:
            raise RuntimeError(f"stack {self.name!r} is not fitted")
        return self._intercept.copy()

    @property
    def weights(self) -> dict[str, float]:
        """Per base, how much of its own log-odds passes into the stack's: the mean of the coefficients of its
        home and draw log-odds in the stack's home and draw log-odds (each against away). 1/K each in the equal
        pool; 1 alone takes that base at face value; the sum above 1 sharpens the pool, below 1 softens it."""
        coef = self.coefficients
        weights = {}
        for b, base in enumerate(self.base_names):
            home, draw = _N_LOG_ODDS * b + 0, _N_LOG_ODDS * b + 1
            home_weight = coef[HOME, home] - coef[AWAY, home]
            draw_weight = coef[DRAW, draw] - coef[AWAY, draw]
            weights[base] = float((home_weight + draw_weight) / 2.0)
        return weights

    # ---- persistence

    def save(self, path: Path) -> None:
        """Write manifest.json with the explicit meta coefficients and the calibrator's parameters."""
        payload: dict[str, Any] = {
            "name": self.name,
            "base_names": self.base_names,
            "calibration": self.calibration,
            "calibration_fraction": self.calibration_fraction,
            "C": self.C,
            "meta": self.meta,
            "coef": self.coefficients.tolist(),
            "intercept": self.intercept.tolist(),
            "chosen_calibration": self.chosen_calibration,
            "calibration_scores": self.calibration_scores,
            "calibrator": self.calibrator.to_dict(),
        }
        write_manifest(path, self.KIND, self.FORMAT_VERSION, payload)

    @classmethod
    def load(cls, path: Path) -> StackModel:
        data = read_manifest(path, cls.KIND, cls.FORMAT_VERSION)
        model = cls(
            data["base_names"],
            calibration=data["calibration"],
            name=data["name"],
            calibration_fraction=float(data["calibration_fraction"]),
            C=float(data["C"]),
            meta=str(data.get("meta", "full")),  # written before the pool existed: the full model
        )
        coef = np.asarray(data["coef"], dtype=np.float64)
        intercept = np.asarray(data["intercept"], dtype=np.float64)
        width = _N_LOG_ODDS * len(model.base_names)
        if coef.shape != (N_OUTCOMES, width) or intercept.shape != (N_OUTCOMES,):
            raise ValueError(
                f"{path}: coef must be (3, {width}) and intercept (3,) for {len(model.base_names)} bases, "
                f"got {coef.shape} and {intercept.shape}"
            )
        model._coef, model._intercept = coef, intercept
        model._calibrator = calibrator_from_dict(data["calibrator"])
        model.chosen_calibration = data["chosen_calibration"]
        model.calibration_scores = {key: float(value) for key, value in data["calibration_scores"].items()}
        return model
