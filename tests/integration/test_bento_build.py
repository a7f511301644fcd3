"""`bentoml build` packages the service: the Bento holds the matchday package, the canary schedule and an OpenAPI
document with the prediction routes, and pins the tested dependency versions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_bento_builds_with_the_package_and_its_routes(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MATCHDAY_")}
    env["BENTOML_HOME"] = str(tmp_path)
    built = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "-f", "bentos/bentofile.yaml", "."],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [bento] = [path for path in (tmp_path / "bentos" / "matchday").iterdir() if path.is_dir()]
    source = bento / "src"
    assert (source / "src" / "matchday" / "inference" / "bento_service.py").is_file()
    assert (source / "serving" / "canary.yaml").is_file()
    assert not list(source.rglob("*.csv")), "training data does not belong in the serving image"
    openapi = yaml.safe_load((bento / "apis" / "openapi.yaml").read_text(encoding="utf-8"))
    assert {"/v1/predict", "/v1/predict/batch"} <= set(openapi["paths"])
    requirements = (bento / "env" / "python" / "requirements.txt").read_text(encoding="utf-8")
    assert "onnxruntime==" in requirements and "bentoml==1.4.39" in requirements
