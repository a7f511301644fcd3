"""Walk-forward evaluation: refit every block (a matchweek by default), predict the next block, never look ahead.

The predicted matches are cut into blocks of `refit_days` days, the first starting on the first predicted match
day and each later one on the first match day after the previous block. Before each block every forecaster is
refitted on the matches played strictly before the block's first day (all of them for an `expanding` window,
the last `window_days` days for a `sliding` one), then predicts the block's matches from rows stripped of their
results. Market baselines are read from the same rows, so every forecaster is scored beside Pinnacle's opening
and closing prices on exactly the same matches.

A stack is a meta-model over its bases' walk-forward predictions: before each block it is refitted on the
predictions its bases made for earlier blocks, which are out of sample by construction (each was made before its
match by a model that had not seen it). `warmup_seasons` seasons before the first evaluated one are walked
through first so that the stack has those predictions to learn from; they are not scored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.features.moments import Moment
from matchday.models.base import FloatArray, Forecaster, without_results
from matchday.models.stack import StackModel

__all__ = ["PREDICTION_COLUMNS", "StackSpec", "WalkForwardConfig", "WalkForwardResult", "walk_forward"]

log = logging.getLogger(__name__)

Window = Literal["expanding", "sliding"]
Progress = Callable[[int, int], None]

PREDICTION_COLUMNS = (
    "match_id",
    "competition",
    "season",
    "match_date",
    "home_team",
    "away_team",
    "outcome",
    "model",
    "p_home",
    "p_draw",
    "p_away",
    "block_start",
)
_KEYS = ["match_id", "competition", "season", "match_date", "home_team", "away_team", "outcome"]
_MOMENT_ORDER = {moment: rank for rank, moment in enumerate(Moment)}


@dataclass(frozen=True, slots=True)
class WalkForwardConfig:
    """`seasons`: the evaluated seasons (start years). `model_refit_days` refits the named forecasters less (or
    more) often than `refit_days`, for those whose fit is expensive; they still refit at each block start only."""

    seasons: tuple[int, ...]
    window: Window = "expanding"
    window_days: int = 5 * 365
    refit_days: int = 7
    warmup_seasons: int = 2
    model_refit_days: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.seasons:
            raise ValueError("seasons must name at least one season to evaluate")
        if list(self.seasons) != sorted(set(self.seasons)):
            raise ValueError(f"seasons must be increasing and unique, got {list(self.seasons)}")
        if self.window not in ("expanding", "sliding"):
            raise ValueError(f"window must be 'expanding' or 'sliding', got {self.window!r}")
        for name, days in {"refit_days": self.refit_days, "window_days": self.window_days}.items():
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                raise ValueError(f"{name} must be a whole number of days >= 1, got {days!r}")
        if self.warmup_seasons < 0:
            raise ValueError(f"warmup_seasons must be >= 0, got {self.warmup_seasons!r}")
        for model, days in self.model_refit_days.items():
            if days < 1:
                raise ValueError(f"model_refit_days[{model!r}] must be >= 1, got {days!r}")


@dataclass(frozen=True, slots=True)
class StackSpec:
    """A stack over the named forecasters and baselines; none of them may predict after the stack's moment."""

    base_names: tuple[str, ...]
    moment: Moment
    name: str = "stack"
    calibration: str = "auto"
    calibration_fraction: float = 0.3


@dataclass
class WalkForwardResult:
    """`predictions`: the long table (PREDICTION_COLUMNS) of the evaluated seasons, every forecaster, baseline and
    the stack; `warmup_predictions`: the same for the warm-up seasons (the stack's first training data, unscored).
    `models` and `stack` are as last fitted, on everything before the last block."""

    predictions: pd.DataFrame
    warmup_predictions: pd.DataFrame
    config: WalkForwardConfig
    blocks: int
    fits: dict[str, int]
    fit_seconds: dict[str, float]
    predict_seconds: dict[str, float]
    calibrations: dict[str, int]
    models: list[Forecaster]
    stack: StackModel | None


def _blocks(days: pd.Series, refit_days: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """[start, end) per block: `refit_days` days from a match day, the next block from the next match day."""
    unique = pd.DatetimeIndex(sorted(set(days)))
    blocks = []
    position = 0
    while position < len(unique):
        start = unique[position]
        end = start + pd.Timedelta(days=refit_days)
        blocks.append((start, end))
        position = int(unique.searchsorted(end))
    return blocks


def _check_names(models: Sequence[Forecaster], baselines: Sequence[Forecaster], stack: StackSpec | None) -> None:
    names = [model.name for model in (*models, *baselines)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"forecaster names must be unique; repeated: {', '.join(duplicates)}")
    if stack is None:
        return
    if stack.name in names:
        raise ValueError(f"the stack's name {stack.name!r} is already a forecaster's")
    moments = {model.name: model.moment for model in (*models, *baselines)}
    for base in stack.base_names:
        if base not in moments:
            raise ValueError(f"stack base {base!r} is not among the forecasters: {', '.join(names)}")
        if _MOMENT_ORDER[moments[base]] > _MOMENT_ORDER[stack.moment]:
            raise ValueError(
                f"stack base {base!r} predicts at the {moments[base]} moment, after the stack's {stack.moment} moment"
            )


def _long(
    target: pd.DataFrame, probs: Mapping[str, FloatArray], block_start: npt.NDArray[np.datetime64]
) -> pd.DataFrame:
    keys = target[_KEYS].reset_index(drop=True).assign(block_start=block_start)
    frames = [
        keys.assign(model=name, p_home=values[:, 0], p_draw=values[:, 1], p_away=values[:, 2])
        for name, values in probs.items()
    ]
    if not frames:
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]


@dataclass
class _Ledger:
    """Per-forecaster counters of one walk."""

    fits: dict[str, int]
    fit_seconds: dict[str, float]
    predict_seconds: dict[str, float]
    last_fit: dict[str, pd.Timestamp] = field(default_factory=dict)
    calibrations: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, names: Sequence[str]) -> _Ledger:
        return cls(dict.fromkeys(names, 0), dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0))


def _target(dataset: pd.DataFrame, config: WalkForwardConfig, stacked: bool) -> pd.DataFrame:
    """The matches to predict: the evaluated seasons and, when stacking, the warm-up seasons before them."""
    first_scored = config.seasons[0]
    first_predicted = first_scored - (config.warmup_seasons if stacked else 0)
    target = dataset[dataset["season"].isin({*range(first_predicted, first_scored), *config.seasons})]
    if not target["season"].isin(config.seasons).any():
        raise ValueError(f"the dataset holds no match of the seasons {', '.join(map(str, config.seasons))}")
    return target.reset_index(drop=True)


def _step(
    model: Forecaster,
    history: pd.DataFrame,
    visible: pd.DataFrame,
    start: pd.Timestamp,
    config: WalkForwardConfig,
    ledger: _Ledger,
) -> FloatArray | None:
    """Refit `model` when its cadence says so, then predict `visible`; None while it has never been fitted."""
    cadence = pd.Timedelta(days=config.model_refit_days.get(model.name, config.refit_days))
    last = ledger.last_fit.get(model.name)
    if (last is None or start - last >= cadence) and not history.empty:
        began = time.perf_counter()
        model.fit(history)
        ledger.fit_seconds[model.name] += time.perf_counter() - began
        ledger.fits[model.name] += 1
        ledger.last_fit[model.name] = start
    if model.name not in ledger.last_fit:
        return None
    began = time.perf_counter()
    probs = model.predict(visible)
    ledger.predict_seconds[model.name] += time.perf_counter() - began
    return probs


def walk_forward(
    dataset: pd.DataFrame,
    models: Sequence[Forecaster],
    config: WalkForwardConfig,
    baselines: Sequence[Forecaster] = (),
    stack: StackSpec | None = None,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Walk `models` (refitted per block), `baselines` and an optional stack through the `config.seasons` of
    `dataset` (see `matchday.evaluation.dataset`); matches of earlier seasons are history only."""
    _check_names(models, baselines, stack)
    missing = [c for c in (*_KEYS, "kickoff") if c not in dataset.columns]
    if missing:
        raise ValueError(f"dataset lacks column(s) {', '.join(missing)}")
    dataset = dataset.sort_values(["match_date", "kickoff", "match_id"], kind="stable").reset_index(drop=True)
    dates = pd.to_datetime(dataset["match_date"])
    target = _target(dataset, config, stack is not None)
    target_dates = pd.to_datetime(target["match_date"])
    scored_season = target["season"].isin(config.seasons).to_numpy()
    everyone = [*models, *baselines]
    names = [model.name for model in everyone] + ([stack.name] if stack else [])
    probs = {name: np.full((len(target), 3), np.nan) for name in names}
    block_start = np.empty(len(target), dtype="datetime64[ns]")
    ledger = _Ledger.of(names)
    stack_model: StackModel | None = None
    blocks = _blocks(target_dates, config.refit_days)

    for number, (start, end) in enumerate(blocks, start=1):
        rows = np.flatnonzero(((target_dates >= start) & (target_dates < end)).to_numpy())
        block_start[rows] = start.to_datetime64()
        history = dataset[dates < start]
        if config.window == "sliding":
            history = history[dates[history.index] >= start - pd.Timedelta(days=config.window_days)]
        visible = without_results(target.iloc[rows])
        for model in everyone:
            predicted = _step(model, history, visible, start, config, ledger)
            if predicted is not None:
                probs[model.name][rows] = predicted
        scored = rows[scored_season[rows]]
        if stack is not None and len(scored):
            # Trained on the rows of earlier blocks only: this block's results are not known at its start.
            stack_model = _refit_stack(stack, probs, target, int(rows[0]), ledger)
            if stack_model is not None:
                began = time.perf_counter()
                probs[stack.name][scored] = stack_model.predict({b: probs[b][scored] for b in stack.base_names})
                ledger.predict_seconds[stack.name] += time.perf_counter() - began
        if progress is not None:
            progress(number, len(blocks))

    table = _long(target, probs, block_start)
    scored_rows = table["season"].isin(config.seasons)
    warmup = table[~scored_rows & (table["model"] != (stack.name if stack else None))]
    log.info("walk-forward done", extra={"blocks": len(blocks), "matches": int(scored_season.sum())})
    return WalkForwardResult(
        predictions=table[scored_rows].reset_index(drop=True),
        warmup_predictions=warmup.reset_index(drop=True),
        config=config,
        blocks=len(blocks),
        fits=ledger.fits,
        fit_seconds=ledger.fit_seconds,
        predict_seconds=ledger.predict_seconds,
        calibrations=ledger.calibrations,
        models=list(models),
        stack=stack_model,
    )


def _refit_stack(
    spec: StackSpec, probs: Mapping[str, FloatArray], target: pd.DataFrame, first_row: int, ledger: _Ledger
) -> StackModel | None:
    """A stack fitted on the bases' predictions of every row before `first_row` (all made in earlier blocks);
    None while there are too few of them."""
    model = StackModel(
        spec.base_names, calibration=spec.calibration, name=spec.name, calibration_fraction=spec.calibration_fraction
    )
    began = time.perf_counter()
    try:
        model.fit({b: probs[b][:first_row] for b in spec.base_names}, target["outcome"].to_numpy()[:first_row])
    except ValueError as exc:
        log.warning("stack not fitted for this block", extra={"reason": str(exc), "rows": first_row})
        return None
    ledger.fit_seconds[spec.name] += time.perf_counter() - began
    ledger.fits[spec.name] += 1
    chosen = model.chosen_calibration or "none"
    ledger.calibrations[chosen] = ledger.calibrations.get(chosen, 0) + 1
    return model
