"""The monitoring pipeline: check drift -> decide -> retrain (the training pipeline, nested) when it drifted.

The drift check reads a drift report file; computing that report arrives with the monitoring issue, so today the
check says "no drift" whenever the file is absent and the pipeline never retrains on its own (see
`matchday.training.steps.check_drift`).
"""

# No `from __future__ import annotations`: KFP reads the pipeline parameter types from the live annotations.
from typing import Any

from components.check_drift import check_drift
from kfp import dsl

from matchday.config import Settings
from pipelines.training import DEFAULT_DATA_DIR, DEFAULT_STATE_DIR, training_pipeline

__all__ = ["PIPELINE_NAME", "monitoring_pipeline"]

PIPELINE_NAME = "matchday-monitoring"


def monitoring_pipeline(settings: Settings) -> Any:
    """The pipeline for `settings`: the nested training pipeline carries the same GPU settings as its own."""
    training = training_pipeline(settings)

    @dsl.pipeline(name=PIPELINE_NAME, description="Check drift; retrain matchday when the features drifted.")
    def matchday_monitoring(
        state_dir: str = DEFAULT_STATE_DIR,
        data_dir: str = DEFAULT_DATA_DIR,
        drift_report: str = "",
        leagues: str = "E0",
        first_season: int = 2022,
        last_season: int = 2024,
        model: str = "stack",
        moment: str = "open",
        num_samples: int = 0,
    ) -> None:
        checked = check_drift(state_dir=state_dir, report_path=drift_report).set_caching_options(False)
        with dsl.If(checked.output == "retrain", name="drifted"):
            training(
                state_dir=state_dir,
                data_dir=data_dir,
                leagues=leagues,
                first_season=first_season,
                last_season=last_season,
                model=model,
                moment=moment,
                num_samples=num_samples,
            )

    return matchday_monitoring
