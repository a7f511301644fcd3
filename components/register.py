"""Pipeline step `register`: see `matchday.training.steps.register`."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(state_dir: str, train_json: str) -> str:
    from matchday.training import steps  # noqa: PLC0415  (KFP runs the body alone, in the image)

    return steps.register(state_dir, train_json)
