"""Readiness probe of a serving container: exit 0 only when HTTP `/readyz` answers 200 and the Open Inference
Protocol gRPC `ServerReady` RPC says ready (both are false until the champion is loaded).

The serving image's HEALTHCHECK and the Helm chart's readiness probe run it inside the container (the chart mounts
its copy, helm/matchday/files/oip_ready.py, so a `bentoml containerize` image is probed the same way). The ports
come from the same `MATCHDAY_*` settings the server reads; `--http-port` / `--grpc-port` override them.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

import grpc

from matchday.config import load_settings
from matchday.inference.oip_pb import grpc_predict_v2_pb2 as pb

__all__ = ["main"]

_SERVER_READY = "/inference.GRPCInferenceService/ServerReady"


def http_ready(port: int, timeout: float) -> str | None:
    """None when `/readyz` answers 200, else why not."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=timeout) as response:
            return None if response.status == 200 else f"/readyz answered {response.status}"
    except urllib.error.HTTPError as error:
        return f"/readyz answered {error.code}"
    except OSError as error:
        return f"/readyz unreachable: {error}"


def grpc_ready(port: int, timeout: float) -> str | None:
    """None when OIP `ServerReady` says ready, else why not."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(
            _SERVER_READY,
            request_serializer=pb.ServerReadyRequest.SerializeToString,
            response_deserializer=pb.ServerReadyResponse.FromString,
        )
        try:
            response = call(pb.ServerReadyRequest(), timeout=timeout)
        except grpc.RpcError as error:
            return f"gRPC ServerReady failed: {error.code().name}"
    return None if response.ready else "gRPC ServerReady says not ready"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, default=None)
    parser.add_argument("--grpc-port", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    settings = load_settings()
    http_port = args.http_port if args.http_port is not None else settings.http_port
    grpc_port = args.grpc_port if args.grpc_port is not None else settings.grpc_port
    problems = [
        problem
        for problem in (http_ready(http_port, args.timeout), grpc_ready(grpc_port, args.timeout))
        if problem is not None
    ]
    for problem in problems:
        sys.stderr.write(f"not ready: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
