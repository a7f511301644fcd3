"""The `matchday` command line: one command group per noun."""

from __future__ import annotations

import typer

from matchday import __version__
from matchday.cli import auth, bet, data, evaluate, features, monitor, pipeline
from matchday.cli._common import start
from matchday.cli.serve import serve
from matchday.cli.train import train

__all__ = ["app"]

app = typer.Typer(
    name="matchday",
    help="Football match prediction and betting intelligence, from real data to served models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(evaluate.app, name="evaluate")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(auth.app, name="auth")
app.add_typer(bet.app, name="bet")
app.add_typer(monitor.app, name="monitor")
app.command()(train)
app.command()(serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"matchday {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Settings come from MATCHDAY_* environment variables (see the README)."""
    ctx.obj = start()
