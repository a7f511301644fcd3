"""A trained serving state and a real serving process, for the serving tests.

`train_state` runs the pipeline's own steps on the shipped sample seasons (E0 2020-21 to 2022-23): ingest,
features, Feast, the calibrated stack walked over 2022-23, registration. Version 1 passes the gate and is the
champion; the same run registered again is version 2, the challenger (equal to the champion, so the gate keeps it
out). `ServingProcess` starts `bentoml serve` on that state on free loopback ports and stops it with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import httpx
from sqlalchemy.exc import SADeprecationWarning

from matchday.config import Settings
from matchday.sample_data import sample_data_dir
from matchday.training import steps

SERVICE = "matchday.inference.bento_service:MatchdayService"

# Steps short enough for a test: every step needs a few challenger requests and no wait.
FAST_CANARY = """
steps:
  - {share: 0.05, min_requests: 3, min_seconds: 0}
  - {share: 0.25, min_requests: 3, min_seconds: 0}
  - {share: 0.50, min_requests: 3, min_seconds: 0}
  - {share: 1.00, min_requests: 3, min_seconds: 0}
min_requests_to_judge: 3
max_error_rate: 0.01
max_p99_latency_ms: 5000
min_valid_rate: 0.999
evaluation_interval_seconds: 0.2
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def train_state(state_dir: Path) -> Settings:
    state = str(state_dir)
    warnings.filterwarnings("ignore", "The ``noload`` loader strategy", SADeprecationWarning)  # MLflow's, see README
    steps.ingest(state, str(sample_data_dir()))
    table = steps.build_features(state, "E0", 2022, 2022)
    steps.publish_features(state, table)
    trained = steps.train(
        state, "E0", 2022, 2022, model="stack", refit_days=56, booster_refit_days=56, warmup_seasons=1
    )
    first = json.loads(steps.register(state, trained))
    second = json.loads(steps.register(state, trained))
    assert (first["version"], first["promoted"]) == ("1", True), first
    assert (second["version"], second["promoted"]) == ("2", False), second
    (state_dir / "canary.yaml").write_text(FAST_CANARY, encoding="utf-8")
    return Settings(state_dir=state_dir, canary_config=state_dir / "canary.yaml")


class ServingProcess:
    def __init__(self, settings: Settings, extra_env: Mapping[str, str] | None = None, *, cli: bool = False) -> None:
        self.http_port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("MATCHDAY_")}
        env |= {
            "MATCHDAY_STATE_DIR": str(settings.state_dir),
            "MATCHDAY_CANARY_CONFIG": str(settings.canary_config),
            "MATCHDAY_HTTP_PORT": str(self.http_port),
            "MATCHDAY_GRPC_PORT": str(self.grpc_port),
            "MATCHDAY_PREDICTION_LOG_INTERVAL_SECONDS": "0.2",
            "MATCHDAY_CANARY_POLL_SECONDS": "0.5",
            **(extra_env or {}),
        }
        self.log = settings.state_dir / f"serve-{self.http_port}.log"
        command = [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            SERVICE,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.http_port),
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_seconds: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the server was not ready in {timeout_seconds} s:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self, timeout_seconds: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)
