"""Serving latency and throughput: the real `matchday serve` (BentoML HTTP and OIP gRPC) against the champion.

Needs the state `make run` leaves in `Settings.state_dir` (a registered champion, a materialized Feast store). The
fixtures are real: the newest seasons of `--competition` in the football-data CSVs (`MATCHDAY_DATA_DIR`, else the
bundled sample seasons) whose teams are in the feature table, with the opening and closing prices the champion needs.

    in-process     Predictor.predict on the loaded champion: single fixtures, then batches (goals markets on, off)
    open loop      POST /v1/predict and gRPC ModelInfer (one row) at fixed rates (`serving_load.LoadGenerator`),
                   API key checked and rate limit counted in Redis on every request
    batch          POST /v1/predict/batch and gRPC ModelInfer with batches of `--batch-sizes` rows

The server runs on free ports in a subprocess (`bentoml serve`, as `matchday serve` starts it) and is stopped at the
end, as is the benchmark's API key revoked. Prints a markdown section for BENCHMARKS.md. Usage:
`python benchmarks/serving.py [--rates 100,500,1000] [--requests 3000] [--markdown FILE]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import cast

import httpx
import numpy as np
import pandas as pd
from machine import machine
from serving_load import (
    FloatArray,
    LoadGenerator,
    LoadResult,
    Target,
    grpc_batch_request,
    http_body,
    model_inputs,
    time_grpc_batch,
    time_http_batch,
)

from matchday.config import Settings, load_settings
from matchday.domain import Market, OddsQuote, Phase
from matchday.inference.schema import Fixture, Prices1X2
from matchday.inference.schema import Phase as OddsPhase
from matchday.ingest.football_data import parse_season_file
from matchday.sample_data import sample_data_dir

__all__ = ["main"]

HOST = "127.0.0.1"
_PHASES = {Phase.OPENING: "open", Phase.CLOSING: "close"}
_PACKAGES = ("bentoml", "grpcio", "httpx", "onnxruntime", "onnxruntime-gpu")


@dataclass(frozen=True)
class InProcess:
    version: str
    output: str
    required_odds: list[str]
    single_ms: dict[bool, FloatArray]  # markets on/off -> per-call latency
    batch_s: dict[tuple[bool, int], list[float]]  # (markets, rows) -> seconds per call


# fixtures


def _season_start(path: Path) -> int:
    year = int(path.stem[:2])
    return year + (1900 if year >= 50 else 2000)


def _known_teams(settings: Settings, competition: str) -> set[str] | None:
    table = settings.state_dir / "features" / "table.parquet"
    if not table.is_file():
        return None
    frame = pd.read_parquet(table, columns=["competition", "home_team", "away_team"])
    frame = frame[frame["competition"] == competition]
    return set(frame["home_team"]) | set(frame["away_team"])


def _odds(quotes: Sequence[OddsQuote]) -> dict[str, dict[str, Prices1X2]]:
    prices: dict[tuple[str, str], dict[str, float]] = {}
    for quote in quotes:
        if quote.market is Market.MATCH_ODDS:
            prices.setdefault((_PHASES[quote.phase], quote.bookmaker), {})[str(quote.selection)] = quote.price
    odds: dict[str, dict[str, Prices1X2]] = {}
    for (phase, bookmaker), triplet in prices.items():
        if {"home", "draw", "away"} <= triplet.keys() and min(triplet.values()) > 1.0:
            odds.setdefault(phase, {})[bookmaker] = Prices1X2(**triplet)
    return odds


def load_fixtures(settings: Settings, competition: str, count: int) -> tuple[list[Fixture], str]:
    """Up to `count` distinct fixtures, newest season first, and a line saying where they came from."""
    root = (settings.data_dir or sample_data_dir()) / "football-data" / competition
    files = sorted((p for p in root.glob("*.csv") if p.stem[:4].isdigit()), key=_season_start, reverse=True)
    if not files:
        raise SystemExit(f"no {competition} season files (YYZZ.csv) under {root}")
    known = _known_teams(settings, competition)
    chosen: dict[tuple[str, str], Fixture] = {}
    used: list[str] = []
    for path in files:
        for _, match in sorted(parse_season_file(path).matches, key=lambda row: row[1].match_date, reverse=True):
            pair = (match.home_team, match.away_team)
            if pair in chosen or (known is not None and not set(pair) <= known):
                continue
            odds = _odds(match.quotes)
            fixture = {"competition": competition, "home_team": pair[0], "away_team": pair[1], "odds": odds}
            chosen[pair] = Fixture.model_validate({**fixture, "kickoff": match.kickoff_at})
        used.append(path.stem)
        if len(chosen) >= count:
            break
    if not chosen:
        raise SystemExit(f"no {competition} fixture under {root} has both teams in the feature table")
    where = "the bundled sample data" if settings.data_dir is None else str(root)
    return list(chosen.values())[:count], f"{competition} {', '.join(used)} from {where}"


def trim(fixtures: Sequence[Fixture], required_odds: Sequence[str]) -> list[Fixture]:
    """The fixtures that carry every `phase.bookmaker` price the model needs, with only those prices."""
    needed = [entry.split(".", 1) for entry in required_odds]
    out = []
    for fixture in fixtures:
        prices = {(phase, book): fixture.odds.get(cast(OddsPhase, phase), {}).get(book) for phase, book in needed}
        if None not in prices.values():
            odds: dict[str, dict[str, Prices1X2 | None]] = {}
            for (phase, book), quote in prices.items():
                odds.setdefault(phase, {})[book] = quote
            out.append(fixture.model_copy(update={"odds": odds}))
    if not out:
        raise SystemExit(f"no fixture carries the prices the champion needs: {', '.join(required_odds)}")
    return out


def cycle(fixtures: Sequence[Fixture], rows: int) -> list[Fixture]:
    return [fixtures[i % len(fixtures)] for i in range(rows)]


# in-process ceiling


def in_process(
    settings: Settings, fixtures: Sequence[Fixture], single_reps: int, batch_sizes: Sequence[int], batch_reps: int
) -> InProcess:
    # the model stack, Feast and the CLI are imported where used: every spawned load worker re-imports this module
    from matchday.inference.fixture_rows import CachedTeamFeatures  # noqa: PLC0415
    from matchday.inference.predictor import Predictor  # noqa: PLC0415
    from matchday.integrations.feast_store import OnlineTeamFeatures, open_store  # noqa: PLC0415
    from matchday.integrations.mlflow_registry import version_by_alias  # noqa: PLC0415

    if version_by_alias(settings, settings.serving_alias) is None:
        raise SystemExit(
            f"no {settings.model_name}@{settings.serving_alias} in the registry at "
            f"{settings.resolved_mlflow_tracking_uri}: run `make run` first (or set MATCHDAY_STATE_DIR)"
        )
    with open_store(settings) as store:
        teams = CachedTeamFeatures(OnlineTeamFeatures(store), settings.team_feature_cache_seconds)
        predictor = Predictor.from_registry(settings, settings.serving_alias, teams)
        if predictor is None:
            raise SystemExit(f"{settings.model_name}@{settings.serving_alias} disappeared while loading")
        rows = trim(fixtures, predictor.required_odds)
        single: dict[bool, FloatArray] = {}
        batch: dict[tuple[bool, int], list[float]] = {}
        for markets in (True, False):
            for i in range(min(single_reps, 50)):  # warm-up: lazily built sessions, the team feature cache
                predictor.predict([rows[i % len(rows)]], markets=markets)
            samples = [_seconds(predictor.predict, [rows[i % len(rows)]], markets) for i in range(single_reps)]
            single[markets] = np.array(samples, dtype=np.float64) * 1000.0
            for size in batch_sizes:
                many = cycle(rows, size)
                predictor.predict(many, markets=markets)
                batch[(markets, size)] = [_seconds(predictor.predict, many, markets) for _ in range(batch_reps)]
        return InProcess(predictor.version, predictor.bundle.output, predictor.required_odds, single, batch)


def _seconds(predict: Callable[..., object], fixtures: list[Fixture], markets: bool) -> float:
    began = time.perf_counter()
    predict(fixtures, markets=markets)
    return time.perf_counter() - began


# the server


def _free_ports(count: int) -> list[int]:
    with ExitStack() as stack:  # held together, so the ports differ
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_server(startup_timeout: float, log: Path) -> Iterator[tuple[str, str]]:
    """`matchday serve`'s command on free ports; yields (HTTP base URL, gRPC address) once /readyz answers 200."""
    from matchday.cli.serve import SERVICE  # noqa: PLC0415  the CLI's own service path

    http_port, grpc_port = _free_ports(2)
    env = {**os.environ, "MATCHDAY_HTTP_PORT": str(http_port), "MATCHDAY_GRPC_PORT": str(grpc_port)}
    env["MATCHDAY_SERVING_HOST"] = HOST
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", HOST, "--port", str(http_port)]
    with log.open("wb") as sink:
        # own session: the server and its worker form one process group, stopped together
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    url = f"http://{HOST}:{http_port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not _ready(url):
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the server was not ready within {startup_timeout:g} s:\n{_tail(log)}")
            time.sleep(0.5)
        yield url, f"{HOST}:{grpc_port}"
    finally:
        _stop(process)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # BentoML drains, then the runtime flushes the prediction log
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with suppress(ProcessLookupError):  # a worker left behind by its parent
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def benchmark_key(settings: Settings) -> Iterator[str]:
    """A fresh API key whose rate limit never throttles the benchmark (still checked against Redis per request)."""
    from matchday.inference.auth import ApiKeyStore  # noqa: PLC0415
    from matchday.ingest.store.database import make_engine, migrate  # noqa: PLC0415

    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        store = ApiKeyStore(engine)
        issued = store.create(f"bench-serving-{secrets.token_hex(4)}", rate_per_minute=10_000_000)
        try:
            yield issued.key
        finally:
            store.revoke(issued.info.name)
    finally:
        engine.dispose()


def check_server(target: Target, body: bytes, request: bytes) -> None:
    """One request of each kind before any timing: a wrong key or model fails here, with the server's words."""
    response = httpx.post(
        f"{target.http_url}/v1/predict",
        content=body,
        headers={"X-API-Key": target.api_key, "Content-Type": "application/json"},
        timeout=target.timeout_s,
    )
    if response.status_code != 200 or "probabilities" not in response.json():
        raise SystemExit(f"POST /v1/predict answered {response.status_code}: {response.text[:500]}")
    time_grpc_batch(target, request, 1, 0)


# the report


def versions() -> str:
    found = []
    for name in _PACKAGES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join([f"Python {platform.python_version()}", *found])


def _ms(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1f}"


def _latency_rows(loads: Sequence[LoadResult], local: InProcess) -> list[str]:
    paths = {"http": "HTTP POST /v1/predict", "grpc": "gRPC ModelInfer, 1 row"}
    rows = []
    for load in loads:
        figures = [load.latency(q) for q in (50, 95, 99, 100)]
        lag = float(np.percentile(load.send_lag_ms, 99)) if load.send_lag_ms.size else float("nan")
        rows.append(
            f"| {paths[load.protocol]} | {load.rate:g} | {load.requests} | {load.achieved:,.0f} | "
            f"{' | '.join(_ms(value) for value in figures)} | {load.requests - load.ok} | {_ms(lag)} |"
        )
    for markets, samples in local.single_ms.items():
        figures = [float(np.percentile(samples, q)) for q in (50, 95, 99, 100)]
        rows.append(
            f"| in-process Predictor.predict, 1 fixture, markets {'on' if markets else 'off'} | closed loop | "
            f"{samples.size} | {1000.0 * samples.size / samples.sum():,.0f} | "
            f"{' | '.join(_ms(value) for value in figures)} | 0 | - |"
        )
    return rows


def _batch_rows(server: Sequence[tuple[str, int, list[float]]], local: InProcess) -> list[str]:
    named = [*server]
    for (markets, size), seconds in local.batch_s.items():
        named.append((f"in-process Predictor.predict, markets {'on' if markets else 'off'}", size, seconds))
    rows = []
    for path, size, seconds in named:
        median = float(np.median(seconds))
        rows.append(f"| {path} | {size:,} | {len(seconds)} | {median * 1000.0:,.0f} | {size / median:,.0f} |")
    return rows


def markdown(
    header: list[str],
    loads: Sequence[LoadResult],
    server_batches: Sequence[tuple[str, int, list[float]]],
    local: InProcess,
) -> str:
    lines = [*header, ""]
    lines += [
        "| Path | Offered (req/s) | Requests | Achieved (req/s) | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | Errors "
        "| Send lag p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *_latency_rows(loads, local),
        "",
    ]
    errors = [
        f"{load.protocol} at {load.rate:g} req/s: "
        + ", ".join(f"{status} x{count}" for status, count in load.errors.most_common())
        for load in loads
        if load.errors
    ]
    if errors:
        lines += ["Errors: " + "; ".join(errors) + ".", ""]
    lines += [
        "| Batch path | Rows | Calls | Median call (ms) | Rows/s |",
        "|---|---:|---:|---:|---:|",
        *_batch_rows(server_batches, local),
    ]
    return "\n".join(lines) + "\n"


# the run


def _numbers(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated whole numbers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive numbers")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=_numbers, default=[100, 500, 1000], help="offered req/s (default 100,500,1000)")
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per protocol and rate")
    parser.add_argument("--warmup", type=int, help="unmeasured requests first at each rate (default max(50, 10%%))")
    processes = min(4, os.cpu_count() or 2)
    parser.add_argument("--processes", type=int, default=processes, help=f"load generators (default {processes})")
    parser.add_argument("--connections", type=int, default=256, help="HTTP connections over all processes")
    parser.add_argument("--batch-sizes", type=_numbers, default=[1000, 10000], help="batch rows (max 10000)")
    parser.add_argument("--batch-reps", type=int, default=3, help="timed calls per batch size (after one untimed)")
    parser.add_argument("--single-reps", type=int, default=1000, help="in-process single-fixture calls")
    parser.add_argument("--fixtures", type=int, default=300, help="distinct fixtures, cycled")
    parser.add_argument("--competition", default="E0")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a request may take (an error after)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of quiet between open-loop runs")
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="seconds for the server to be ready")
    parser.add_argument("--markdown", type=Path, help="also write the section to this file")
    args = parser.parse_args(argv)
    for name in ("requests", "processes", "connections", "batch_reps", "single_reps", "fixtures"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)}: must be at least 1")
    if args.warmup is None:
        args.warmup = max(50, args.requests // 10)
    return args


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure_server(
    args: argparse.Namespace, settings: Settings, fixtures: list[Fixture], log: Path
) -> tuple[list[LoadResult], list[tuple[str, int, list[float]]]]:
    loads: list[LoadResult] = []
    batches: list[tuple[str, int, list[float]]] = []
    with benchmark_key(settings) as key, running_server(args.startup_timeout, log) as (url, address):
        target = Target(url, address, key, max(1, args.connections // args.processes), args.timeout)
        inputs = model_inputs(target, settings.model_name)
        bodies = [http_body(fixture) for fixture in fixtures]
        requests = [grpc_batch_request(settings.model_name, inputs, [fixture]) for fixture in fixtures]
        check_server(target, bodies[0], requests[0])
        with LoadGenerator(target, bodies, requests, args.processes) as generator:
            for protocol in ("http", "grpc"):
                for rate in args.rates:
                    _progress(f"open loop: {protocol} at {rate} req/s")
                    loads.append(generator.run(protocol, rate, args.requests, args.warmup))
                    time.sleep(args.settle)  # let a saturated server drain its queue before the next rate
        for size in args.batch_sizes:
            _progress(f"batches of {size}")
            many = cycle(fixtures, size)
            batches.append(("HTTP POST /v1/predict/batch", size, time_http_batch(target, many, args.batch_reps)))
            request = grpc_batch_request(settings.model_name, inputs, many)
            batches.append(("gRPC ModelInfer", size, time_grpc_batch(target, request, size, args.batch_reps)))
    return loads, batches


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    settings = load_settings()
    started = datetime.now(UTC)
    host = machine()
    pool, source = load_fixtures(settings, args.competition, args.fixtures)
    _progress(f"in-process: {source}")
    local = in_process(settings, pool, args.single_reps, args.batch_sizes, args.batch_reps)
    fixtures = trim(pool, local.required_odds)
    log = Path(tempfile.gettempdir()) / f"matchday-serving-bench-{os.getpid()}.log"
    _progress(f"server log: {log}")
    loads, batches = measure_server(args, settings, fixtures, log)
    header = [
        f"### Serving ({started:%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {host}; {versions()}.",
        f"Model: {settings.model_name} version {local.version} (`{settings.serving_alias}`, output {local.output}, "
        f"needs {', '.join(local.required_odds) or 'no prices'}); one BentoML worker, the OIP gRPC server beside it.",
        f"Fixtures: {len(fixtures)} distinct ({source}), cycled.",
        f"Load: open loop from {args.processes} client processes on the same machine; latency from each request's "
        f"scheduled send time; {args.warmup} warm-up requests per rate left out; percentiles over OK answers; "
        "send lag is how late the generator sent (its own CPU starvation, counted in the latency).",
    ]
    section = markdown(header, loads, batches, local)
    print(section)
    if args.markdown:
        args.markdown.write_text(section)


if __name__ == "__main__":
    main()
