"""Fixtures of the deployment tests: the chart rendered once per values set, the Terraform root parsed once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.deploy.support import CHART, FULL_VALUES, ROOT, TERRAFORM, Rendered, deploy_tool, rendered_ok, run_tool


@pytest.fixture(scope="session")
def chart_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chart")


@pytest.fixture(scope="session")
def production_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values-production.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="session")
def default_release(chart_tmp: Path) -> Rendered:
    return rendered_ok({}, chart_tmp)


@pytest.fixture(scope="session")
def production_release(chart_tmp: Path, production_values: dict[str, Any]) -> Rendered:
    return rendered_ok(production_values, chart_tmp)


@pytest.fixture(scope="session")
def full_release(chart_tmp: Path) -> Rendered:
    return rendered_ok(FULL_VALUES, chart_tmp)


@pytest.fixture(scope="session")
def terraform_files() -> dict[str, dict[str, Any]]:
    done = run_tool([deploy_tool("python"), ROOT / "tests" / "deploy" / "hcl_tool.py", TERRAFORM])
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    assert "error" not in answer, answer.get("error")
    return answer
