"""`matchday bet ...`: the bankroll backtest, value bets with stakes, and arbitrage, from the store, the
upcoming-fixtures file or The Odds API; `--json` on each for scripts."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from matchday.betting.arbitrage import arbitrage
from matchday.betting.backtest import parse_strategy
from matchday.betting.errors import BettingInputError
from matchday.betting.kelly import KellyRules
from matchday.betting.prices import best_prices
from matchday.betting.recommend import recommend
from matchday.betting.study import StudyInputs, run_study, study_table
from matchday.betting.value import ValueFilter
from matchday.cli._common import console, error_console, fail, state
from matchday.cli.bet_support import (
    frames_from_store,
    keyed_predictions,
    plot_study,
    read_predictions,
    table_records,
    text_table,
)
from matchday.cli.bet_walk import walk_forward_predictions
from matchday.cli.data import parse_season_range
from matchday.config import Settings
from matchday.domain import Phase
from matchday.features.frames import frames_from_fixtures
from matchday.ingest.football_data import parse_fixtures_file
from matchday.ingest.store import open_store
from matchday.integrations.odds_api import OddsApiClient, OddsApiError

__all__ = ["app"]

app = typer.Typer(help="Value bets, Kelly stakes, arbitrage and the bankroll backtest.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
FixturesOption = Annotated[
    Path | None, typer.Option(help="A football-data fixtures file (upcoming matches with current prices).")
]
SportOption = Annotated[
    str | None, typer.Option(help="Fetch live prices from The Odds API for this sport key (needs the key).")
]


@app.command("backtest")
def backtest_command(
    ctx: typer.Context,
    seasons: Annotated[str, typer.Option(help="Seasons by start year: 2019-2022 is 2019-20 .. 2022-23.")],
    league: Annotated[list[str] | None, typer.Option("--league", help="League code(s); default E0.")] = None,
    model: Annotated[str, typer.Option(help="The walk-forward model whose value bets are placed.")] = "stack",
    strategy: Annotated[
        list[str] | None, typer.Option("--strategy", help="flat[:stake] or kelly[:fraction]; repeatable.")
    ] = None,
    predictions: Annotated[
        Path | None, typer.Option(help="A walk-forward predictions.csv; default: walk forward now, from the store.")
    ] = None,
    min_edge: Annotated[float, typer.Option(min=0.0, help="Smallest edge p x price - 1 to bet.")] = 0.0,
    bankroll: Annotated[float, typer.Option(min=1.0, help="Starting bankroll.")] = 1000.0,
    named_books_only: Annotated[bool, typer.Option(help="Best price without football-data's Max.")] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for table.json, bankroll.png, clv.png.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Bets at the opening prices, settled on the results, judged by CLV against Pinnacle's no-vig close, next
    to the market-average and model-free controls."""
    settings = state(ctx).settings
    leagues = league or ["E0"]
    first, last = parse_season_range(seasons)
    try:
        strategies = [parse_strategy(text, ValueFilter(min_edge=min_edge)) for text in strategy or ["flat", "kelly"]]
    except BettingInputError as exc:
        fail(f"--strategy: {exc}")
    with closing(open_store(settings)) as store:
        try:
            matches, quotes = frames_from_store(store.engine, leagues)
        except ValueError as exc:
            fail(str(exc), code=1)
        if predictions is None:
            long = walk_forward_predictions(store.engine, leagues, first, last, model, settings)
        else:
            long = read_predictions(predictions)
    long = keyed_predictions(long, matches)
    long = long[long["season"].between(first, last)]
    inputs = StudyInputs(long, matches[["match_id", "home_goals", "away_goals"]], quotes)
    try:
        study = run_study(inputs, model, strategies, bankroll=bankroll, include_market_max=not named_books_only)
    except BettingInputError as exc:
        fail(str(exc), code=1)
    table = study_table(study, by=("competition", "season"))
    folder = out or settings.state_dir / "reports" / f"bet-backtest-{'-'.join(leagues)}-{first}-{last}-{model}"
    bankroll_png, clv_png = plot_study(study, folder, f"{'+'.join(leagues)} {model}")
    (folder / "table.json").write_text(json.dumps(table_records(table), indent=2, default=str) + "\n")
    if as_json:
        typer.echo(json.dumps(table_records(table), indent=2, default=str))
        return
    overall = table[(table["competition"] == "all") & (table["season"] == "all")]
    console.print(escape(text_table(overall)), soft_wrap=True)
    console.print(f"plots: {escape(str(bankroll_png))}, {escape(str(clv_png))}; table: {escape(str(folder))}")


def _upcoming_quotes(settings: Settings, fixtures: Path | None, sport: str | None) -> pd.DataFrame:
    """Match and quote frames (match frame columns joined in) of upcoming fixtures from the file or the API."""
    if sport is not None:
        try:
            with OddsApiClient(settings) as client:
                found = client.odds(sport)
                error_console.print(f"The Odds API quota: {client.quota.remaining} remaining, {client.quota.used} used")
        except OddsApiError as exc:
            fail(str(exc), code=1)
    else:
        path = fixtures or settings.betting_fixtures_file or settings.cache_dir / "football-data" / "fixtures.csv"
        if not path.is_file():
            fail(f"no fixtures file at {path}: run `matchday data fixtures` or pass --fixtures / --sport", code=1)
        found = [fixture for _, fixture in parse_fixtures_file(path).fixtures]
    frame, quotes = frames_from_fixtures(found)
    return quotes.merge(frame, on="match_id")


def _print_rows(rows: pd.DataFrame, columns: list[str], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(table_records(rows[columns]), indent=2, default=str))
        return
    if rows.empty:
        console.print("nothing found")
        return
    console.print(escape(rows[columns].to_string(index=False)), soft_wrap=True)


@app.command("value")
def value_command(
    ctx: typer.Context,
    predictions: Annotated[
        Path, typer.Option(help="CSV with competition, match_date, home_team, away_team, p_home, p_draw, p_away.")
    ],
    fixtures: FixturesOption = None,
    sport: SportOption = None,
    model: Annotated[str | None, typer.Option(help="Keep only this `model` of a long predictions file.")] = None,
    min_edge: Annotated[float, typer.Option(min=0.0)] = 0.02,
    bankroll: Annotated[float, typer.Option(min=1.0)] = 1000.0,
    kelly: Annotated[float, typer.Option(min=0.01, max=1.0, help="Kelly fraction.")] = 0.25,
    as_json: JsonOption = False,
) -> None:
    """Value bets of upcoming fixtures at the best current price, with simultaneous-Kelly stakes per day."""
    settings = state(ctx).settings
    quotes = _upcoming_quotes(settings, fixtures, sport)
    probs = read_predictions(predictions) if model is None else read_predictions(predictions).query("model == @model")
    matches = quotes.drop_duplicates("match_id")
    keyed = keyed_predictions(probs, matches)
    try:
        bets = recommend(
            keyed, best_prices(quotes, Phase.OPENING), bankroll, ValueFilter(min_edge=min_edge), KellyRules(kelly)
        )
    except BettingInputError as exc:
        fail(str(exc), code=1)
    columns = ["match_date", "competition", "home_team", "away_team", "selection", "bookmaker", "price"]
    _print_rows(bets, [*columns, "probability", "edge", "stake"], as_json)


@app.command("arbitrage")
def arbitrage_command(
    ctx: typer.Context,
    fixtures: FixturesOption = None,
    sport: SportOption = None,
    stored: Annotated[
        str | None, typer.Option(help="Search the store instead: league code, e.g. E0 (with --seasons).")
    ] = None,
    seasons: Annotated[str | None, typer.Option(help="With --stored: seasons by start year.")] = None,
    phase: Annotated[Phase, typer.Option(help="opening or closing prices (stored matches).")] = Phase.OPENING,
    stake: Annotated[float, typer.Option(min=1.0, help="Total stake per opportunity.")] = 100.0,
    min_margin: Annotated[float, typer.Option(min=0.0)] = 0.0,
    as_json: JsonOption = False,
) -> None:
    """Across-bookmaker arbitrage in 1X2 and over/under: stakes that pay the same whatever happens."""
    settings = state(ctx).settings
    if stored is not None:
        with closing(open_store(settings)) as store:
            matches, quotes = frames_from_store(store.engine, [stored])
        if seasons is not None:
            first, last = parse_season_range(seasons)
            matches = matches[matches["season"].between(first, last)]
        quotes = quotes[quotes["match_id"].isin(matches["match_id"])].merge(matches, on="match_id")
    else:
        quotes = _upcoming_quotes(settings, fixtures, sport)
        phase = Phase.OPENING
    found = arbitrage(quotes, phase, total_stake=stake, min_margin=min_margin)
    info = quotes.drop_duplicates("match_id")[["match_id", "match_date", "competition", "home_team", "away_team"]]
    found = found.merge(info, on="match_id", how="left")
    columns = ["match_date", "competition", "home_team", "away_team", "market", "line", "selection", "bookmaker"]
    _print_rows(found, [*columns, "price", "stake", "payout", "margin"], as_json)
