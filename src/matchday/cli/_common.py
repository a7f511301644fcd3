"""What every command shares: settings loaded once, logging configured, the console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from matchday.config import Settings, SettingsError, load_settings
from matchday.log import bind_run_id, configure_logging

__all__ = ["AppState", "console", "error_console", "fail", "frame_table", "start"]

console = Console()
error_console = Console(stderr=True)


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    run_id: str


def start() -> AppState:
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    configure_logging(settings)
    return AppState(settings=settings, run_id=bind_run_id())


def fail(message: str, code: int = 2) -> NoReturn:
    # The message may quote settings values and paths: escape them so "[" is never read as rich markup.
    error_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def state(ctx: typer.Context) -> AppState:
    if not isinstance(ctx.obj, AppState):
        ctx.obj = start()
    return ctx.obj


def frame_table(title: str, frame: pd.DataFrame, left: tuple[str, ...] = ("competition", "model")) -> Table:
    """A report table (`matchday.evaluation.report`) as a rich Table: `left` columns left-aligned, numbers right."""
    from matchday.evaluation.report import table_rows  # noqa: PLC0415 - pandas-heavy; only commands that report

    headers, rows = table_rows(frame)
    table = Table(title=title)
    for header in headers:
        table.add_column(escape(header), justify="left" if header in left else "right")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table
