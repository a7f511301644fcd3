"""Full ingest of MATCHDAY_DATA_DIR into a fresh SQLite file and a fresh PostgreSQL database.

Prints wall time, matches/s and quotes/s for each, with parse-only time measured in the same run as the
baseline (the machine is shared and noisy: compare ratios, not absolute figures across runs).
Usage: `make bench-ingest` or `python benchmarks/ingest.py [--postgres-url URL] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from matchday.config import load_settings
from matchday.ingest.football_data import parse_season_file
from matchday.ingest.international import parse_international_file
from matchday.ingest.service import discover_sources, ingest_files
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.repository import MatchStore

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _parse_all(sources: list[Path]) -> tuple[int, int]:
    matches = quotes = 0
    for path in sources:
        parser = parse_international_file if path.name == "results.csv" else parse_season_file
        parsed = parser(path)
        matches += len(parsed.matches)
        quotes += sum(len(match.quotes) for _, match in parsed.matches)
    return matches, quotes


def _ingest(url: str, sources: list[Path], workers: int = 1) -> tuple[int, int, float]:
    engine = make_engine(url)
    try:
        migrate(engine)
        started = time.perf_counter()
        report = ingest_files(MatchStore(engine), sources, workers=workers)
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    if report.failed:
        raise SystemExit(f"ingest failed: {[f.error for f in report.failed]}")
    return report.total("matches_added"), report.total("quotes_added"), elapsed


def _with_postgres(admin_url: str, run: Callable[[str], tuple[int, int, float]]) -> tuple[int, int, float]:
    name = f"matchday_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        return run(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=load_settings().data_dir or Path("../shared/data"))
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="an admin URL; a fresh database is made beside it")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sources = discover_sources(args.data_dir)
    print(f"# ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores")
    print(f"# {len(sources)} files from {args.data_dir}")
    print(f"{'target':<12}{'wall s':>9}{'matches':>10}{'quotes':>12}{'matches/s':>12}{'quotes/s':>12}{'x parse':>9}")
    for _ in range(args.repeat):
        started = time.perf_counter()
        matches, quotes = _parse_all(sources)
        parse_s = time.perf_counter() - started
        rows = [("parse only", matches, quotes, parse_s)]
        with tempfile.TemporaryDirectory() as folder:
            rows.append(("sqlite", *_ingest(f"sqlite:///{Path(folder) / 'bench.db'}", sources)))
        rows.append(("postgresql", *_with_postgres(args.postgres_url, lambda url: _ingest(url, sources))))
        rows.append(("postgres x2", *_with_postgres(args.postgres_url, lambda url: _ingest(url, sources, workers=2))))
        for target, n_matches, n_quotes, seconds in rows:
            print(
                f"{target:<12}{seconds:>9.1f}{n_matches:>10,}{n_quotes:>12,}"
                f"{n_matches / seconds:>12,.0f}{n_quotes / seconds:>12,.0f}{seconds / parse_s:>9.2f}"
            )


if __name__ == "__main__":
    main()
