"""`matchday train`: walk the models forward (the figures), fit the bundle on everything, save it, register it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from matchday.cli._common import console, error_console, fail, frame_table, state
from matchday.cli.data import parse_season_range
from matchday.config import Settings
from matchday.domain import season_label
from matchday.evaluation.report import metrics_table
from matchday.evaluation.suites import MODEL_CHOICES, model_suite
from matchday.evaluation.walk_forward import WalkForwardConfig
from matchday.features.moments import Moment
from matchday.ingest.competitions import KNOWN_DIVISIONS
from matchday.models.boosters import BoosterModel
from matchday.training.fit import TrainedBundle, run_training

__all__ = ["train"]


def _register(
    settings: Settings,
    trained: TrainedBundle,
    dataset: pd.DataFrame,
    folder: Path,
    report_dir: Path,
    params: dict[str, object],
) -> None:
    # MLflow takes seconds to import: only a registering run pays for it.
    from matchday.training.register import register_and_gate  # noqa: PLC0415

    outcome = register_and_gate(settings, trained, dataset, folder / "bundle", report_dir, params)
    decision = outcome.decision
    verdict = "[green]promoted to champion[/]" if outcome.promoted else "[yellow]not promoted[/]"
    if outcome.deploy_request is not None:
        verdict = "[green]passed the gate: the serving canary rolls it out[/]"
    console.print(
        f"MLflow run {escape(outcome.run.run_id)}: {escape(settings.model_name)} version "
        f"{escape(outcome.run.model_version)} is the challenger; gate against the {escape(decision.reference)}: "
        f"{verdict} ({escape(decision.reason)})"
    )
    if outcome.deploy_request is not None:
        console.print(f"canary deploy requested: {escape(str(outcome.deploy_request))}")


def train(
    ctx: typer.Context,
    seasons: Annotated[str, typer.Option(help="Seasons the walk-forward scores, e.g. 2019-2022.")],
    league: Annotated[list[str] | None, typer.Option("--league", help="League code(s); default E0.")] = None,
    model: Annotated[str, typer.Option(help=f"One of {', '.join(MODEL_CHOICES)}.")] = "stack",
    moment: Annotated[Moment, typer.Option(help="open or close.")] = Moment.OPEN,
    refit_days: Annotated[int, typer.Option(min=1, help="Walk-forward refit cadence in days.")] = 7,
    booster_refit_days: Annotated[int, typer.Option(min=1, help="The boosters' refit cadence in days.")] = 28,
    warmup_seasons: Annotated[int, typer.Option(min=1, help="Seasons walked first to train the stack on.")] = 2,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the bundle and report; default <state_dir>/models/<run>.")
    ] = None,
    register: Annotated[
        bool, typer.Option(help="Log the run to MLflow, register the bundle as challenger and run the promotion gate.")
    ] = True,
) -> None:
    """Evaluate the model walk-forward over --seasons (report beside Pinnacle's prices), then fit it on every match
    up to the last season and save the bundle (forecasters, stack, manifest) that serving loads. With --register
    (the default) the bundle becomes the MLflow registry's `challenger`, and `champion` if it passes the gate."""
    leagues = league or ["E0"]
    unknown = [code for code in leagues if code not in KNOWN_DIVISIONS]
    if unknown:
        fail(f"--league {', '.join(unknown)}: unknown league code(s); known: {', '.join(KNOWN_DIVISIONS)}")
    if model not in MODEL_CHOICES or model == "market":
        fail(f"--model {model}: expected one of {', '.join(c for c in MODEL_CHOICES if c != 'market')}")
    first, last = parse_season_range(seasons)
    suite = model_suite(model, moment)
    config = WalkForwardConfig(
        seasons=tuple(range(first, last + 1)),
        refit_days=refit_days,
        warmup_seasons=warmup_seasons,
        model_refit_days={m.name: booster_refit_days for m in suite.models if isinstance(m, BoosterModel)},
    )
    params: dict[str, object] = {
        "leagues": leagues,
        "seasons": f"{first}-{last}",
        "model": model,
        "moment": str(moment),
        "refit_days": refit_days,
        "booster_refit_days": booster_refit_days,
        "warmup_seasons": warmup_seasons,
    }
    settings = state(ctx).settings
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = out or settings.state_dir / "models" / f"{'-'.join(leagues)}-{model}-{moment}-{stamp}"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TimeRemainingColumn(), console=error_console, transient=True) as progress:
        task = progress.add_task(f"walk-forward {model} ({moment})", total=None)
        try:
            output = run_training(
                settings,
                leagues,
                suite,
                config,
                folder,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ValueError as exc:
            fail(f"{exc}; run `matchday data ingest` first if the store is empty", code=1)
    trained, dataset, report = output.trained, output.dataset, output.report
    label = f"{'+'.join(leagues)} {season_label(first)} to {season_label(last)}"
    overall = metrics_table(trained.evaluation.predictions, by=("competition",))
    console.print(frame_table(f"Walk-forward {label}, every model on the same matches", overall))
    if register:
        _register(settings, trained, dataset, folder, report.markdown.parent, params)
    console.print(
        f"bundle ({escape(trained.bundle.output)}, fitted on {trained.trained_on:,} matches, Elo fitted on "
        f"{', '.join(season_label(s) for s in output.elo_fitted_on) or 'defaults'}): {escape(str(folder / 'bundle'))}; "
        f"report: {escape(str(report.markdown))}; {trained.seconds:.0f} s"
    )
