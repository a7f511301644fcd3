"""Pipeline step `gate_decision`: the register step's verdict, "promote" or "keep", as a task's single output.

The `dsl.If` before the deploy step reads it. A single output, not a field of a multi-output component: kfp's
local runner resolves a condition on `task.output` but not on a named output."""

# No `from __future__ import annotations`: KFP reads the parameter types from the live annotations.
from kfp import dsl

from components._image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def gate_decision(register_json: str) -> str:
    import json  # noqa: PLC0415  (KFP runs the body alone, in the image)

    return str(json.loads(register_json)["decision"])
