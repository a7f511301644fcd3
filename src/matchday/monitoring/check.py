"""One drift check, end to end: what `matchday monitor drift`, the exporter's schedule and the monitoring
pipeline's drift step all run.

For the served version (the serving alias's, `champion` by default): its reference snapshot from MLflow, the
fixtures it served in the window (the latest request of each), Evidently's drift report, the served quality once
results are in, the HTML and JSON report saved under `<state_dir>/monitoring/reports/` and logged to MLflow, a
row in `drift_checks`, and, on drift, a retraining through the launcher unless the cooldown holds it back (a row
in `retrain_triggers` either way). The cooldown runs on the window's end, so a replayed history behaves as live
traffic would.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from matchday.config import Settings
from matchday.features.market import market_features
from matchday.ingest.store.frames import load_match_frame, load_quote_frame
from matchday.monitoring.drift import DriftOutcome, compute_drift, latest_per_fixture
from matchday.monitoring.drift_config import DriftConfig
from matchday.monitoring.quality import ServedQuality, served_quality, settle
from matchday.monitoring.records import complete_check, last_launch, record_check, record_trigger, utc_now
from matchday.monitoring.retrain import Launcher, decide
from matchday.monitoring.served import served_frame

__all__ = ["CheckOutcome", "NoServedVersion", "TriggerOutcome", "run_check", "served_version", "window_end"]

log = logging.getLogger(__name__)


class NoServedVersion(LookupError):  # noqa: N818  (it reads as what happened)
    """The serving alias names no registered version: there is nothing served to check."""


@dataclass(frozen=True)
class TriggerOutcome:
    status: str  # launched | cooldown | failed | disabled
    launcher: str
    detail: str


@dataclass(frozen=True)
class CheckOutcome:
    check_id: int
    model_name: str
    model_version: str
    window: tuple[datetime, datetime]
    drift: DriftOutcome
    quality: ServedQuality | None
    report_path: Path  # the Evidently HTML, or the JSON summary when too little traffic ran no report
    trigger: TriggerOutcome | None  # None: no drift, or no launcher given

    def summary(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "window": [moment.isoformat() for moment in self.window],
            "drift": self.drift.result.to_dict(),
            "drift_detected": self.drift.result.drifted,
            "quality": self.quality.to_dict() if self.quality is not None else None,
            "report": str(self.report_path),
            "trigger": vars(self.trigger) if self.trigger is not None else None,
        }


def window_end(value: str) -> datetime:
    """An ISO date or time as the naive UTC the store keeps: one with an offset is converted, one without is UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def served_version(settings: Settings) -> str:
    from matchday.integrations.mlflow_registry import version_by_alias  # noqa: PLC0415  (MLflow is slow to import)

    version = version_by_alias(settings, settings.serving_alias)
    if version is None:
        raise NoServedVersion(f"alias {settings.serving_alias!r} of {settings.model_name} names no version")
    return str(version.version)


def _current(
    engine: Engine, settings: Settings, version: str, window: tuple[datetime, datetime], config: DriftConfig
) -> pd.DataFrame:
    served = served_frame(engine, settings.model_name, *window)
    served = served[served["model_version"] == version]
    return latest_per_fixture(served) if config.dedupe_fixtures else served.reset_index(drop=True)


def _quality(engine: Engine, current: pd.DataFrame) -> ServedQuality | None:
    if current.empty:
        return None
    competitions = sorted(current["competition"].dropna().unique())
    settled = settle(current, load_match_frame(engine, competitions=competitions))
    if settled.empty:
        return None
    market = market_features(
        load_quote_frame(engine, settled["match_id"].tolist(), bookmakers=["pinnacle"]),
        settled["match_id"].unique().tolist(),
    )
    return served_quality(settled, market)


def _report_paths(settings: Settings, stem: str, drift: DriftOutcome) -> list[Path]:
    """Where a check's report goes: the Evidently HTML (when a report ran) and the JSON summary."""
    folder = settings.state_dir / "monitoring" / "reports"
    return [folder / f"{stem}.html"] * (drift.snapshot is not None) + [folder / f"{stem}.json"]


def _save(outcome: CheckOutcome, files: list[Path]) -> None:
    files[-1].parent.mkdir(parents=True, exist_ok=True)
    if outcome.drift.snapshot is not None:
        outcome.drift.snapshot.save_html(str(files[0]))
    files[-1].write_text(json.dumps(outcome.summary(), indent=2, default=str) + "\n", encoding="utf-8")


def _log_mlflow(
    settings: Settings, version: str, outcome: DriftOutcome, quality: ServedQuality | None, files: list[Path]
) -> None:
    from matchday.integrations.mlflow_monitoring import log_drift_check  # noqa: PLC0415  (MLflow is slow to import)

    result = outcome.result
    metrics = {"feature_share": result.feature_share, "current_rows": float(result.current_rows)}
    metrics |= {f"drifted/{c.column}": float(c.drifted) for c in result.columns}
    if quality is not None:
        metrics |= {f"rps/{name}": value for name, value in quality.rps.items()}
        metrics |= {"settled": float(quality.settled), "rps_gap": quality.rps_gap}
    log_drift_check(
        settings, version=version, tags={"matchday.drift": result.verdict}, metrics=metrics, artifacts=files
    )


def _trigger(
    engine: Engine, settings: Settings, config: DriftConfig, check_id: int, at: datetime, launcher: Launcher
) -> TriggerOutcome:
    decision = decide(last_launch(engine, settings.model_name), at, config.retrain)
    if not decision.launch:
        status = "disabled" if not config.retrain.enabled else "cooldown"
        outcome = TriggerOutcome(status, launcher.name, decision.reason)
    else:
        try:
            outcome = TriggerOutcome("launched", launcher.name, launcher.launch(config.retrain))
        except Exception as exc:  # a failed launch is recorded and alerted on, never lost
            log.exception("retrain.launch_failed")
            outcome = TriggerOutcome("failed", launcher.name, f"{type(exc).__name__}: {exc}")
    record_trigger(
        engine, drift_check_id=check_id, model_name=settings.model_name, status=outcome.status,
        launcher=outcome.launcher, detail=outcome.detail, at=at,
    )  # fmt: skip
    return outcome


def run_check(
    settings: Settings,
    engine: Engine,
    config: DriftConfig,
    *,
    end: datetime | None = None,
    window: timedelta | None = None,
    version: str | None = None,
    launcher: Launcher | None = None,
    log_to_mlflow: bool = True,
) -> CheckOutcome:
    """Check the window ending at `end` (naive UTC; default now) of `window` (default the config's)."""
    from matchday.integrations.mlflow_registry import load_reference  # noqa: PLC0415  (MLflow is slow to import)

    version = version or served_version(settings)
    stop = end or utc_now()
    span = (stop - (window or config.window), stop)
    reference = load_reference(settings, version)
    current = _current(engine, settings, version, span, config)
    drift = compute_drift(reference, current, config)
    quality = _quality(engine, current)
    result = drift.result
    stem = f"{settings.model_name}-v{version}-{stop:%Y%m%dT%H%M%S}"
    check_id = record_check(
        engine, model_name=settings.model_name, model_version=version, window=span, verdict=result.verdict,
        current_rows=result.current_rows, feature_share=result.feature_share, summary={}, report_path=None,
    )  # fmt: skip
    trigger = _trigger(engine, settings, config, check_id, stop, launcher) if result.drifted and launcher else None
    files = _report_paths(settings, stem, drift)
    outcome = CheckOutcome(check_id, settings.model_name, version, span, drift, quality, files[0], trigger)
    _save(outcome, files)
    complete_check(engine, check_id, outcome.summary(), str(outcome.report_path))
    if log_to_mlflow:
        _log_mlflow(settings, version, drift, quality, files)
    log.info("monitor.drift_check", extra={"version": version, "verdict": result.verdict, "rows": result.current_rows})
    return outcome
