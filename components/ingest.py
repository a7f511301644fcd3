"""Pipeline step `ingest`: see `matchday.training.steps.ingest`."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def ingest(state_dir: str, data_dir: str) -> str:
    from matchday.training import steps  # noqa: PLC0415  (KFP runs the body alone, in the image)

    return steps.ingest(state_dir, data_dir)
