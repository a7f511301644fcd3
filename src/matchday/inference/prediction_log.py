"""Every served prediction written to `served_predictions`, in batches, by a background thread: the request only
puts a record on a bounded queue. The drift monitor reads the table.

A full queue (the database down for minutes) drops the newest records and counts them in
`matchday_prediction_log_dropped_total` rather than blocking requests or growing without bound; `close()` writes
whatever is queued before the process exits.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter
from sqlalchemy import Engine, insert

from matchday.ingest.store.models import ServedPredictionRow

__all__ = ["FeatureSource", "LoggedPrediction", "PredictionLog"]

logger = logging.getLogger(__name__)
_POLL_SECONDS = 0.1


class FeatureSource(Protocol):
    def as_dict(self) -> dict[str, Any]:
        """The model's input row as JSON-ready values (NaN as None); called on the writer thread."""
        ...


@dataclass(frozen=True)
class LoggedPrediction:
    request_id: str
    served_at: datetime  # naive UTC, as the store keeps times
    model_name: str
    model_version: str
    variant: str
    competition: str
    home_team: str
    away_team: str
    kickoff: datetime | None
    features: FeatureSource
    probabilities: tuple[float, float, float]
    latency_ms: float

    def row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "served_at": self.served_at,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "variant": self.variant,
            "competition": self.competition,
            "home_team": self.home_team,
            "away_team": self.away_team,
            "kickoff": self.kickoff,
            "features": json.dumps(self.features.as_dict(), separators=(",", ":"), default=str),
            "prob_home": self.probabilities[0],
            "prob_draw": self.probabilities[1],
            "prob_away": self.probabilities[2],
            "latency_ms": self.latency_ms,
        }


class PredictionLog:
    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 500,
        interval_seconds: float = 1.0,
        max_queued: int = 100_000,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._engine = engine
        self._batch = batch_size
        self._interval = interval_seconds
        self._queue: queue.Queue[LoggedPrediction] = queue.Queue(maxsize=max_queued)
        self._stop = threading.Event()
        self._written = Counter("matchday_prediction_log_written", "Served predictions written", registry=registry)
        self._dropped = Counter(
            "matchday_prediction_log_dropped", "Served predictions dropped (queue full)", registry=registry
        )
        self._failed = Counter("matchday_prediction_log_failed_batches", "Batches that failed", registry=registry)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[LoggedPrediction]) -> None:
        """Queue records for writing; never blocks."""
        for record in records:
            try:
                self._queue.put_nowait(record)
            except queue.Full:
                self._dropped.inc()

    def close(self, timeout_seconds: float = 10.0) -> None:
        """Write what is queued and stop the writer."""
        self._stop.set()
        self._thread.join(timeout_seconds)

    def _run(self) -> None:
        while not self._stop.is_set():
            deadline = time.monotonic() + self._interval
            batch = self._take(deadline)
            if batch:
                self._write(batch)
        while not self._queue.empty():  # drain on close
            self._write(self._take(time.monotonic()))

    def _take(self, deadline: float) -> list[LoggedPrediction]:
        batch: list[LoggedPrediction] = []
        while len(batch) < self._batch:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0 and not self._stop.is_set():
                    # short waits, so `close` never waits out a long interval
                    batch.append(self._queue.get(timeout=min(remaining, _POLL_SECONDS)))
                else:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                if remaining <= 0 or self._stop.is_set():
                    break
        return batch

    def _write(self, batch: list[LoggedPrediction]) -> None:
        if not batch:
            return
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(ServedPredictionRow), [record.row() for record in batch])
        except Exception:  # a logging failure must never take the server down
            self._failed.inc()
            logger.exception("prediction_log.write_failed", extra={"rows": len(batch)})
            return
        self._written.inc(len(batch))
