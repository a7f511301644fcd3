"""The monitoring exporter: what the store and the registry know, as Prometheus metrics, read at scrape time.

Drift share, per-column drift scores and verdict of the latest check; the served probabilities' distribution and
the last logged prediction; served quality (RPS next to the market) once results are in; the served version and
when it was trained; the canary's state and rollbacks; retraining triggers and pipeline runs. The serving
processes export their own request counts, latencies and errors per model and variant
(`matchday_canary_requests_total`, `matchday_canary_latency_seconds`); this process adds what no single server
sees. A scrape reads the database once per `cache_seconds` at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

import numpy as np
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from matchday.config import Settings
from matchday.ingest.store.models import CanaryRow, ServedPredictionRow
from matchday.monitoring.records import latest_check, latest_pipeline_runs, trigger_counts, utc_now

__all__ = ["EXPORTED_METRICS", "MonitoringCollector", "VersionInfo", "collector_for"]

log = logging.getLogger(__name__)

VersionInfo = tuple[str, float] | None  # (version, trained at as a Unix time) of the served alias
_QUANTILES = (0.1, 0.5, 0.9)
_OUTCOMES = ("home", "draw", "away")
_CANARY_STATES = ("running", "paused", "promoted", "rolled_back", "aborted")


def _gauge(name: str, doc: str, labels: Iterable[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _unix(moment: datetime | str) -> float:
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return (at - datetime(1970, 1, 1)).total_seconds()


class MonitoringCollector(Collector):
    def __init__(
        self,
        engine: Engine,
        model_name: str,
        served_version: Callable[[], VersionInfo],
        *,
        cache_seconds: float = 15.0,
        distribution_window: timedelta = timedelta(hours=24),
    ) -> None:
        self._engine = engine
        self._model = model_name
        self._served_version = served_version
        self._cache_seconds = cache_seconds
        self._window = distribution_window
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self._cache_seconds:
                self._cached = (time.monotonic(), self._read())
            metrics = self._cached[1]
        yield from metrics

    def _read(self) -> list[Metric]:
        up = _gauge("matchday_monitoring_up", "1 when the exporter read the store on its last scrape.", ["model"])
        try:
            metrics = [*self._drift(), *self._served(), *self._version(), *self._canary(), *self._pipelines()]
        except Exception:  # a scrape must answer: the failure shows as up == 0 and in the log
            log.exception("monitor.exporter_read_failed")
            up.add_metric([self._model], 0.0)
            return [up]
        up.add_metric([self._model], 1.0)
        return [up, *metrics]

    def _drift(self) -> Sequence[Metric]:
        model = self._model
        share = _gauge(
            "matchday_drift_share",
            "Share of the model's features that drifted in the latest check.",
            ["model", "version"],
        )
        detected = _gauge("matchday_drift_detected", "1 when the latest drift check found drift.", ["model", "version"])
        checked = _gauge("matchday_drift_check_timestamp_seconds", "When the latest drift check ran.", ["model"])
        rows = _gauge("matchday_drift_window_fixtures", "Served fixtures in the latest check's window.", ["model"])
        score = _gauge(
            "matchday_drift_column_score",
            "Drift test score per column (p-value or distance).",
            ["model", "column", "kind", "method"],
        )
        drifted = _gauge(
            "matchday_drift_column_drifted",
            "1 when the column drifted in the latest check.",
            ["model", "column", "kind"],
        )
        rps = _gauge(
            "matchday_served_rps",
            "Mean RPS of settled served fixtures in the latest check, and the market's.",
            ["model", "forecaster"],
        )
        gap = _gauge(
            "matchday_served_rps_gap",
            "Served RPS minus Pinnacle's closing RPS on the same settled fixtures.",
            ["model"],
        )
        settled = _gauge(
            "matchday_served_settled_fixtures", "Served fixtures of the latest check with a known result.", ["model"]
        )
        family = [share, detected, checked, rows, score, drifted, rps, gap, settled]
        check = latest_check(self._engine, model)
        if check is None:
            return family
        summary = check.summary.get("drift", {})
        share.add_metric([model, check.model_version], check.feature_share)
        detected.add_metric([model, check.model_version], float(check.verdict == "drift"))
        checked.add_metric([model], _unix(check.checked_at))
        rows.add_metric([model], float(check.current_rows))
        for column in summary.get("columns", []):
            score.add_metric([model, column["column"], column["kind"], column["method"]], float(column["score"]))
            drifted.add_metric([model, column["column"], column["kind"]], float(column["drifted"]))
        quality = check.summary.get("quality") or {}
        if quality.get("settled"):
            for forecaster, value in quality["rps"].items():
                rps.add_metric([model, forecaster], float(value))
            gap.add_metric([model], float(quality["rps_gap"]))
        settled.add_metric([model], float(quality.get("settled") or 0))
        return family

    def _served(self) -> Sequence[Metric]:
        model = self._model
        table = ServedPredictionRow
        since = utc_now() - self._window
        quantiles = _gauge(
            "matchday_served_probability",
            f"Quantiles of the served probabilities over the last {self._window}.",
            ["model", "outcome", "quantile"],
        )
        mean = _gauge(
            "matchday_served_probability_mean",
            "Mean served probability per outcome over the same window.",
            ["model", "outcome"],
        )
        count = _gauge("matchday_served_predictions_window", "Predictions logged over the same window.", ["model"])
        last = _gauge(
            "matchday_served_last_prediction_timestamp_seconds", "When the latest prediction was logged.", ["model"]
        )
        with self._engine.connect() as connection:
            probs = connection.execute(
                select(table.prob_home, table.prob_draw, table.prob_away).where(
                    table.model_name == model, table.served_at >= since
                )
            ).all()
            latest = connection.execute(select(func.max(table.served_at)).where(table.model_name == model)).scalar()
        values = np.asarray(probs, dtype=np.float64).reshape(-1, 3)
        count.add_metric([model], float(len(values)))
        if len(values):
            for j, outcome in enumerate(_OUTCOMES):
                mean.add_metric([model, outcome], float(values[:, j].mean()))
                for q in _QUANTILES:
                    quantiles.add_metric([model, outcome, str(q)], float(np.quantile(values[:, j], q)))
        if latest is not None:
            last.add_metric([model], _unix(latest))
        return [quantiles, mean, count, last]

    def _version(self) -> Sequence[Metric]:
        info = _gauge(
            "matchday_model_version_info",
            "The registered version the serving alias names (value 1).",
            ["model", "version"],
        )
        trained = _gauge(
            "matchday_model_trained_timestamp_seconds", "When the served version was registered.", ["model"]
        )
        served = self._served_version()
        if served is not None:
            info.add_metric([self._model, served[0]], 1.0)
            trained.add_metric([self._model], served[1])
        triggers = _gauge(
            "matchday_retrain_triggers",
            "Drift-triggered retrainings by outcome (launched, cooldown, failed).",
            ["model", "status"],
        )
        for status, n in trigger_counts(self._engine, self._model).items():
            triggers.add_metric([self._model, status], float(n))
        return [info, trained, triggers]

    def _canary(self) -> Sequence[Metric]:
        model = self._model
        state = _gauge("matchday_canary_status", "1 for the status of the model's latest canary.", ["model", "status"])
        share = _gauge(
            "matchday_canary_challenger_share", "The latest canary's challenger share of traffic.", ["model"]
        )
        rollbacks = _gauge("matchday_canary_rollbacks", "Canaries of the model that were rolled back, ever.", ["model"])
        with self._engine.connect() as connection:
            latest = connection.execute(
                select(CanaryRow.status, CanaryRow.share)
                .where(CanaryRow.model_name == model)
                .order_by(CanaryRow.id.desc())
                .limit(1)
            ).first()
            rolled = connection.execute(
                select(func.count()).where(CanaryRow.model_name == model, CanaryRow.status == "rolled_back")
            ).scalar_one()
        if latest is not None:
            for status in _CANARY_STATES:
                state.add_metric([model, status], float(latest.status == status))
            share.add_metric([model], float(latest.share))
        rollbacks.add_metric([model], float(rolled))
        return [state, share, rollbacks]

    def _pipelines(self) -> Sequence[Metric]:
        last = _gauge(
            "matchday_pipeline_last_run_timestamp_seconds",
            "When each pipeline last ended in each status.",
            ["pipeline", "status"],
        )
        failed = _gauge(
            "matchday_pipeline_last_run_failed", "1 when the pipeline's latest finished run failed.", ["pipeline"]
        )
        runs = latest_pipeline_runs(self._engine)
        for (pipeline, status), at in runs.items():
            last.add_metric([pipeline, status], _unix(at))
        for pipeline in sorted({pipeline for pipeline, _ in runs}):
            ok, bad = runs.get((pipeline, "succeeded")), runs.get((pipeline, "failed"))
            latest_failed = bad is not None and (ok is None or _unix(bad) > _unix(ok))
            failed.add_metric([pipeline], float(latest_failed))
        return [last, failed]


# Every metric this exporter can export (the dashboards and alert rules are checked against it).
EXPORTED_METRICS = (
    "matchday_monitoring_up",
    "matchday_drift_share",
    "matchday_drift_detected",
    "matchday_drift_check_timestamp_seconds",
    "matchday_drift_window_fixtures",
    "matchday_drift_column_score",
    "matchday_drift_column_drifted",
    "matchday_served_rps",
    "matchday_served_rps_gap",
    "matchday_served_settled_fixtures",
    "matchday_served_probability",
    "matchday_served_probability_mean",
    "matchday_served_predictions_window",
    "matchday_served_last_prediction_timestamp_seconds",
    "matchday_model_version_info",
    "matchday_model_trained_timestamp_seconds",
    "matchday_retrain_triggers",
    "matchday_canary_status",
    "matchday_canary_challenger_share",
    "matchday_canary_rollbacks",
    "matchday_pipeline_last_run_timestamp_seconds",
    "matchday_pipeline_last_run_failed",
)


def collector_for(settings: Settings, engine: Engine, cache_seconds: float = 15.0) -> MonitoringCollector:
    """The exporter's collector for `settings`: the served alias's version read from MLflow, at most once per
    `cache_seconds` (the registry is slower than the store)."""
    cached: list[tuple[float, VersionInfo]] = []

    def served() -> VersionInfo:
        if cached and time.monotonic() - cached[0][0] < cache_seconds:
            return cached[0][1]
        from matchday.integrations.mlflow_registry import version_by_alias  # noqa: PLC0415  (MLflow is slow)

        version = version_by_alias(settings, settings.serving_alias)
        info = None if version is None else (str(version.version), float(version.creation_timestamp) / 1000.0)
        cached[:] = [(time.monotonic(), info)]
        return info

    return MonitoringCollector(engine, settings.model_name, served, cache_seconds=cache_seconds)
