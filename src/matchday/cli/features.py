"""`matchday features ...`: build the point-in-time feature table from the match store."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from matchday.cli._common import console, fail, state
from matchday.cli.data import parse_season_range
from matchday.features.moments import Moment, features_for
from matchday.features.table import build_feature_table, feature_columns
from matchday.ingest.competitions import KNOWN_DIVISIONS
from matchday.ingest.store import open_store
from matchday.ingest.store.frames import load_match_frame, load_quote_frame

__all__ = ["app"]

app = typer.Typer(help="Point-in-time features: ratings, form, schedule and market signals.", no_args_is_help=True)


@app.command()
def build(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    league: Annotated[list[str] | None, typer.Option("--league", help="League code(s); default: every league.")] = None,
    seasons: Annotated[str | None, typer.Option(help="Season start years to keep, e.g. 2019-2022.")] = None,
) -> None:
    """One row per match with both sides' features as known before kickoff (columns match_id, kickoff,
    home_team, away_team, competition, season, then the features)."""
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
    table = build_feature_table(matches, quotes, seasons=kept)
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
        ("seconds loading / building", f"{loaded:.1f} / {built:.1f}"),
    ):
        summary.add_row(name, value)
    console.print(summary)
