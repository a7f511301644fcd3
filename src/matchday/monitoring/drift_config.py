"""Drift monitoring's window, tests, thresholds and retraining policy (monitoring/drift.yaml), as a frozen model.

The defaults here are the values of monitoring/drift.yaml (a test keeps them equal), so a process without the
file behaves as the file says. `load_drift_config(path)` reads another file; an unknown key or a bad value fails
with a `DriftConfigError` naming the file, the key and the value.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "P_VALUE_METHODS",
    "CategoricalDrift",
    "DriftConfig",
    "DriftConfigError",
    "FeatureDrift",
    "PredictionDrift",
    "QualityPolicy",
    "RetrainPolicy",
    "ShiftDrift",
    "load_drift_config",
    "parse_duration",
]

# Evidently's tests whose score is a p-value (drift below the threshold); the others are distances (drift at or
# above it).
P_VALUE_METHODS = frozenset(
    {"ks", "chisquare", "z", "fisher_exact", "t_test", "mannw", "anderson", "cramer_von_mises", "g_test", "es"}
)
_KNOWN_METHODS = P_VALUE_METHODS | {"wasserstein", "psi", "jensenshannon", "kl_div", "hellinger", "TVD", "ed"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DriftConfigError(ValueError):
    """The drift configuration file is unreadable or holds a bad key or value; the message names them."""


def parse_duration(value: object) -> timedelta:
    """'7d', '12h', '30m', '45s' (or a timedelta) as a positive timedelta."""
    if isinstance(value, timedelta):
        duration = value
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"{value!r} is not a duration: expected a number and a unit s, m, h or d, e.g. 7d")
        duration = timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if duration <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than zero")
    return duration


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Test(_Frozen):
    method: str
    threshold: float = Field(gt=0.0)

    @field_validator("method")
    @classmethod
    def _known(cls, method: str) -> str:
        if method not in _KNOWN_METHODS:
            raise ValueError(f"unknown drift test {method!r}; known: {', '.join(sorted(_KNOWN_METHODS))}")
        return method

    def drifted(self, score: float) -> bool:
        """Whether a column with this test's `score` drifted."""
        return score < self.threshold if self.method in P_VALUE_METHODS else score >= self.threshold


class FeatureDrift(_Test):
    method: str = "ks"
    threshold: float = Field(default=0.01, gt=0.0)
    drift_share: float = Field(default=0.5, gt=0.0, le=1.0)


class ShiftDrift(_Test):
    method: str = "wasserstein"
    threshold: float = Field(default=10.0, gt=0.0)


class CategoricalDrift(_Test):
    columns: tuple[str, ...] = ("competition",)
    method: str = "jensenshannon"
    threshold: float = Field(default=0.1, gt=0.0)


class PredictionDrift(_Test):
    method: str = "ks"
    threshold: float = Field(default=0.001, gt=0.0)
    min_columns: int = Field(default=2, ge=1, le=3)


class QualityPolicy(_Frozen):
    max_rps_gap: float = Field(default=0.01, ge=0.0)
    min_results: int = Field(default=30, ge=1)


class RetrainPolicy(_Frozen):
    enabled: bool = True
    cooldown: Duration = timedelta(days=7)
    leagues: tuple[str, ...] = ("E0",)
    seasons: str = Field(default="2019-2022", pattern=r"^\d{4}(-\d{4})?$")
    model: str = "stack"


class DriftConfig(_Frozen):
    window: Duration = timedelta(days=7)
    min_rows: int = Field(default=10, ge=2)
    dedupe_fixtures: bool = True
    features: FeatureDrift = FeatureDrift()
    shift: ShiftDrift = ShiftDrift()
    categorical: CategoricalDrift = CategoricalDrift()
    predictions: PredictionDrift = PredictionDrift()
    quality: QualityPolicy = QualityPolicy()
    retrain: RetrainPolicy = RetrainPolicy()


def _problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        problems.append(f"{field}={error.get('input')!r}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def load_drift_config(path: Path | None) -> DriftConfig:
    """The configuration in `path`, or the defaults (monitoring/drift.yaml's values) when `path` is None."""
    if path is None:
        return DriftConfig()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DriftConfigError(f"{path}: cannot read the drift configuration: {exc}") from None
    if not isinstance(document, dict):
        raise DriftConfigError(f"{path}: expected a mapping of settings, got {type(document).__name__}")
    try:
        return DriftConfig.model_validate(document)
    except ValidationError as exc:
        raise DriftConfigError(f"{path}: {_problems(exc)}") from None
