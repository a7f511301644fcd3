"""The canary's state in the database (tables `canaries` and `canary_events`, migration 0002).

Every change is one transaction: the canary row's update and its event. Updates are conditional on the state
the caller saw (id, status, step), so two serving processes judging the same canary cannot both move it: the
loser gets None and re-reads. At most one canary per model is running or paused; `create` checks that under a
lock (PostgreSQL: an advisory transaction lock per model; SQLite: its write lock, taken at BEGIN).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, insert, select, text, update

from matchday.inference.errors import ServingError
from matchday.ingest.store.models import CanaryEventRow, CanaryRow

__all__ = [
    "ACTIVE",
    "FINISHED",
    "CanaryConflict",
    "CanaryEvent",
    "CanaryRecord",
    "CanaryState",
    "CanaryStore",
]

CanaryState = Literal["running", "paused", "promoted", "rolled_back", "aborted"]
ACTIVE: tuple[CanaryState, ...] = ("running", "paused")
FINISHED: tuple[CanaryState, ...] = ("promoted", "rolled_back", "aborted")


@dataclass(frozen=True, slots=True)
class CanaryRecord:
    """One canary row as read; `share` is the challenger's share of traffic, `step_index` into the config's steps.
    Datetimes are naive UTC, as everywhere in the store."""

    id: int
    model_name: str
    champion_version: str
    challenger_version: str
    status: CanaryState
    step_index: int
    share: float
    started_at: datetime
    step_started_at: datetime
    updated_at: datetime
    reason: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class CanaryEvent(BaseModel):
    """What happened: kind started | advanced | paused | resumed | promoted | rolled_back | aborted; `detail` the
    measured figures or the operator's reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    kind: str
    share: float
    detail: dict[str, Any]


def _record(row: Any) -> CanaryRecord:
    return CanaryRecord(
        id=int(row.id),
        model_name=str(row.model_name),
        champion_version=str(row.champion_version),
        challenger_version=str(row.challenger_version),
        status=row.status,
        step_index=int(row.step_index),
        share=float(row.share),
        started_at=row.started_at,
        step_started_at=row.step_started_at,
        updated_at=row.updated_at,
        reason=row.reason,
    )


def _lock_key(model_name: str) -> int:
    # pg_advisory_xact_lock takes a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(f"matchday.canary:{model_name}".encode()).digest()[:8], "big", signed=True)


class CanaryConflict(ServingError):  # noqa: N818  named for its HTTP status like its siblings in errors.py
    """The canary is not in a state that allows the operation (a second start, resuming a running one); the
    message names the canary. HTTP 409."""

    status = 409


class CanaryStore:
    """Canary rows behind an engine whose schema is migrated (see `matchday.ingest.store.database.migrate`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def active(self, model_name: str) -> CanaryRecord | None:
        return self._one(CanaryRow.model_name == model_name, CanaryRow.status.in_(ACTIVE))

    def latest(self, model_name: str) -> CanaryRecord | None:
        """The model's newest canary, active or finished."""
        return self._one(CanaryRow.model_name == model_name)

    def get(self, canary_id: int) -> CanaryRecord | None:
        return self._one(CanaryRow.id == canary_id)

    def _one(self, *conditions: Any) -> CanaryRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(CanaryRow).where(*conditions).order_by(CanaryRow.id.desc()).limit(1)
            ).first()
        return None if row is None else _record(row)

    def create(
        self, model_name: str, champion_version: str, challenger_version: str, share: float, now: datetime
    ) -> CanaryRecord:
        """A new running canary at step 0, unless the model has an active one (`CanaryConflict`)."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(model_name)})
            existing = connection.execute(
                select(CanaryRow.id, CanaryRow.status, CanaryRow.champion_version, CanaryRow.challenger_version)
                .where(CanaryRow.model_name == model_name, CanaryRow.status.in_(ACTIVE))
                .limit(1)
            ).first()
            if existing is not None:
                raise CanaryConflict(
                    f"model {model_name} already has canary {existing.id} ({existing.status}: version "
                    f"{existing.challenger_version} against {existing.champion_version}); abort it first"
                )
            values: dict[str, Any] = {
                "model_name": model_name,
                "champion_version": champion_version,
                "challenger_version": challenger_version,
                "status": "running",
                "step_index": 0,
                "share": share,
                "started_at": now,
                "step_started_at": now,
                "updated_at": now,
                "reason": None,
            }
            canary_id = int(connection.execute(insert(CanaryRow).returning(CanaryRow.id), values).scalar_one())
            detail = {"champion_version": champion_version, "challenger_version": challenger_version}
            _event(connection, canary_id, now, "started", share, detail)
        return CanaryRecord(id=canary_id, **values)

    def transition(
        self,
        seen: CanaryRecord,
        *,
        kind: str,
        status: CanaryState,
        step_index: int,
        share: float,
        now: datetime,
        detail: dict[str, Any],
        reason: str | None = None,
        new_step: bool = False,
    ) -> CanaryRecord | None:
        """Move the canary from the state `seen` to the one given and log event `kind`; None (nothing written) when
        the row is no longer in the state `seen`: another process moved it first."""
        # updated_at is the row's version too: strictly later than the state seen, even on a clock that stood still.
        stamp = max(now, seen.updated_at + timedelta(microseconds=1))
        values: dict[str, Any] = {"status": status, "step_index": step_index, "share": share, "updated_at": stamp}
        if new_step:
            values["step_started_at"] = now
        if reason is not None:
            values["reason"] = reason
        with self.engine.begin() as connection:
            result = connection.execute(
                update(CanaryRow)
                .where(
                    CanaryRow.id == seen.id,
                    CanaryRow.status == seen.status,
                    CanaryRow.step_index == seen.step_index,
                    CanaryRow.updated_at == seen.updated_at,
                )
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            _event(connection, seen.id, now, kind, share, detail)
        return replace(seen, **values)

    def events(self, canary_id: int, limit: int = 20) -> list[CanaryEvent]:
        """The canary's newest `limit` events, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(CanaryEventRow)
                .where(CanaryEventRow.canary_id == canary_id)
                .order_by(CanaryEventRow.id.desc())
                .limit(limit)
            ).all()
        return [
            CanaryEvent(at=row.at, kind=row.kind, share=row.share, detail=json.loads(row.detail))
            for row in reversed(rows)
        ]


def _event(
    connection: Connection, canary_id: int, at: datetime, kind: str, share: float, detail: dict[str, Any]
) -> None:
    row = {"canary_id": canary_id, "at": at, "kind": kind, "share": share, "detail": json.dumps(detail, default=str)}
    connection.execute(insert(CanaryEventRow), row)
