"""Monitoring step `check_drift`: "retrain" or "ok" (see `matchday.training.steps.check_drift`), the single output
the monitoring pipeline's `dsl.If` reads."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def check_drift(state_dir: str, window: str, end: str) -> str:
    import json  # noqa: PLC0415  (KFP runs the body alone, in the image)

    from matchday.training import steps  # noqa: PLC0415

    return str(json.loads(steps.check_drift(state_dir, window, end))["decision"])
