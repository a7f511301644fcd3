"""Renders and validates the Helm chart inside the deploy tools' virtual environment (.venv-deploy, `make
deploy-tools`), where Helm's library (helm-python-sdk) and the Kubernetes JSON schemas (kubernetes-validate) live.

The deploy tests call it as a subprocess: `.venv-deploy/bin/python tests/deploy/chart_tool.py CHART VALUES.json`
prints one JSON object: {"manifests": {template: text}, "problems": [...]} on success, {"error": message} when the
values fail the chart's schema or a template fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

__all__ = ["main", "render", "validate"]

RELEASE = "matchday"
NAMESPACE = "matchday"


def render(chart_dir: Path, values: dict[str, Any]) -> dict[str, str]:
    """Every template's output for `values` over the chart's defaults, the schema checked first (as install does)."""
    with helm.Chart.load(chart_dir) as chart:
        chart.validate_schema(chart.merge_values(values))
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    # NOTES.txt is text for the person installing, not a manifest
    return {path: text for path, text in rendered.items() if path.endswith((".yaml", ".yml"))}


def validate(manifests: dict[str, str], kube_version: str) -> list[str]:
    """Each built-in kind's problems against the Kubernetes schemas (strict: unknown fields fail too); custom
    resources (monitoring.coreos.com, flagger.app) have no schema here and are listed as such."""
    problems = []
    for template, text in sorted(manifests.items()):
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            try:
                kubernetes_validate.validate(document, kube_version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                problems.append(f"no-schema {document['apiVersion']} {document['kind']}")
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.caught.absolute_path)
                problems.append(f"invalid {template} {document['kind']} {where}: {error.caught.message}")
    return problems


def main(argv: list[str]) -> int:
    chart_dir, values_file, kube_version = Path(argv[0]), Path(argv[1]), argv[2]
    values = json.loads(values_file.read_text(encoding="utf-8"))
    try:
        manifests = render(chart_dir, values)
    except helm.HelmError as error:
        json.dump({"error": f"{type(error).__name__}: {error}"}, sys.stdout)
        return 0
    json.dump({"manifests": manifests, "problems": validate(manifests, kube_version)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
