"""Helpers of the deployment tests: the deploy tools' virtual environment (.venv-deploy, set up by `make test`
through `make deploy-tools`) and the chart rendered through it."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "matchday"
TERRAFORM = ROOT / "terraform"
DEPLOY_BIN = ROOT / ".venv-deploy" / "bin"
# The Kubernetes version the manifests are validated against: the oldest the chart supports (Chart.yaml kubeVersion)
# and the newest schema kubernetes-validate ships are both checked.
KUBE_VERSIONS = ("1.30.0", "1.35.0")
# A Secret-creating release: every value the chart needs to render its own Secret.
CHART_SECRETS = {
    "existingSecret": "",
    "databaseUrl": "postgresql+psycopg://matchday:pw@10.0.0.5:5432/matchday?sslmode=require",
    "redisUrl": "redis://:auth@10.0.0.6:6379/0",
    "jwtSecret": "j" * 48,
    "mlflowBackendStoreUri": "postgresql+psycopg://mlflow:pw@10.0.0.5:5432/mlflow?sslmode=require",
}
# Everything switched on: the Flagger canary, the GPU training job, the chart's own Secret.
FULL_VALUES: dict[str, Any] = {
    "canary": {"flagger": {"enabled": True}},
    "trainingJob": {"enabled": True},
    "secrets": CHART_SECRETS,
}


@dataclass(frozen=True)
class Rendered:
    manifests: dict[str, str]
    problems: list[str]

    def documents(self) -> list[dict[str, Any]]:
        return [doc for text in self.manifests.values() for doc in yaml.safe_load_all(text) if doc]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        [found] = [doc for doc in self.documents() if doc["kind"] == kind and doc["metadata"]["name"] == name]
        return found

    def kinds(self) -> list[str]:
        return sorted(doc["kind"] for doc in self.documents())


def deploy_tool(name: str) -> Path:
    """A tool of .venv-deploy; outside CI a missing venv skips (run `make deploy-tools`), in CI it fails."""
    path = DEPLOY_BIN / name
    if not path.exists():
        message = f"{path} is missing: `make deploy-tools` installs the deploy tools (requirements-deploy.lock)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_tool(args: list[str | Path], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def render_chart(
    values: dict[str, Any], tmp_dir: Path, kube_version: str = KUBE_VERSIONS[0], chart_dir: Path = CHART
) -> Rendered | str:
    """The chart rendered (and validated) for `values` over its defaults; the error message when it refuses."""
    values_file = tmp_dir / f"values-{abs(hash(json.dumps(values, sort_keys=True)))}.json"
    values_file.write_text(json.dumps(values), encoding="utf-8")
    tool = ROOT / "tests" / "deploy" / "chart_tool.py"
    done = run_tool([deploy_tool("python"), tool, chart_dir, values_file, kube_version])
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    if "error" in answer:
        return str(answer["error"])
    return Rendered(manifests=answer["manifests"], problems=answer["problems"])


def rendered_ok(
    values: dict[str, Any], tmp_dir: Path, kube_version: str = KUBE_VERSIONS[0], chart_dir: Path = CHART
) -> Rendered:
    rendered = render_chart(values, tmp_dir, kube_version, chart_dir)
    assert isinstance(rendered, Rendered), rendered
    return rendered
