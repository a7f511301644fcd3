"""The walk-forward `matchday bet backtest` runs when no predictions file is given: the suite of `--model` walked
weekly through the seasons from the store (boosters refitted every 28 days, two warm-up seasons for a stack), as
benchmarks/walk_forward.py does."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy import Engine

from matchday.cli._common import error_console, fail
from matchday.config import Settings
from matchday.evaluation.dataset import load_dataset
from matchday.evaluation.suites import MODEL_CHOICES, model_suite
from matchday.evaluation.walk_forward import WalkForwardConfig, walk_forward
from matchday.features.moments import Moment
from matchday.models.boosters import BoosterModel
from matchday.models.jax_cache import enable_compilation_cache

__all__ = ["walk_forward_predictions"]

_BOOSTER_REFIT_DAYS = 28


def walk_forward_predictions(
    engine: Engine, leagues: Sequence[str], first: int, last: int, model: str, settings: Settings
) -> pd.DataFrame:
    """The long predictions table (`matchday.evaluation.walk_forward.PREDICTION_COLUMNS`) at the opening moment."""
    choice = "stack" if model == "stack" else next((c for c in MODEL_CHOICES if model.startswith(c)), None)
    if choice is None:
        fail(f"--model {model}: expected one of {', '.join(MODEL_CHOICES)} (or a predictions file)")
    suite = model_suite(choice, Moment.OPEN)
    warmup = 2 if suite.stack else 0
    refits = {m.name: _BOOSTER_REFIT_DAYS for m in suite.models if isinstance(m, BoosterModel)}
    config = WalkForwardConfig(seasons=tuple(range(first, last + 1)), warmup_seasons=warmup, model_refit_days=refits)
    enable_compilation_cache(settings.state_dir / "jax-cache")
    try:
        dataset, _ = load_dataset(engine, leagues, first - warmup, last)
    except ValueError as exc:
        fail(f"{exc}; run `matchday data ingest` first", code=1)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TimeRemainingColumn(), console=error_console, transient=True) as progress:
        task = progress.add_task(f"walk-forward {choice} (open)", total=None)
        try:
            result = walk_forward(
                dataset,
                suite.models,
                config,
                baselines=suite.baselines,
                stack=suite.stack,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ValueError as exc:
            fail(str(exc), code=1)
    return result.predictions
