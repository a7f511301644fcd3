"""Fixtures shared by every test: the real data folder and throwaway databases on the real servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# The PostgreSQL server of the development and CI machines (trust auth); override for another one.
POSTGRES_ADMIN_URL = os.environ.get("MATCHDAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    configured = os.environ.get("MATCHDAY_DATA_DIR")
    path = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "football-data").is_dir():
        pytest.skip(f"real data not found at {path}; set MATCHDAY_DATA_DIR")
    return path


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database on the real PostgreSQL server, dropped after the test."""
    name = f"matchday_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a red test, not a skip: the machine is meant to have this server
        admin.dispose()
        raise RuntimeError(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable; start it (see .ci/run)") from exc
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'matchday.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both databases Matchday supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'matchday.db'}"
    return str(request.getfixturevalue("postgres_url"))
