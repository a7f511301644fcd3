"""The Helm chart renders for its defaults, the production example and everything switched on; every built-in
manifest passes the Kubernetes schemas (strict); a wrong value fails at install naming the key; the configuration
it renders is the MATCHDAY_* settings Matchday itself accepts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.deploy.support import CHART, KUBE_VERSIONS, ROOT, Rendered, render_chart, rendered_ok

from matchday.config import Settings, load_settings

# Custom resources have no schema in kubernetes-validate: the tests below check their content instead.
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Canary"}


def _schema_problems(rendered: Rendered) -> list[str]:
    return [problem for problem in rendered.problems if not problem.startswith("no-schema")]


def test_the_default_release_renders_valid_manifests(default_release: Rendered) -> None:
    assert _schema_problems(default_release) == []
    kinds = set(default_release.kinds())
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "CronJob"} <= kinds
    assert {"ServiceMonitor", "NetworkPolicy", "ServiceAccount", "PersistentVolumeClaim"} <= kinds
    assert "Secret" not in kinds, "the defaults read an existing Secret (secrets.existingSecret)"
    assert "Canary" not in kinds, "the Flagger canary is off by default"
    assert {problem.split()[-1] for problem in default_release.problems} <= CUSTOM_KINDS


def test_the_production_example_renders_valid_manifests(production_release: Rendered) -> None:
    assert _schema_problems(production_release) == []
    http = production_release.one("Service", "matchday-http")
    assert http["spec"]["type"] == "LoadBalancer" and http["spec"]["ports"][0]["port"] == 80
    assert production_release.one("Job", "matchday-train-1")["spec"]["template"]["spec"]["nodeSelector"] == {
        "cloud.google.com/gke-nodepool": "gpu-pool"
    }


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_everything_switched_on_is_valid_on_each_supported_kubernetes(chart_tmp: Path, kube_version: str) -> None:
    from tests.deploy.support import FULL_VALUES  # noqa: PLC0415

    rendered = rendered_ok(FULL_VALUES, chart_tmp, kube_version)
    assert _schema_problems(rendered) == []
    assert {"Secret", "Canary", "Job", "PodMonitor"} <= set(rendered.kinds())


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"serving": {"replicas": 0}}, "/serving/replicas"),
        ({"serving": {"httpPort": "3000"}}, "/serving/httpPort': got string, want integer"),
        ({"config": {"profle": "prod"}}, "additional properties 'profle' not allowed"),
        ({"config": {"logLevel": "LOUD"}}, "/config/logLevel"),
        ({"gpu": {"resourceName": "gpu"}}, "/gpu/resourceName"),
        ({"images": {"serving": {"digest": "latest"}}}, "/images/serving/digest"),
        ({"secrets": {"existingSecret": ""}}, "secrets.databaseUrl is required when secrets.existingSecret is empty"),
        (
            {
                "secrets": {
                    "existingSecret": "",
                    "databaseUrl": "postgresql://x",
                    "redisUrl": "redis://x",
                    "mlflowBackendStoreUri": "postgresql://y",
                    "jwtSecret": "short",
                }
            },
            "secrets.jwtSecret must be 32 bytes or more",
        ),
        ({"mlflow": {"enabled": False}}, "config.mlflowTrackingUri is required when mlflow.enabled is false"),
        ({"gpu": {"nodeSelector": {"pool": "other"}}}, "/gpu/nodeSelector': maxProperties"),
    ],
)
def test_a_wrong_value_fails_the_install_naming_it(chart_tmp: Path, values: dict[str, Any], message: str) -> None:
    answer = render_chart(values, chart_tmp)
    assert isinstance(answer, str), "the chart accepted a wrong value"
    assert message in answer


def _container_env(rendered: Rendered, container: dict[str, Any], secret_values: dict[str, str]) -> dict[str, str]:
    """What the container's process sees: envFrom ConfigMaps, then env (secrets from `secret_values`)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(rendered.one("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            env[item["name"]] = secret_values[item["valueFrom"]["secretKeyRef"]["key"]]
    return env


def _matchday_containers(rendered: Rendered) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for doc in rendered.documents():
        spec = doc.get("spec", {})
        pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec")
        if pod is None:
            continue
        for container in pod["containers"]:
            if container.get("command", [""])[0] != "mlflow":
                found.append((f"{doc['kind']}/{doc['metadata']['name']}", container))
    return found


def test_every_matchday_container_gets_settings_matchday_accepts(
    full_release: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.deploy.support import CHART_SECRETS  # noqa: PLC0415

    secret_values = {
        "MATCHDAY_DATABASE_URL": CHART_SECRETS["databaseUrl"],
        "MATCHDAY_REDIS_URL": CHART_SECRETS["redisUrl"],
        "MATCHDAY_JWT_SECRET": CHART_SECRETS["jwtSecret"],
    }
    containers = _matchday_containers(full_release)
    assert {name for name, _ in containers} == {
        "Deployment/matchday-serving",
        "Deployment/matchday-exporter",
        "CronJob/matchday-monitoring",
        "Job/matchday-train-1",
    }
    known = {f"MATCHDAY_{name.upper()}" for name in Settings.model_fields}
    for name, container in containers:
        env = _container_env(full_release, container, secret_values)
        settings_env = {key: value for key, value in env.items() if key.startswith("MATCHDAY_")}
        assert set(settings_env) <= known, f"{name}: not a setting: {sorted(set(settings_env) - known)}"
        with monkeypatch.context() as patch:
            for key in [key for key in __import__("os").environ if key.startswith("MATCHDAY_")]:
                patch.delenv(key)
            for key, value in settings_env.items():
                patch.setenv(key, value)
            settings = load_settings()  # raises SettingsError naming the variable on any bad value
        assert settings.profile.value == "prod", name
        assert settings.database_url == CHART_SECRETS["databaseUrl"], name
        assert settings.mlflow_tracking_uri == "http://matchday-mlflow:5000", name
        assert settings.gpu_node_selector == "cloud.google.com/gke-nodepool=gpu-pool", name


def test_serving_listens_and_is_probed_where_the_settings_say(default_release: Rendered) -> None:
    defaults = Settings()
    deployment = default_release.one("Deployment", "matchday-serving")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    config = default_release.one("ConfigMap", "matchday-config")["data"]
    assert ports == {"http": defaults.http_port, "grpc": defaults.grpc_port}
    assert config["MATCHDAY_HTTP_PORT"] == str(ports["http"]) and config["MATCHDAY_GRPC_PORT"] == str(ports["grpc"])
    assert config["MATCHDAY_SERVING_HOST"] == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    # readiness: /readyz and the OIP gRPC ServerReady, through the probe script the chart mounts
    assert container["readinessProbe"]["exec"]["command"] == ["python", "/etc/matchday/probe/oip_ready.py"]
    probe = default_release.one("ConfigMap", "matchday-probe")["data"]["oip_ready.py"]
    assert probe.rstrip() == (ROOT / "docker" / "oip_ready.py").read_text(encoding="utf-8").rstrip()
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts["/etc/matchday/probe"] == "probe"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    services = {doc["metadata"]["name"]: doc for doc in default_release.documents() if doc["kind"] == "Service"}
    assert services["matchday-http"]["spec"]["ports"][0]["targetPort"] == "http"
    assert services["matchday-grpc"]["spec"]["ports"][0]["targetPort"] == "grpc"
    assert services["matchday-grpc"]["spec"]["ports"][0]["appProtocol"] == "grpc"
    hpa = default_release.one("HorizontalPodAutoscaler", "matchday-serving")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "matchday-serving" and "replicas" not in deployment["spec"]
    pdb = default_release.one("PodDisruptionBudget", "matchday-serving")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert "app.kubernetes.io/name" not in pdb["spec"]["selector"]["matchLabels"], "Flagger renames it on its primary"
    monitor = default_release.one("ServiceMonitor", "matchday-serving")
    assert monitor["spec"]["endpoints"][0] | {"interval": None} == {
        "port": "http",
        "path": "/metrics",
        "interval": None,
    }
    assert monitor["spec"]["selector"]["matchLabels"].items() <= services["matchday-http"]["metadata"]["labels"].items()


def test_the_existing_secret_holds_every_key_the_pods_read(default_release: Rendered, full_release: Rendered) -> None:
    for rendered in (default_release, full_release):
        keys = set()
        for doc in rendered.documents():
            for container in _pod_containers(doc):
                for item in container.get("env", []):
                    ref = item.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        keys.add((ref["name"], ref["key"]))
        expected_names = {"matchday-secrets"}
        assert {name for name, _ in keys} == expected_names
        if "Secret" in rendered.kinds():
            secret = rendered.one("Secret", "matchday-secrets")["stringData"]
            assert {key for _, key in keys} == set(secret)


def _pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec")
    return [] if pod is None else list(pod["containers"])


def test_the_monitoring_pipeline_is_submitted_on_a_schedule(default_release: Rendered) -> None:
    cron = default_release.one("CronJob", "matchday-monitoring")
    [container] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["matchday", "pipeline", "submit"]
    assert container["args"][container["args"].index("--pipeline") + 1] == "monitoring"
    assert container["workingDir"] == "/app", "`matchday pipeline` imports pipelines/ from the working directory"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_gpu_values_match_the_pipeline_settings_and_schedule_the_training_job(full_release: Rendered) -> None:
    defaults = Settings()
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["gpu"]
    label, value = defaults.gpu_node_selector.split("=", 1)
    assert values["nodeSelector"] == {label: value}
    assert values["resourceName"] == defaults.accelerator_type
    # pipelines/training.py tolerates the taint keyed by the accelerator type, operator Exists, NoSchedule
    assert values["tolerations"] == [{"key": defaults.accelerator_type, "operator": "Exists", "effect": "NoSchedule"}]
    job = full_release.one("Job", "matchday-train-1")["spec"]["template"]["spec"]
    assert job["nodeSelector"] == {label: value}
    assert job["tolerations"] == values["tolerations"]
    [container] = job["containers"]
    gpus = math.ceil(values["gpusPerJob"])
    assert container["resources"]["limits"][defaults.accelerator_type] == gpus
    assert container["image"].endswith("-cuda")
    assert {"name": "state", "mountPath": "/mnt/matchday/state"} in container["volumeMounts"]


def test_the_pipelines_mount_the_state_claim_the_chart_provides(default_release: Rendered) -> None:
    config = default_release.one("ConfigMap", "matchday-config")["data"]
    claim = default_release.one("PersistentVolumeClaim", config["MATCHDAY_PIPELINE_STATE_PVC"])
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    settings = Settings(
        pipeline_state_pvc=config["MATCHDAY_PIPELINE_STATE_PVC"],
        pipeline_pod_annotations=config["MATCHDAY_PIPELINE_POD_ANNOTATIONS"],
    )
    assert settings.pipeline_pod_annotations == "gke-gcsfuse/volumes=true"  # the GCS FUSE CSI driver's switch


def test_the_serving_pods_never_land_on_the_gpu_pool(production_release: Rendered) -> None:
    pod = production_release.one("Deployment", "matchday-serving")["spec"]["template"]["spec"]
    assert "tolerations" not in pod and pod["nodeSelector"] == {"cloud.google.com/gke-nodepool": "cpu-pool"}


def test_the_monitoring_exporter_is_scraped_on_the_metrics_port(default_release: Rendered) -> None:
    config = default_release.one("ConfigMap", "matchday-config")["data"]
    [container] = default_release.one("Deployment", "matchday-exporter")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["matchday", "monitor", "serve-metrics"]
    assert container["ports"] == [
        {"name": "metrics", "containerPort": int(config["MATCHDAY_METRICS_PORT"]), "protocol": "TCP"}
    ]
    monitor = default_release.one("ServiceMonitor", "matchday-exporter")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    service = default_release.one("Service", "matchday-exporter")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
