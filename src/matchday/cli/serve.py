"""`matchday serve`: the BentoML HTTP service and the OIP gRPC server on the model the `champion` alias names."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from matchday.cli._common import console, fail, state

__all__ = ["serve"]

SERVICE = "matchday.inference.bento_service:MatchdayService"


def serve(
    ctx: typer.Context,
    http_port: Annotated[
        int | None, typer.Option(help="HTTP port (BentoML, OIP HTTP under /v2); default 3000.")
    ] = None,
    grpc_port: Annotated[int | None, typer.Option(help="OIP gRPC port; default 8001.")] = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind; default 127.0.0.1.")] = None,
) -> None:
    """Serve the champion over HTTP and gRPC until interrupted (Ctrl-C drains in-flight requests first).

    Prediction routes need an API key (`matchday auth key create NAME`), admin routes a JWT
    (`matchday auth token --subject me --role admin`)."""
    settings = state(ctx).settings
    http = http_port if http_port is not None else settings.http_port
    grpc = grpc_port if grpc_port is not None else settings.grpc_port
    bind = host or settings.serving_host
    for name, port in (("--http-port", http), ("--grpc-port", grpc)):
        if not 0 < port < 65536:
            fail(f"{name}={port}: a port is 1-65535")
    if http == grpc:
        fail(f"--http-port and --grpc-port are both {http}")
    # The worker BentoML starts reads its Settings from the environment, like every Matchday process.
    env = {**os.environ, "MATCHDAY_HTTP_PORT": str(http), "MATCHDAY_GRPC_PORT": str(grpc)}
    env["MATCHDAY_SERVING_HOST"] = bind
    console.print(f"serving {settings.model_name}@{settings.serving_alias}: http://{bind}:{http}  grpc {bind}:{grpc}")
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", bind, "--port", str(http)]
    # exec, not a child: SIGTERM and Ctrl-C reach BentoML itself, which drains in-flight requests
    os.execve(sys.executable, command, env)  # noqa: S606  our own interpreter and arguments
