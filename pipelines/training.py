"""The training pipeline: ingest -> validate -> build features -> Feast publish -> tune -> train -> evaluate ->
register and gate -> (if promoted) request a canary deploy.

Every step is a component calling `matchday.training.steps`; data moves between steps through the state dir
(the store, MLflow, the models folder), and only JSON strings and paths move through KFP. The tune and train
steps ask for the GPU node pool when `Settings.train_gpus > 0`, decided when the pipeline is compiled.
"""

# No `from __future__ import annotations`: KFP reads the pipeline parameter types from the live annotations.
import math
from typing import Any

from components.build_features import build_features
from components.evaluate import evaluate
from components.gate_decision import gate_decision
from components.ingest import ingest
from components.publish_features import publish_features
from components.register import register
from components.request_deploy import request_deploy
from components.train import train
from components.tune import tune
from components.validate import validate
from kfp import dsl, kubernetes

from matchday.config import Settings

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_STATE_DIR",
    "PIPELINE_NAME",
    "SHARED_MOUNT",
    "on_gpu_pool",
    "on_shared_state",
    "training_pipeline",
]

PIPELINE_NAME = "matchday-training"
# Where the cluster mounts the shared volume (the season files in its data/ folder); the local runner and
# `pipeline run` pass their own folders.
DEFAULT_STATE_DIR = "/mnt/matchday/state"
DEFAULT_DATA_DIR = "/mnt/matchday/state/data"
SHARED_MOUNT = DEFAULT_STATE_DIR  # where `pipeline_state_pvc` is mounted: the claim's root is the state dir


def on_shared_state(task: dsl.PipelineTask, settings: Settings) -> dsl.PipelineTask:
    """Mount `pipeline_state_pvc` at SHARED_MOUNT (steps exchange files through the state dir) and annotate the
    pod with `pipeline_pod_annotations`; a no-op when neither is set (the local runner shares the disk)."""
    if settings.pipeline_state_pvc:
        kubernetes.mount_pvc(task, pvc_name=settings.pipeline_state_pvc, mount_path=SHARED_MOUNT)
    for pair in (settings.pipeline_pod_annotations or "").split(","):
        if pair:
            key, value = pair.split("=", 1)
            kubernetes.add_pod_annotation(task, annotation_key=key, annotation_value=value)
    return task


def on_gpu_pool(task: dsl.PipelineTask, settings: Settings) -> dsl.PipelineTask:
    """Request `train_gpus` accelerators of `accelerator_type` (rounded up: Kubernetes counts whole devices) and
    schedule the pod on the GPU node pool, tolerating its taint; a no-op when `train_gpus` is 0."""
    if settings.train_gpus <= 0:
        return task
    task.set_accelerator_type(settings.accelerator_type)
    task.set_accelerator_limit(math.ceil(settings.train_gpus))
    label, value = settings.gpu_node_selector.split("=", 1)
    kubernetes.add_node_selector(task, label_key=label, label_value=value)
    kubernetes.add_toleration(task, key=settings.accelerator_type, operator="Exists", effect="NoSchedule")
    return task


def training_pipeline(settings: Settings) -> Any:
    """The pipeline for `settings` (a `GraphComponent`): call it inside another pipeline, compile or run it."""

    @dsl.pipeline(name=PIPELINE_NAME, description="Ingest, features, tune, train, gate and canary-deploy matchday.")
    def matchday_training(
        state_dir: str = DEFAULT_STATE_DIR,
        data_dir: str = DEFAULT_DATA_DIR,
        leagues: str = "E0",
        first_season: int = 2022,
        last_season: int = 2024,
        model: str = "stack",
        moment: str = "open",
        num_samples: int = 0,
        refit_days: int = 7,
        booster_refit_days: int = 28,
        warmup_seasons: int = 2,
    ) -> None:
        ingested = ingest(state_dir=state_dir, data_dir=data_dir).set_display_name("ingest")
        validated = validate(state_dir=state_dir).after(ingested).set_display_name("validate")
        table = build_features(
            state_dir=state_dir, leagues=leagues, first_season=first_season, last_season=last_season
        ).after(validated)
        published = publish_features(state_dir=state_dir, table_path=table.output)
        tuned = tune(
            state_dir=state_dir,
            leagues=leagues,
            first_season=first_season,
            last_season=last_season,
            model=model,
            moment=moment,
            num_samples=num_samples,
        ).after(validated)
        trained = train(
            state_dir=state_dir,
            leagues=leagues,
            first_season=first_season,
            last_season=last_season,
            model=model,
            moment=moment,
            params_json=tuned.output,
            refit_days=refit_days,
            booster_refit_days=booster_refit_days,
            warmup_seasons=warmup_seasons,
        )
        evaluated = evaluate(train_json=trained.output)
        registered = register(state_dir=state_dir, train_json=trained.output).after(evaluated, published)
        decision = gate_decision(register_json=registered.output)
        with dsl.If(decision.output == "promote", name="gate-passed"):
            deployed = request_deploy(state_dir=state_dir, register_json=registered.output)
            on_shared_state(deployed, settings)
        for task in (tuned, trained):
            on_gpu_pool(task, settings)
        # Every step reads or writes shared state (the store, MLflow): a cached result would be a stale one.
        for task in (ingested, validated, table, published, tuned, trained, evaluated, registered):
            task.set_caching_options(False)
        for task in (ingested, validated, table, published, tuned, trained, evaluated, registered, decision):
            on_shared_state(task, settings)

    return matchday_training
