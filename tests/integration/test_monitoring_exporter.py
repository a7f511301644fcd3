"""The monitoring exporter on a real store (SQLite and PostgreSQL), scraped over HTTP from a real server: drift,
served probabilities and quality, versions, canary, retraining and pipeline runs, as the store says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert

from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.models import CanaryRow, ServedPredictionRow
from matchday.monitoring.exporter import EXPORTED_METRICS, MonitoringCollector
from matchday.monitoring.records import (
    complete_check,
    finish_pipeline_run,
    record_check,
    record_trigger,
    start_pipeline_run,
    utc_now,
)

pytestmark = pytest.mark.integration

MODEL = "matchday-1x2"
TRAINED_AT = 1_764_000_000.0


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _populate(engine: Engine) -> None:
    now = utc_now()
    served = [
        {
            "request_id": f"r{i}", "served_at": now - timedelta(minutes=i), "model_name": MODEL,
            "model_version": "3", "variant": "champion", "competition": "E0", "home_team": "Arsenal",
            "away_team": "Chelsea", "kickoff": now + timedelta(days=1), "features": "{}",
            "prob_home": 0.2 + 0.1 * i, "prob_draw": 0.25, "prob_away": 0.55 - 0.1 * i, "latency_ms": 1.0,
        }
        for i in range(3)
    ]  # fmt: skip
    canary = {
        "model_name": MODEL, "champion_version": "2", "challenger_version": "3", "status": "rolled_back",
        "step_index": 1, "share": 0.0, "started_at": now, "step_started_at": now, "updated_at": now, "reason": "p99",
    }  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(ServedPredictionRow), served)
        connection.execute(insert(CanaryRow), [canary])
    summary = {
        "drift": {
            "columns": [
                {"column": "elo_diff", "kind": "feature", "method": "ks", "score": 0.004, "drifted": True},
                {"column": "competition", "kind": "categorical", "method": "jensenshannon", "score": 0.0,
                 "drifted": False},
            ]
        },
        "quality": {"settled": 42, "rps": {"served": 0.205, "pinnacle_close": 0.199}, "rps_gap": 0.006},
    }  # fmt: skip
    check = record_check(
        engine, model_name=MODEL, model_version="3", window=(now - timedelta(days=7), now), verdict="drift",
        current_rows=42, feature_share=0.6, summary={}, report_path=None, checked_at=datetime(2026, 12, 1, 12),
    )  # fmt: skip
    complete_check(engine, check, summary, "/reports/x.html")
    record_trigger(
        engine, drift_check_id=check, model_name=MODEL, status="launched", launcher="local", detail="pid 1", at=now
    )
    record_trigger(
        engine, drift_check_id=check, model_name=MODEL, status="cooldown", launcher="local", detail="-", at=now
    )
    ok = start_pipeline_run(engine, "training", "{}")
    finish_pipeline_run(engine, ok, succeeded=True)
    bad = start_pipeline_run(engine, "training", "{}")
    finish_pipeline_run(engine, bad, succeeded=False, detail="RuntimeError: step train failed")


def _scrape(engine: Engine) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(MonitoringCollector(engine, MODEL, lambda: ("3", TRAINED_AT), cache_seconds=0.0))
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _value(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    return samples[name][tuple(sorted({"model": MODEL, **labels}.items()))]


def test_the_exporter_reports_what_the_store_holds(engine: Engine) -> None:
    _populate(engine)
    samples = _scrape(engine)
    assert set(samples) == set(EXPORTED_METRICS)
    assert _value(samples, "matchday_monitoring_up") == 1.0
    assert _value(samples, "matchday_drift_share", version="3") == pytest.approx(0.6)
    assert _value(samples, "matchday_drift_detected", version="3") == 1.0
    checked_at = (datetime(2026, 12, 1, 12) - datetime(1970, 1, 1)).total_seconds()  # the store keeps naive UTC
    assert _value(samples, "matchday_drift_check_timestamp_seconds") == checked_at
    assert _value(samples, "matchday_drift_column_score", column="elo_diff", kind="feature", method="ks") == 0.004
    assert _value(samples, "matchday_drift_column_drifted", column="competition", kind="categorical") == 0.0
    assert _value(samples, "matchday_served_rps", forecaster="pinnacle_close") == pytest.approx(0.199)
    assert _value(samples, "matchday_served_rps_gap") == pytest.approx(0.006)
    assert _value(samples, "matchday_served_settled_fixtures") == 42.0
    assert _value(samples, "matchday_served_predictions_window") == 3.0
    assert _value(samples, "matchday_served_probability_mean", outcome="home") == pytest.approx(0.3)
    assert _value(samples, "matchday_served_probability", outcome="home", quantile="0.5") == pytest.approx(0.3)
    assert _value(samples, "matchday_model_version_info", version="3") == 1.0
    assert _value(samples, "matchday_model_trained_timestamp_seconds") == TRAINED_AT
    assert _value(samples, "matchday_retrain_triggers", status="launched") == 1.0
    assert _value(samples, "matchday_retrain_triggers", status="cooldown") == 1.0
    assert _value(samples, "matchday_canary_status", status="rolled_back") == 1.0
    assert _value(samples, "matchday_canary_status", status="running") == 0.0
    assert _value(samples, "matchday_canary_rollbacks") == 1.0
    training = (("pipeline", "training"),)
    assert samples["matchday_pipeline_last_run_failed"][training] == 1.0  # the latest run failed
    assert set(samples["matchday_pipeline_last_run_timestamp_seconds"]) == {
        (("pipeline", "training"), ("status", "failed")),
        (("pipeline", "training"), ("status", "succeeded")),
    }


def test_an_empty_store_exports_no_figures_but_answers(engine: Engine) -> None:
    samples = _scrape(engine)
    assert _value(samples, "matchday_monitoring_up") == 1.0
    assert _value(samples, "matchday_served_predictions_window") == 0.0
    assert "matchday_drift_share" not in samples


def test_a_store_it_cannot_read_is_up_zero_not_an_error(tmp_path: Path) -> None:
    broken = make_engine(f"sqlite:///{tmp_path}/empty.db")  # no schema: every query fails
    try:
        samples = _scrape(broken)
    finally:
        broken.dispose()
    assert samples == {"matchday_monitoring_up": {(("model", MODEL),): 0.0}}
