"""`matchday features ...`: build the point-in-time feature table from the match store, publish it to Feast."""

from __future__ import annotations

import time
from contextlib import closing
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from matchday.cli._common import console, fail, state
from matchday.cli.data import parse_season_range
from matchday.features.frames import frames_from_fixtures
from matchday.features.moments import Moment, features_for
from matchday.features.table import (
    FeatureParams,
    build_feature_table,
    build_fixture_features,
    feature_columns,
    fit_params_before,
)
from matchday.ingest.competitions import KNOWN_DIVISIONS
from matchday.ingest.football_data import parse_fixtures_file
from matchday.ingest.source_file import SourceFileError
from matchday.ingest.store import open_store
from matchday.ingest.store.frames import load_match_frame, load_quote_frame
from matchday.integrations.feast_sources import source_dir

if TYPE_CHECKING:
    from matchday.integrations.feast_store import MaterializedView

__all__ = ["app"]

app = typer.Typer(help="Point-in-time features: ratings, form, schedule and market signals.", no_args_is_help=True)


def _fixture_rows(path: Path, matches: pd.DataFrame, quotes: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    try:
        parsed = parse_fixtures_file(path)
    except SourceFileError as exc:
        fail(str(exc))
    leagues = set(matches["competition"])
    frame, fixture_quotes = frames_from_fixtures([f for _, f in parsed.fixtures if f.competition in leagues])
    # A fixture in May belongs to the season under way, not to the one its month would suggest.
    latest = matches.groupby("competition")["season"].max()
    frame["season"] = [max(s, int(latest[c])) for s, c in zip(frame["season"], frame["competition"], strict=True)]
    try:
        return build_fixture_features(matches, pd.concat([quotes, fixture_quotes], ignore_index=True), frame, params)
    except ValueError as exc:
        fail(f"--fixtures {escape(str(path))}: {escape(str(exc))}")


def _elo_note(params: FeatureParams, fitted_on: list[int]) -> str:
    elo = params.elo
    values = f"k {elo.k:.1f}, home {elo.home_advantage:.0f}, regression {elo.season_regression:.2f}"
    if not fitted_on:
        return f"defaults ({values}); pass --seasons to fit them on the seasons before"
    return f"fitted on {fitted_on[0]}-{fitted_on[-1]} by log loss ({values})"


@app.command()
def build(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    league: Annotated[list[str] | None, typer.Option("--league", help="League code(s); default: every league.")] = None,
    seasons: Annotated[str | None, typer.Option(help="Season start years to keep, e.g. 2019-2022.")] = None,
    fixtures: Annotated[
        Path | None, typer.Option(help="A football-data fixtures file: add rows for those upcoming matches.")
    ] = None,
) -> None:
    """One row per match with both sides' features as known before kickoff (columns match_id, kickoff,
    home_team, away_team, competition, season, then the features). With --fixtures, upcoming matches get rows
    too (negative match_id), so the online store serves each team's state before its next match."""
    unknown = [code for code in league or [] if code not in KNOWN_DIVISIONS]
    if unknown:
        fail(f"--league {escape(', '.join(unknown))}: unknown league code(s); known: {', '.join(KNOWN_DIVISIONS)}")
    kept = None
    if seasons is not None:
        first, last = parse_season_range(seasons)
        kept = list(range(first, last + 1))
    started = time.perf_counter()
    with closing(open_store(state(ctx).settings)) as store:
        # Every season of the leagues is loaded: ratings and form need the history before the seasons kept.
        matches = load_match_frame(store.engine, competitions=league or list(KNOWN_DIVISIONS))
        if matches.empty:
            fail("no matches in the store for those leagues; run `matchday data ingest` first", code=1)
        quotes = load_quote_frame(store.engine, matches["match_id"].tolist())
    loaded = time.perf_counter() - started
    params, fitted_on = fit_params_before(matches, kept[0]) if kept else (FeatureParams(), [])
    table = build_feature_table(matches, quotes, params=params, seasons=kept)
    if fixtures is not None:
        table = pd.concat([table, _fixture_rows(fixtures, matches, quotes, params)], ignore_index=True)
    built = time.perf_counter() - started - loaded
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    columns = feature_columns(table)
    summary = Table(title=f"Feature table -> {escape(str(out))}")
    summary.add_column("")
    summary.add_column("value", justify="right")
    for name, value in (
        ("matches", f"{len(table):,}"),
        ("features", f"{len(columns)}"),
        ("features for an `open` model", f"{len(features_for(columns, Moment.OPEN))}"),
        ("Elo parameters", _elo_note(params, fitted_on)),
        ("seconds loading / building", f"{loaded:.1f} / {built:.1f}"),
    ):
        summary.add_row(name, value)
    console.print(summary)


def _summary_table(title: str, rows: list[tuple[str, str]]) -> Table:
    summary = Table(title=title)
    summary.add_column("")
    summary.add_column("value", justify="right")
    for name, value in rows:
        summary.add_row(name, value)
    return summary


@app.command()
def apply(
    ctx: typer.Context,
    table: Annotated[
        Path | None,
        typer.Option(
            "--table", help="Feature table from `features build`; default <state_dir>/features/table.parquet."
        ),
    ] = None,
) -> None:
    """Publish a feature table to Feast: write its team and match sources under <state_dir>/features, then
    register the entities, feature views and the open_model / close_model feature services."""
    # Feast takes seconds to import: only the commands that use it pay for it.
    from matchday.integrations import feast_store  # noqa: PLC0415

    settings = state(ctx).settings
    path = table or settings.state_dir / "features" / "table.parquet"
    if not path.is_file():
        fail(f"{path}: no feature table; write one with `matchday features build --out {path}`", code=1)
    started = time.perf_counter()
    try:
        files = feast_store.write_sources(pd.read_parquet(path), source_dir(settings))
        summary = feast_store.apply(settings)
    except ValueError as exc:
        fail(f"{path}: {exc}", code=1)
    rows = [
        ("project / profile", f"{escape(summary.project)} / {settings.profile}"),
        ("team rows / features", f"{files.team_rows:,} / {summary.team_features}"),
        ("match rows / features", f"{files.match_rows:,} / {summary.match_features}"),
        *((f"service {escape(name)}", f"{count} features") for name, count in summary.services.items()),
        ("seconds", f"{time.perf_counter() - started:.1f}"),
    ]
    console.print(_summary_table(f"Feast sources -> {escape(str(files.team.parent))}", rows))


def _day(value: datetime | None, end_of_day: bool) -> datetime | None:
    if value is None:
        return None
    return datetime.combine(value.date(), day_time.max if end_of_day else day_time.min, tzinfo=UTC)


@app.command()
def materialize(
    ctx: typer.Context,
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (UTC); default: the first row.")
    ] = None,
    end: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day, included; default: the last row.")
    ] = None,
) -> None:
    """Load each team's and match's latest features into the online store (SQLite locally, Redis in prod)."""
    from matchday.integrations import feast_store  # noqa: PLC0415  (slow import, see `apply`)

    settings = state(ctx).settings
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("materializing", total=None)

        def advance(view: MaterializedView, total: int) -> None:
            progress.update(task, advance=1, total=total, description=f"materialized {view.name}")

        try:
            summary = feast_store.materialize(settings, _day(start, False), _day(end, True), on_view=advance)
        except (ValueError, FileNotFoundError) as exc:
            fail(str(exc), code=1)
    result = Table(title=f"Materialized {summary.start:%Y-%m-%d %H:%M} .. {summary.end:%Y-%m-%d %H:%M} UTC")
    for name in ("feature view", "rows", "keys", "seconds"):
        result.add_column(name, justify="left" if name == "feature view" else "right")
    for view in summary.views:
        result.add_row(escape(view.name), f"{view.rows:,}", f"{view.entities:,}", f"{view.seconds:.2f}")
    result.add_row("total", f"{summary.rows:,}", "", f"{summary.seconds:.2f}")
    console.print(result)
