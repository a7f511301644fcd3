"""The Kubeflow pipelines: the checked-in YAML is what the code compiles to, the GPU settings reach the tune and
train tasks, and the training pipeline runs end to end with kfp's local runner on the shipped sample seasons
(E0 2020-21 to 2022-23, Dixon-Coles scored on 2022-23, no tuning), leaving a registered model version."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from matchday.config import Settings
from matchday.integrations.mlflow_registry import version_by_alias
from matchday.sample_data import sample_data_dir

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pipelines  # noqa: E402  (the pipelines live at the repository root, beside src/)

pytestmark = pytest.mark.integration


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checked-in YAML is compiled from the default settings: no MATCHDAY_* of this shell may change it."""
    for key in [key for key in os.environ if key.startswith("MATCHDAY_")]:
        monkeypatch.delenv(key)


def test_compiled_yaml_is_not_stale(tmp_path: Path, clean_env: None) -> None:
    written = pipelines.compile_all(Settings(), tmp_path)
    for path in written:
        checked_in = pipelines.COMPILED_DIR / path.name
        assert checked_in.is_file(), f"{checked_in} missing: run `matchday pipeline compile`"
        assert path.read_text() == checked_in.read_text(), (
            f"{checked_in} is stale: recompile with `matchday pipeline compile` and commit it"
        )


def _executors(document: dict[str, object]) -> dict[str, dict[str, object]]:
    return document["deploymentSpec"]["executors"]  # type: ignore[index,return-value]


def test_gpu_settings_reach_tune_and_train(tmp_path: Path, clean_env: None) -> None:
    settings = Settings(train_gpus=2, accelerator_type="nvidia.com/gpu", gpu_node_selector="pool=gpu-a100")
    pipelines.compile_all(settings, tmp_path)
    documents = list(yaml.safe_load_all((tmp_path / "training.yaml").read_text()))
    executors = _executors(documents[0])
    for name in ("exec-tune", "exec-train"):
        accelerator = executors[name]["container"]["resources"]["accelerator"]  # type: ignore[index]
        assert accelerator["resourceType"] == "nvidia.com/gpu"
        assert accelerator["resourceCount"] == "2"
    assert "resources" not in executors["exec-ingest"]["container"]  # type: ignore[operator]
    platform = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(platform) == {"exec-tune", "exec-train"}
    for spec in platform.values():
        assert spec["nodeSelector"] == {"labels": {"pool": "gpu-a100"}}
        assert spec["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]


def test_every_step_mounts_the_shared_state_claim_when_set(tmp_path: Path, clean_env: None) -> None:
    settings = Settings(pipeline_state_pvc="matchday-state", pipeline_pod_annotations="gke-gcsfuse/volumes=true")
    pipelines.compile_all(settings, tmp_path)
    for name in ("training", "monitoring"):
        documents = list(yaml.safe_load_all((tmp_path / f"{name}.yaml").read_text()))
        platform = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        assert set(platform) == set(_executors(documents[0])), f"{name}: a step without the shared state"
        for spec in platform.values():
            [mount] = spec["pvcMount"]
            assert (mount["constant"], mount["mountPath"]) == ("matchday-state", "/mnt/matchday/state")
            assert spec["podMetadata"]["annotations"] == {"gke-gcsfuse/volumes": "true"}


def test_cpu_settings_request_no_gpu(tmp_path: Path, clean_env: None) -> None:
    pipelines.compile_all(Settings(train_gpus=0), tmp_path)
    text = (tmp_path / "training.yaml").read_text()
    assert "accelerator" not in text
    assert "nodeSelector" not in text


@pytest.mark.slow
# MLflow's SQL store maps its tables with a loader strategy that SQLAlchemy 2.1 deprecates.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning")
def test_local_run_registers_a_model(tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = tmp_path / "state"
    settings = Settings(state_dir=state_dir)
    arguments: dict[str, object] = {
        "state_dir": str(state_dir),
        "data_dir": str(sample_data_dir()),
        "leagues": "E0",
        "first_season": 2022,
        "last_season": 2022,
        "model": "dixon_coles",
        "moment": "open",
        "num_samples": 0,
        "refit_days": 56,
    }
    pipelines.run_local(settings, arguments, tmp_path / "kfp")

    [folder] = (state_dir / "models").iterdir()
    registered = json.loads((folder / "register.json").read_text())
    assert registered["version"] == "1"
    challenger = version_by_alias(settings, "challenger")
    assert challenger is not None and str(challenger.version) == "1"
    # Dixon-Coles beats the base rate on a season of E0 by far: the gate passes and, with no champion yet, version 1
    # is promoted directly (a canary needs a champion to roll out against); the deploy step ran and said so.
    assert registered["promoted"] is True and registered["deploy_request"] == ""
    champion = version_by_alias(settings, "champion")
    assert champion is not None and champion.tags["matchday.gate"] == "passed"
    assert (state_dir / "features" / "table.parquet").is_file()
    # The runner prints each task's status: the gate's dsl.If let the deploy step through.
    assert "Task \x1b[96m'request-deploy'\x1b[0m finished with status \x1b[92mSUCCESS" in capsys.readouterr().out
