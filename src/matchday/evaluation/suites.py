"""The forecasters a walk-forward runs for each `--model` choice: the model itself, the market baselines it is
always scored beside, and for the stack its bases. One place, so the CLI, the benchmarks and training agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from matchday.evaluation.walk_forward import StackSpec
from matchday.features.moments import Moment
from matchday.models.base import Forecaster
from matchday.models.boosters import Device, booster_model
from matchday.models.dixon_coles_model import DixonColesModel
from matchday.models.market import MarketBaseline

__all__ = ["MODEL_CHOICES", "ModelChoice", "ModelSuite", "model_suite"]

ModelChoice = Literal["dixon_coles", "xgboost", "lightgbm", "stack", "market"]
MODEL_CHOICES: tuple[str, ...] = get_args(ModelChoice)


@dataclass(frozen=True)
class ModelSuite:
    models: list[Forecaster]
    baselines: list[Forecaster]
    stack: StackSpec | None


def _baselines(moment: Moment) -> list[Forecaster]:
    """Pinnacle opening and closing always; the market average at the moment predicted."""
    return [
        MarketBaseline("pinnacle", Moment.OPEN),
        MarketBaseline("pinnacle", Moment.CLOSE),
        MarketBaseline("avg", moment),
    ]


def model_suite(choice: str, moment: Moment, device: Device = "cpu") -> ModelSuite:
    """The suite for `choice` (one of MODEL_CHOICES) predicting at `moment`."""
    if choice not in MODEL_CHOICES:
        raise ValueError(f"model must be one of {', '.join(MODEL_CHOICES)}, got {choice!r}")
    moment = Moment(moment)
    baselines = _baselines(moment)
    boosters: list[Forecaster] = [booster_model(library, moment, device=device) for library in ("xgboost", "lightgbm")]
    if choice == "market":
        return ModelSuite([], baselines, None)
    if choice == "dixon_coles":
        return ModelSuite([DixonColesModel()], baselines, None)
    if choice in ("xgboost", "lightgbm"):
        return ModelSuite([b for b in boosters if b.name.startswith(choice)], baselines, None)
    models: list[Forecaster] = [DixonColesModel(), *boosters]
    bases = (*(model.name for model in models), f"pinnacle_{moment}", f"market_avg_{moment}")
    return ModelSuite(models, baselines, StackSpec(base_names=bases, moment=moment))
