"""Pipeline step `request_deploy`: see `matchday.training.steps.request_deploy`."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def request_deploy(state_dir: str, register_json: str) -> str:
    from matchday.training import steps  # noqa: PLC0415  (KFP runs the body alone, in the image)

    return steps.request_deploy(state_dir, register_json)
