"""Drift monitoring on real matches: speed of one check, false alarms within a league, detection of real shifts.

Set-up (as tests/integration/test_drift_real.py): the EPL and Bundesliga seasons of MATCHDAY_DATA_DIR in a fresh
state dir, an XGBoost EPL model walked over 2020-21 and registered with its reference snapshot (380 rows).

1. Speed: 10,000 logged predictions in one 7-day window (distinct real fixtures: pre-kickoff rows of EPL and
   Bundesliga seasons 2010-11 .. 2022-23 through the bundle, re-timed into the window), then the whole check as
   `matchday monitor drift` runs it (read the log, one row per fixture, Evidently, quality against the stored
   results, HTML and JSON saved, logged to MLflow), and its parts; 1,000 predictions beside it as the baseline.
2. False alarms: EPL 2021-22 and 2022-23 replayed, checked in consecutive 7-day and 30-day windows.
3. Detection: Bundesliga 2021-22 sent to the EPL model (7-day windows); EPL 2021-22 with fractional odds sent as
   decimals (30-day windows: the server refuses most fixtures, so fewer remain).

Usage: `python benchmarks/drift.py [--data-dir DIR] [--speed-only]`; figures go to stdout for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from machine import machine
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text

from matchday.config import Settings, load_settings
from matchday.evaluation.dataset import load_dataset
from matchday.inference.prediction_log import PredictionLog
from matchday.ingest.store import open_store
from matchday.integrations.mlflow_registry import load_bundle_by_version, load_reference
from matchday.monitoring.check import run_check
from matchday.monitoring.drift import compute_drift, latest_per_fixture
from matchday.monitoring.drift_config import DriftConfig
from matchday.monitoring.replay import replay_matches, replay_records
from matchday.monitoring.served import served_frame
from matchday.training import steps

WINDOW_END = datetime(2026, 11, 30)


def _trained(data_dir: Path, root: Path) -> Settings:
    source = root / "data" / "football-data"
    source.mkdir(parents=True)
    for league in ("E0", "D1"):
        (source / league).symlink_to(data_dir / "football-data" / league)
    state = root / "state"
    steps.ingest(str(state), str(root / "data"))
    train_json = steps.train(str(state), "E0", 2020, 2020, model="xgboost", refit_days=56, booster_refit_days=56)
    steps.register(str(state), train_json)
    return Settings(state_dir=state, data_dir=root / "data")


def _log_window(settings: Settings, engine: Engine, n: int) -> None:
    """`n` distinct real fixtures served in the 7 days before WINDOW_END."""
    bundle = load_bundle_by_version(settings, "1")
    dataset, _ = load_dataset(engine, ["E0", "D1"], 2010, 2022)
    rows = dataset.sample(n=n, random_state=0)
    records = list(replay_records(bundle, rows, model_name=settings.model_name, version="1", lead=timedelta(0)))
    offsets = np.random.default_rng(0).uniform(0, 7 * 86400, len(records))
    records = [
        dataclasses.replace(r, served_at=WINDOW_END - timedelta(seconds=float(s)))
        for r, s in zip(records, offsets, strict=True)
    ]
    log = PredictionLog(engine, batch_size=2_000, interval_seconds=0.2, registry=CollectorRegistry())
    log.submit(records)
    log.close(timeout_seconds=300)


def _timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def _speed(settings: Settings, engine: Engine, n: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("delete from served_predictions"))
    _log_window(settings, engine, n)
    config = DriftConfig()
    start = WINDOW_END - timedelta(days=7)
    served, read = _timed(lambda: served_frame(engine, settings.model_name, start, WINDOW_END))
    current = latest_per_fixture(served)
    reference = load_reference(settings, "1")
    outcome, drift = _timed(lambda: compute_drift(reference, current, config))
    html = Path(tempfile.mkdtemp()) / "report.html"
    snapshot = outcome.snapshot
    assert snapshot is not None
    _, save = _timed(lambda: snapshot.save_html(str(html)))
    check, whole = _timed(lambda: run_check(settings, engine, config, end=WINDOW_END, version="1"))
    print(
        f"| {n:,} | {len(current):,} | {whole:.2f} | {read:.2f} | {drift:.2f} | {save:.2f} | "
        f"{check.drift.result.verdict} |"
    )


def _windows(settings: Settings, engine: Engine, config: DriftConfig, label: str) -> None:
    first = pd.read_sql("select min(kickoff) as first from served_predictions", engine)["first"].iloc[0]
    last = pd.read_sql("select max(kickoff) as last from served_predictions", engine)["last"].iloc[0]
    end = pd.Timestamp(first).normalize().to_pydatetime()
    judged, alerts, reasons, shares, shifts = 0, 0, [], [0.0], [(0.0, "-")]
    while end <= pd.Timestamp(last).to_pydatetime():
        end += config.window
        result = run_check(settings, engine, config, end=end, version="1", log_to_mlflow=False).drift.result
        if result.verdict != "insufficient":
            judged += 1
            alerts += result.drifted
            reasons += [re.sub(r"\d+(\.\d+)?", "N", reason.split(" (")[0]) for reason in result.reasons]
            shares.append(result.feature_share)
            shifts += [(c.score, c.column) for c in result.of_kind("shift") if not np.isnan(c.score)]
        print(f"  {label} {end:%Y-%m-%d}: {result.verdict} on {result.current_rows} ({'; '.join(result.reasons)})")
    common = pd.Series(reasons).value_counts().head(3).to_dict() if reasons else {}
    shift, column = max(shifts)
    print(
        f"| {label} | {config.window.days} d | {judged} | {alerts} | {alerts / max(judged, 1):.0%} | "
        f"{max(shares):.2f} | {shift:.1f} ({column}) | {common} |"
    )


def _scenario(trained: Settings, root: Path, name: str, replay: Callable[[Settings, Engine], None], days: int) -> None:
    copy = root / name
    shutil.copytree(trained.state_dir, copy, symlinks=True)
    settings = Settings(state_dir=copy, data_dir=trained.data_dir)
    with closing(open_store(settings)) as store:
        replay(settings, store.engine)
        _windows(settings, store.engine, DriftConfig(window=timedelta(days=days)), name)


def _epl(settings: Settings, engine: Engine) -> None:
    replay_matches(settings, engine, ["E0"], 2021, 2022, version="1")


def _bundesliga(settings: Settings, engine: Engine) -> None:
    replay_matches(settings, engine, ["D1"], 2021, 2021, version="1")


def _fractional(settings: Settings, engine: Engine) -> None:
    replay_matches(settings, engine, ["E0"], 2021, 2021, version="1", odds_format="fractional")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--speed-only", action="store_true", help="Only the timing of one check (1,000 and 10,000).")
    args = parser.parse_args()
    data_dir = args.data_dir or load_settings().data_dir
    if data_dir is None:
        raise SystemExit("set MATCHDAY_DATA_DIR or pass --data-dir")
    warnings.filterwarnings("ignore")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        trained = _trained(data_dir, root)
        speed = root / "speed"
        shutil.copytree(trained.state_dir, speed, symlinks=True)
        settings = Settings(state_dir=speed, data_dir=trained.data_dir)
        print("| logged predictions | fixtures | whole check s | read s | Evidently s | HTML s | verdict |")
        print("|---:|---:|---:|---:|---:|---:|---|")
        with closing(open_store(settings)) as store:
            for n in (1_000, 10_000):
                _speed(settings, store.engine, n)
        if args.speed_only:
            return
        print("| scenario | window | judged | alerts | rate | largest feature share | largest shift, SD | reasons |")
        print("|---|---|---:|---:|---:|---:|---|---|")
        for days in (7, 30):
            _scenario(trained, root, f"EPL 2021-23 ({days} d)", _epl, days)
        _scenario(trained, root, "Bundesliga 2021-22", _bundesliga, 7)
        _scenario(trained, root, "EPL 2021-22, fractional odds", _fractional, 30)


if __name__ == "__main__":
    main()
