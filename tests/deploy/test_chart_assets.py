"""What the chart embeds agrees with its originals: the Flagger canary with serving/canary.yaml, the PrometheusRule
and dashboard ConfigMaps with monitoring/, the readiness probe with docker/oip_ready.py (`make helm-sync` copies)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.deploy.support import CHART, ROOT, Rendered, rendered_ok

from matchday.inference.canary_config import CanaryConfig

MONITORING = ROOT / "monitoring"
FILES = CHART / "files"
ALERTS = MONITORING / "prometheus" / "alerts.yml"


def _seconds(duration: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([smh])", duration).groups()  # type: ignore[union-attr]
    return int(number) * {"s": 1, "m": 60, "h": 3600}[unit]


def _canary_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "serving" / "canary.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_flagger_defaults_are_serving_canary_yaml() -> None:
    canary = _canary_file()
    flagger = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["canary"]["flagger"]
    assert flagger["enabled"] is False
    assert flagger["stepWeights"] == [round(step["share"] * 100) for step in canary["steps"]]
    assert flagger["minSuccessRatePercent"] == pytest.approx(100 * (1 - canary["max_error_rate"]))
    assert flagger["maxP99LatencyMs"] == canary["max_p99_latency_ms"]
    # serving/canary.yaml rolls back at the first breach; Flagger's threshold counts failed checks
    assert flagger["threshold"] == 1
    # Flagger holds every step for one interval: the first step's hold
    assert _seconds(flagger["interval"]) == canary["steps"][0]["min_seconds"]
    # and serving/canary.yaml is what the service itself runs with (its loader accepts it)
    assert CanaryConfig.model_validate(canary).max_error_rate == canary["max_error_rate"]


def test_the_rendered_canary_carries_those_values(full_release: Rendered) -> None:
    canary = _canary_file()
    spec = full_release.one("Canary", "matchday-serving")["spec"]
    assert spec["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "matchday-serving"}
    assert spec["autoscalerRef"]["name"] == "matchday-serving"
    analysis = spec["analysis"]
    assert analysis["stepWeights"] == [round(step["share"] * 100) for step in canary["steps"]]
    metrics = {metric["name"]: metric["thresholdRange"] for metric in analysis["metrics"]}
    assert metrics == {
        "request-success-rate": {"min": pytest.approx(100 * (1 - canary["max_error_rate"]))},
        "request-duration": {"max": canary["max_p99_latency_ms"]},
    }
    assert spec["service"]["portDiscovery"] is True, "the gRPC port must follow the HTTP one"
    # one canary at a time: the in-service canary is off while Flagger's runs, and Flagger owns the Services
    assert full_release.one("ConfigMap", "matchday-config")["data"]["MATCHDAY_CANARY_POLL_SECONDS"] == "0"
    serving_services = [
        doc
        for doc in full_release.documents()
        if doc["kind"] == "Service" and doc["metadata"]["labels"].get("app.kubernetes.io/component") == "serving"
    ]
    assert serving_services == []


def test_the_chart_probe_is_a_copy_of_docker_oip_ready() -> None:
    original = (ROOT / "docker" / "oip_ready.py").read_bytes()
    assert (FILES / "oip_ready.py").read_bytes() == original, "run `make helm-sync`"


def test_the_chart_alert_rules_are_a_copy_of_monitoring() -> None:
    if not ALERTS.is_file():
        pytest.skip(f"{ALERTS} does not exist yet (the monitoring work creates it); nothing to compare")
    copy = FILES / "prometheus" / "alerts.yml"
    assert copy.is_file() and copy.read_bytes() == ALERTS.read_bytes(), "run `make helm-sync`"


def test_the_chart_dashboards_are_copies_of_monitoring() -> None:
    originals = {path.name: path.read_bytes() for path in (MONITORING / "grafana" / "dashboards").glob("*.json")}
    copies = {path.name: path.read_bytes() for path in (FILES / "grafana" / "dashboards").glob("*.json")}
    assert copies == originals, "run `make helm-sync`"


def test_the_prometheus_rule_holds_the_alert_groups(default_release: Rendered) -> None:
    rules = [doc for doc in default_release.documents() if doc["kind"] == "PrometheusRule"]
    if not (FILES / "prometheus" / "alerts.yml").is_file():
        assert rules == [], "no rules file, no PrometheusRule"
        pytest.skip("no alert rules copied into the chart yet (monitoring/prometheus/alerts.yml is missing)")
    original = yaml.safe_load((FILES / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    [rule] = rules
    assert rule["spec"]["groups"] == original["groups"] and original["groups"]


def test_every_dashboard_is_a_configmap_grafana_loads(default_release: Rendered) -> None:
    dashboards = sorted((FILES / "grafana" / "dashboards").glob("*.json"))
    maps = {
        key: value
        for doc in default_release.documents()
        if doc["kind"] == "ConfigMap" and doc["metadata"]["labels"].get("grafana_dashboard") == "1"
        for key, value in doc["data"].items()
    }
    assert set(maps) == {path.name for path in dashboards}
    for path in dashboards:
        assert json.loads(maps[path.name]) == json.loads(path.read_text(encoding="utf-8"))


def test_the_sync_target_copies_what_the_tests_compare() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile[makefile.index("\nhelm-sync:") :].split("\n\n")[0]
    for needle in ("docker/oip_ready.py", "monitoring/prometheus/alerts.yml", "monitoring/grafana/dashboards/*.json"):
        assert needle in target


def test_alert_rules_and_dashboards_render_as_prometheus_and_grafana_objects(tmp_path: Path) -> None:
    """Independent of monitoring/'s progress: a chart copy with a rules file and a dashboard renders both, the
    rules' own `{{ $labels }}` templates untouched (Helm does not template embedded files)."""
    chart = tmp_path / "matchday"
    shutil.copytree(CHART, chart)
    rules = {
        "groups": [
            {
                "name": "matchday-serving",
                "rules": [
                    {
                        "alert": "MatchdayDriftHigh",
                        "expr": 'max by (model) (matchday_drift_share{model!=""}) > 0.3',
                        "for": "15m",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "drift on {{ $labels.model }}: {{ $value }}"},
                    }
                ],
            }
        ]
    }
    (chart / "files" / "prometheus").mkdir(parents=True, exist_ok=True)
    (chart / "files" / "prometheus" / "alerts.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    (chart / "files" / "grafana" / "dashboards").mkdir(parents=True, exist_ok=True)
    dashboard = {"title": "Matchday drift", "panels": [{"type": "timeseries", "title": "{{ not a template }}"}]}
    (chart / "files" / "grafana" / "dashboards" / "Drift_Overview.json").write_text(json.dumps(dashboard))
    rendered = rendered_ok({}, tmp_path, chart_dir=chart)
    [rule] = [doc for doc in rendered.documents() if doc["kind"] == "PrometheusRule"]
    assert rule["spec"] == rules
    config_map = rendered.one("ConfigMap", "matchday-dashboard-drift-overview")
    assert json.loads(config_map["data"]["Drift_Overview.json"]) == dashboard
