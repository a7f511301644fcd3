"""`matchday pipeline ...`: run the Kubeflow training pipeline locally, compile it, or submit it to a cluster.

The pipelines live in the repository's `pipelines/` and `components/` folders (they are deployment code, not part
of the installed package), so these commands run from a checkout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from matchday.cli._common import console, fail, state
from matchday.cli.data import parse_season_range
from matchday.config import Settings
from matchday.evaluation.suites import MODEL_CHOICES
from matchday.ingest.store.database import make_engine, migrate
from matchday.integrations.kfp_client import PipelinesNotFound, pipelines_module, submit_package
from matchday.monitoring.records import finish_pipeline_run, start_pipeline_run
from matchday.sample_data import sample_data_dir
from matchday.training import steps

__all__ = ["app"]

app = typer.Typer(help="Kubeflow pipelines: run locally, compile, submit.", no_args_is_help=True)


def _pipelines() -> ModuleType:
    try:
        return pipelines_module()
    except PipelinesNotFound as exc:
        fail(f"{exc}: run `matchday pipeline` from a matchday checkout")


@contextmanager
def _recorded(settings: Settings, pipeline: str, arguments: dict[str, object]) -> Iterator[None]:
    """The run in `pipeline_runs` (running, then succeeded or failed), where the exporter and alerts see it."""
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        run_id = start_pipeline_run(engine, pipeline, json.dumps(arguments, default=str))
        try:
            yield
        except BaseException as exc:
            finish_pipeline_run(engine, run_id, succeeded=False, detail=f"{type(exc).__name__}: {exc}")
            raise
        finish_pipeline_run(engine, run_id, succeeded=True)
    finally:
        engine.dispose()


def _latest_run(state_dir: Path, since: float) -> Path | None:
    runs = [
        path.parent for path in (state_dir / "models").glob(f"*/{steps.TRAIN_FILE}") if path.stat().st_mtime >= since
    ]
    return max(runs, key=lambda path: path.stat().st_mtime, default=None)


def _report(settings: Settings, state_dir: Path, since: float, seconds: float) -> None:
    folder = _latest_run(state_dir, since)
    if folder is None:
        fail("the pipeline finished but wrote no training run", code=1)
    train_json = (folder / steps.TRAIN_FILE).read_text(encoding="utf-8")
    trained = json.loads(train_json)
    evaluation = json.loads(steps.evaluate(train_json))
    table = Table(title=f"Walk-forward {escape(trained['params']['seasons'])} ({evaluation['common_matches']} matches)")
    for name in ("model", "RPS", "log loss"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for model, metrics in evaluation["models"].items():
        table.add_row(escape(model), f"{metrics['rps']:.4f}", f"{metrics['log_loss']:.4f}")
    console.print(table)
    console.print(
        f"bundle {escape(trained['output'])} fitted on {trained['trained_on']:,} matches: {trained['bundle_dir']}"
    )
    register_path = folder / steps.REGISTER_FILE
    if register_path.is_file():
        registered: dict[str, Any] = json.loads(register_path.read_text(encoding="utf-8"))
        verdict = "[green]promoted to champion[/]" if registered["promoted"] else "[yellow]not promoted[/]"
        if registered["deploy_request"]:
            verdict = "[green]passed the gate: the serving canary rolls it out[/]"
        console.print(
            f"MLflow run {escape(registered['run_id'])}: {escape(registered['model_name'])} version "
            f"{escape(registered['version'])}, {verdict} ({escape(registered['reason'])})"
        )
        if registered["deploy_request"]:
            console.print(f"canary deploy requested: {escape(registered['deploy_request'])}")
    console.print(f"pipeline finished in {seconds:.0f} s; report: {escape(trained['report_dir'])}/report.md; next:")
    console.print(
        f"  mlflow ui --backend-store-uri {escape(settings.resolved_mlflow_tracking_uri)}   # runs, metrics, registry"
    )
    console.print("  matchday evaluate walk-forward --league E0 --seasons 2019-2022 --model stack   # other models")
    console.print("  matchday pipeline compile   # then: matchday pipeline submit --host URL")
    console.print("  matchday auth key create me && make serve   # serve the champion over HTTP and gRPC")
    console.print("  make monitor   # drift checks of what it serves, the metrics exporter on :9108")


@app.command()
def run(
    ctx: typer.Context,
    league: Annotated[list[str] | None, typer.Option("--league", help="League code(s); default E0.")] = None,
    seasons: Annotated[
        str | None, typer.Option(help="Seasons the walk-forward scores, e.g. 2019-2022; default 2022.")
    ] = None,
    model: Annotated[str, typer.Option(help=f"One of {', '.join(MODEL_CHOICES)}.")] = "dixon_coles",
    moment: Annotated[str, typer.Option(help="open or close.")] = "open",
    num_samples: Annotated[int, typer.Option(min=0, help="Tuning trials per model; 0 skips tuning.")] = 0,
    refit_days: Annotated[int, typer.Option(min=1, help="Walk-forward refit cadence in days.")] = 28,
    warmup_seasons: Annotated[int, typer.Option(min=1, help="Seasons walked first to train the stack on.")] = 2,
) -> None:
    """Run the whole training pipeline here with kfp's local runner: ingest (MATCHDAY_DATA_DIR, else the sample
    seasons shipped with matchday), features, Feast, tuning, walk-forward training, MLflow registration and the
    gate. Defaults (E0, Dixon-Coles, the last sample season) finish in a minute or two."""
    settings = state(ctx).settings
    data_dir = settings.data_dir
    if data_dir is None:
        console.print("[yellow]MATCHDAY_DATA_DIR is not set: using the sample seasons shipped with matchday.[/]")
    # The sample holds 2020-21 to 2022-23: two seasons of history, then 2022-23 to score.
    first, last = parse_season_range(seasons) if seasons else (2022, 2022)
    pipelines = _pipelines()
    state_dir = settings.state_dir.resolve()
    arguments: dict[str, object] = {
        "state_dir": str(state_dir),
        "data_dir": str((data_dir or sample_data_dir()).resolve()),
        "leagues": ",".join(league or ["E0"]),
        "first_season": first,
        "last_season": last,
        "model": model,
        "moment": moment,
        "num_samples": num_samples,
        "refit_days": refit_days,
        "warmup_seasons": warmup_seasons,
    }
    console.print(f"running the training pipeline locally: {escape(json.dumps(arguments))}")
    started = time.time()
    with console.status("pipeline running (each step's log follows)"):
        try:
            with _recorded(settings, "training", arguments):
                pipelines.run_local(settings, arguments, state_dir / "kfp")
        except RuntimeError as exc:
            fail(f"the pipeline failed: {exc}", code=1)
    _report(settings, state_dir, started, time.time() - started)


@app.command()
def monitor(
    ctx: typer.Context,
    window: Annotated[str, typer.Option(help="Drift window, e.g. 7d; default monitoring/drift.yaml's.")] = "",
    end: Annotated[str, typer.Option(help="End of the window (UTC, ISO); default now.")] = "",
    league: Annotated[list[str] | None, typer.Option("--league", help="Retraining league(s); default E0.")] = None,
    seasons: Annotated[str, typer.Option(help="Seasons the retraining scores, e.g. 2019-2022.")] = "2022",
    model: Annotated[str, typer.Option(help=f"Retrained model: one of {', '.join(MODEL_CHOICES)}.")] = "stack",
) -> None:
    """Run the monitoring pipeline here with kfp's local runner: the drift check of the served version and, when
    it drifted and the cooldown allows, the training pipeline in its retrain branch."""
    settings = state(ctx).settings
    first, last = parse_season_range(seasons)
    state_dir = settings.state_dir.resolve()
    arguments: dict[str, object] = {
        "state_dir": str(state_dir),
        "data_dir": str((settings.data_dir or sample_data_dir()).resolve()),
        "window": window,
        "end": end,
        "leagues": ",".join(league or ["E0"]),
        "first_season": first,
        "last_season": last,
        "model": model,
    }
    console.print(f"running the monitoring pipeline locally: {escape(json.dumps(arguments))}")
    with console.status("pipeline running (each step's log follows)"):
        try:
            with _recorded(settings, "monitoring", arguments):
                _pipelines().run_local(settings, arguments, state_dir / "kfp", pipeline="monitoring")
        except RuntimeError as exc:
            fail(f"the monitoring pipeline failed: {exc}", code=1)
    console.print(f"monitoring pipeline finished; drift reports in {escape(str(state_dir / 'monitoring' / 'reports'))}")


@app.command(name="compile")
def compile_(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Folder for the YAML files; default pipelines/compiled.")] = None,
) -> None:
    """Compile the training and monitoring pipelines to YAML (GPU requests and node pool from the settings)."""
    pipelines = _pipelines()
    written = pipelines.compile_all(state(ctx).settings, out or pipelines.COMPILED_DIR)
    for path in written:
        console.print(f"compiled {escape(str(path))}")


@app.command()
def submit(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="The Kubeflow Pipelines API, e.g. http://localhost:8080.")],
    pipeline: Annotated[str, typer.Option(help="training or monitoring.")] = "training",
    experiment: Annotated[str, typer.Option(help="Kubeflow experiment name.")] = "matchday",
) -> None:
    """Compile the pipeline for the current settings and start a run of it on a Kubeflow Pipelines cluster."""
    if pipeline not in ("training", "monitoring"):
        fail(f"--pipeline {pipeline}: expected training or monitoring")
    pipelines = _pipelines()
    out = state(ctx).settings.state_dir / "kfp" / "submitted"
    package = out / f"{pipeline}.yaml"
    pipelines.compile_all(state(ctx).settings, out)
    run_id = submit_package(host, package, {}, experiment)
    console.print(f"submitted {pipeline}: run {escape(run_id)} at {escape(host)}")
