"""The repository's Kubeflow pipelines, compiled and submitted to a cluster (the only module with the KFP client).

The pipelines live in the checkout's `pipelines/` and `components/` folders (deployment code, not part of the
installed package): `pipelines_module` finds them beside the package's source or in the working directory.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from matchday.config import Settings

__all__ = ["PipelinesNotFound", "compile_pipeline", "pipelines_module", "submit_package"]

_ROOT = Path(__file__).resolve().parents[3]


class PipelinesNotFound(RuntimeError):  # noqa: N818  (it reads as what happened)
    """No `pipelines/` package beside the source or in the working directory."""


def pipelines_module() -> ModuleType:
    """The repository's `pipelines` package (with `components` beside it), importable from a checkout only."""
    for root in (_ROOT, Path.cwd()):
        if (root / "pipelines" / "__init__.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return importlib.import_module("pipelines")
    raise PipelinesNotFound("pipelines/ not found: run from a matchday checkout")


def compile_pipeline(settings: Settings, name: str, out_dir: Path) -> Path:
    """Compile both pipelines for `settings` into `out_dir` and return the one called `name`."""
    written = pipelines_module().compile_all(settings, out_dir)
    found = [path for path in written if path.stem == name]
    if not found:
        raise ValueError(f"no pipeline {name!r}: compiled {', '.join(path.stem for path in written)}")
    return Path(found[0])


def submit_package(host: str, package: Path, arguments: dict[str, Any], experiment: str = "matchday") -> str:
    """Start a run of the compiled pipeline `package` on the cluster at `host`; returns the run id."""
    import kfp  # type: ignore[import-untyped]  # noqa: PLC0415  (only submitting needs the client)

    client = kfp.Client(host=host)
    run = client.create_run_from_pipeline_package(str(package), arguments=arguments, experiment_name=experiment)
    return str(run.run_id)
