"""`matchday evaluate ...`: walk-forward evaluation of the models against the market, from the match store."""

from __future__ import annotations

import json
import time
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from matchday.cli._common import console, error_console, fail, frame_table, state
from matchday.cli.data import parse_season_range
from matchday.domain import season_label
from matchday.evaluation.dataset import load_dataset
from matchday.evaluation.report import metrics_table, paired_comparisons, write_report
from matchday.evaluation.suites import MODEL_CHOICES, model_suite
from matchday.evaluation.walk_forward import WalkForwardConfig, WalkForwardResult, walk_forward
from matchday.features.moments import Moment
from matchday.ingest.competitions import KNOWN_DIVISIONS
from matchday.ingest.store import open_store
from matchday.models.boosters import BoosterModel
from matchday.models.jax_cache import enable_compilation_cache

__all__ = ["app"]

app = typer.Typer(help="Judge the models walk-forward against the bookmakers.", no_args_is_help=True)

REFERENCE = "pinnacle_open"


def _print_tables(result: WalkForwardResult) -> None:
    overall = metrics_table(result.predictions, by=("competition",))
    console.print(frame_table("Walk-forward, every model on the same matches", overall))
    comparisons = paired_comparisons(result.predictions, reference=REFERENCE)
    title = f"RPS difference to {REFERENCE} (negative: better than the market), 95% interval"
    console.print(frame_table(title, comparisons))


@app.command("walk-forward")
def walk_forward_command(
    ctx: typer.Context,
    seasons: Annotated[str, typer.Option(help="Seasons to score, by start year: 2019-2022 is 2019-20 .. 2022-23.")],
    league: Annotated[list[str] | None, typer.Option("--league", help="League code(s); default E0.")] = None,
    model: Annotated[str, typer.Option(help=f"One of {', '.join(MODEL_CHOICES)}.")] = "stack",
    moment: Annotated[Moment, typer.Option(help="open: opening prices only; close: closing prices too.")] = Moment.OPEN,
    refit_days: Annotated[int, typer.Option(min=1, help="Refit every N days (a matchweek by default).")] = 7,
    booster_refit_days: Annotated[
        int | None, typer.Option(min=1, help="Refit the boosters every N days instead (they are the slow fit).")
    ] = None,
    window: Annotated[str, typer.Option(help="expanding or sliding training window.")] = "expanding",
    window_days: Annotated[int, typer.Option(min=1, help="Length of a sliding window in days.")] = 5 * 365,
    warmup_seasons: Annotated[
        int, typer.Option(min=1, help="Seasons walked before the first scored one, to train the stack on.")
    ] = 2,
    out: Annotated[Path | None, typer.Option(help="Report folder; default <state_dir>/reports/<run>.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON (stdout) instead.")] = False,
) -> None:
    """Refit every matchweek, predict the next, score every model beside Pinnacle's opening and closing prices on
    exactly the same matches; write a markdown report, a reliability plot and the per-match predictions."""
    leagues = league or ["E0"]
    unknown = [code for code in leagues if code not in KNOWN_DIVISIONS]
    if unknown:
        fail(f"--league {', '.join(unknown)}: unknown league code(s); known: {', '.join(KNOWN_DIVISIONS)}")
    if model not in MODEL_CHOICES:
        fail(f"--model {model}: expected one of {', '.join(MODEL_CHOICES)}")
    if window not in ("expanding", "sliding"):
        fail(f"--window {window}: expected expanding or sliding")
    first, last = parse_season_range(seasons)
    suite = model_suite(model, moment)
    refits = {m.name: booster_refit_days for m in suite.models if booster_refit_days and isinstance(m, BoosterModel)}
    config = WalkForwardConfig(
        seasons=tuple(range(first, last + 1)),
        window="sliding" if window == "sliding" else "expanding",
        window_days=window_days,
        refit_days=refit_days,
        warmup_seasons=warmup_seasons,
        model_refit_days=refits,
    )
    settings = state(ctx).settings
    enable_compilation_cache(settings.state_dir / "jax-cache")
    predicted_from = first - (warmup_seasons if suite.stack else 0)
    with closing(open_store(settings)) as store:
        try:
            dataset, spec = load_dataset(store.engine, leagues, predicted_from, last)
        except ValueError as exc:
            fail(f"{exc}; run `matchday data ingest` first", code=1)
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, TimeRemainingColumn(), console=error_console, transient=True) as progress:
        task = progress.add_task(f"walk-forward {model} ({moment})", total=None)
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
    seconds = time.perf_counter() - started
    label = f"{'+'.join(leagues)} {season_label(first)} to {season_label(last)}"
    report_config: dict[str, object] = {
        "leagues": ", ".join(leagues),
        "seasons": f"{season_label(first)} to {season_label(last)}",
        "model": model,
        "moment": str(moment),
        "window": window if window == "expanding" else f"sliding, {window_days} days",
        "refit every (days)": refit_days,
        **({"boosters refit every (days)": booster_refit_days} if refits else {}),
        **({"stack warm-up seasons": warmup_seasons} if suite.stack else {}),
        "Elo parameters fitted on": ", ".join(season_label(s) for s in spec.fitted_on) or "defaults",
        "blocks (refits)": result.blocks,
        "stack calibration chosen (blocks)": ", ".join(f"{k}: {v}" for k, v in sorted(result.calibrations.items())),
        "seconds": round(seconds, 1),
    }
    folder = out or settings.state_dir / "reports" / f"walk-forward-{'-'.join(leagues)}-{first}-{last}-{model}-{moment}"
    files = write_report(result.predictions, folder, f"Walk-forward: {model} ({moment}), {label}", report_config)
    if as_json:
        # metrics.json is `summary` of the same predictions: no second bootstrap.
        typer.echo(json.dumps(json.loads(files.metrics.read_text(encoding="utf-8")), indent=2))
        return
    _print_tables(result)
    fit_note = ", ".join(f"{name} {result.fit_seconds[name]:.1f} s" for name in result.fits if result.fits[name])
    console.print(f"{result.blocks} blocks in {seconds:.1f} s (fitting: {escape(fit_note)})")
    console.print(f"report: {escape(str(files.markdown))}, plot: {escape(str(files.reliability))}")
