"""The canary rollout's schedule and thresholds (serving/canary.yaml), as a frozen pydantic model.

The defaults here are the values of serving/canary.yaml (a test keeps them equal), so a process without a file
behaves as the file says. `load_canary_config(path)` reads another file; an unknown key or a bad value fails
with a `CanaryConfigError` naming the file, the key and the value.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["DEFAULT_STEPS", "CanaryConfig", "CanaryConfigError", "CanaryStep", "load_canary_config"]


class CanaryConfigError(ValueError):
    """The canary configuration file is unreadable or holds a bad key or value; the message names them."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CanaryStep(_Frozen):
    share: float = Field(gt=0.0, le=1.0, description="The challenger's share of traffic in this step.")
    min_requests: int = Field(ge=1, description="Challenger requests the step must see before it is passed.")
    min_seconds: float = Field(ge=0.0, description="How long the step must be held before it is passed.")


DEFAULT_STEPS = (
    CanaryStep(share=0.05, min_requests=200, min_seconds=600),
    CanaryStep(share=0.25, min_requests=500, min_seconds=900),
    CanaryStep(share=0.50, min_requests=1000, min_seconds=900),
    CanaryStep(share=1.00, min_requests=2000, min_seconds=1800),
)


class CanaryConfig(_Frozen):
    steps: tuple[CanaryStep, ...] = DEFAULT_STEPS
    min_requests_to_judge: int = Field(default=100, ge=1)
    max_error_rate: float = Field(default=0.01, ge=0.0, lt=1.0)
    max_p99_latency_ms: float = Field(default=50.0, gt=0.0)
    max_p99_latency_ratio: float | None = Field(default=None, ge=1.0)
    min_valid_rate: float = Field(default=0.999, gt=0.0, le=1.0)
    evaluation_interval_seconds: float = Field(default=10.0, gt=0.0)

    @field_validator("steps")
    @classmethod
    def _increasing_to_one(cls, steps: tuple[CanaryStep, ...]) -> tuple[CanaryStep, ...]:
        if not steps:
            raise ValueError("needs at least one step")
        shares = [step.share for step in steps]
        if any(later <= earlier for earlier, later in itertools.pairwise(shares)):
            raise ValueError(f"shares {shares} must increase step by step")
        if shares[-1] != 1.0:
            raise ValueError(f"the last step's share is {shares[-1]}; it must be 1.0 (the last step promotes)")
        return steps

    @model_validator(mode="after")
    def _steps_judged(self) -> CanaryConfig:
        # A step passed before it is judged could promote a challenger whose latency was never looked at.
        for index, step in enumerate(self.steps):
            if step.min_requests < self.min_requests_to_judge:
                raise ValueError(
                    f"steps.{index}.min_requests={step.min_requests} is below "
                    f"min_requests_to_judge={self.min_requests_to_judge}: every step must be judged before it is passed"
                )
        return self


def _problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:  # a rule across keys: its message names them
            problems.append(message)
            continue
        key = ".".join(str(part) for part in error["loc"])
        problems.append(f"{key}={error.get('input')!r}: {message}")
    return "; ".join(problems)


def load_canary_config(path: Path | None) -> CanaryConfig:
    """The configuration in `path` (YAML, keys as in serving/canary.yaml, missing keys defaulted); None: the
    defaults, which are serving/canary.yaml's values."""
    if path is None:
        return CanaryConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CanaryConfigError(f"canary config {path}: cannot be read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise CanaryConfigError(f"canary config {path}: not valid YAML ({exc})") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CanaryConfigError(f"canary config {path}: must be a mapping of keys, not {type(raw).__name__}")
    try:
        return CanaryConfig.model_validate(raw)
    except ValidationError as exc:
        raise CanaryConfigError(f"canary config {path}: {_problems(exc)}") from None
