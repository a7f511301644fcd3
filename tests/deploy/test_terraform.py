"""The Terraform root without a cloud: every file parses (HCL2), every variable has a type and a description and
the root's inputs are validated, every module call passes exactly the inputs its module declares, outputs point at
outputs that exist, and the GPU pool is the one the chart and the pipeline settings select; `terraform fmt` and
`validate` run where a Terraform binary is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from tests.deploy.support import CHART, TERRAFORM

from matchday.config import Settings

# Root variables whose whole domain is valid as typed (maps of labels, switches, lists checked by their modules).
UNVALIDATED_ROOT_VARIABLES = {"labels", "deletion_protection"}


def _blocks(files: dict[str, dict[str, Any]], folder: str, kind: str) -> dict[str, dict[str, Any]]:
    """name -> body of every `kind` block (variable, output, module) in the .tf files of `folder`."""
    found: dict[str, dict[str, Any]] = {}
    for path, parsed in files.items():
        if _folder(path) != folder:
            continue
        for block in parsed.get(kind, []):
            found.update(block)
    return found


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _folders(files: dict[str, dict[str, Any]]) -> set[str]:
    return {_folder(path) for path in files}


def test_every_variable_has_a_type_and_a_description(terraform_files: dict[str, dict[str, Any]]) -> None:
    folders = _folders(terraform_files)
    assert {"", "modules/network", "modules/gke", "modules/postgres", "modules/redis", "modules/storage"} <= folders
    for folder in folders:
        for name, body in _blocks(terraform_files, folder, "variable").items():
            assert body.get("type"), f"{folder or 'root'}: variable {name} has no type"
            assert str(body.get("description", [""])[0]).strip(), f"{folder or 'root'}: variable {name} undescribed"
        for name, body in _blocks(terraform_files, folder, "output").items():
            assert str(body.get("description", [""])[0]).strip(), f"{folder or 'root'}: output {name} undescribed"


def test_the_root_inputs_are_validated(terraform_files: dict[str, dict[str, Any]]) -> None:
    variables = _blocks(terraform_files, "", "variable")
    assert len(variables) >= 10
    for name, body in variables.items():
        if name in UNVALIDATED_ROOT_VARIABLES:
            continue
        validations = body.get("validation", [])
        assert validations, f"variable {name} has no validation"
        for validation in validations:
            assert validation["condition"] and str(validation["error_message"][0]).endswith(".")


def test_module_calls_pass_exactly_the_declared_inputs(terraform_files: dict[str, dict[str, Any]]) -> None:
    meta = {"source", "depends_on", "count", "for_each", "providers", "version", "__start_line__", "__end_line__"}
    calls = _blocks(terraform_files, "", "module")
    assert set(calls) == {"network", "gke", "postgres", "redis", "storage", "workload_identity"}
    for name, call in calls.items():
        folder = str(call["source"][0]).removeprefix("./")
        declared = _blocks(terraform_files, folder, "variable")
        passed = set(call) - meta
        required = {var for var, body in declared.items() if "default" not in body}
        assert passed <= set(declared), f"module {name} gets undeclared {sorted(passed - set(declared))}"
        assert required <= passed, f"module {name} misses {sorted(required - passed)}"


def test_references_to_module_outputs_and_variables_exist(terraform_files: dict[str, dict[str, Any]]) -> None:
    calls = _blocks(terraform_files, "", "module")
    outputs = {
        name: set(_blocks(terraform_files, str(call["source"][0]).removeprefix("./"), "output"))
        for name, call in calls.items()
    }
    for folder in _folders(terraform_files):
        text = " ".join(str(parsed) for path, parsed in terraform_files.items() if _folder(path) == folder)
        for module, output in re.findall(r"module\.([a-z_]+)\.([a-z_]+)", text):
            assert output in outputs[module], f"module.{module}.{output} does not exist"
        declared = set(_blocks(terraform_files, folder, "variable"))
        for variable in re.findall(r"var\.([a-z_]+)", text):
            assert variable in declared, f"{folder or 'root'}: var.{variable} is not declared"


def test_the_gpu_pool_is_the_one_the_chart_and_the_pipeline_select(
    terraform_files: dict[str, dict[str, Any]],
) -> None:
    defaults = Settings()
    gpu_pool = _blocks(terraform_files, "", "variable")["gpu_pool"]["default"][0]
    chart_gpu = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))["gpu"]
    label, value = defaults.gpu_node_selector.split("=", 1)
    # GKE labels every node with its pool's name
    assert label == "cloud.google.com/gke-nodepool" and gpu_pool["name"] == value
    assert chart_gpu["nodeSelector"] == {label: value}
    [pool] = [
        resource["google_container_node_pool"]["gpu"]
        for resource in terraform_files["modules/gke/main.tf"]["resource"]
        if "gpu" in resource.get("google_container_node_pool", {})
    ]
    node_config = pool["node_config"][0]
    [taint] = node_config["taint"]
    # the pipeline tolerates key=accelerator_type, operator Exists, effect NoSchedule
    assert taint["key"] == [defaults.accelerator_type] and taint["effect"] == ["NO_SCHEDULE"]
    assert node_config["guest_accelerator"][0]["count"] == ["${var.gpu_pool.accelerators}"]
    assert pool["name"] == ["${var.gpu_pool.name}"]


def test_the_cluster_keeps_the_security_basics(terraform_files: dict[str, dict[str, Any]]) -> None:
    [cluster] = [
        resource["google_container_cluster"]["this"]
        for resource in terraform_files["modules/gke/main.tf"]["resource"]
        if "google_container_cluster" in resource
    ]
    assert cluster["private_cluster_config"][0]["enable_private_nodes"] == [True]
    assert cluster["workload_identity_config"][0]["workload_pool"] == ["${var.project_id}.svc.id.goog"]
    assert cluster["addons_config"][0]["gcs_fuse_csi_driver_config"][0]["enabled"] == [True]
    assert cluster["datapath_provider"] == ["ADVANCED_DATAPATH"]  # enforces the chart's NetworkPolicies


def _terraform() -> str:
    binary = shutil.which("terraform") or shutil.which("tofu")
    if binary is None:
        pytest.skip("no terraform (or tofu) binary on PATH: fmt and validate need one (none is packaged here)")
    return binary


def test_terraform_fmt_leaves_the_files_as_they_are() -> None:
    done = subprocess.run(
        [_terraform(), "fmt", "-check", "-recursive", "-diff"],
        cwd=TERRAFORM,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_terraform_validate_accepts_the_root(tmp_path: Any) -> None:
    binary = _terraform()
    work = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, work)
    init = subprocess.run(
        [binary, "init", "-backend=false", "-input=false"], cwd=work, capture_output=True, text=True, check=False
    )
    if init.returncode != 0 and "registry" in (init.stdout + init.stderr).lower():
        pytest.skip("terraform init cannot download the providers (no registry access)")
    assert init.returncode == 0, init.stdout + init.stderr
    done = subprocess.run([binary, "validate"], cwd=work, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
