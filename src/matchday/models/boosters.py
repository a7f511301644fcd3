"""Gradient-boosted trees (XGBoost, LightGBM) from the feature table to 1X2 probabilities.

One multi-class model per library and prediction moment. `fit` sorts the history by kickoff, holds out its latest
`validation_fraction` of matches to choose the number of boosting rounds by early stopping on multi-class log loss,
then refits on every match with that many rounds. The hold-out is the latest matches, never a random sample: a
walk-forward predicts the future, so the round count is chosen on the matches most like the ones it will price,
and a random split would let the trees learn a season's later form to score its earlier matches.

The defaults are sized for a weekly walk-forward (~200 refits a league on 3,000-15,000 matches and ~100 features):
shallow histogram trees, heavy leaf regularisation for outcomes that are mostly noise, and row and column
subsampling under a fixed seed so a refit is reproducible. Cost is rows x features x rounds, so the learning rate
is 0.1 rather than 0.05: on simulated tables it halved the rounds (fit time -35 to -45%) for a test log loss within
0.002. One thread by default: each tree is a few milliseconds of work, and with another process on the cores
OpenMP's spin-waiting made two threads 3-4x slower than one (measured on a shared 2-core machine); a walk-forward
gains more by running fits side by side. `n_threads` raises it for a dedicated machine.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, get_args

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost as xgb

from matchday.evaluation.metrics import N_OUTCOMES
from matchday.features.moments import Moment, assert_moment
from matchday.models import persistence
from matchday.models.base import FloatArray, feature_names

__all__ = ["BoosterModel", "BoosterParams", "Device", "Library", "LightGBMModel", "XGBoostModel", "booster_model"]

logger = logging.getLogger(__name__)

Library = Literal["xgboost", "lightgbm"]
Device = Literal["cpu", "cuda"]
IntArray = npt.NDArray[np.int64]

FORMAT_VERSION = 1
_ORDER_COLUMNS = ("kickoff", "match_id")


@dataclass(frozen=True, slots=True)
class BoosterParams:
    """The tunable hyperparameters, flat numbers only. Names follow XGBoost; `num_leaves` is LightGBM's alone
    (XGBoost grows depth-wise, so `max_depth` bounds it), and the rest map one to one (see each library's
    `_native_params`). `min_child_weight` is a sum of Hessians: a leaf needs about 50-60 matches at 20, since a
    softmax row contributes ~0.3-0.45 (LightGBM scales it by 3/2, XGBoost by 2)."""

    learning_rate: float = 0.1
    max_depth: int = 3
    num_leaves: int = 8
    min_child_weight: float = 20.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 5.0
    reg_alpha: float = 0.0
    min_split_gain: float = 0.0
    max_bin: int = 64

    def __post_init__(self) -> None:
        checks = {
            "learning_rate": 0.0 < self.learning_rate <= 1.0,
            "max_depth": self.max_depth >= 1,
            "num_leaves": self.num_leaves >= 2,
            "min_child_weight": self.min_child_weight >= 0.0,
            "subsample": 0.0 < self.subsample <= 1.0,
            "colsample_bytree": 0.0 < self.colsample_bytree <= 1.0,
            "reg_lambda": self.reg_lambda >= 0.0,
            "reg_alpha": self.reg_alpha >= 0.0,
            "min_split_gain": self.min_split_gain >= 0.0,
            "max_bin": self.max_bin >= 2,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"BoosterParams.{name} is out of range: {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoosterParams:
        """Inverse of `to_dict`; missing keys take the defaults, so a tuner can pass the keys it searches. An
        integer field accepts an integral float (search spaces often yield 3.0)."""
        known = {field.name: field.type for field in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown BoosterParams key(s): {', '.join(unknown)}; known: {', '.join(known)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"BoosterParams.{key} must be a finite number, got {value!r}")
            if known[key] == "int":
                if value != int(value):
                    raise ValueError(f"BoosterParams.{key} must be an integer, got {value!r}")
                values[key] = int(value)
            else:
                values[key] = float(value)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class _Rows:
    x: FloatArray
    y: IntArray


def _chronological(history: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in (*_ORDER_COLUMNS, "outcome") if column not in history.columns]
    if missing:
        raise ValueError(f"history lacks the column(s) {', '.join(missing)}")
    # match_id breaks kickoff ties so the split, and with it the fit, never depends on the input's row order.
    return history.sort_values(list(_ORDER_COLUMNS), kind="stable")


def _time_split(ordered: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(earlier rows, latest `fraction` of rows) of a frame already in kickoff order."""
    n_valid = round(len(ordered) * fraction)
    if n_valid < 1 or n_valid >= len(ordered):
        raise ValueError(
            f"{len(ordered)} matches cannot be split into training and the latest {fraction:.0%} for early "
            "stopping: both parts need at least one match"
        )
    cut = len(ordered) - n_valid
    return ordered.iloc[:cut], ordered.iloc[cut:]


def _matrix(rows: pd.DataFrame, features: list[str]) -> FloatArray:
    missing = [feature for feature in features if feature not in rows.columns]
    if missing:
        raise ValueError(f"rows lack the feature column(s) the model was fitted on: {', '.join(missing)}")
    # Nullable integer columns carry pd.NA, which the libraries read only as NaN.
    x: FloatArray = rows[features].to_numpy(dtype=np.float64, na_value=np.nan)
    return x


def _outcomes(rows: pd.DataFrame) -> IntArray:
    values = rows["outcome"].to_numpy()
    valid = pd.notna(values) & np.isin(values, (0, 1, 2))
    if not valid.all():
        row = int(np.flatnonzero(~valid)[0])
        raise ValueError(f"outcome at match_id {rows['match_id'].iloc[row]!r} is {values[row]!r}, not 0, 1 or 2")
    return values.astype(np.int64)


class BoosterModel(ABC):
    """A gradient-boosted 1X2 forecaster (see the module docstring). Build one with `booster_model(library, ...)`
    or a subclass directly; `best_rounds` and `validation_log_loss` report the early stopping of the last fit."""

    KIND: ClassVar[str]
    LIBRARY: ClassVar[Library]
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    def __init__(
        self,
        moment: Moment,
        name: str | None = None,
        params: BoosterParams = BoosterParams(),
        validation_fraction: float = 0.15,
        early_stopping_rounds: int = 50,
        max_rounds: int = 2000,
        seed: int = 0,
        device: Device = "cpu",
        n_threads: int = 1,
    ) -> None:
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in (0, 1), got {validation_fraction!r}")
        if early_stopping_rounds < 1 or max_rounds < 1 or n_threads < 1:
            raise ValueError(
                "early_stopping_rounds, max_rounds and n_threads must be at least 1, got "
                f"{early_stopping_rounds}, {max_rounds}, {n_threads}"
            )
        if device not in get_args(Device):
            raise ValueError(f"device must be one of {get_args(Device)}, got {device!r}")
        self.moment = Moment(moment)
        self.name = name or f"{self.LIBRARY}_{self.moment}"
        self.params = params
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.max_rounds = max_rounds
        self.seed = seed
        self.device: Device = device
        self.n_threads = n_threads
        self.features: list[str] = []
        self.best_rounds: int | None = None
        self.validation_log_loss: float | None = None

    @property
    def fitted(self) -> bool:
        return self.best_rounds is not None

    def fit(self, history: pd.DataFrame) -> None:
        ordered = _chronological(history)
        features = feature_names(ordered.columns, self.moment)
        if not features:
            raise ValueError(f"history holds no feature usable at the {self.moment} moment")
        train, valid = _time_split(ordered, self.validation_fraction)
        # The final model keeps the validated round count rather than scaling it by 1 / (1 - fraction): the count
        # is the only one measured, the validation curve is flat near its minimum, and 15% more rows shift the
        # optimum by less than that flat region; extrapolating would trade a measured choice for a guess.
        best_rounds, best_loss = self._fit_native(
            _Rows(_matrix(train, features), _outcomes(train)),
            _Rows(_matrix(valid, features), _outcomes(valid)),
            _Rows(_matrix(ordered, features), _outcomes(ordered)),
            features,
        )
        self.features = features
        self.best_rounds = best_rounds
        self.validation_log_loss = best_loss
        logger.debug(
            "booster.fitted",
            extra={
                "model": self.name,
                "matches": len(ordered),
                "features": len(features),
                "best_rounds": best_rounds,
                "validation_log_loss": best_loss,
            },
        )

    def predict(self, rows: pd.DataFrame) -> FloatArray:
        if not self.fitted:
            raise RuntimeError(f"{self.name} is not fitted: call fit (or load a saved model) before predict")
        assert_moment(self.features, self.moment)
        x = _matrix(rows, self.features)
        if len(x) == 0:
            return np.empty((0, N_OUTCOMES), dtype=np.float64)
        probs = np.asarray(self._predict_native(x), dtype=np.float64).reshape(len(x), N_OUTCOMES)
        # XGBoost computes in float32; renormalising in float64 makes rows sum to 1 to rounding.
        normalised: FloatArray = probs / probs.sum(axis=1, keepdims=True)
        return normalised

    def save(self, path: Path) -> None:
        if not self.fitted:
            raise RuntimeError(f"{self.name} is not fitted: there is nothing to save")
        path.mkdir(parents=True, exist_ok=True)
        self._save_native(path / self._native_file())
        persistence.write_manifest(
            path,
            self.KIND,
            self.FORMAT_VERSION,
            {
                "name": self.name,
                "moment": str(self.moment),
                "features": self.features,
                "params": self.params.to_dict(),
                "best_rounds": self.best_rounds,
                "validation_log_loss": self.validation_log_loss,
                "validation_fraction": self.validation_fraction,
                "early_stopping_rounds": self.early_stopping_rounds,
                "max_rounds": self.max_rounds,
                "seed": self.seed,
                "library": self.LIBRARY,
                "library_version": self._library_version(),
                "native_file": self._native_file(),
            },
        )

    @classmethod
    def load(cls, path: Path, device: Device = "cpu", n_threads: int = 1) -> Self:
        """The model saved in `path`, set to predict on `device` (where it was trained does not matter)."""
        data = persistence.read_manifest(path, cls.KIND, cls.FORMAT_VERSION)
        model = cls(
            moment=Moment(data["moment"]),
            name=str(data["name"]),
            params=BoosterParams.from_dict(data["params"]),
            validation_fraction=float(data["validation_fraction"]),
            early_stopping_rounds=int(data["early_stopping_rounds"]),
            max_rounds=int(data["max_rounds"]),
            seed=int(data["seed"]),
            device=device,
            n_threads=n_threads,
        )
        features = [str(feature) for feature in data["features"]]
        assert_moment(features, model.moment)
        model._load_native(path / model._native_file())
        stored = model._native_features()
        if stored != features:
            raise ValueError(f"{path}: the native model's features {stored} differ from the manifest's {features}")
        if data.get("library_version") != model._library_version():
            logger.warning(
                "booster.version_mismatch",
                extra={"path": str(path), "saved": data.get("library_version"), "running": model._library_version()},
            )
        model.features = features
        model.best_rounds = int(data["best_rounds"])
        loss = data.get("validation_log_loss")
        model.validation_log_loss = None if loss is None else float(loss)
        return model

    @abstractmethod
    def _fit_native(self, train: _Rows, valid: _Rows, full: _Rows, features: list[str]) -> tuple[int, float]:
        """Boost on `train` with early stopping on `valid`, then keep a booster trained on `full` for the best
        number of rounds; returns (that number, its validation log loss)."""

    @abstractmethod
    def _predict_native(self, x: FloatArray) -> npt.NDArray[Any]: ...

    @abstractmethod
    def _native_file(self) -> str: ...

    @abstractmethod
    def _save_native(self, file: Path) -> None: ...

    @abstractmethod
    def _load_native(self, file: Path) -> None: ...

    @abstractmethod
    def _native_features(self) -> list[str]: ...

    @abstractmethod
    def _library_version(self) -> str: ...


class XGBoostModel(BoosterModel):
    KIND: ClassVar[str] = "xgboost"
    LIBRARY: ClassVar[Library] = "xgboost"

    _booster: xgb.Booster | None = None

    def _native_params(self) -> dict[str, Any]:
        p = self.params
        return {
            "objective": "multi:softprob",
            "num_class": N_OUTCOMES,
            "eval_metric": "mlogloss",
            "tree_method": "hist",
            "device": self.device,
            "nthread": self.n_threads,
            "seed": self.seed,
            "eta": p.learning_rate,
            "max_depth": p.max_depth,
            "min_child_weight": p.min_child_weight,
            "subsample": p.subsample,
            "colsample_bytree": p.colsample_bytree,
            "lambda": p.reg_lambda,
            "alpha": p.reg_alpha,
            "gamma": p.min_split_gain,
            "max_bin": p.max_bin,
        }

    def _quantised(
        self, rows: _Rows, features: list[str], ref: xgb.QuantileDMatrix | None = None
    ) -> xgb.QuantileDMatrix:
        return xgb.QuantileDMatrix(
            rows.x,
            label=rows.y,
            feature_names=features,
            missing=np.nan,
            nthread=self.n_threads,
            max_bin=self.params.max_bin,
            ref=ref,
        )

    def _fit_native(self, train: _Rows, valid: _Rows, full: _Rows, features: list[str]) -> tuple[int, float]:
        params = self._native_params()
        train_matrix = self._quantised(train, features)
        # Validation and final rows are binned on the training rows' cuts, sketched once per fit.
        booster = xgb.train(
            params,
            train_matrix,
            num_boost_round=self.max_rounds,
            evals=[(self._quantised(valid, features, ref=train_matrix), "valid")],
            early_stopping_rounds=self.early_stopping_rounds,
            verbose_eval=False,
        )
        rounds = booster.best_iteration + 1  # best_iteration counts from 0
        self._booster = xgb.train(params, self._quantised(full, features, ref=train_matrix), num_boost_round=rounds)
        return rounds, float(booster.best_score)

    def _fitted_booster(self) -> xgb.Booster:
        if self._booster is None:
            raise RuntimeError(f"{self.name} has no trained booster")
        return self._booster

    def _predict_native(self, x: FloatArray) -> npt.NDArray[Any]:
        return self._fitted_booster().predict(xgb.DMatrix(x, feature_names=self.features, nthread=self.n_threads))

    def _native_file(self) -> str:
        return "model.json"

    def _save_native(self, file: Path) -> None:
        self._fitted_booster().save_model(file)

    def _load_native(self, file: Path) -> None:
        booster = xgb.Booster()
        booster.load_model(file)
        # The saved configuration carries the training device and threads; predict where this process says.
        booster.set_param({"device": self.device, "nthread": self.n_threads})
        self._booster = booster

    def _native_features(self) -> list[str]:
        return list(self._fitted_booster().feature_names or [])

    def _library_version(self) -> str:
        return str(xgb.__version__)


class LightGBMModel(BoosterModel):
    KIND: ClassVar[str] = "lightgbm"
    LIBRARY: ClassVar[Library] = "lightgbm"

    _booster: lgb.Booster | None = None

    def _native_params(self) -> dict[str, Any]:
        p = self.params
        params: dict[str, Any] = {
            "objective": "multiclass",
            "num_class": N_OUTCOMES,
            "metric": "multi_logloss",
            "num_threads": self.n_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,  # skips the row/column-wise timing probe LightGBM otherwise runs per fit
            "verbosity": -1,  # "no further splits" and all-NaN feature notices are expected, not news
            "learning_rate": p.learning_rate,
            "max_depth": p.max_depth,
            "num_leaves": p.num_leaves,
            "min_sum_hessian_in_leaf": p.min_child_weight,
            "bagging_fraction": p.subsample,
            "bagging_freq": 1 if p.subsample < 1.0 else 0,
            "feature_fraction": p.colsample_bytree,
            "lambda_l2": p.reg_lambda,
            "lambda_l1": p.reg_alpha,
            "min_gain_to_split": p.min_split_gain,
            "max_bin": p.max_bin,
        }
        if self.device == "cuda":
            params["device_type"] = "cuda"  # fails loudly on a LightGBM built without CUDA
        return params

    def _dataset(self, rows: _Rows, features: list[str], reference: lgb.Dataset | None = None) -> lgb.Dataset:
        return lgb.Dataset(
            rows.x, label=rows.y, feature_name=features, params=self._native_params(), reference=reference
        )

    def _fit_native(self, train: _Rows, valid: _Rows, full: _Rows, features: list[str]) -> tuple[int, float]:
        params = self._native_params()
        train_set = self._dataset(train, features)
        # Validation and final rows are binned on the training rows' bin bounds, found once per fit.
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=self.max_rounds,
            valid_sets=[self._dataset(valid, features, reference=train_set)],
            valid_names=["valid"],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        rounds = booster.best_iteration  # counts from 1 here
        self._booster = lgb.train(params, self._dataset(full, features, reference=train_set), num_boost_round=rounds)
        return rounds, float(booster.best_score["valid"]["multi_logloss"])

    def _fitted_booster(self) -> lgb.Booster:
        if self._booster is None:
            raise RuntimeError(f"{self.name} has no trained booster")
        return self._booster

    def _predict_native(self, x: FloatArray) -> npt.NDArray[Any]:
        return np.asarray(self._fitted_booster().predict(x, num_threads=self.n_threads))

    def _native_file(self) -> str:
        return "model.txt"

    def _save_native(self, file: Path) -> None:
        self._fitted_booster().save_model(file)

    def _load_native(self, file: Path) -> None:
        self._booster = lgb.Booster(model_file=file)

    def _native_features(self) -> list[str]:
        return list(self._fitted_booster().feature_name())

    def _library_version(self) -> str:
        return str(lgb.__version__)


_MODELS: dict[Library, type[BoosterModel]] = {"xgboost": XGBoostModel, "lightgbm": LightGBMModel}


def booster_model(
    library: Library,
    moment: Moment,
    name: str | None = None,
    params: BoosterParams = BoosterParams(),
    validation_fraction: float = 0.15,
    early_stopping_rounds: int = 50,
    max_rounds: int = 2000,
    seed: int = 0,
    device: Device = "cpu",
    n_threads: int = 1,
) -> BoosterModel:
    """The `library`'s booster; the default name is f"{library}_{moment}", e.g. "xgboost_open"."""
    if library not in _MODELS:
        raise ValueError(f"library must be one of {', '.join(_MODELS)}, got {library!r}")
    return _MODELS[library](
        moment,
        name=name,
        params=params,
        validation_fraction=validation_fraction,
        early_stopping_rounds=early_stopping_rounds,
        max_rounds=max_rounds,
        seed=seed,
        device=device,
        n_threads=n_threads,
    )


for _model in _MODELS.values():
    persistence.register(_model.KIND, _model.load)
