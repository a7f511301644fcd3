"""What monitoring remembers in the store: drift checks, retraining triggers and pipeline runs.

The cooldown reads the triggers back (`last_launch`), the exporter reads all three, and `matchday pipeline run`
records its runs so that "training failed" is something a dashboard can see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from matchday.ingest.store.models import DriftCheckRow, PipelineRunRow, RetrainTriggerRow

__all__ = [
    "CheckRecord",
    "TriggerRecord",
    "complete_check",
    "finish_pipeline_run",
    "last_launch",
    "latest_check",
    "latest_pipeline_runs",
    "record_check",
    "record_trigger",
    "start_pipeline_run",
    "trigger_counts",
    "utc_now",
]


def utc_now() -> datetime:
    """Now as naive UTC, as the store keeps times."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class CheckRecord:
    id: int
    checked_at: datetime
    model_version: str
    verdict: str
    current_rows: int
    feature_share: float
    summary: dict[str, Any]
    report_path: str | None


@dataclass(frozen=True)
class TriggerRecord:
    id: int
    drift_check_id: int
    triggered_at: datetime
    status: str
    launcher: str
    detail: str


def record_check(
    engine: Engine,
    *,
    model_name: str,
    model_version: str,
    window: tuple[datetime, datetime],
    verdict: str,
    current_rows: int,
    feature_share: float,
    summary: dict[str, Any],
    report_path: str | None,
    checked_at: datetime | None = None,
) -> int:
    row = {
        "checked_at": checked_at or utc_now(),
        "model_name": model_name,
        "model_version": model_version,
        "window_start": window[0],
        "window_end": window[1],
        "verdict": verdict,
        "current_rows": current_rows,
        "feature_share": feature_share,
        "summary": json.dumps(summary, default=str, allow_nan=True),
        "report_path": report_path,
    }
    with engine.begin() as connection:
        return int(connection.execute(insert(DriftCheckRow).values(row).returning(DriftCheckRow.id)).scalar_one())


def complete_check(engine: Engine, check_id: int, summary: dict[str, Any], report_path: str | None) -> None:
    """The check's summary and report, once written (the trigger that follows a check names the check's id)."""
    values = {"summary": json.dumps(summary, default=str, allow_nan=True), "report_path": report_path}
    with engine.begin() as connection:
        connection.execute(update(DriftCheckRow).where(DriftCheckRow.id == check_id).values(values))


def latest_check(engine: Engine, model_name: str) -> CheckRecord | None:
    query = (
        select(DriftCheckRow)
        .where(DriftCheckRow.model_name == model_name)
        .order_by(DriftCheckRow.checked_at.desc(), DriftCheckRow.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return CheckRecord(
        row.id,
        row.checked_at,
        row.model_version,
        row.verdict,
        row.current_rows,
        row.feature_share,
        json.loads(row.summary),
        row.report_path,
    )


def record_trigger(
    engine: Engine, *, drift_check_id: int, model_name: str, status: str, launcher: str, detail: str, at: datetime
) -> int:
    row = {
        "drift_check_id": drift_check_id,
        "triggered_at": at,
        "model_name": model_name,
        "status": status,
        "launcher": launcher,
        "detail": detail,
    }
    with engine.begin() as connection:
        statement = insert(RetrainTriggerRow).values(row).returning(RetrainTriggerRow.id)
        return int(connection.execute(statement).scalar_one())


def last_launch(engine: Engine, model_name: str) -> TriggerRecord | None:
    """The latest retraining actually launched for `model_name` (what the cooldown counts from)."""
    query = (
        select(RetrainTriggerRow)
        .where(RetrainTriggerRow.model_name == model_name, RetrainTriggerRow.status == "launched")
        .order_by(RetrainTriggerRow.triggered_at.desc(), RetrainTriggerRow.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return TriggerRecord(row.id, row.drift_check_id, row.triggered_at, row.status, row.launcher, row.detail)


def trigger_counts(engine: Engine, model_name: str) -> dict[str, int]:
    query = (
        select(RetrainTriggerRow.status, func.count())
        .where(RetrainTriggerRow.model_name == model_name)
        .group_by(RetrainTriggerRow.status)
    )
    with engine.connect() as connection:
        return {str(status): int(count) for status, count in connection.execute(query).all()}


def start_pipeline_run(engine: Engine, pipeline: str, detail: str, status: str = "running") -> int:
    row = {"pipeline": pipeline, "started_at": utc_now(), "status": status, "detail": detail}
    with engine.begin() as connection:
        return int(connection.execute(insert(PipelineRunRow).values(row).returning(PipelineRunRow.id)).scalar_one())


def finish_pipeline_run(engine: Engine, run_id: int, *, succeeded: bool, detail: str | None = None) -> None:
    values: dict[str, Any] = {"finished_at": utc_now(), "status": "succeeded" if succeeded else "failed"}
    if detail is not None:
        values["detail"] = detail
    with engine.begin() as connection:
        connection.execute(update(PipelineRunRow).where(PipelineRunRow.id == run_id).values(values))


def latest_pipeline_runs(engine: Engine) -> dict[tuple[str, str], datetime]:
    """(pipeline, status) -> when the latest such run started (finished, for finished runs)."""
    when = func.max(func.coalesce(PipelineRunRow.finished_at, PipelineRunRow.started_at))
    query = select(PipelineRunRow.pipeline, PipelineRunRow.status, when).group_by(
        PipelineRunRow.pipeline, PipelineRunRow.status
    )
    with engine.connect() as connection:
        return {(str(p), str(s)): at for p, s, at in connection.execute(query).all()}
