"""The monitoring pipeline: check drift -> decide -> retrain (the training pipeline, nested) when it drifted.

The drift step is `matchday monitor drift`'s check (`matchday.training.steps.check_drift`): Evidently against the
served version's reference over `window` (default monitoring/drift.yaml's) ending at `end` (default now), with the
retraining cooldown applied, so a recurring run retrains at most once per cooldown.
"""

# No `from __future__ import annotations`: KFP reads the pipeline parameter types from the live annotations.
from typing import Any

from components.check_drift import check_drift
from kfp import dsl

from matchday.config import Settings
from pipelines.training import DEFAULT_DATA_DIR, DEFAULT_STATE_DIR, on_shared_state, training_pipeline

__all__ = ["PIPELINE_NAME", "monitoring_pipeline"]

PIPELINE_NAME = "matchday-monitoring"


def monitoring_pipeline(settings: Settings) -> Any:
    """The pipeline for `settings`: the nested training pipeline carries the same GPU settings as its own."""
    training = training_pipeline(settings)

    @dsl.pipeline(name=PIPELINE_NAME, description="Check drift; retrain matchday when the features drifted.")
    def matchday_monitoring(
        state_dir: str = DEFAULT_STATE_DIR,
        data_dir: str = DEFAULT_DATA_DIR,
        window: str = "",
        end: str = "",
        leagues: str = "E0",
        first_season: int = 2022,
        last_season: int = 2024,
        model: str = "stack",
        moment: str = "open",
        num_samples: int = 0,
    ) -> None:
        checked = check_drift(state_dir=state_dir, window=window, end=end).set_caching_options(False)
        on_shared_state(checked, settings)
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
