"""Fixtures shared by the unit tests: where the shared real data lives, and a clean `MATCHDAY_*` environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from matchday.ingest.football_data import parse_season_file
from matchday.ingest.parsed import ParsedFile

DATA_DIR_VARIABLE = "MATCHDAY_DATA_DIR"


def _configured_data_dir() -> Path:
    configured = os.environ.get(DATA_DIR_VARIABLE)
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data (football-data/ and international/); skips when it is not there."""
    path = _configured_data_dir()
    if not (path / "football-data").is_dir() or not (path / "international" / "results.csv").is_file():
        pytest.skip(f"shared data not found at {path} (set {DATA_DIR_VARIABLE} to the folder with football-data/)")
    return path


@pytest.fixture(scope="session")
def football_data_dir(data_dir: Path) -> Path:
    return data_dir / "football-data"


@pytest.fixture(scope="session")
def season_files(football_data_dir: Path) -> list[Path]:
    files = sorted(football_data_dir.glob("*/*.csv"))
    if not files:
        pytest.skip(f"no season files under {football_data_dir}")
    return files


@pytest.fixture(scope="session")
def parsed_seasons(season_files: list[Path]) -> dict[str, ParsedFile]:
    """Every real season file parsed once per session, keyed by `<Div>/<YYZZ>.csv`."""
    return {f"{path.parent.name}/{path.name}": parse_season_file(path) for path in season_files}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No `MATCHDAY_*` variable from the outer environment leaks into a test of settings."""
    for name in list(os.environ):
        if name.startswith("MATCHDAY_"):
            monkeypatch.delenv(name)
    yield monkeypatch
