"""`matchday auth ...`: API keys for the prediction routes and JWTs for the admin routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from matchday.cli._common import console, error_console, fail, state
from matchday.config import Settings
from matchday.inference.auth import KEY_CACHE_TTL_SECONDS, ROLES, ApiKeyInfo, ApiKeyStore, issue_token
from matchday.ingest.store.database import make_engine, migrate

__all__ = ["app", "key_app"]

app = typer.Typer(help="API keys for predictions, tokens for the admin routes.", no_args_is_help=True)
key_app = typer.Typer(help="Create, list and revoke API keys (stored hashed).", no_args_is_help=True)
app.add_typer(key_app, name="key")


@contextmanager
def _key_store(settings: Settings) -> Iterator[ApiKeyStore]:
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        yield ApiKeyStore(engine)
    finally:
        engine.dispose()


def _rate(info: ApiKeyInfo, settings: Settings) -> str:
    if info.rate_per_minute is None:
        return f"default ({settings.rate_limit_per_minute})"
    return str(info.rate_per_minute)


def _as_dict(info: ApiKeyInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "prefix": info.prefix,
        "rate_per_minute": info.rate_per_minute,
        "created_at": info.created_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
    }


@key_app.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who the key is for, e.g. 'odds-team'. Unique.")],
    rate_per_minute: Annotated[
        int | None, typer.Option(min=1, help="This key's requests a minute; default MATCHDAY_RATE_LIMIT_PER_MINUTE.")
    ] = None,
) -> None:
    """Create a key and print it. Only its hash is stored: it cannot be shown again."""
    settings = state(ctx).settings
    with _key_store(settings) as store:
        try:
            issued = store.create(name, rate_per_minute=rate_per_minute)
        except ValueError as exc:
            fail(str(exc))
    # The key alone on stdout, so `KEY=$(matchday auth key create x)` works; the notes go to stderr.
    typer.echo(issued.key)
    error_console.print(
        f"[yellow]API key {escape(name)!r} created ({escape(issued.info.prefix)}…, "
        f"rate limit {_rate(issued.info, settings)} a minute).\n"
        "Save it now: it is not stored anywhere and cannot be shown again.[/]"
    )


@key_app.command("list")
def list_keys(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Every key with its prefix, rate and state (never the key or its hash)."""
    settings = state(ctx).settings
    with _key_store(settings) as store:
        keys = store.list()
    if as_json:
        typer.echo(json.dumps([_as_dict(info) for info in keys], indent=2))
        return
    if not keys:
        console.print("No API keys yet: `matchday auth key create NAME`.")
        return
    table = Table(title="API keys")
    for column in ("name", "prefix", "rate/min", "created (UTC)", "state"):
        table.add_column(column, justify="right" if column == "rate/min" else "left", no_wrap=True)
    for info in keys:
        revoked = f"[red]revoked {info.revoked_at:%Y-%m-%d %H:%M}[/]" if info.revoked_at else "[green]active[/]"
        table.add_row(
            escape(info.name), escape(info.prefix), _rate(info, settings), f"{info.created_at:%Y-%m-%d %H:%M}", revoked
        )
    console.print(table)


@key_app.command("revoke")
def revoke_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The key's name (see `matchday auth key list`).")],
) -> None:
    """Revoke a key. Running servers refuse it within their key cache's lifetime (a few seconds)."""
    with _key_store(state(ctx).settings) as store:
        try:
            info = store.revoke(name)
        except ValueError as exc:
            fail(str(exc))
    when = f"{info.revoked_at:%Y-%m-%d %H:%M:%S} UTC" if info.revoked_at else "now"
    console.print(
        f"API key {escape(name)!r} revoked ({when}); running servers refuse it within {KEY_CACHE_TTL_SECONDS:g} s."
    )


@app.command()
def token(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option(help="Who the token is for (the JWT's 'sub').")],
    role: Annotated[list[str], typer.Option(help=f"Role(s) granted: {', '.join(ROLES)} (admin implies viewer).")],
    ttl_seconds: Annotated[int, typer.Option(min=1, help="Lifetime in seconds (at most 30 days).")] = 3600,
) -> None:
    """Print a signed JWT for the admin routes (`Authorization: Bearer <token>`)."""
    settings = state(ctx).settings
    try:
        signed = issue_token(settings, subject, role, ttl_seconds=ttl_seconds)
    except ValueError as exc:  # SettingsError too: a bad MATCHDAY_JWT_SECRET
        fail(str(exc))
    typer.echo(signed)
