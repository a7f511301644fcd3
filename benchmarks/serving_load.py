"""The client side of `benchmarks/serving.py`: request payloads, an open-loop load generator and batch timers.

`LoadGenerator` spawns its worker processes once (one Python process cannot send 1,000 req/s); `run` gives each
worker an interleaved share of one fixed schedule: request k is due at `start + k / rate` whatever the answers to
earlier ones, so a slow server shows as queueing in the latency, which is measured from the due time (sending late
counts against the server too: no coordinated omission). Every worker drives its share from one asyncio loop over
an httpx connection pool (HTTP) or one HTTP/2 channel (gRPC, requests serialized beforehand).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Literal, cast

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information
import httpx
import numpy as np
import numpy.typing as npt

from matchday.inference.oip_pb import grpc_predict_v2_pb2 as pb
from matchday.inference.schema import Fixture, Phase

__all__ = [
    "LoadGenerator",
    "LoadResult",
    "Protocol",
    "Target",
    "grpc_batch_request",
    "http_body",
    "model_inputs",
    "time_grpc_batch",
    "time_http_batch",
]

Protocol = Literal["http", "grpc"]
Send = Callable[[bytes], Awaitable[str]]
Sample = tuple[int, float, float, float, str]  # index, due, sent, done (s from the schedule's start), status
FloatArray = npt.NDArray[np.float64]
_SERVICE = "/inference.GRPCInferenceService"
_START_DELAY_S = 0.5  # between handing out a schedule and its first request: every worker must have it by then
_TEAM_INPUTS = ("competition", "home_team", "away_team")
_GRPC_LIMIT = 64 * 1024 * 1024  # a 10,000-row batch answer is ~240 kB, its request ~1 MB: well inside


@dataclass(frozen=True)
class Target:
    http_url: str
    grpc_address: str
    api_key: str
    connections: int  # HTTP connections per worker process
    timeout_s: float = 30.0


@dataclass(frozen=True)
class _Job:
    protocol: Protocol
    rate: float
    total: int
    start_wall: float
    worker: int
    workers: int


@dataclass(frozen=True)
class LoadResult:
    protocol: Protocol
    rate: float
    requests: int  # measured, warm-up excluded
    ok: int
    achieved: float  # answered OK per second, first due time to last answer
    latency_ms: FloatArray  # OK answers only
    send_lag_ms: FloatArray  # how late the generator sent each request
    errors: Counter[str]

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latency_ms, q)) if self.latency_ms.size else float("nan")


def http_body(fixture: Fixture) -> bytes:
    return json.dumps({"fixture": fixture.model_dump(mode="json", exclude_none=True)}).encode()


def _bytes_tensor(values: Sequence[str]) -> bytes:
    encoded = [value.encode() for value in values]
    return b"".join(struct.pack("<I", len(value)) + value for value in encoded)


def grpc_batch_request(model: str, inputs: Sequence[tuple[str, str]], fixtures: Sequence[Fixture]) -> bytes:
    """A serialized ModelInferRequest with raw contents for the model's `(name, datatype)` inputs."""
    request = pb.ModelInferRequest(model_name=model)
    for name, datatype in inputs:
        if name in _TEAM_INPUTS:
            raw, shape = _bytes_tensor([getattr(fixture, name) for fixture in fixtures]), [len(fixtures)]
        elif name.startswith("odds_") and datatype in {"FP64", "FP32"}:
            _, phase, bookmaker = name.split("_", 2)
            prices: list[float] = []
            for fixture in fixtures:
                quote = fixture.odds.get(cast(Phase, phase), {}).get(bookmaker)
                if quote is None:
                    raise SystemExit(f"input {name}: {fixture.home_team} v {fixture.away_team} has no such prices")
                prices.extend((quote.home, quote.draw, quote.away))
            code = "d" if datatype == "FP64" else "f"
            raw, shape = struct.pack(f"<{len(prices)}{code}", *prices), [len(fixtures), 3]
        else:
            raise SystemExit(f"input {name} ({datatype}): the benchmark has no data for this required input")
        request.inputs.add(name=name, datatype=datatype, shape=shape)
        request.raw_input_contents.append(raw)
    return bytes(request.SerializeToString())


def _channel(address: str) -> grpc.Channel:
    options = [("grpc.max_receive_message_length", _GRPC_LIMIT), ("grpc.max_send_message_length", _GRPC_LIMIT)]
    return grpc.insecure_channel(address, options=options)


def model_inputs(target: Target, model: str) -> list[tuple[str, str]]:
    """The served model's inputs, (name, datatype), from its OIP metadata."""
    with _channel(target.grpc_address) as channel:
        call = channel.unary_unary(
            f"{_SERVICE}/ModelMetadata",
            request_serializer=pb.ModelMetadataRequest.SerializeToString,
            response_deserializer=pb.ModelMetadataResponse.FromString,
        )
        metadata = call(pb.ModelMetadataRequest(name=model), timeout=target.timeout_s)
    return [(str(tensor.name), str(tensor.datatype)) for tensor in metadata.inputs]


def time_http_batch(target: Target, fixtures: Sequence[Fixture], reps: int) -> list[float]:
    """Seconds per POST /v1/predict/batch of `fixtures` (one untimed call first); each answer is checked."""
    rows = [fixture.model_dump(mode="json", exclude_none=True) for fixture in fixtures]
    body = json.dumps({"fixtures": rows}).encode()
    headers = {"X-API-Key": target.api_key, "Content-Type": "application/json"}
    seconds = []
    with httpx.Client(base_url=target.http_url, timeout=max(target.timeout_s, 120.0), headers=headers) as client:
        for rep in range(reps + 1):
            began = time.perf_counter()
            response = client.post("/v1/predict/batch", content=body)
            elapsed = time.perf_counter() - began
            if response.status_code != 200 or len(response.json()) != len(fixtures):
                raise RuntimeError(f"batch of {len(fixtures)}: HTTP {response.status_code} {response.text[:300]}")
            if rep:
                seconds.append(elapsed)
    return seconds


def time_grpc_batch(target: Target, request: bytes, rows: int, reps: int) -> list[float]:
    """Seconds per ModelInfer of a serialized request of `rows` rows (one untimed call first)."""
    metadata = (("x-api-key", target.api_key),)
    seconds = []
    with _channel(target.grpc_address) as channel:
        call = channel.unary_unary(f"{_SERVICE}/ModelInfer", response_deserializer=pb.ModelInferResponse.FromString)
        for rep in range(reps + 1):
            began = time.perf_counter()
            response = call(request, metadata=metadata, timeout=max(target.timeout_s, 120.0))
            elapsed = time.perf_counter() - began
            if list(response.outputs[0].shape) != [rows, 3]:
                raise RuntimeError(f"batch of {rows}: answered shape {list(response.outputs[0].shape)}")
            if rep:
                seconds.append(elapsed)
    return seconds


@asynccontextmanager
async def _sender(protocol: Protocol, target: Target) -> AsyncIterator[Send]:
    if protocol == "http":
        limits = httpx.Limits(max_connections=target.connections, max_keepalive_connections=target.connections)
        headers = {"X-API-Key": target.api_key, "Content-Type": "application/json"}
        async with httpx.AsyncClient(
            base_url=target.http_url, limits=limits, timeout=target.timeout_s, headers=headers
        ) as client:

            async def post(body: bytes) -> str:
                response = await client.post("/v1/predict", content=body)
                return "ok" if response.status_code == 200 else f"HTTP {response.status_code}"

            yield post
        return
    async with grpc.aio.insecure_channel(target.grpc_address) as channel:
        call = channel.unary_unary(f"{_SERVICE}/ModelInfer")  # bytes in, bytes out: no client-side (de)coding
        metadata = (("x-api-key", target.api_key),)

        async def infer(request: bytes) -> str:
            try:
                await call(request, metadata=metadata, timeout=target.timeout_s)
            except grpc.aio.AioRpcError as error:
                return f"gRPC {error.code().name}"
            return "ok"

        yield infer


async def _timed(send: Send, payload: bytes, index: int, due: float, origin: float) -> Sample:
    loop = asyncio.get_running_loop()
    sent = loop.time()
    try:
        status = await send(payload)
    except Exception as error:  # timeouts, refused connections: errors to count, not to stop on
        status = type(error).__name__
    return index, due - origin, sent - origin, loop.time() - origin, status


async def _run_job(job: _Job, target: Target, payloads: Sequence[bytes]) -> list[Sample]:
    async with _sender(job.protocol, target) as send:
        loop = asyncio.get_running_loop()
        origin = loop.time() + (job.start_wall - time.time())
        tasks = []
        for index in range(job.worker, job.total, job.workers):
            due = origin + index / job.rate
            await asyncio.sleep(max(0.0, due - loop.time()))  # yields even when late: answers keep being read
            tasks.append(asyncio.create_task(_timed(send, payloads[index % len(payloads)], index, due, origin)))
        return list(await asyncio.gather(*tasks))


def _worker(conn: Connection, target: Target, bodies: list[bytes], requests: list[bytes]) -> None:
    conn.send("ready")
    while (job := conn.recv()) is not None:
        try:
            conn.send(asyncio.run(_run_job(job, target, bodies if job.protocol == "http" else requests)))
        except Exception as error:  # reported by the parent rather than leaving it waiting on a dead worker
            conn.send(f"{type(error).__name__}: {error}")


def _summarize(protocol: Protocol, rate: float, samples: Sequence[Sample], warmup: int) -> LoadResult:
    measured = [sample for sample in samples if sample[0] >= warmup]
    ok = [sample for sample in measured if sample[4] == "ok"]
    span = max(sample[3] for sample in measured) - min(sample[1] for sample in measured)
    return LoadResult(
        protocol=protocol,
        rate=rate,
        requests=len(measured),
        ok=len(ok),
        achieved=len(ok) / span if span > 0 else float("nan"),
        latency_ms=np.array([(done - due) * 1000.0 for _, due, _, done, _ in ok], dtype=np.float64),
        send_lag_ms=np.array([(sent - due) * 1000.0 for _, due, sent, _, _ in measured], dtype=np.float64),
        errors=Counter(sample[4] for sample in measured if sample[4] != "ok"),
    )


class LoadGenerator:
    """`processes` worker processes, started once and reused by every `run`; a context manager that stops them."""

    def __init__(self, target: Target, http_bodies: list[bytes], grpc_requests: list[bytes], processes: int) -> None:
        context = multiprocessing.get_context("spawn")  # no inherited threads, channels or sockets
        self._pipes: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        for _ in range(processes):
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, target, http_bodies, grpc_requests), daemon=True)
            process.start()
            child.close()
            self._pipes.append(parent)
            self._processes.append(process)
        for pipe in self._pipes:  # imports done before any schedule starts
            if pipe.recv() != "ready":
                raise RuntimeError("a load worker failed to start")

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def run(self, protocol: Protocol, rate: float, requests: int, warmup: int) -> LoadResult:
        """`warmup + requests` requests at `rate` a second; the first `warmup` are left out of the figures."""
        start = time.time() + _START_DELAY_S
        workers = len(self._pipes)
        for worker, pipe in enumerate(self._pipes):
            pipe.send(_Job(protocol, rate, warmup + requests, start, worker, workers))
        samples: list[Sample] = []
        failures = []
        for pipe in self._pipes:
            reply = pipe.recv()
            if isinstance(reply, str):
                failures.append(reply)
            else:
                samples.extend(reply)
        if failures:
            raise RuntimeError(f"{protocol} at {rate:g} req/s: load worker failed: {failures[0]}")
        return _summarize(protocol, rate, samples, warmup)

    def close(self) -> None:
        for pipe, process in zip(self._pipes, self._processes, strict=True):
            if process.is_alive():
                with suppress(OSError):  # a worker that died has closed its end
                    pipe.send(None)
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        self._pipes, self._processes = [], []
