"""`matchday pipeline ...`: run the Kubeflow training pipeline locally, compile it, or submit it to a cluster.

The pipelines live in the repository's `pipelines/` and `components/` folders (they are deployment code, not part
of the installed package), so these commands run from a checkout.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
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
from matchday.sample_data import sample_data_dir
from matchday.training import steps

__all__ = ["app"]

app = typer.Typer(help="Kubeflow pipelines: run locally, compile, submit.", no_args_is_help=True)

_ROOT = Path(__file__).resolve().parents[3]


def _pipelines() -> ModuleType:
    """The repository's `pipelines` package (with `components` beside it), importable from a checkout only."""
    for root in (_ROOT, Path.cwd()):
        if (root / "pipelines" / "__init__.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return importlib.import_module("pipelines")
    fail("pipelines/ not found: run `matchday pipeline` from a matchday checkout")


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
            pipelines.run_local(settings, arguments, state_dir / "kfp")
        except RuntimeError as exc:
            fail(f"the pipeline failed: {exc}", code=1)
    _report(settings, state_dir, started, time.time() - started)


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
    import kfp  # type: ignore[import-untyped]  # noqa: PLC0415  (only submitting needs the client)

    if pipeline not in ("training", "monitoring"):
        fail(f"--pipeline {pipeline}: expected training or monitoring")
    pipelines = _pipelines()
    out = state(ctx).settings.state_dir / "kfp" / "submitted"
    package = out / f"{pipeline}.yaml"
    pipelines.compile_all(state(ctx).settings, out)
    client = kfp.Client(host=host)
    run = client.create_run_from_pipeline_package(str(package), arguments={}, experiment_name=experiment)
    console.print(f"submitted {pipeline}: run {escape(str(run.run_id))} at {escape(host)}")
