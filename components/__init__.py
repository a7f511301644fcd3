"""Kubeflow lightweight components, one per pipeline step, each a thin call into `matchday.training.steps`.

The function bodies run in the matchday image (or, under kfp's local SubprocessRunner, in the current
environment), so they import matchday inside the body: KFP ships only the function's source to the container.
"""

from __future__ import annotations

from components._image import BASE_IMAGE

__all__ = ["BASE_IMAGE"]
