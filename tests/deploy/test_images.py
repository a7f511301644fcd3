"""The Dockerfiles: hadolint-clean, multi-stage, non-root, health-checked, exposing the ports the settings name, and
built from a context .dockerignore does not starve; the readiness probe they and the chart run says ready only when
both HTTP /readyz and the OIP gRPC ServerReady do (real servers on free ports)."""

from __future__ import annotations

import fnmatch
import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.deploy.support import ROOT, deploy_tool, run_tool

from matchday.config import Settings
from matchday.inference.oip_grpc import start_grpc_server

DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_three_images_exist() -> None:
    assert [path.name for path in DOCKERFILES] == [
        "components-cuda.Dockerfile",
        "components.Dockerfile",
        "serving.Dockerfile",
    ]


def test_hadolint_finds_nothing() -> None:
    done = run_tool([deploy_tool("hadolint"), *DOCKERFILES])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_each_image_is_multi_stage_non_root_and_health_checked(dockerfile: Path) -> None:
    instructions = _instructions(dockerfile)
    stages = [argument for name, argument in instructions if name == "FROM"]
    assert len(stages) >= 2 and all(" AS " in stage for stage in stages)
    users = [argument for name, argument in instructions if name == "USER"]
    assert users and not users[-1].startswith(("root", "0")), "the last USER must not be root"
    assert any(name == "HEALTHCHECK" for name, _ in instructions)
    assert any(name == "COPY" and argument.startswith("--from=build") for name, argument in instructions)
    env = " ".join(argument for name, argument in instructions if name == "ENV")
    for variable in re.findall(r"\b(MATCHDAY_[A-Z_]+)=", env):
        assert variable.removeprefix("MATCHDAY_").lower() in Settings.model_fields, f"{variable} is not a setting"


def test_the_serving_image_exposes_the_settings_ports_and_serves() -> None:
    instructions = _instructions(ROOT / "docker" / "serving.Dockerfile")
    defaults = Settings()
    exposed = [argument.split() for name, argument in instructions if name == "EXPOSE"]
    assert exposed == [[str(defaults.http_port), str(defaults.grpc_port)]]
    assert ("ENTRYPOINT", '["matchday", "serve"]') in instructions
    assert any(name == "HEALTHCHECK" and "oip_ready.py" in argument for name, argument in instructions)


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins (a `!` pattern re-includes)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, bare) or fnmatch.fnmatch(path, bare + "/*") or bare == "**":
            ignored = not negate
    return ignored


def test_the_build_context_holds_every_copied_source() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for dockerfile in DOCKERFILES:
        for name, argument in _instructions(dockerfile):
            if name != "COPY" or argument.startswith("--from"):
                continue
            for source in argument.split()[:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name}: {source} does not exist"
                assert not _ignored(source.rstrip("/"), patterns), f"{dockerfile.name}: .dockerignore drops {source}"
    assert _ignored("tests/unit/test_config.py", patterns) and _ignored(".venv/bin/python", patterns)


class _Engine:
    """Just the readiness an InferenceEngine reports, switched by the test."""

    model_name = "matchday-1x2"

    def __init__(self) -> None:
        self.is_ready = False

    def ready(self) -> bool:
        return self.is_ready

    def live(self) -> bool:
        return True


@pytest.fixture
def servers() -> Iterator[tuple[_Engine, int, int]]:
    engine = _Engine()

    class Readyz(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/readyz" and engine.ready() else 503)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    grpc_server = start_grpc_server(engine, "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        yield engine, httpd.server_address[1], grpc_server.port
    finally:
        grpc_server.stop(0)
        httpd.shutdown()
        httpd.server_close()


def _probe(http_port: int, grpc_port: int) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "docker" / "oip_ready.py"), "--http-port", str(http_port)]
    command += ["--grpc-port", str(grpc_port), "--timeout", "5"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)


def test_the_readiness_probe_needs_both_servers_ready(servers: tuple[_Engine, int, int]) -> None:
    engine, http_port, grpc_port = servers
    not_ready = _probe(http_port, grpc_port)
    assert not_ready.returncode == 1
    assert "/readyz answered 503" in not_ready.stderr and "gRPC ServerReady says not ready" in not_ready.stderr
    engine.is_ready = True
    ready = _probe(http_port, grpc_port)
    assert ready.returncode == 0, ready.stderr
    # the gRPC server is the real OIP one: a wrong port is "unavailable", not ready
    wrong = _probe(http_port, http_port)
    assert wrong.returncode == 1 and "gRPC ServerReady failed" in wrong.stderr
