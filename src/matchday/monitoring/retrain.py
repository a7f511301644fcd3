"""Retraining on drift: at most one training per cooldown, launched locally or on a Kubeflow cluster.

`decide(last, now, policy)` is the cooldown; a `Launcher` starts the training pipeline:
- `LocalPipelineLauncher`: `matchday pipeline run` (the kfp local runner) as a detached process, its output in a
  log file under the state dir, so a drift check returns at once while the training runs;
- `KfpLauncher`: the compiled training pipeline submitted through the KFP client (`MATCHDAY_KFP_HOST`).
Inside the monitoring pipeline the retraining is the pipeline's own `dsl.If` branch (launcher "pipeline").
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from matchday.config import Settings
from matchday.monitoring.drift_config import RetrainPolicy
from matchday.monitoring.records import TriggerRecord

__all__ = [
    "Decision",
    "KfpLauncher",
    "Launcher",
    "LocalPipelineLauncher",
    "PipelineBranchLauncher",
    "decide",
    "launcher_for",
    "pipeline_args",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    launch: bool
    reason: str


def decide(last: TriggerRecord | None, now: datetime, policy: RetrainPolicy) -> Decision:
    """Whether drift seen `now` starts a training, given the last one launched."""
    if not policy.enabled:
        return Decision(False, "retraining on drift is disabled (retrain.enabled: false)")
    if last is not None and now - last.triggered_at < policy.cooldown:
        until = (last.triggered_at + policy.cooldown).isoformat(timespec="seconds")
        return Decision(
            False,
            f"cooldown: training #{last.id} was launched at {last.triggered_at:%Y-%m-%d %H:%M}; next after {until}",
        )
    return Decision(True, "drift detected and no training launched within the cooldown")


def pipeline_args(policy: RetrainPolicy) -> list[str]:
    """`matchday pipeline run` arguments for the policy's leagues, seasons and model."""
    args = [arg for league in policy.leagues for arg in ("--league", league)]
    return [*args, "--seasons", policy.seasons, "--model", policy.model]


class Launcher(Protocol):
    name: str

    def launch(self, policy: RetrainPolicy) -> str:
        """Start the training; returns what identifies it (a process and its log, a run id)."""
        ...


class LocalPipelineLauncher:
    name = "local"

    def __init__(self, settings: Settings, command: list[str] | None = None) -> None:
        self._settings = settings
        self._command = command or _matchday_command()
        self.processes: list[subprocess.Popen[bytes]] = []  # what this launcher started, for a caller to wait on

    def launch(self, policy: RetrainPolicy) -> str:
        folder = self._settings.state_dir / "monitoring" / "retrain"
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / f"{datetime.now():%Y%m%dT%H%M%S%f}.log"
        command = [*self._command, "pipeline", "run", *pipeline_args(policy)]
        with log_path.open("wb") as out:
            # A session of its own: the training outlives the check that started it (and a Ctrl-C of it).
            process = subprocess.Popen(  # noqa: S603  (our own CLI with arguments from the drift config)
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.processes.append(process)
        log.info("retrain.launched", extra={"pid": process.pid, "log": str(log_path), "command": command})
        return f"pid {process.pid}, log {log_path}"


class KfpLauncher:
    name = "kfp"

    def __init__(self, settings: Settings, host: str) -> None:
        self._settings = settings
        self._host = host

    def launch(self, policy: RetrainPolicy) -> str:
        from matchday.integrations.kfp_client import compile_pipeline, submit_package  # noqa: PLC0415  (kfp is slow)

        package = compile_pipeline(self._settings, "training", self._settings.state_dir / "kfp" / "submitted")
        first, _, last = policy.seasons.partition("-")
        arguments = {
            "leagues": ",".join(policy.leagues),
            "first_season": int(first),
            "last_season": int(last or first),
            "model": policy.model,
        }
        run_id = submit_package(self._host, package, arguments)
        log.info("retrain.submitted", extra={"host": self._host, "run_id": run_id})
        return f"KFP run {run_id} at {self._host}"


class PipelineBranchLauncher:
    """Inside the monitoring pipeline: the retraining is the pipeline's own branch, which runs when the drift
    step answers "retrain"; launching it is that answer."""

    name = "pipeline"

    def launch(self, policy: RetrainPolicy) -> str:
        return "the monitoring pipeline's retrain branch"


def _matchday_command() -> list[str]:
    beside = Path(sys.executable).with_name("matchday")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("matchday")
    return [found] if found else [sys.executable, "-c", "from matchday.cli import app; app()"]


def launcher_for(settings: Settings) -> Launcher:
    """The KFP client when a cluster is configured (`MATCHDAY_KFP_HOST`), else the local runner."""
    return KfpLauncher(settings, settings.kfp_host) if settings.kfp_host else LocalPipelineLauncher(settings)
