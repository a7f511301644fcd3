"""`matchday data ...`: ingest match files, and see what the store holds and what it refused."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from matchday.cli._common import console, fail, state
from matchday.config import Settings
from matchday.ingest.download import DownloadError, FootballDataDownloader
from matchday.ingest.football_data import parse_fixtures_file
from matchday.ingest.service import FileReport, IngestReport, discover_sources, expand_paths, ingest_files
from matchday.ingest.source_file import SourceFileError
from matchday.ingest.store import open_store
from matchday.ingest.store.queries import quarantine_groups, store_status
from matchday.sample_data import sample_data_dir

__all__ = ["app", "parse_season_range"]

app = typer.Typer(help="Ingest match results and odds; inspect the store and its quarantine.", no_args_is_help=True)


def parse_season_range(value: str) -> tuple[int, int]:
    """'2019-2023' -> (2019, 2023); '2021' -> (2021, 2021). A season is named by the year it starts."""
    parts = value.split("-")
    try:
        years = [int(part) for part in parts]
    except ValueError:
        raise typer.BadParameter(f"{value!r}: expected YEAR or YEAR-YEAR, e.g. 2019-2023") from None
    if len(years) not in (1, 2) or years[0] > years[-1]:
        raise typer.BadParameter(f"{value!r}: expected YEAR or YEAR-YEAR with the first year not after the last")
    return years[0], years[-1]


def _default_sources(settings: Settings) -> list[Path]:
    if settings.data_dir is not None:
        if not settings.data_dir.is_dir():
            fail(f"MATCHDAY_DATA_DIR={str(settings.data_dir)!r} is not a folder")
        return discover_sources(settings.data_dir)
    console.print("[yellow]MATCHDAY_DATA_DIR is not set: ingesting the sample seasons shipped with matchday.[/]")
    return discover_sources(sample_data_dir())


def _download(settings: Settings, leagues: list[str], seasons: str) -> list[Path]:
    first, last = parse_season_range(seasons)
    with FootballDataDownloader(
        settings.football_data_base_url, settings.cache_dir / "football-data", retries=settings.download_retries
    ) as downloader:
        try:
            results = downloader.seasons(leagues, first, last)
        except DownloadError as exc:
            fail(str(exc), code=1)
    return [result.path for result in results]


_SUMMARY_COLUMNS = (
    ("rows", "rows_read"),
    ("new", "matches_added"),
    ("stored", "matches_existing"),
    ("quotes", "quotes_added"),
    ("bad rows", "rows_quarantined"),
    ("bad values", "values_quarantined"),
)
_CAPTION = "new: matches added; stored: already in the store; bad rows/values: see `matchday data quarantine`"


def _summary(report: IngestReport) -> Table:
    table = Table(title="Ingest summary", show_footer=True, caption=_CAPTION)
    table.add_column("file", footer="total", no_wrap=True)
    table.add_column("status")
    for name, attribute in _SUMMARY_COLUMNS:
        table.add_column(name, justify="right", footer=f"{report.total(attribute):,}")
    for file in report.files:
        status = {"loaded": "[green]loaded", "unchanged": "[dim]unchanged", "failed": "[red]failed"}[file.status]
        table.add_row(
            _short(file.path),
            status,
            *(f"{getattr(file, attribute):,}" for _, attribute in _SUMMARY_COLUMNS),
        )
    return table


def _short(path: Path) -> str:
    """The last two parts of a path, escaped for rich markup (file names may contain '[')."""
    return escape("/".join(path.parts[-2:]))


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders; default: MATCHDAY_DATA_DIR.")] = None,
    download: Annotated[bool, typer.Option("--download", help="Download season files first.")] = False,
    league: Annotated[list[str] | None, typer.Option("--league", help="League code(s) to download, e.g. E0.")] = None,
    seasons: Annotated[str, typer.Option(help="Season start years to download, e.g. 2019-2023.")] = "2019-2023",
    force: Annotated[bool, typer.Option("--force", help="Re-read files whose bytes were ingested before.")] = False,
    workers: Annotated[
        int | None, typer.Option(min=1, max=16, help="Parallel file writers; default 2 on PostgreSQL, 1 on SQLite.")
    ] = None,
) -> None:
    """Parse, validate and store match files. Bad rows go to the quarantine; the rest of each file loads."""
    settings = state(ctx).settings
    if download:
        sources = _download(settings, league or ["E0"], seasons)
    elif paths:
        sources = expand_paths(paths)
    else:
        sources = _default_sources(settings)
    if not sources:
        fail("no source files found")
    with closing(open_store(settings)) as store:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("ingesting", total=len(sources))

            def advance(file: FileReport) -> None:
                progress.update(task, advance=1, description=f"ingesting {_short(file.path)}")

            if workers is None:
                workers = 2 if store.engine.dialect.name == "postgresql" else 1
            report = ingest_files(store, sources, force=force, on_file=advance, workers=workers)
    console.print(_summary(report))
    for file in report.files:
        for team in file.new_teams:
            if team.look_alikes:
                console.print(f"[yellow]new team[/] {escape(team.describe())} [dim]({_short(file.path)})[/]")
    new_teams = sum(len(file.new_teams) for file in report.files)
    if new_teams:
        console.print(f"{new_teams} new team name(s) stored as their own teams; none merged by guess.")
    for file in report.failed:
        console.print(f"[red]failed[/] {escape(file.error or '')}")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Matches and quotes per league and season, and quarantine counts."""
    with closing(open_store(state(ctx).settings)) as store:
        summary = store_status(store.engine)
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
        return
    table = Table(title="Match store")
    for name in ("league", "season", "matches", "quotes", "first", "last"):
        table.add_column(name, justify="right" if name in ("matches", "quotes") else "left")
    for season in summary.seasons:
        table.add_row(
            escape(season.competition),
            escape(season.season),
            f"{season.matches:,}",
            f"{season.quotes:,}",
            season.first_match,
            season.last_match,
        )
    console.print(table)
    console.print(
        f"{sum(s.matches for s in summary.seasons):,} matches, {sum(s.quotes for s in summary.seasons):,} quotes, "
        f"{summary.teams:,} teams; {summary.ingest_runs} ingest runs ({summary.failed_runs} failed); "
        f"quarantine: {summary.quarantined_rows} rows, {summary.quarantined_values} values"
    )


@app.command()
def quarantine(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """What was refused and why, grouped by reason (a `value` was dropped from a match that still loaded)."""
    with closing(open_store(state(ctx).settings)) as store:
        groups = quarantine_groups(store.engine)
    if as_json:
        typer.echo(json.dumps([asdict(group) for group in groups], indent=2))
        return
    table = Table(title="Quarantine")
    for name in ("scope", "reason", "count", "example"):
        table.add_column(name, justify="right" if name == "count" else "left")
    for group in groups:
        table.add_row(group.scope, escape(group.reason), str(group.count), escape(group.example))
    console.print(table if groups else "The quarantine is empty.")


@app.command()
def fixtures(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="A fixtures CSV; default: download the current one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Upcoming fixtures with their best current 1X2 prices (football-data's fixtures file)."""
    settings = state(ctx).settings
    if path is None:
        with FootballDataDownloader(
            settings.football_data_base_url, settings.cache_dir / "football-data", retries=settings.download_retries
        ) as downloader:
            try:
                path = downloader.fixtures().path
            except DownloadError as exc:
                fail(str(exc), code=1)
    try:
        parsed = parse_fixtures_file(path)
    except SourceFileError as exc:
        fail(str(exc))
    rows = [
        {
            "league": f.competition,
            "date": str(f.match_date),
            "kickoff_utc": f.kickoff_at.isoformat() if f.kickoff_at else None,
            "home": f.home_team,
            "away": f.away_team,
            "quotes": len(f.quotes),
        }
        for _, f in parsed.fixtures
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Fixtures ({_short(path)})")
    for name in ("league", "date", "kickoff_utc", "home", "away", "quotes"):
        table.add_column(name)
    for row in rows:
        table.add_row(*(escape(str(value)) for value in row.values()))
    console.print(table)
