"""monitoring/prometheus and monitoring/grafana: the rules pass promtool (syntax and their unit tests), the scrape
config is valid, and every metric a rule or a dashboard panel reads is one that Matchday exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine

from matchday.inference.canary_traffic import canary_metrics
from matchday.inference.prediction_log import PredictionLog
from matchday.inference.ratelimit import _error_counter
from matchday.monitoring.exporter import EXPORTED_METRICS

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "monitoring" / "prometheus"
DASHBOARDS = sorted((ROOT / "monitoring" / "grafana" / "dashboards").glob("*.json"))
# BentoML's own HTTP metrics on the serving /metrics; tests/integration/test_serving.py scrapes a real server and
# checks these names are there.
BENTOML_METRICS = frozenset({"bentoml_service_request_total", "bentoml_service_request_duration_seconds"})
_PROMQL_WORDS = frozenset(
    {"sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "histogram_quantile", "and", "or",
     "unless", "on", "ignoring", "absent", "time", "le", "bool", "offset", "group_left", "group_right", "topk"}
)  # fmt: skip


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus); CI installs it")
    return found


def _serving_metrics() -> set[str]:
    """Metric names the serving process registers, read from the registries its own code builds."""
    registry = CollectorRegistry()
    canary_metrics(registry)
    _error_counter(registry)
    log = PredictionLog(create_engine("sqlite://"), registry=registry)
    log.close()
    names = set()
    for family in registry.collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "stateset": ("",)}
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
        names.add(family.name)
    return names


KNOWN = _serving_metrics() | set(EXPORTED_METRICS) | BENTOML_METRICS | {f"{m}_bucket" for m in BENTOML_METRICS}


def _metrics_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    grouping = set(re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", without_ranges))
    labels = {label.strip() for group in grouping for label in group.split(",")}
    return {word for word in words - _PROMQL_WORDS - labels if not re.fullmatch(r"e\d*", word)}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    promtool = _promtool()
    checked = subprocess.run(
        [promtool, "check", "rules", str(PROMETHEUS / "alerts.yml")], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    config = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS, capture_output=True, text=True, check=False
    )
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_issue_s_alerts_exist_and_every_rule_is_tested() -> None:
    names = {rule["alert"] for rule in _rules()}
    assert {
        "MatchdayDriftDetected", "MatchdayServedWorseThanMarket", "MatchdayHighErrorRate", "MatchdayHighP99Latency",
        "MatchdayCanaryRolledBack", "MatchdayNoPredictionsLogged", "MatchdayTrainingFailed",
    } <= names  # fmt: skip
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text(encoding="utf-8"))
    fired = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert fired == names, f"rules no unit test sees firing: {sorted(names - fired)}"


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_rule_reads_exported_metrics(rule: dict[str, Any]) -> None:
    assert _metrics_in(rule["expr"]) <= KNOWN, f"{rule['alert']} reads unknown metric(s)"
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]


def test_the_metric_parser_finds_metrics_and_skips_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, model) (rate(foo_bucket{outcome=~"a|b"}[5m]))) > 1e3 and on (model) bar'
    )
    assert _metrics_in(expr) == {"foo_bucket", "bar"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.stem)
def test_dashboards_are_valid_and_read_exported_metrics(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert dashboard["uid"].startswith("matchday-") and dashboard["panels"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            unknown = _metrics_in(target["expr"]) - KNOWN
            assert not unknown, f"{path.name} panel {panel['title']!r} reads unknown metric(s) {sorted(unknown)}"


def test_the_four_dashboards_of_the_issue_exist() -> None:
    assert {path.stem for path in DASHBOARDS} == {"serving", "quality", "drift", "pipelines"}
