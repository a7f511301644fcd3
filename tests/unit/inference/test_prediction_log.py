"""The prediction log writes served predictions in batches off the request path, drains on close, never blocks a
request when it falls behind, survives a database that refuses a batch, and reads back as a frame for monitoring."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, func, select, text

from matchday.inference.errors import NotReady
from matchday.inference.prediction_log import LoggedPrediction, PredictionLog
from matchday.inference.schema import Fixture
from matchday.inference.service_engine import ServingEngine, valid_probabilities
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.models import ServedPredictionRow
from matchday.monitoring.served import SERVED_COLUMNS, served_frame


class Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        return self.values


def _record(i: int) -> LoggedPrediction:
    return LoggedPrediction(
        request_id=f"r{i}",
        served_at=datetime(2026, 11, 23, 12, 0, 0),
        model_name="matchday-1x2",
        model_version="3",
        variant="champion",
        competition="E0",
        home_team="Arsenal",
        away_team="Chelsea",
        kickoff=None,
        features=Row({"elo_home": 1600.0, "h2h_home_gd": None}),
        probabilities=(0.5, 0.3, 0.2),
        latency_ms=1.5,
    )


@pytest.fixture
def database(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.db'}")
    migrate(engine)
    return engine


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ServedPredictionRow)) or 0)


def test_records_are_written_in_batches_and_drained_on_close(database: Engine) -> None:
    log = PredictionLog(database, batch_size=7, interval_seconds=0.05, registry=CollectorRegistry())
    log.submit([_record(i) for i in range(20)])
    deadline = time.monotonic() + 5
    while _count(database) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    log.submit([_record(i) for i in range(20, 25)])
    log.close()
    assert _count(database) == 25
    with database.connect() as connection:
        row = connection.execute(select(ServedPredictionRow).where(ServedPredictionRow.request_id == "r3")).one()
    assert json.loads(row.features) == {"elo_home": 1600.0, "h2h_home_gd": None}
    assert (row.prob_home, row.model_version, row.latency_ms) == (0.5, "3", 1.5)


def test_a_full_queue_drops_instead_of_blocking(database: Engine) -> None:
    registry = CollectorRegistry()
    log = PredictionLog(database, batch_size=1000, interval_seconds=60, max_queued=10, registry=registry)
    started = time.perf_counter()
    log.submit([_record(i) for i in range(15)])
    assert time.perf_counter() - started < 1.0
    assert registry.get_sample_value("matchday_prediction_log_dropped_total") == 5
    log.close()
    assert _count(database) == 10


def test_a_failed_batch_is_counted_and_the_writer_goes_on(database: Engine) -> None:
    registry = CollectorRegistry()
    with database.begin() as connection:
        connection.execute(text("DROP TABLE served_predictions"))
    log = PredictionLog(database, batch_size=5, interval_seconds=0.05, registry=registry)
    log.submit([_record(0)])
    log.close()
    assert registry.get_sample_value("matchday_prediction_log_failed_batches_total") == 1


def test_an_engine_without_a_champion_is_not_ready_and_says_so() -> None:
    engine = ServingEngine("matchday-1x2", "champion")
    assert not engine.ready() and engine.models() == []
    fixture = Fixture(competition="E0", home_team="Arsenal", away_team="Chelsea")
    with pytest.raises(NotReady, match="no version of matchday-1x2 is loaded"):
        engine.predict([fixture], request_id="r", routing_key="k")


@pytest.mark.parametrize(
    ("probs", "valid"),
    [((0.5, 0.3, 0.2), True), ((0.5, 0.3, 0.3), False), ((float("nan"), 0.5, 0.5), False), ((1.2, -0.1, -0.1), False)],
)
def test_valid_probabilities(probs: tuple[float, float, float], valid: bool) -> None:
    assert valid_probabilities(probs) is valid


def test_the_log_reads_back_as_a_frame_of_a_window(database: Engine) -> None:
    log = PredictionLog(database, batch_size=10, interval_seconds=0.05, registry=CollectorRegistry())
    records = [_record(i) for i in range(4)]
    late = LoggedPrediction(**{**records[3].__dict__, "served_at": datetime(2026, 11, 24, 9, 0, 0)})
    log.submit([*records[:3], late])
    log.close()
    frame = served_frame(database, "matchday-1x2", datetime(2026, 11, 23), datetime(2026, 11, 24))
    assert list(frame["request_id"]) == ["r0", "r1", "r2"]  # the one served on the 24th is outside the window
    assert list(frame.columns[: len(SERVED_COLUMNS)]) == list(SERVED_COLUMNS)
    assert frame["elo_home"].tolist() == [1600.0] * 3
    assert frame["h2h_home_gd"].isna().all() and frame["h2h_home_gd"].dtype == "float64"
    assert frame["p_home"].tolist() == [0.5] * 3
    assert served_frame(database, "another-model", datetime(2026, 11, 23), datetime(2026, 11, 25)).empty
    with pytest.raises(ValueError, match="must be after"):
        served_frame(database, "matchday-1x2", datetime(2026, 11, 24), datetime(2026, 11, 23))
