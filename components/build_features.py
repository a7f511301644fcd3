"""Pipeline step `build_features`: see `matchday.training.steps.build_features`."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def build_features(state_dir: str, leagues: str, first_season: int, last_season: int) -> str:
    from matchday.training import steps  # noqa: PLC0415  (KFP runs the body alone, in the image)

    return steps.build_features(state_dir, leagues, first_season, last_season)
