"""Drift checks logged to MLflow: one run per check in the `matchday-monitoring` experiment, with its figures as
metrics, the served version as tags and the Evidently HTML and JSON summary as artifacts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import mlflow

from matchday.config import Settings
from matchday.integrations.mlflow_registry import _experiment_id, configure

__all__ = ["MONITORING_EXPERIMENT", "log_drift_check"]

MONITORING_EXPERIMENT = "matchday-monitoring"


def log_drift_check(
    settings: Settings,
    *,
    version: str,
    tags: Mapping[str, str],
    metrics: Mapping[str, float],
    artifacts: list[Path],
) -> str:
    """Log one drift check; returns the MLflow run id. NaN metrics (no settled result yet) are left out."""
    client = configure(settings)
    experiment = _experiment_id(client, settings, MONITORING_EXPERIMENT)
    run_tags = {"matchday.model_name": settings.model_name, "matchday.model_version": version, **tags}
    with mlflow.start_run(experiment_id=experiment, run_name=f"drift-v{version}", tags=run_tags) as run:
        mlflow.log_metrics({name: value for name, value in metrics.items() if not math.isnan(value)})
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="drift")
        return str(run.info.run_id)
