"""Training runs in MLflow and the model registry, with aliases instead of the deprecated stages.

    configure(settings)                      tracking and registry URI; an MlflowClient on them
    log_training_run(settings, ...)          one run: params, per-season metrics, data hash, report, predictions,
                                             the bundle as a pyfunc model registered as a new version `challenger`
    promote(settings, version)               alias `champion` -> version (the only place champion moves)
    version_by_alias / load_by_alias         what an alias points at; the pyfunc behind `models:/<name>@<alias>`
    run_predictions(settings, version)       the walk-forward predictions logged with a version: the gate's input
    data_hash(frame)                         a stable SHA-256 of the training data

The only module that imports mlflow. A local store (SQLite or files) has no server to choose where artifacts go,
and MLflow would then write them to ./mlruns of whatever directory the process started in; so experiments created
here on such a store keep their artifacts under `settings.mlflow_artifact_dir` instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from matchday.config import Settings
from matchday.models.bundle import ModelBundle

with warnings.catch_warnings():
    # Importing mlflow.pyfunc warns about the `Any` hints of MLflow's own agent types: nothing a caller can act on.
    warnings.filterwarnings("ignore", message=r".*Any type hint is inferred as AnyType", category=UserWarning)
    import mlflow
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
    from mlflow.pyfunc import PyFuncModel
    from mlflow.pyfunc.model import PythonModel, PythonModelContext
    from mlflow.tracking import MlflowClient

__all__ = [
    "BUNDLE_ARTIFACT",
    "CANARY_TAG",
    "CHALLENGER",
    "CHAMPION",
    "FEATURES_ARTIFACT",
    "GATE_KEPT",
    "GATE_PASSED",
    "GATE_TAG",
    "MODEL_NAME",
    "OUTPUT_COLUMNS",
    "PREDICTIONS_ARTIFACT",
    "REFERENCE_ARTIFACT",
    "REPORT_ARTIFACT",
    "MatchdayPyfunc",
    "TrainingRun",
    "configure",
    "data_hash",
    "load_bundle_by_alias",
    "load_bundle_by_version",
    "load_by_alias",
    "load_reference",
    "log_training_run",
    "promote",
    "run_predictions",
    "tag_gate",
    "version_by_alias",
]

logger = logging.getLogger(__name__)

CHALLENGER = "challenger"  # the latest trained version; every training run moves it
CHAMPION = "champion"  # the version serving answers with; moved by `promote` only, after the gate
MODEL_NAME = "model"  # the logged model's name within its run
GATE_TAG = "matchday.gate"  # the promotion gate's verdict on a version
GATE_PASSED, GATE_KEPT = "passed", "kept"
CANARY_TAG = "matchday.canary"  # a canary's outcome on a version (promoted | rolled_back), set by serving
BUNDLE_ARTIFACT = "bundle"  # key of the bundle folder among the pyfunc model's artifacts
REPORT_ARTIFACT = "report"
FEATURES_ARTIFACT = "features.json"
PREDICTIONS_ARTIFACT = "evaluation/predictions.parquet"
REFERENCE_ARTIFACT = "reference/features.parquet"  # what the model saw in training: drift monitoring's reference
OUTPUT_COLUMNS = ("p_home", "p_draw", "p_away")
DATA_HASH_TAG = "matchday.data_hash"
OUTPUT_TAG = "matchday.output"
# A server decides where artifacts go; any other URI is a store this process writes to directly.
_SERVER_SCHEMES = frozenset({"http", "https", "databricks", "databricks-uc", "uc"})
# What a bundle imports when it loads and predicts: pinned to this environment, so that MLflow never runs its
# requirement inference (a subprocess that loads the model again, seconds per run). The matchday package itself
# must be installed wherever the model is served: the pyfunc class is referenced by its import path.
_RUNTIME_PACKAGES = (
    "mlflow",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "jax",
    "numpyro",
    "xgboost",
    "lightgbm",
    "pyarrow",
)


@dataclass(frozen=True, slots=True)
class TrainingRun:
    """`model_uri` is the registry URI of this version (`models:/<name>/<version>`), stable whatever aliases do."""

    run_id: str
    model_version: str
    model_uri: str


def _is_local_store(uri: str) -> bool:
    return urlparse(uri).scheme.lower() not in _SERVER_SCHEMES


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow's tracking and registry at `settings` (process-wide: the fluent API that logs models reads
    the global URI) and return a client on the same store."""
    uri = settings.resolved_mlflow_tracking_uri
    if uri.startswith("sqlite:") and settings.mlflow_tracking_uri is None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(client: MlflowClient, settings: Settings, name: str) -> str:
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        if existing.lifecycle_stage == "deleted":
            client.restore_experiment(existing.experiment_id)
        return str(existing.experiment_id)
    location = None
    if _is_local_store(settings.resolved_mlflow_tracking_uri):
        folder = settings.mlflow_artifact_dir / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        location = folder.as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException:
        # Another process created it between the lookup and the create.
        raced = client.get_experiment_by_name(name)
        if raced is None:
            raise
        return str(raced.experiment_id)


class MatchdayPyfunc(PythonModel):
    """The bundle behind MLflow's pyfunc interface, for `models:/` URIs and servers that speak pyfunc.

    Only this thin class is pickled with the model (by reference to its module); the bundle travels as its own
    saved folder (manifests and native files, never pickle) and is read back in `load_context`."""

    def __init__(self) -> None:
        self._bundle: ModelBundle | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_bundle"] = None  # a loaded bundle must not end up inside the pickle
        return state

    def load_context(self, context: PythonModelContext) -> None:
        self._bundle = ModelBundle.load(Path(context.artifacts[BUNDLE_ARTIFACT]))

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if self._bundle is None:
            raise RuntimeError("the bundle is not loaded: load the model through mlflow.pyfunc.load_model")
        return _probability_frame(self._bundle.predict(model_input), model_input.index)


def _probability_frame(probs: np.ndarray[Any, Any], index: pd.Index[Any]) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(probs, dtype=np.float64), columns=list(OUTPUT_COLUMNS), index=index)


def _requirements() -> list[str]:
    pinned = []
    for package in _RUNTIME_PACKAGES:
        try:
            pinned.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue  # an optional member's library that this environment does not have: no bundle here uses it
    return pinned


def _param_value(value: object) -> str:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, sort_keys=isinstance(value, Mapping))
    return str(value)


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 over the column names and every row's pandas hash, in order (the index ignored): the same data in
    the same order hashes the same in any process, and any changed value, row order or column name does not."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(column) for column in frame.columns]).encode("utf-8"))
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    digest.update(rows.astype("<u8").tobytes())
    return digest.hexdigest()


def log_training_run(
    settings: Settings,
    *,
    experiment: str,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    bundle_dir: Path,
    report_dir: Path | None,
    features: list[str],
    data_hash: str,
    input_example: pd.DataFrame,
    predictions: pd.DataFrame | None,
    reference: pd.DataFrame | None = None,
) -> TrainingRun:
    """Log one training run and register its bundle as a new version of `settings.model_name`, alias
    `challenger`. `metrics` are flat names such as "rps/E0/2019-20"; `predictions` is the walk-forward table the
    promotion gate compares on later. The input example is cut to the columns the bundle reads, so the logged
    signature asks serving for exactly those, and the output half of the signature is the bundle's own answer."""
    client = configure(settings)
    experiment_id = _experiment_id(client, settings, experiment)
    bundle = ModelBundle.load(bundle_dir)
    missing = [column for column in bundle.input_columns() if column not in input_example.columns]
    if missing:
        raise ValueError(f"input_example lacks column(s) the bundle reads: {', '.join(missing)}")
    example = input_example.loc[:, bundle.input_columns()].reset_index(drop=True)
    signature = infer_signature(example, _probability_frame(bundle.predict(example), example.index))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        run_id = str(run.info.run_id)
        mlflow.log_params({key: _param_value(value) for key, value in params.items()})
        mlflow.log_metrics({key: float(value) for key, value in metrics.items()})
        mlflow.set_tags({DATA_HASH_TAG: data_hash, OUTPUT_TAG: bundle.output})
        mlflow.log_dict({"features": list(features)}, FEATURES_ARTIFACT)
        if report_dir is not None:
            mlflow.log_artifacts(str(report_dir), artifact_path=REPORT_ARTIFACT)
        for frame, artifact in ((predictions, PREDICTIONS_ARTIFACT), (reference, REFERENCE_ARTIFACT)):
            if frame is not None:
                _log_frame(frame, artifact)
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=MatchdayPyfunc(),
            artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(),
            registered_model_name=settings.model_name,
        )
    if info.registered_model_version is None:
        raise RuntimeError(f"MLflow logged run {run_id} but did not register a version of {settings.model_name}")
    version = str(info.registered_model_version)
    client.set_model_version_tag(settings.model_name, version, DATA_HASH_TAG, data_hash)
    client.set_model_version_tag(settings.model_name, version, OUTPUT_TAG, bundle.output)
    client.set_registered_model_alias(settings.model_name, CHALLENGER, version)
    logger.info(
        "mlflow.run.logged",
        extra={"run_id": run_id, "model": settings.model_name, "version": version, "alias": CHALLENGER},
    )
    return TrainingRun(run_id, version, f"models:/{settings.model_name}/{version}")


def _version_number(version: ModelVersion | str | int) -> str:
    return str(version.version) if isinstance(version, ModelVersion) else str(version)


def promote(settings: Settings, version: ModelVersion | str | int) -> None:
    """Point `champion` at `version`. Only the gate's caller should do this; training runs move `challenger`."""
    client = configure(settings)
    number = _version_number(version)
    client.get_model_version(settings.model_name, number)  # fails clearly on a version that does not exist
    client.set_registered_model_alias(settings.model_name, CHAMPION, number)
    logger.info("mlflow.model.promoted", extra={"model": settings.model_name, "version": number, "alias": CHAMPION})


def tag_gate(settings: Settings, version: str, *, passed: bool) -> None:
    """Record the promotion gate's verdict on the version (`matchday.gate` = passed | kept): serving starts a
    canary only for a challenger that passed."""
    client = configure(settings)
    client.set_model_version_tag(settings.model_name, version, GATE_TAG, GATE_PASSED if passed else GATE_KEPT)


def version_by_alias(settings: Settings, alias: str) -> ModelVersion | None:
    """The version `alias` points at; None when the alias (or the registered model) does not exist yet. Read from
    the registered model's alias map: the stores report a missing alias and a bad request with the same error."""
    client = configure(settings)
    try:
        registered = client.get_registered_model(settings.model_name)
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    number = registered.aliases.get(alias)
    if number is None:
        return None
    version: ModelVersion = client.get_model_version(settings.model_name, str(number))
    return version


def load_by_alias(settings: Settings, alias: str) -> PyFuncModel:
    """The pyfunc model behind `models:/<name>@<alias>`: predict(rows) -> DataFrame of p_home, p_draw, p_away."""
    configure(settings)
    model: PyFuncModel = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@{alias}")
    return model


def load_bundle_by_version(settings: Settings, version: str) -> ModelBundle:
    """The bundle of a registered version, read straight from its saved folder (no pyfunc wrapper: a server calls
    the bundle itself)."""
    configure(settings)
    model = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{version}")
    wrapper = model.unwrap_python_model()
    if not isinstance(wrapper, MatchdayPyfunc) or wrapper._bundle is None:
        raise TypeError(f"version {version} of {settings.model_name} is not a Matchday bundle")
    return wrapper._bundle


def load_bundle_by_alias(settings: Settings, alias: str) -> tuple[ModelBundle, str] | None:
    """The bundle behind `alias` and its version number; None when the alias does not exist."""
    version = version_by_alias(settings, alias)
    if version is None:
        return None
    return load_bundle_by_version(settings, str(version.version)), str(version.version)


def _log_frame(frame: pd.DataFrame, artifact: str) -> None:
    with tempfile.TemporaryDirectory(prefix="matchday-artifact-") as folder:
        path = Path(folder) / Path(artifact).name
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=str(Path(artifact).parent))


def _run_frame(settings: Settings, version: ModelVersion | str | int, artifact: str, what: str) -> pd.DataFrame:
    client = configure(settings)
    try:
        found = (
            version
            if isinstance(version, ModelVersion)
            else client.get_model_version(settings.model_name, _version_number(version))
        )
    except MlflowException as exc:
        raise LookupError(f"version {version} of {settings.model_name} is not registered") from exc
    if not found.run_id:
        raise ValueError(f"version {found.version} of {settings.model_name} was not logged by a run")
    with tempfile.TemporaryDirectory(prefix="matchday-artifact-") as folder:
        try:
            path = client.download_artifacts(found.run_id, artifact, folder)
        except (MlflowException, OSError) as exc:
            raise FileNotFoundError(
                f"run {found.run_id} (version {found.version} of {settings.model_name}) logged no {what}"
            ) from exc
        return pd.read_parquet(path)


def run_predictions(settings: Settings, version: ModelVersion | str | int) -> pd.DataFrame:
    """The walk-forward predictions table logged by the run that produced `version`."""
    return _run_frame(settings, version, PREDICTIONS_ARTIFACT, "predictions")


def load_reference(settings: Settings, version: ModelVersion | str | int) -> pd.DataFrame:
    """The reference snapshot logged with `version`: the feature rows of the seasons it was evaluated on, as known
    before kickoff, with its out-of-sample probabilities (`matchday.training.register.reference_snapshot`)."""
    return _run_frame(settings, version, REFERENCE_ARTIFACT, "reference snapshot")
