"""The canary controller: which variant answers each request, and when the challenger advances, is promoted or is
rolled back. The serving engine loads both variants and calls `route` and `record` per request; the evaluator
thread (or the caller) calls `evaluate`; the admin routes call start, pause, resume, abort and status.

    route(key)          sticky: a key's hash bucket below share * 10 000 goes to the challenger (canary_stats)
    record(variant,...) per request: counters, a latency reservoir for the p99, Prometheus; a challenger failure
                        over budget stops its traffic at once and wakes the evaluator to roll it back
    evaluate(now)       breach -> roll back; step held min_seconds with min_requests -> advance, or promote
                        after the last step. Every change is one transaction in the database (row + event).

Decisions the engine and the admin routes can rely on:
- Paused: keeps routing at its current share (users already on the challenger stay there) and is still judged,
  so a breach still rolls it back, but it never advances. Resume holds the step again from the resume.
- Promote: the registry action runs first (`on_promote(version)`: `champion` -> the challenger's version and the
  `challenger` alias removed); if it fails the canary stays at its last step and is promoted at a later
  evaluation. Rollback and abort stop the challenger's traffic first, write the state, then run
  `on_rollback(version)`, which removes the `challenger` alias (while it still names that version) so that
  nothing serves it again by accident; the champion is never touched. `on_change(record)` follows every start,
  promotion, rollback and abort, also those another process wrote, so the engine can reload its variants.
- Restart: `load` restores the running or paused canary with empty step counters: the current step is held
  again (min_requests and min_seconds) from the restart. `load` does not call on_change: read `active` after it.
- Several serving processes may share the database: each judges its own traffic, re-reads the state at every
  evaluation and admin call, and writes a change only if the row is still as it saw it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from prometheus_client import REGISTRY, CollectorRegistry
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from matchday.config import Settings
from matchday.inference.canary_config import CanaryConfig, load_canary_config
from matchday.inference.canary_stats import Variant, VariantFigures, breach
from matchday.inference.canary_store import CanaryConflict, CanaryEvent, CanaryRecord, CanaryState, CanaryStore
from matchday.inference.canary_traffic import CanaryTraffic
from matchday.ingest.store.database import make_engine, migrate

__all__ = [
    "CanaryConflict",
    "CanaryController",
    "CanaryDecision",
    "CanaryRecord",
    "CanaryStatus",
    "RegistryActions",
    "Variant",
    "mlflow_actions",
]

logger = logging.getLogger(__name__)

Action = Literal["none", "hold", "advance", "promote", "rollback"]
_EVENTS_SHOWN = 20
_RACE_RETRIES = 3


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class CanaryDecision(BaseModel):
    """What `evaluate` did and why; the figures are the step's, as measured when it decided."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    reason: str
    canary_id: int | None = None
    step_index: int | None = None
    share: float = 0.0
    champion: VariantFigures | None = None
    challenger: VariantFigures | None = None


class CanaryStatus(BaseModel):
    """A canary as the admin routes show it. The figures are this process's for the current step (None once the
    canary is over); `counting_since` is when they started (the step's start, a resume or a restart)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    model_name: str
    champion_version: str
    challenger_version: str
    status: CanaryState
    step_index: int
    steps: int
    share: float
    started_at: datetime
    step_started_at: datetime
    updated_at: datetime
    reason: str | None
    counting_since: datetime | None
    champion: VariantFigures | None
    challenger: VariantFigures | None
    events: list[CanaryEvent]


@dataclass(frozen=True, slots=True)
class RegistryActions:
    on_promote: Callable[[str], None]
    on_rollback: Callable[[str], None]


def mlflow_actions(settings: Settings) -> RegistryActions:
    """The registry actions on MLflow: promote moves `champion` to the version and removes `challenger`; rollback
    removes `challenger`. Either removes the alias only while it still names that version (a newer training run
    may have moved it since) and tags the version `matchday.canary` with the outcome."""
    from matchday.integrations import mlflow_registry  # noqa: PLC0415  (MLflow takes seconds to import)

    def finish(version: str, outcome: str) -> None:
        client = mlflow_registry.configure(settings)
        client.set_model_version_tag(settings.model_name, version, mlflow_registry.CANARY_TAG, outcome)
        current = mlflow_registry.version_by_alias(settings, mlflow_registry.CHALLENGER)
        if current is not None and str(current.version) == version:
            client.delete_registered_model_alias(settings.model_name, mlflow_registry.CHALLENGER)

    def on_promote(version: str) -> None:
        mlflow_registry.promote(settings, version)
        finish(version, "promoted")

    def on_rollback(version: str) -> None:
        finish(version, "rolled_back")

    return RegistryActions(on_promote=on_promote, on_rollback=on_rollback)


@dataclass(frozen=True, slots=True)
class _Measured:
    """The active canary and its step's figures, read together."""

    active: CanaryRecord
    champion: VariantFigures
    challenger: VariantFigures
    held_seconds: float

    def detail(self, reason: str) -> dict[str, Any]:
        """An event's JSON detail: why, and the figures it was decided on."""
        return {
            "reason": reason,
            "step_index": self.active.step_index,
            "held_seconds": round(self.held_seconds, 3),
            "champion": self.champion.model_dump(),
            "challenger": self.challenger.model_dump(),
        }

    def decision(self, action: Action, reason: str, share: float, step_index: int | None) -> CanaryDecision:
        return CanaryDecision(
            action=action,
            reason=reason,
            canary_id=self.active.id,
            step_index=step_index,
            share=share,
            champion=self.champion,
            challenger=self.challenger,
        )


class CanaryController:
    """One model's canary in one serving process. Thread-safe; `route` and `record` take no database trip."""

    def __init__(
        self,
        store: CanaryStore,
        model_name: str,
        config: CanaryConfig,
        *,
        on_promote: Callable[[str], None],
        on_rollback: Callable[[str], None],
        on_change: Callable[[CanaryRecord], None] | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] | None = None,
        owns_engine: bool = False,
    ) -> None:
        self.model_name = model_name
        self.config = config
        self._store = store
        self._on_promote, self._on_rollback, self._on_change = on_promote, on_rollback, on_change
        self._clock = clock or _utcnow
        self._owns_engine = owns_engine
        self._admin = threading.RLock()  # serialises evaluations and admin operations
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._traffic = CanaryTraffic(
            model_name, config, registry if registry is not None else REGISTRY, self._wake.set
        )

    @classmethod
    def load(
        cls,
        source: Settings | Engine,
        model_name: str,
        config: CanaryConfig | None = None,
        *,
        on_promote: Callable[[str], None],
        on_rollback: Callable[[str], None],
        on_change: Callable[[CanaryRecord], None] | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> CanaryController:
        """A controller holding the model's running or paused canary, if any. From `Settings`: the configured
        database (migrated here) and, without `config`, the configured canary file. From an `Engine`: a migrated
        database, and the default config without `config`."""
        if isinstance(source, Settings):
            engine, owns = make_engine(source.resolved_database_url), True
            migrate(engine)
            config = config if config is not None else load_canary_config(source.canary_config)
        else:
            engine, owns = source, False
            config = config if config is not None else CanaryConfig()
        controller = cls(
            CanaryStore(engine),
            model_name,
            config,
            on_promote=on_promote,
            on_rollback=on_rollback,
            on_change=on_change,
            registry=registry,
            clock=clock,
            owns_engine=owns,
        )
        record = controller._store.active(model_name)
        controller._traffic.adopt(record, controller._clock(), reset=True)
        if record is not None:
            logger.info("canary.restored", extra=_log_fields(record))
        return controller

    def close(self) -> None:
        self.stop_evaluator()
        if self._owns_engine:
            self._store.engine.dispose()

    # The hot path: the engine calls these per request.

    @property
    def active(self) -> CanaryRecord | None:
        """The running or paused canary as this process last read it: what `route` serves."""
        return self._traffic.active

    def route(self, routing_key: str) -> Variant:
        """ "challenger" for a key whose bucket is below the share (always the same for one key), else "champion";
        always "champion" without an active canary or once a breach has been seen."""
        return self._traffic.route(routing_key)

    def record(self, variant: Variant, *, ok: bool, latency_seconds: float, valid: bool) -> None:
        """One request's outcome. `ok`: the variant answered (a client's bad input is no failure of the variant:
        do not record it); `valid`: its prediction is a valid probability triplet. ValueError on a latency that
        is negative or not finite."""
        self._traffic.record(variant, ok=ok, latency_seconds=latency_seconds, valid=valid)

    # Evaluation.

    def evaluate(self, now: datetime | None = None) -> CanaryDecision:
        """Judge the active canary once: roll back on a breach, else advance or promote when the step is held."""
        at = now if now is not None else self._clock()
        with self._admin:
            for _ in range(_RACE_RETRIES):
                self._sync(at)
                decision = self._evaluate_once(at)
                if decision is not None:
                    return decision
        return CanaryDecision(action="none", reason="the canary kept changing in another process; judged later")

    def _evaluate_once(self, now: datetime) -> CanaryDecision | None:
        """One judgement; None when another process changed the canary before it could be written."""
        seen = self._traffic.snapshot()
        active = seen.active
        if active is None:
            return CanaryDecision(action="none", reason=f"model {self.model_name} has no running canary")
        held = (now - (seen.since or now)).total_seconds()
        measured = _Measured(active, seen.champion, seen.challenger, held)
        found = breach(self.config, seen.champion, seen.challenger)
        if found is not None:
            if self._finish(active, now, "rolled_back", found, measured.detail(found)) is None:
                return None
            return measured.decision("rollback", found, 0.0, None)
        if active.status == "paused":
            return measured.decision("hold", "paused: judged, not advanced", active.share, active.step_index)
        return self._step(measured, now)

    def _step(self, measured: _Measured, now: datetime) -> CanaryDecision | None:
        active, steps = measured.active, self.config.steps
        index = min(active.step_index, len(steps) - 1)  # restarted with fewer steps configured
        step, requests, held = steps[index], measured.challenger.requests, measured.held_seconds
        if requests < step.min_requests or held < step.min_seconds:
            reason = (
                f"step {index} at share {active.share}: {requests}/{step.min_requests} challenger requests, "
                f"{held:.0f}/{step.min_seconds:.0f} s held"
            )
            return measured.decision("hold", reason, active.share, active.step_index)
        reason = f"step {index} at share {active.share} held and healthy"
        if index + 1 == len(steps):
            return self._promote(measured, now, reason)
        share = steps[index + 1].share
        updated = self._store.transition(
            active,
            kind="advanced",
            status="running",
            step_index=index + 1,
            share=share,
            now=now,
            detail=measured.detail(reason),
            new_step=True,
        )
        if updated is None:
            return None
        self._traffic.adopt(updated, now, reset=True)
        logger.info("canary.advanced", extra=_log_fields(updated))
        return measured.decision("advance", reason, share, index + 1)

    def _promote(self, measured: _Measured, now: datetime, reason: str) -> CanaryDecision | None:
        active = measured.active
        try:
            self._on_promote(active.challenger_version)
        except Exception as exc:
            logger.exception("canary.promote_failed", extra=_log_fields(active))
            failed = f"promotion failed ({exc}); tried again at the next evaluation"
            return measured.decision("hold", failed, active.share, active.step_index)
        if self._finish(active, now, "promoted", reason, measured.detail(reason)) is None:
            logger.warning("canary.promote_raced", extra=_log_fields(active))
            return None
        return measured.decision("promote", reason, 1.0, None)

    def _finish(
        self, active: CanaryRecord, now: datetime, status: CanaryState, reason: str, detail: dict[str, Any]
    ) -> CanaryRecord | None:
        """End the canary (promoted, rolled_back or aborted); None when another process changed it first."""
        promoted = status == "promoted"
        if not promoted:
            self._traffic.trip()  # stop the challenger's traffic before anything that may fail
        updated = self._store.transition(
            active,
            kind=status,
            status=status,
            step_index=active.step_index,
            share=1.0 if promoted else 0.0,
            now=now,
            detail=detail,
            reason=reason,
        )
        if updated is None:
            return None
        self._traffic.adopt(None, now, reset=True, final=status)
        (logger.info if promoted else logger.warning)(
            f"canary.{status}", extra={**_log_fields(updated), "reason": reason}
        )
        if not promoted:
            try:
                self._on_rollback(active.challenger_version)
            except Exception:
                logger.exception("canary.rollback_registry_failed", extra=_log_fields(updated))
        self._notify(updated)
        return updated

    # Admin operations: the HTTP admin routes wrap these.

    def start(self, champion_version: str, challenger_version: str) -> CanaryStatus:
        """Start a canary of `challenger_version` against `champion_version` at the first step's share.
        `CanaryConflict` (409) when the model already has a running or paused canary."""
        for key, value in (("champion_version", champion_version), ("challenger_version", challenger_version)):
            if not value.strip():
                raise ValueError(f"{key}={value!r}: must name a registered version")
        if champion_version == challenger_version:
            raise ValueError(f"challenger_version={challenger_version!r}: is the champion's version too")
        now = self._clock()
        with self._admin:
            self._sync(now)
            share = self.config.steps[0].share
            record = self._store.create(self.model_name, champion_version, challenger_version, share, now)
            self._traffic.adopt(record, now, reset=True)
            logger.info("canary.started", extra=_log_fields(record))
            self._notify(record)
            return self._status_of(record)

    def pause(self, reason: str) -> CanaryStatus:
        """Hold the running canary at its share: still judged (a breach rolls it back), never advanced."""
        return self._operate("pause", ("running",), "paused", reason)

    def resume(self) -> CanaryStatus:
        """Let a paused canary advance again; its step is held again from now."""
        return self._operate("resume", ("paused",), "running", None)

    def abort(self, reason: str) -> CanaryStatus:
        """End the running or paused canary (status aborted): the champion only, the `challenger` alias removed."""
        return self._operate("abort", ("running", "paused"), "aborted", reason)

    def status(self) -> CanaryStatus | None:
        """The model's active canary or, when none is, its latest one; None when it never had one."""
        with self._admin:
            self._sync(self._clock())
            record = self._traffic.active or self._store.latest(self.model_name)
            return None if record is None else self._status_of(record)

    def _operate(
        self, operation: str, allowed: tuple[CanaryState, ...], to: CanaryState, reason: str | None
    ) -> CanaryStatus:
        if reason is not None and not reason.strip():
            raise ValueError(f"reason={reason!r}: say why the canary is {to}")
        now = self._clock()
        with self._admin:
            self._sync(now)
            seen = self._traffic.snapshot()
            active = seen.active
            if active is None or active.status not in allowed:
                state = "has no running canary" if active is None else f"has canary {active.id} {active.status}"
                raise CanaryConflict(f"cannot {operation}: model {self.model_name} {state}")
            detail = {
                "reason": reason,
                "champion": seen.champion.model_dump(),
                "challenger": seen.challenger.model_dump(),
            }
            if to == "aborted":
                updated = self._finish(active, now, "aborted", reason or operation, detail)
            else:
                resuming = to == "running"
                updated = self._store.transition(
                    active,
                    kind="resumed" if resuming else "paused",
                    status=to,
                    step_index=active.step_index,
                    share=active.share,
                    now=now,
                    detail=detail,
                    reason=reason,
                    new_step=resuming,
                )
                if updated is not None:
                    self._traffic.adopt(updated, now, reset=resuming)
                    logger.info(f"canary.{to}", extra={**_log_fields(updated), "reason": reason})
            if updated is None:
                raise CanaryConflict(f"cannot {operation}: canary {active.id} changed in another process; try again")
            return self._status_of(updated)

    def _status_of(self, record: CanaryRecord) -> CanaryStatus:
        seen = self._traffic.snapshot()
        current = seen.active is not None and seen.active.id == record.id
        return CanaryStatus(
            id=record.id,
            model_name=record.model_name,
            champion_version=record.champion_version,
            challenger_version=record.challenger_version,
            status=record.status,
            step_index=record.step_index,
            steps=len(self.config.steps),
            share=record.share,
            started_at=record.started_at,
            step_started_at=record.step_started_at,
            updated_at=record.updated_at,
            reason=record.reason,
            counting_since=seen.since if current else None,
            champion=seen.champion if current else None,
            challenger=seen.challenger if current else None,
            events=self._store.events(record.id, _EVENTS_SHOWN),
        )

    # The background evaluator, owned by the serving process.

    def start_evaluator(self, interval: float | None = None) -> None:
        """Evaluate every `interval` seconds (default the config's) on a daemon thread, and at once when a request
        trips a breach; an evaluation's exception is logged, never raised. A second call does nothing."""
        period = self.config.evaluation_interval_seconds if interval is None else interval
        if not (math.isfinite(period) and period > 0):
            raise ValueError(f"interval={interval!r}: must be a positive number of seconds")
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._evaluate_forever, args=(period,), name=f"canary-{self.model_name}", daemon=True
        )
        self._thread.start()

    def stop_evaluator(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)

    def _evaluate_forever(self, period: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(period)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.evaluate()
            except Exception:
                logger.exception("canary.evaluate_failed", extra={"model": self.model_name})

    # The state other processes share through the database.

    def _sync(self, now: datetime) -> None:
        """Take up what another process (or an operator through it) changed since this one last read the state."""
        record = self._store.active(self.model_name)
        current = self._traffic.active
        if record == current:
            return
        same = record is not None and current is not None and record.id == current.id
        reset = True
        if same and record is not None and current is not None:
            # The counters start again with a new step or a resume (the step is held again), not with a pause.
            reset = record.step_index != current.step_index or (current.status, record.status) == ("paused", "running")
        ended = self._store.get(current.id) if current is not None and not same else None
        self._traffic.adopt(record, now, reset=reset, final="none" if ended is None else ended.status)
        if ended is not None:
            self._notify(ended)
        if record is not None and not same:
            self._notify(record)

    def _notify(self, record: CanaryRecord) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(record)
        except Exception:
            logger.exception("canary.on_change_failed", extra=_log_fields(record))


def _log_fields(record: CanaryRecord) -> dict[str, object]:
    return {
        "model": record.model_name,
        "canary_id": record.id,
        "status": record.status,
        "step": record.step_index,
        "share": record.share,
        "champion_version": record.champion_version,
        "challenger_version": record.challenger_version,
    }
