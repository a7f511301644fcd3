"""`matchday monitor ...`: drift checks of the served model, replays into the served log, the metrics exporter."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from matchday.cli._common import console, fail, state
from matchday.cli.data import parse_season_range
from matchday.config import Settings
from matchday.ingest.store.database import make_engine, migrate
from matchday.monitoring.check import CheckOutcome, NoServedVersion, run_check, window_end
from matchday.monitoring.drift_config import DriftConfig, DriftConfigError, load_drift_config, parse_duration
from matchday.monitoring.retrain import launcher_for

__all__ = ["app"]

app = typer.Typer(help="Drift of the served model, the served log, the metrics exporter.", no_args_is_help=True)


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()


def _config(settings: Settings) -> DriftConfig:
    try:
        return load_drift_config(settings.drift_config)
    except DriftConfigError as exc:
        fail(str(exc))


def _duration(value: str | None, option: str) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return window_end(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: expected an ISO date or time, e.g. 2023-05-28", param_hint="--end"
        ) from None


def _print(outcome: CheckOutcome) -> None:
    result = outcome.drift.result
    colour = {"drift": "red", "ok": "green", "insufficient": "yellow"}[result.verdict]
    start, end = (f"{moment:%Y-%m-%d %H:%M}" for moment in outcome.window)
    console.print(
        f"{escape(outcome.model_name)} v{escape(outcome.model_version)}, {start} to {end} UTC: "
        f"[{colour}]{result.verdict}[/] on {result.current_rows} served fixtures against {result.reference_rows}"
    )
    for reason in result.reasons:
        console.print(f"  - {escape(reason)}")
    table = Table(title="Drifted columns" if any(c.drifted for c in result.columns) else "Columns tested")
    for name in ("column", "kind", "test", "score", "drifted"):
        table.add_column(name, justify="left" if name in ("column", "kind", "test") else "right")
    shown = [c for c in result.columns if c.drifted] or [c for c in result.columns if c.kind != "feature"]
    for column in shown:
        drifted = "[red]yes[/]" if column.drifted else "no"
        table.add_row(escape(column.column), column.kind, column.method, f"{column.score:.3g}", drifted)
    if result.columns:
        console.print(table)
        features = result.of_kind("feature")
        console.print(
            f"{sum(c.drifted for c in features)} of {len(features)} features drifted ({result.feature_share:.0%})"
        )
    if result.unavailable:
        console.print(f"[yellow]not tested (no values on one side):[/] {escape(', '.join(result.unavailable))}")
    quality = outcome.quality
    if quality is not None and quality.settled:
        scores = ", ".join(f"{name} {value:.4f}" for name, value in quality.rps.items())
        console.print(f"served quality on {quality.settled} settled fixtures, RPS: {escape(scores)}")
    if outcome.trigger is not None:
        console.print(f"retraining: {outcome.trigger.status} ({escape(outcome.trigger.detail)})")
    console.print(f"report: {escape(str(outcome.report_path))}")


@app.command()
def drift(
    ctx: typer.Context,
    window: Annotated[str | None, typer.Option(help="Window checked, e.g. 7d or 12h; default drift.yaml's.")] = None,
    end: Annotated[str | None, typer.Option(help="End of the window (UTC, ISO); default now.")] = None,
    version: Annotated[str | None, typer.Option(help="Registered version; default the served alias's.")] = None,
    retrain: Annotated[bool, typer.Option(help="Start the training pipeline on drift (cooldown applies).")] = True,
    mlflow: Annotated[bool, typer.Option(help="Log the check and its report to MLflow.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the check as JSON.")] = False,
) -> None:
    """Check the served model's features and predictions for drift against its training reference (Evidently),
    score its settled predictions against the market, and retrain on drift."""
    settings = state(ctx).settings
    config = _config(settings)
    span = _duration(window, "--window")
    with _engine(settings) as engine:
        try:
            outcome = run_check(
                settings, engine, config, end=_moment(end), window=span, version=version,
                launcher=launcher_for(settings) if retrain else None, log_to_mlflow=mlflow,
            )  # fmt: skip
        except NoServedVersion as exc:
            fail(f"{exc}: train and register one first (make run)", code=1)
        except (LookupError, FileNotFoundError) as exc:  # an unknown version, or one logged without a reference
            fail(str(exc), code=1)
    if as_json:
        typer.echo(json.dumps(outcome.summary(), indent=2, default=str))
    else:
        _print(outcome)


@app.command()
def replay(
    ctx: typer.Context,
    league: Annotated[list[str], typer.Option("--league", help="League code(s) whose played matches are replayed.")],
    seasons: Annotated[str, typer.Option(help="Seasons replayed, e.g. 2021-2022.")],
    version: Annotated[str | None, typer.Option(help="Registered version; default the served alias's.")] = None,
    odds_format: Annotated[str, typer.Option(help="decimal, or fractional: prices sent wrongly.")] = "decimal",
    lead_hours: Annotated[float, typer.Option(min=0.0, help="Hours before kickoff each request is logged.")] = 24.0,
) -> None:
    """Log played matches as if the version had served them before kickoff (pre-kickoff feature rows through
    the bundle into the served-predictions log): a history to judge drift thresholds on."""
    from matchday.monitoring.replay import replay_matches  # noqa: PLC0415  (pulls in the model stack)

    if odds_format not in ("decimal", "fractional"):
        raise typer.BadParameter(f"{odds_format!r}: expected decimal or fractional", param_hint="--odds-format")
    first, last = parse_season_range(seasons)
    settings = state(ctx).settings
    with _engine(settings) as engine:
        try:
            written, used = replay_matches(
                settings, engine, league, first, last, version=version, odds_format=odds_format,  # type: ignore[arg-type]
                lead=timedelta(hours=lead_hours),
            )  # fmt: skip
        except (LookupError, FileNotFoundError, ValueError) as exc:
            fail(str(exc), code=1)
    console.print(f"replayed {written:,} matches of {escape(', '.join(league))} {seasons} as v{escape(used)}")


def _schedule(settings: Settings, engine: Engine, config: DriftConfig, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            run_check(settings, engine, config, launcher=launcher_for(settings))
        except NoServedVersion as exc:
            console.print(f"[yellow]drift check skipped: {escape(str(exc))}[/]")
        except Exception as exc:  # the exporter keeps serving; the failure is logged and shown
            console.print(f"[red]drift check failed: {escape(repr(exc))}[/]")


@app.command("serve-metrics")
def serve_metrics(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Port; default MATCHDAY_METRICS_PORT.")] = None,
    host: Annotated[str | None, typer.Option(help="Interface; default MATCHDAY_SERVING_HOST.")] = None,
    drift_every: Annotated[str | None, typer.Option(help="Also run a drift check this often, e.g. 6h.")] = None,
) -> None:
    """Serve the monitoring exporter's Prometheus metrics (drift, served quality, versions, canary, pipelines)."""
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

    from matchday.monitoring.exporter import collector_for  # noqa: PLC0415

    settings = state(ctx).settings
    every = _duration(drift_every, "--drift-every")
    config = _config(settings)
    with _engine(settings) as engine:
        registry = CollectorRegistry()
        registry.register(collector_for(settings, engine))
        bind, where = host or settings.serving_host, port if port is not None else settings.metrics_port
        server, thread = start_http_server(where, addr=bind, registry=registry)
        console.print(f"metrics on http://{bind}:{server.server_port}/metrics (Ctrl-C stops)")
        stop = threading.Event()
        if every is not None:
            args: Any = (settings, engine, config, every.total_seconds(), stop)
            threading.Thread(target=_schedule, args=args, name="drift-schedule", daemon=True).start()
        try:
            while thread.is_alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            server.shutdown()
            server.server_close()
