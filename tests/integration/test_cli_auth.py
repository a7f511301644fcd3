"""`matchday auth ...` in-process through typer's CliRunner, on SQLite and the real PostgreSQL.

The sub-app is invoked directly (its registration under `matchday` is separate); each test has its own state dir.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from pydantic import SecretStr
from typer.testing import CliRunner

from matchday.cli._common import console, error_console
from matchday.cli.auth import app
from matchday.config import Settings
from matchday.inference.auth import ApiKeyStore, verify_token
from matchday.inference.errors import Forbidden, Unauthorized
from matchday.ingest.store.database import make_engine

pytestmark = pytest.mark.integration

WIDTH = 200
KEY = re.compile(r"^md_[A-Za-z0-9_-]{43}$")
SECRET = "a-configured-secret-of-at-least-32-bytes"


class Auth:
    def __init__(self, state_dir: Path, database_url: str) -> None:
        self.state_dir, self.database_url = state_dir, database_url

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)

    def listed(self) -> list[dict[str, object]]:
        result = self("key", "list", "--json")
        assert result.exit_code == 0, result.output
        keys: list[dict[str, object]] = json.loads(result.stdout)
        return keys

    def verify(self, key: str) -> str:
        engine = make_engine(self.database_url)
        try:
            return ApiKeyStore(engine).verify(key).name
        finally:
            engine.dispose()


@pytest.fixture
def auth(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Auth]:
    for name in list(os.environ):
        if name.startswith("MATCHDAY_") and not name.startswith("MATCHDAY_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MATCHDAY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MATCHDAY_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    for output in (console, error_console):
        if output.width != WIDTH:
            monkeypatch.setattr(output, "width", WIDTH)
    # Each invocation installs a handler on the `matchday` logger: leave the logger as the test found it.
    logger = logging.getLogger("matchday")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        yield Auth(tmp_path / "state", database_url)
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])


def test_key_create_list_revoke(auth: Auth) -> None:
    created = auth("key", "create", "odds-team", "--rate-per-minute", "300")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert KEY.match(key), created.stdout
    assert "not stored" in created.stderr and "rate limit 300 a minute" in created.stderr
    assert auth.verify(key) == "odds-team"
    assert auth("key", "create", "dashboard").exit_code == 0

    duplicate = auth("key", "create", "odds-team")
    assert duplicate.exit_code == 2
    assert "name='odds-team': an API key with this name exists" in duplicate.stderr

    table = auth("key", "list")
    assert table.exit_code == 0, table.output
    assert key[:12] in table.stdout and key not in table.stdout
    assert re.search(r"dashboard .* default \(600\) .* active", table.stdout), table.stdout
    assert re.search(r"odds-team .* 300 .* active", table.stdout), table.stdout
    listed = auth.listed()
    assert [(k["name"], k["rate_per_minute"], k["revoked_at"]) for k in listed] == [
        ("dashboard", None, None),
        ("odds-team", 300, None),
    ]
    assert set(listed[0]) == {"name", "prefix", "rate_per_minute", "created_at", "revoked_at"}

    revoked = auth("key", "revoke", "odds-team")
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.stdout
    assert [k["name"] for k in auth.listed() if k["revoked_at"] is not None] == ["odds-team"]
    with pytest.raises(Unauthorized, match="revoked"):
        auth.verify(key)
    assert "revoked" in auth("key", "list").stdout

    unknown = auth("key", "revoke", "nobody")
    assert unknown.exit_code == 2 and "name='nobody': no API key" in unknown.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_key_create_refuses_bad_input(auth: Auth) -> None:
    assert auth("key", "create", "zero", "--rate-per-minute", "0").exit_code == 2
    bad_name = auth("key", "create", "has space")
    assert bad_name.exit_code == 2 and "name='has space'" in bad_name.stderr
    empty = auth("key", "list")
    assert empty.exit_code == 0 and "No API keys yet" in empty.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_token_uses_the_local_secret_file(auth: Auth) -> None:
    result = auth("token", "--subject", "ops", "--role", "viewer", "--ttl-seconds", "120")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert (auth.state_dir / "serving" / "jwt-secret").is_file()
    claims = verify_token(Settings(state_dir=auth.state_dir), token, "viewer")
    assert claims.subject == "ops" and (claims.expires_at - claims.issued_at).total_seconds() == 120
    with pytest.raises(Forbidden, match="'admin'"):
        verify_token(Settings(state_dir=auth.state_dir), token, "admin")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_token_uses_the_configured_secret(auth: Auth) -> None:
    result = auth("token", "--subject", "deployer", "--role", "admin", env={"MATCHDAY_JWT_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    claims = verify_token(SECRET, result.stdout.strip(), "admin")
    assert claims.subject == "deployer" and claims.has_role("viewer")
    assert not (auth.state_dir / "serving" / "jwt-secret").exists()
    with pytest.raises(Unauthorized, match="bad signature"):
        verify_token(Settings(state_dir=auth.state_dir, jwt_secret=SecretStr("x" * 40)), result.stdout.strip(), "admin")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_token_refuses_bad_input(auth: Auth) -> None:
    unknown_role = auth("token", "--subject", "ops", "--role", "root")
    assert unknown_role.exit_code == 2 and "roles=['root']" in unknown_role.stderr
    assert auth("token", "--role", "admin").exit_code == 2  # --subject is required
    short = auth("token", "--subject", "ops", "--role", "admin", env={"MATCHDAY_JWT_SECRET": "short"})
    assert short.exit_code == 2 and "MATCHDAY_JWT_SECRET is too short" in short.stderr
