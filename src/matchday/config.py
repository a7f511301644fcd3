"""Settings for every Matchday process, read once from `MATCHDAY_*` environment variables.

Nothing else in the package reads `os.environ`: callers build a `Settings` (or call `load_settings`) and pass
it down. A bad value fails at start with a message naming the variable and the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["LogFormat", "Profile", "Settings", "SettingsError", "load_settings"]

ENV_PREFIX = "MATCHDAY_"
_TEST_PREFIX = "MATCHDAY_TEST_"


class Profile(StrEnum):
    LOCAL = "local"  # embedded stores: SQLite, local files, Feast local, MLflow on SQLite
    PROD = "prod"  # PostgreSQL, Redis, a tracking server: every URL comes from configuration


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    profile: Profile = Profile.LOCAL
    data_dir: Path | None = Field(
        default=None, description="Folder with football-data/ and international/ (the shared data)."
    )
    state_dir: Path = Field(
        default=Path(".matchday"), description="Holds every embedded store: SQLite, caches, later Feast/MLflow."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default a SQLite file in the state dir."
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    feast_project: str = Field(
        default="matchday",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_]*$",
        description="Feast project: namespaces the feature registry and the online store's keys.",
    )
    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"
    football_data_base_url: str = "https://www.football-data.co.uk"
    download_retries: int = Field(default=4, ge=1, le=20)
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking server or store URI; default a SQLite store in the state dir."
    )
    model_name: str = Field(
        default="matchday-1x2",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Registered model name in the MLflow model registry.",
    )
    train_gpus: float = Field(default=0.0, ge=0.0, description="GPUs per tuning trial and training step (0: CPU).")
    accelerator_type: str = Field(
        default="nvidia.com/gpu", description="Accelerator resource the pipeline's tune and train steps request."
    )
    pipeline_state_pvc: str | None = Field(
        default=None,
        description="PersistentVolumeClaim every pipeline step mounts as its state dir (/mnt/matchday/state) on a "
        "cluster; unset: none, as the kfp local runner needs.",
    )
    pipeline_pod_annotations: str | None = Field(
        default=None,
        pattern=r"^[^=,]+=[^=,]*(,[^=,]+=[^=,]*)*$",
        description="key=value[,key=value] annotations on every pipeline step's pod (GKE's GCS FUSE volumes: "
        "gke-gcsfuse/volumes=true).",
    )
    gpu_node_selector: str = Field(
        default="cloud.google.com/gke-nodepool=gpu-pool",
        pattern=r"^[^=]+=[^=]+$",
        description="label=value of the GPU node pool the tune and train steps are scheduled on.",
    )

    # serving (matchday.inference, bentos/service.py)
    serving_host: str = Field(default="127.0.0.1", description="Interface the HTTP and gRPC servers bind.")
    http_port: int = Field(default=3000, ge=0, le=65535, description="BentoML HTTP port (OIP HTTP under /v2).")
    grpc_port: int = Field(default=8001, ge=0, le=65535, description="Open Inference Protocol gRPC port.")
    serving_alias: str = Field(default="champion", description="Registered-model alias the service serves.")
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret of admin JWTs (32+ bytes); default a per-state-dir secret file. A `prod` server "
        "refuses to start without it (other prod processes do not need it).",
    )
    rate_limit_per_minute: int = Field(default=600, ge=1, description="Default requests a minute per API key.")
    rate_limit_burst: int = Field(default=60, ge=1, description="Token bucket size: requests a key may burst.")
    team_feature_cache_seconds: float = Field(
        default=30.0, ge=0.0, description="How long a served team's Feast online features are reused (0: never)."
    )
    prediction_log_batch: int = Field(default=500, ge=1, description="Served predictions written per insert.")
    prediction_log_interval_seconds: float = Field(
        default=1.0, gt=0.0, description="Longest a served prediction waits before it is written."
    )
    canary_poll_seconds: float = Field(
        default=30.0,
        ge=0.0,
        description="How often serving looks for a challenger that passed the gate, to start its canary (0: never).",
    )
    canary_config: Path | None = Field(
        default=None, description="Canary steps and thresholds (YAML); default serving/canary.yaml's values."
    )

    # monitoring (matchday.monitoring, matchday monitor, the monitoring pipeline)
    drift_config: Path | None = Field(
        default=None,
        description="Drift window, tests, thresholds and retraining (YAML); default monitoring/drift.yaml's values.",
    )
    kfp_host: str | None = Field(
        default=None,
        description="Kubeflow Pipelines API that drift-triggered retraining submits to; unset: the kfp local runner.",
    )
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="Port of `matchday monitor serve-metrics`.")

    # betting (matchday.betting, matchday bet, GET /v1/recommendations and /v1/arbitrage)
    odds_api_key: SecretStr | None = Field(
        default=None, description="The Odds API (v4) key for live prices; without it the fixtures file is used."
    )
    odds_api_base_url: str = Field(default="https://api.the-odds-api.com", description="The Odds API base URL.")
    betting_fixtures_file: Path | None = Field(
        default=None,
        description="Upcoming fixtures with prices (football-data fixtures.csv) the betting routes read; default "
        "<state_dir>/cache/football-data/fixtures.csv, where `matchday data fixtures` downloads it.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// SQLAlchemy URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _prod_needs_real_stores(self) -> Settings:
        # In production an unset URL must not quietly fall back to a SQLite file on a pod's disk.
        if self.profile is Profile.PROD and self.database_url is None:
            raise ValueError(f"profile 'prod' needs {ENV_PREFIX}DATABASE_URL (a postgresql:// URL)")
        if self.profile is Profile.PROD and self.mlflow_tracking_uri is None:
            raise ValueError(f"profile 'prod' needs {ENV_PREFIX}MLFLOW_TRACKING_URI (the tracking server)")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'matchday.db').resolve()}"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def resolved_mlflow_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri is not None:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifact_dir(self) -> Path:
        """Where a local tracking store keeps run artifacts and model files."""
        return (self.state_dir / "mlartifacts").resolve()


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    # MATCHDAY_TEST_* configure the test suite, not the product.
    return sorted(
        key for key in environ if key.startswith(ENV_PREFIX) and key not in known and not key.startswith(_TEST_PREFIX)
    )


def load_settings(**overrides: object) -> Settings:
    """Build `Settings` from the environment, turning pydantic's error into one that names the variable.

    A `MATCHDAY_*` variable that is not a setting is an error too: a typo must not silently fall back to a
    default (MATCHDAY_DATABSE_URL would otherwise write to the local SQLite file).
    """
    unknown = _unknown_variables(os.environ)
    if unknown:
        known = ", ".join(sorted(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields))
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; known: {known}")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if not error["loc"]:  # a rule across settings: the message names the variables
                problems.append(message)
                continue
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"{ENV_PREFIX}{field.upper()}={error.get('input')!r}: {message}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
