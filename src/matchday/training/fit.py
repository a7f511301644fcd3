"""From a walk-forward to a deployable bundle: evaluate the suite walk-forward (the honest figures), then refit
every forecaster on all the history and the stack on every out-of-fold prediction the walk made."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matchday.config import Settings
from matchday.domain import season_label
from matchday.evaluation.dataset import load_dataset
from matchday.evaluation.report import ReportFiles, write_report
from matchday.evaluation.suites import ModelSuite
from matchday.evaluation.walk_forward import WalkForwardConfig, WalkForwardResult, walk_forward
from matchday.features.fixture_recipe import FixtureRecipe
from matchday.ingest.store import open_store
from matchday.models.base import FloatArray
from matchday.models.bundle import ModelBundle
from matchday.models.jax_cache import enable_compilation_cache
from matchday.models.stack import StackModel

__all__ = ["TrainedBundle", "TrainingOutput", "fit_bundle", "run_training", "train_suite"]

log = logging.getLogger(__name__)


@dataclass
class TrainedBundle:
    bundle: ModelBundle
    evaluation: WalkForwardResult
    trained_on: int  # matches in the final fit
    seconds: float


def _oof_matrix(table: pd.DataFrame, name: str, match_ids: pd.Series) -> FloatArray:
    rows = table[table["model"] == name].drop_duplicates("match_id").set_index("match_id")
    values: FloatArray = rows.reindex(match_ids)[["p_home", "p_draw", "p_away"]].to_numpy(dtype=np.float64)
    return values


def fit_bundle(dataset: pd.DataFrame, suite: ModelSuite, evaluation: WalkForwardResult) -> ModelBundle:
    """Every forecaster and baseline refitted on all of `dataset`; the stack (if any) on the out-of-fold
    predictions of `evaluation` (warm-up and scored seasons, in time order), which no base saw when it made them."""
    members = [*suite.models, *suite.baselines]
    for member in members:
        member.fit(dataset)
    stack = None
    if suite.stack is not None:
        table = pd.concat([evaluation.warmup_predictions, evaluation.predictions], ignore_index=True)
        keys = (
            table[table["model"] == suite.stack.base_names[0]]
            .sort_values(["match_date", "match_id"], kind="stable")
            .drop_duplicates("match_id")
        )
        stack = StackModel(
            suite.stack.base_names,
            calibration=suite.stack.calibration,
            name=suite.stack.name,
            calibration_fraction=suite.stack.calibration_fraction,
        )
        stack.fit(
            {base: _oof_matrix(table, base, keys["match_id"]) for base in suite.stack.base_names},
            keys["outcome"].to_numpy(dtype=np.int64),
        )
    output = suite.stack.name if suite.stack is not None else suite.models[0].name if suite.models else members[0].name
    moment = suite.stack.moment if suite.stack is not None else members[0].moment
    return ModelBundle(members, stack, output, moment, FixtureRecipe.from_history(dataset))


def train_suite(
    dataset: pd.DataFrame,
    suite: ModelSuite,
    config: WalkForwardConfig,
    progress: Callable[[int, int], None] | None = None,
) -> TrainedBundle:
    """Walk the suite through `config.seasons` (the evaluation every figure comes from), then fit the bundle on
    everything. The bundle's members are fresh refits: the walk's own models stop one block short of the end."""
    began = time.perf_counter()
    evaluation = walk_forward(
        dataset, suite.models, config, baselines=suite.baselines, stack=suite.stack, progress=progress
    )
    bundle = fit_bundle(dataset, suite, evaluation)
    seconds = time.perf_counter() - began
    log.info("bundle trained", extra={"output": bundle.output, "matches": len(dataset), "seconds": round(seconds, 1)})
    return TrainedBundle(bundle, evaluation, len(dataset), seconds)


@dataclass
class TrainingOutput:
    """A training run written to its folder: `bundle/` (the ModelBundle) and `report/` (the walk-forward report)."""

    trained: TrainedBundle
    dataset: pd.DataFrame
    elo_fitted_on: list[int]
    folder: Path
    report: ReportFiles


def run_training(
    settings: Settings,
    leagues: Sequence[str],
    suite: ModelSuite,
    config: WalkForwardConfig,
    folder: Path,
    progress: Callable[[int, int], None] | None = None,
) -> TrainingOutput:
    """Load the leagues' matches from the store (with the warm-up seasons a stack needs), train the suite, and
    write the bundle and the walk-forward report under `folder`. What `matchday train` and the pipeline's train
    step both do."""
    enable_compilation_cache(settings.state_dir / "jax-cache")
    first, last = config.seasons[0], config.seasons[-1]
    with closing(open_store(settings)) as store:
        dataset, spec = load_dataset(
            store.engine, list(leagues), first - (config.warmup_seasons if suite.stack else 0), last
        )
    trained = train_suite(dataset, suite, config, progress=progress)
    trained.bundle.save(folder / "bundle")
    label = f"{'+'.join(leagues)} {season_label(first)} to {season_label(last)}"
    model = trained.bundle.output
    report = write_report(
        trained.evaluation.predictions,
        folder / "report",
        f"Walk-forward: {model} ({trained.bundle.moment}), {label}",
        {"leagues": ", ".join(leagues), "seasons": f"{season_label(first)} to {season_label(last)}", "model": model},
    )
    return TrainingOutput(trained, dataset, spec.fitted_on, folder, report)
