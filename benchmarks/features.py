"""Feature figures of issue 4: the feature table's build time, Feast materialisation, online lookup latency.

Builds the point-in-time table for every league season file in MATCHDAY_DATA_DIR (in memory, no store), writes
the Feast sources, applies and materialises them into the local profile (SQLite online store) and the
production profile (Redis online store, registry in a fresh PostgreSQL database), then times 1,000 single-team
online lookups on each. Usage: `make bench-features` or `python benchmarks/features.py [--lookups N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from matchday.config import Profile, Settings, load_settings
from matchday.features.frames import frames_from_matches
from matchday.features.table import build_feature_table
from matchday.ingest.football_data import parse_season_file
from matchday.integrations.feast_sources import source_dir, write_sources
from matchday.integrations.feast_store import OnlineTeamFeatures, apply, materialize, open_store, teardown

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def _lookups(settings: Settings, teams: list[str], count: int) -> tuple[float, float]:
    with open_store(settings) as store:
        reader = OnlineTeamFeatures(store)
        reader.lookup(teams[:1])  # first call opens the connection
        samples = []
        for i in range(count):
            started = time.perf_counter()
            reader.lookup([teams[i % len(teams)]])
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), _percentile(samples, 99)


def _profile_run(settings: Settings, teams: list[str], count: int) -> tuple[float, float, float, float]:
    started = time.perf_counter()
    apply(settings)
    applied = time.perf_counter() - started
    summary = materialize(settings)
    p50, p99 = _lookups(settings, teams, count)
    return applied, summary.seconds, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=load_settings().data_dir or Path("../shared/data"))
    parser.add_argument("--lookups", type=int, default=1_000)
    args = parser.parse_args()
    files = sorted((args.data_dir / "football-data").glob("*/*.csv"))
    print(f"# feature benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores")
    started = time.perf_counter()
    matches, quotes = frames_from_matches([m for path in files for _, m in parse_season_file(path).matches])
    print(
        f"parse {len(files)} files -> {len(matches):,} matches, {len(quotes):,} quotes: "
        f"{time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    table = build_feature_table(matches, quotes)
    seconds = time.perf_counter() - started
    print(f"build_feature_table: {table.shape[0]:,} rows x {table.shape[1]} columns in {seconds:.2f} s")
    teams = sorted(set(table["home_team"]))
    database = f"matchday_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        with tempfile.TemporaryDirectory() as state:
            project = f"bench_{uuid.uuid4().hex[:8]}"
            local = Settings(state_dir=Path(state), feast_project=project)
            write_sources(table, source_dir(local))
            url = make_url(ADMIN_URL).set(database=database).render_as_string(hide_password=False)
            prod = Settings(
                state_dir=Path(state),
                feast_project=project,
                profile=Profile.PROD,
                database_url=url,
                mlflow_tracking_uri=f"sqlite:///{Path(state) / 'mlflow.db'}",
            )
            print(f"{'profile':<34}{'apply s':>9}{'materialize s':>15}{'lookup p50 ms':>15}{'p99 ms':>9}")
            for name, settings in (("local (SQLite online)", local), ("prod (Redis online, PG registry)", prod)):
                applied, materialized, p50, p99 = _profile_run(settings, teams, args.lookups)
                print(f"{name:<34}{applied:>9.2f}{materialized:>15.1f}{p50:>15.2f}{p99:>9.2f}")
            teardown(prod)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
