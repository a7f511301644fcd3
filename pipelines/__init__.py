"""Kubeflow pipelines: `training` (ingest to canary deploy request) and `monitoring` (drift check, then retrain).

Each module builds its pipeline from `Settings` at compile time (GPU requests, node pool), so the compiled YAML
under `compiled/` is a pure function of the configuration; `compile_all` writes both files.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from kfp import compiler

from matchday.config import Settings
from pipelines.monitoring import monitoring_pipeline
from pipelines.training import training_pipeline

__all__ = ["COMPILED_DIR", "compile_all", "monitoring_pipeline", "run_local", "training_pipeline"]

COMPILED_DIR = Path(__file__).resolve().parent / "compiled"


def compile_all(settings: Settings, out_dir: Path = COMPILED_DIR) -> list[Path]:
    """Compile both pipelines for `settings` into `out_dir`; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, pipeline in (("training", training_pipeline(settings)), ("monitoring", monitoring_pipeline(settings))):
        path = out_dir / f"{name}.yaml"
        compiler.Compiler().compile(pipeline, str(path))
        written.append(path)
    return written


def run_local(
    settings: Settings, arguments: dict[str, object], pipeline_root: Path, pipeline: str = "training"
) -> None:
    """Run the training (or monitoring) pipeline with kfp's local SubprocessRunner in this environment (no Docker,
    no cluster): each step is a subprocess of this Python importing the installed matchday. Raises on a failed
    step."""
    from kfp import local  # noqa: PLC0415

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root))
    with warnings.catch_warnings():
        # The runner guesses from the image name whether it holds Python; ours does (matchday on Python 3.11).
        warnings.filterwarnings("ignore", message="You may be attemping to run a task", category=RuntimeWarning)
        builders = {"training": training_pipeline, "monitoring": monitoring_pipeline}
        builders[pipeline](settings)(**arguments)
