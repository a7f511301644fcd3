"""Pipeline step `tune`: see `matchday.training.steps.tune`."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def tune(
    state_dir: str, leagues: str, first_season: int, last_season: int, model: str, moment: str, num_samples: int
) -> str:
    from matchday.training import steps  # noqa: PLC0415  (KFP runs the body alone, in the image)

    return steps.tune(state_dir, leagues, first_season, last_season, model, moment, num_samples)
