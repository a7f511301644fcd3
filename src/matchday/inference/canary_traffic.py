"""The canary's hot path: which variant a request goes to and what it did, with no database trip.

`CanaryTraffic` holds the canary this process serves (as last read from the database), the routing threshold and
the current step's counters; the controller (canary.py) moves it from state to state. A challenger failure that
breaks the error or validity budget (`certain_breach`) trips it: no more challenger traffic from that request on,
and `on_trip` wakes the evaluator to write the rollback.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

from matchday.inference.canary_config import CanaryConfig
from matchday.inference.canary_stats import (
    ROUTING_BUCKETS,
    VARIANTS,
    Variant,
    VariantFigures,
    VariantStats,
    certain_breach,
    routing_bucket,
)
from matchday.inference.canary_store import CanaryRecord

__all__ = ["STATES", "CanaryMetrics", "CanaryTraffic", "TrafficSnapshot", "canary_metrics"]

logger = logging.getLogger(__name__)

STATES = ("none", "running", "paused", "promoted", "rolled_back", "aborted")
_OUTCOMES = ("ok", "error", "invalid")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True, slots=True)
class CanaryMetrics:
    requests: Counter
    latency: Histogram
    share: Gauge
    step: Gauge
    state: Enum


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, CanaryMetrics] = weakref.WeakKeyDictionary()
_METRICS_LOCK = threading.Lock()


def canary_metrics(registry: CollectorRegistry) -> CanaryMetrics:
    """The canary's metrics in `registry`, registered once per registry: two controllers on one registry (a
    restart in a test, two models in one process) share them, told apart by the `model` label."""
    with _METRICS_LOCK:
        found = _METRICS.get(registry)
        if found is None:
            found = CanaryMetrics(
                requests=Counter(
                    "matchday_canary_requests",
                    "Requests per canary variant; outcome ok, error or invalid (not a valid probability triplet).",
                    ["model", "variant", "outcome"],
                    registry=registry,
                ),
                latency=Histogram(
                    "matchday_canary_latency_seconds",
                    "Prediction latency per canary variant.",
                    ["model", "variant"],
                    buckets=_LATENCY_BUCKETS,
                    registry=registry,
                ),
                share=Gauge(
                    "matchday_canary_share", "The challenger's share of traffic.", ["model"], registry=registry
                ),
                step=Gauge("matchday_canary_step", "Index of the canary's current step.", ["model"], registry=registry),
                state=Enum(
                    "matchday_canary_state",
                    "The model's canary state.",
                    ["model"],
                    states=list(STATES),
                    registry=registry,
                ),
            )
            _METRICS[registry] = found
        return found


@dataclass(frozen=True, slots=True)
class TrafficSnapshot:
    """The canary and its step's figures, read together; `since` is when the counters started."""

    active: CanaryRecord | None
    champion: VariantFigures
    challenger: VariantFigures
    since: datetime | None


class CanaryTraffic:
    """Routing and step counters of one model's canary in one process. Thread-safe."""

    def __init__(
        self, model_name: str, config: CanaryConfig, registry: CollectorRegistry, on_trip: Callable[[], None]
    ) -> None:
        self.model_name = model_name
        self._config = config
        self._on_trip = on_trip
        self._lock = threading.Lock()
        self._active: CanaryRecord | None = None
        self._threshold = 0  # routing buckets below it go to the challenger
        self._tripped = False  # a breach seen: no challenger traffic until the counters start again
        self._stats = {variant: VariantStats() for variant in VARIANTS}
        self._since: datetime | None = None
        self._metrics = canary_metrics(registry)
        self._requests = {
            (variant, outcome): self._metrics.requests.labels(model_name, variant, outcome)
            for variant in VARIANTS
            for outcome in _OUTCOMES
        }
        self._latency = {variant: self._metrics.latency.labels(model_name, variant) for variant in VARIANTS}
        self._publish(None, "none")

    @property
    def active(self) -> CanaryRecord | None:
        return self._active

    def route(self, routing_key: str) -> Variant:
        threshold = self._threshold  # one attribute read: no lock per request
        if threshold and routing_bucket(routing_key) < threshold:
            return "challenger"
        return "champion"

    def record(self, variant: Variant, *, ok: bool, latency_seconds: float, valid: bool) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r}: must be one of {', '.join(VARIANTS)}")
        if not (math.isfinite(latency_seconds) and latency_seconds >= 0.0):
            raise ValueError(f"latency_seconds={latency_seconds!r}: must be a finite number >= 0")
        outcome = "error" if not ok else "ok" if valid else "invalid"
        self._requests[variant, outcome].inc()
        self._latency[variant].observe(latency_seconds)
        with self._lock:
            if self._active is None:
                return
            stats = self._stats[variant]
            stats.add(ok=ok, latency_seconds=latency_seconds, valid=valid)
            if variant != "challenger" or outcome == "ok" or self._tripped:
                return
            reason = certain_breach(self._config, stats.requests, stats.errors, stats.invalid)
            if reason is None:
                return
            self._tripped, self._threshold = True, 0
            canary_id = self._active.id
        logger.warning("canary.tripped", extra={"model": self.model_name, "canary_id": canary_id, "reason": reason})
        self._on_trip()

    def trip(self) -> None:
        """Send every request to the champion until the counters start again (a rollback is being written)."""
        with self._lock:
            self._tripped, self._threshold = True, 0

    def snapshot(self) -> TrafficSnapshot:
        with self._lock:
            champion, challenger = (self._stats[variant].figures() for variant in VARIANTS)
            return TrafficSnapshot(self._active, champion, challenger, self._since)

    def adopt(self, record: CanaryRecord | None, now: datetime, *, reset: bool, final: str = "none") -> None:
        """Serve `record` (None: the champion only, `final` the state the metrics show). `reset` starts the step's
        counters again from `now`; without it they carry on (a pause, another process's write)."""
        with self._lock:
            self._active = record
            if reset or record is None:
                self._stats = {variant: VariantStats() for variant in VARIANTS}
                self._tripped = False
                self._since = None if record is None else now
            serving = record is not None and not self._tripped
            self._threshold = max(1, round(record.share * ROUTING_BUCKETS)) if serving and record else 0
        self._publish(record, final)

    def _publish(self, record: CanaryRecord | None, final: str) -> None:
        self._metrics.share.labels(self.model_name).set(0.0 if record is None else record.share)
        self._metrics.step.labels(self.model_name).set(0 if record is None else record.step_index)
        self._metrics.state.labels(self.model_name).state(final if record is None else record.status)
