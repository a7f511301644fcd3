"""Pipeline step `train`: see `matchday.training.steps.train`."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train(
    state_dir: str,
    leagues: str,
    first_season: int,
    last_season: int,
    model: str,
    moment: str,
    params_json: str,
    refit_days: int,
    booster_refit_days: int,
    warmup_seasons: int,
) -> str:
    from matchday.training import steps  # noqa: PLC0415  (KFP runs the body alone, in the image)

    return steps.train(
        state_dir,
        leagues,
        first_season,
        last_season,
        model,
        moment,
        params_json,
        refit_days,
        booster_refit_days,
        warmup_seasons,
    )
