"""The canary controller on an embedded SQLite store with an injected clock: sticky routing, the p99, the
configuration file's validation, and every decision (walk to promotion, rollback on errors, latency or invalid
predictions, pause, resume, abort, a refused second start) with the registry actions replaced by recorders."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from matchday.inference.canary import CanaryConflict, CanaryController, CanaryRecord
from matchday.inference.canary_config import CanaryConfig, CanaryConfigError, CanaryStep, load_canary_config
from matchday.inference.canary_stats import ROUTING_BUCKETS, VariantStats, percentile, routing_bucket
from matchday.ingest.store.database import make_engine, migrate

CANARY_YAML = Path(__file__).resolve().parents[3] / "serving" / "canary.yaml"
T0 = datetime(2026, 1, 1, 12, 0, 0)
KEYS = [f"client-{i}" for i in range(20_000)]

# Small steps so a walk takes a few hundred requests: 20 to judge, every step 20 challenger requests and 60 s.
FAST = CanaryConfig(
    steps=tuple(CanaryStep(share=share, min_requests=20, min_seconds=60) for share in (0.05, 0.25, 0.5, 1.0)),
    min_requests_to_judge=20,
    max_error_rate=0.05,
    max_p99_latency_ms=50,
    min_valid_rate=0.95,
    evaluation_interval_seconds=10,
)


def fast(**changes: object) -> CanaryConfig:
    """FAST with `changes`, validated."""
    return CanaryConfig.model_validate({**FAST.model_dump(), **changes})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Recorder:
    promoted: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    changes: list[tuple[int, str]] = field(default_factory=list)

    def on_change(self, record: CanaryRecord) -> None:
        self.changes.append((record.id, record.status))


@dataclass
class Setup:
    engine: Engine
    clock: Clock
    recorder: Recorder
    make: Callable[..., CanaryController]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    engine = make_engine(f"sqlite:///{tmp_path / 'matchday.db'}")
    migrate(engine)
    clock, recorder = Clock(), Recorder()

    def make(config: CanaryConfig = FAST, **overrides: object) -> CanaryController:
        options: dict[str, object] = {
            "on_promote": recorder.promoted.append,
            "on_rollback": recorder.rolled_back.append,
            "on_change": recorder.on_change,
            "registry": CollectorRegistry(),
            "clock": clock,
        }
        return CanaryController.load(engine, "matchday-1x2", config, **{**options, **overrides})  # type: ignore[arg-type]

    yield Setup(engine, clock, recorder, make)
    engine.dispose()


def serve(
    controller: CanaryController,
    keys: list[str],
    *,
    challenger_ok: Callable[[int], bool] = lambda _: True,
    challenger_latency: float = 0.01,
    challenger_valid: bool = True,
    champion_latency: float = 0.005,
) -> int:
    """Route and record one request per key as the engine would; the challenger failures served."""
    failures = 0
    for key in keys:
        if controller.route(key) == "challenger":
            ok = challenger_ok(failures)
            failures += not ok
            controller.record("challenger", ok=ok, latency_seconds=challenger_latency, valid=challenger_valid)
        else:
            controller.record("champion", ok=True, latency_seconds=champion_latency, valid=True)
    return failures


# Routing.


def test_routing_bucket_is_the_first_eight_bytes_of_sha256() -> None:
    expected = int.from_bytes(hashlib.sha256(b"client-7").digest()[:8], "big") % ROUTING_BUCKETS
    assert routing_bucket("client-7") == expected
    assert routing_bucket("client-7") == routing_bucket("client-7")


@pytest.mark.parametrize("share", [0.05, 0.25, 0.5])
def test_shares_of_many_keys_match_the_step(share: float) -> None:
    routed = sum(routing_bucket(key) < share * ROUTING_BUCKETS for key in KEYS)
    assert routed / len(KEYS) == pytest.approx(share, abs=0.01)


def test_a_key_keeps_its_variant_as_the_share_grows(setup: Setup) -> None:
    controller = setup.make()
    assert {controller.route(key) for key in KEYS[:2000]} == {"champion"}  # no canary: the champion only
    controller.start("1", "2")
    seen: list[set[str]] = []
    for step in range(3):
        seen.append({key for key in KEYS if controller.route(key) == "challenger"})
        assert len(seen[-1]) / len(KEYS) == pytest.approx(FAST.steps[step].share, abs=0.01)
        serve(controller, KEYS[:2000])
        setup.clock.advance(60)
        assert controller.evaluate().action == "advance"
    assert seen[0] < seen[1] < seen[2]
    assert {controller.route(key) for key in KEYS[:2000]} == {"challenger"}  # the 1.0 step


# The p99.


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1000, 0, -1)]
    assert percentile(values, 99) == 990.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 99) is None


def test_p99_sees_the_slow_tail_an_average_hides() -> None:
    stats = VariantStats()
    for i in range(100):
        stats.add(ok=True, latency_seconds=1.0 if i in (10, 20) else 0.001, valid=True)
    figures = stats.figures()
    assert figures.p99_latency_ms == pytest.approx(1000.0)
    assert figures.requests == 100 and figures.error_rate == 0.0 and figures.valid_rate == 1.0


def test_p99_past_the_reservoir_is_a_uniform_sample() -> None:
    stats = VariantStats(reservoir_size=4096)
    n = 50_000
    for i in range(n):
        stats.add(ok=True, latency_seconds=((i * 7919) % n) / n, valid=True)  # every value in [0, 1) once
    p99 = stats.figures().p99_latency_ms
    assert p99 is not None and p99 == pytest.approx(990.0, abs=6.0)


# Configuration.


def test_defaults_are_the_files_values() -> None:
    assert load_canary_config(CANARY_YAML) == CanaryConfig()
    assert load_canary_config(None) == CanaryConfig()
    assert [step.share for step in CanaryConfig().steps] == [0.05, 0.25, 0.5, 1.0]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("max_error_rat: 0.01\n", "max_error_rat=0.01"),
        ("max_error_rate: -0.5\n", "max_error_rate=-0.5"),
        ("max_p99_latency_ms: fast\n", "max_p99_latency_ms='fast'"),
        ("min_valid_rate: 1.5\n", "min_valid_rate=1.5"),
        ("steps: []\n", "steps=[]"),
        ("steps:\n  - {share: 0.5, min_requests: 100, min_seconds: 1}\n", "must be 1.0"),
        (
            "steps:\n  - {share: 0.5, min_requests: 100, min_seconds: 1}\n"
            "  - {share: 0.25, min_requests: 100, min_seconds: 1}\n"
            "  - {share: 1.0, min_requests: 100, min_seconds: 1}\n",
            "must increase",
        ),
        ("steps:\n  - {share: 1.0, min_requests: 100, min_seconds: 1, hold: 2}\n", "steps.0.hold=2"),
        ("steps:\n  - {share: 1.0, min_requests: 10, min_seconds: 1}\n", "steps.0.min_requests=10"),
        ("- just\n- a list\n", "must be a mapping"),
        ("steps: [\n", "not valid YAML"),
    ],
)
def test_a_bad_file_names_the_key_the_value_and_the_file(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "canary.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CanaryConfigError) as caught:
        load_canary_config(path)
    assert isinstance(caught.value, ValueError)
    assert named in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CanaryConfigError, match=r"missing\.yaml"):
        load_canary_config(tmp_path / "missing.yaml")


def test_a_partial_file_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "canary.yaml"
    path.write_text("max_p99_latency_ms: 80\nmax_p99_latency_ratio: 2\n", encoding="utf-8")
    config = load_canary_config(path)
    assert config.max_p99_latency_ms == 80 and config.max_p99_latency_ratio == 2.0
    assert config.steps == CanaryConfig().steps


# Decisions.


def walk_step(setup: Setup, controller: CanaryController, keys: list[str]) -> str:
    serve(controller, keys)
    early = controller.evaluate()
    assert early.action == "hold", early  # enough requests, not yet held long enough
    setup.clock.advance(60)
    return controller.evaluate().action


def test_a_healthy_challenger_walks_every_step_and_is_promoted(setup: Setup) -> None:
    controller = setup.make()
    started = controller.start("1", "2")
    assert (started.status, started.share, started.step_index) == ("running", 0.05, 0)
    assert [walk_step(setup, controller, KEYS[:2000]) for _ in range(4)] == ["advance"] * 3 + ["promote"]
    assert setup.recorder.promoted == ["2"] and setup.recorder.rolled_back == []
    assert controller.active is None and controller.route(KEYS[0]) == "champion"
    status = controller.status()
    assert status is not None and (status.status, status.share) == ("promoted", 1.0)
    assert [event.kind for event in status.events] == ["started", "advanced", "advanced", "advanced", "promoted"]
    assert [event.share for event in status.events] == [0.05, 0.25, 0.5, 1.0, 1.0]
    figures = status.events[-1].detail["challenger"]
    assert figures["requests"] >= 20 and figures["errors"] == 0 and figures["p99_latency_ms"] == pytest.approx(10.0)
    assert setup.recorder.changes == [(status.id, "running"), (status.id, "promoted")]
    assert controller.evaluate().action == "none"


def test_the_step_holds_until_it_has_its_requests(setup: Setup) -> None:
    controller = setup.make()
    controller.start("1", "2")
    setup.clock.advance(3600)
    serve(controller, KEYS[:100])  # ~5 challenger requests of the 20 the step needs
    decision = controller.evaluate()
    assert decision.action == "hold" and "/20 challenger requests" in decision.reason


def test_a_failing_challenger_is_rolled_back_after_its_error_budget(setup: Setup) -> None:
    controller = setup.make(fast(max_error_rate=0.01))
    controller.start("1", "2")
    failures = serve(controller, KEYS, challenger_ok=lambda _: False)
    # Budget: 0.01 * 20 = 0.2 failures; the first one breaks it and no request reaches the challenger after it.
    assert failures == 1
    decision = controller.evaluate()
    assert decision.action == "rollback" and "max_error_rate" in decision.reason
    assert decision.challenger is not None and decision.challenger.errors == 1
    assert setup.recorder.rolled_back == ["2"] and setup.recorder.promoted == []
    status = controller.status()
    assert status is not None and (status.status, status.share, status.step_index) == ("rolled_back", 0.0, 0)
    assert status.events[-1].kind == "rolled_back" and status.events[-1].detail["challenger"]["errors"] == 1


def test_an_erratic_challenger_is_rolled_back_in_its_first_step_with_bounded_failures(setup: Setup) -> None:
    steps = [{**step.model_dump(), "min_requests": 100} for step in FAST.steps]
    controller = setup.make(fast(steps=steps, max_error_rate=0.02, min_requests_to_judge=100))
    controller.start("1", "2")
    served = {"n": 0}

    def every_tenth_fails(_: int) -> bool:
        served["n"] += 1
        return served["n"] % 10 != 0

    failures = serve(controller, KEYS, challenger_ok=every_tenth_fails)
    assert {controller.route(key) for key in KEYS} == {"champion"}
    assert served["n"] < 0.05 * len(KEYS)  # tripped well before the step's traffic ran out
    # A 10% failure rate against a 2% limit: at most budget + 1 = 0.02 * max(n, 100) + 1 failures reach users.
    assert failures <= math.floor(0.02 * max(served["n"], 100)) + 1
    assert controller.evaluate().action == "rollback"
    assert setup.recorder.rolled_back == ["2"]


def test_one_early_error_within_the_budget_does_not_kill_the_canary(setup: Setup) -> None:
    controller = setup.make()  # 0.05 * 20: one failure is allowed before judging
    controller.start("1", "2")
    failures = serve(controller, KEYS[:2000], challenger_ok=lambda failed: failed > 0)
    assert failures == 1
    setup.clock.advance(60)
    assert controller.evaluate().action == "advance"


def test_a_slow_challenger_is_rolled_back_once_judged(setup: Setup) -> None:
    controller = setup.make()
    controller.start("1", "2")
    serve(controller, KEYS[:200], challenger_latency=0.2)  # ~10 challenger requests: too few to judge a p99
    assert controller.evaluate().action == "hold"
    serve(controller, KEYS[200:2000], challenger_latency=0.2)
    decision = controller.evaluate()
    assert decision.action == "rollback" and "p99 latency 200.0 ms" in decision.reason
    assert setup.recorder.rolled_back == ["2"]


def test_a_challenger_much_slower_than_the_champion_is_rolled_back(setup: Setup) -> None:
    controller = setup.make(fast(max_p99_latency_ratio=2.0))
    controller.start("1", "2")
    serve(controller, KEYS[:2000], challenger_latency=0.03, champion_latency=0.01)  # under 50 ms, 3x the champion
    decision = controller.evaluate()
    assert decision.action == "rollback" and "max_p99_latency_ratio=2.0" in decision.reason


def test_invalid_predictions_roll_the_challenger_back(setup: Setup) -> None:
    controller = setup.make()
    controller.start("1", "2")
    serve(controller, KEYS[:2000], challenger_valid=False)
    decision = controller.evaluate()
    assert decision.action == "rollback" and "min_valid_rate" in decision.reason
    assert decision.challenger is not None and decision.challenger.invalid == 2  # budget 0.05 * 20 = 1


def test_pause_holds_the_share_resume_holds_the_step_again(setup: Setup) -> None:
    controller = setup.make()
    controller.start("1", "2")
    serve(controller, KEYS[:2000])
    paused = controller.pause("looking at the logs")
    assert (paused.status, paused.reason, paused.share) == ("paused", "looking at the logs", 0.05)
    assert paused.challenger is not None and paused.challenger.requests > 20  # counters kept through a pause
    setup.clock.advance(600)
    assert controller.evaluate().action == "hold"
    assert {controller.route(key) for key in KEYS[:2000]} == {"champion", "challenger"}  # still at its share
    resumed = controller.resume()
    assert resumed.status == "running" and resumed.challenger is not None and resumed.challenger.requests == 0
    assert resumed.step_started_at == setup.clock.now
    assert controller.evaluate().action == "hold"  # the step is held again from the resume
    assert walk_step(setup, controller, KEYS[:2000]) == "advance"
    kinds = [event.kind for event in resumed.events]
    assert kinds == ["started", "paused", "resumed"]


def test_a_paused_canary_is_still_rolled_back_on_a_breach(setup: Setup) -> None:
    controller = setup.make()
    controller.start("1", "2")
    controller.pause("weekend")
    serve(controller, KEYS[:2000], challenger_ok=lambda _: False)
    assert controller.evaluate().action == "rollback"
    assert setup.recorder.rolled_back == ["2"]


def test_abort_returns_to_the_champion_only(setup: Setup) -> None:
    controller = setup.make()
    controller.start("1", "2")
    aborted = controller.abort("wrong version")
    assert (aborted.status, aborted.share, aborted.reason) == ("aborted", 0.0, "wrong version")
    assert {controller.route(key) for key in KEYS[:2000]} == {"champion"}
    assert setup.recorder.rolled_back == ["2"] and setup.recorder.promoted == []
    assert setup.recorder.changes[-1] == (aborted.id, "aborted")
    assert aborted.events[-1].detail["reason"] == "wrong version"


def test_operations_in_the_wrong_state_are_refused_naming_the_canary(setup: Setup) -> None:
    controller = setup.make()
    assert controller.status() is None
    with pytest.raises(CanaryConflict, match="cannot pause: model matchday-1x2 has no running canary"):
        controller.pause("why")
    first = controller.start("1", "2")
    with pytest.raises(CanaryConflict, match=rf"already has canary {first.id} \(running: version 2 against 1\)"):
        controller.start("1", "3")
    assert CanaryConflict.status == 409
    with pytest.raises(CanaryConflict, match=rf"cannot resume: model matchday-1x2 has canary {first.id} running"):
        controller.resume()
    with pytest.raises(ValueError, match="reason=' '"):
        controller.abort(" ")
    controller.abort("done")
    with pytest.raises(CanaryConflict, match="cannot abort"):
        controller.abort("again")
    assert controller.start("1", "3").challenger_version == "3"  # a finished canary does not block a new one


def test_bad_versions_and_latencies_are_refused(setup: Setup) -> None:
    controller = setup.make()
    with pytest.raises(ValueError, match="challenger_version='1': is the champion's version too"):
        controller.start("1", "1")
    with pytest.raises(ValueError, match="champion_version=''"):
        controller.start("", "2")
    with pytest.raises(ValueError, match="latency_seconds=nan"):
        controller.record("champion", ok=True, latency_seconds=float("nan"), valid=True)


def test_a_failed_promotion_is_tried_again(setup: Setup) -> None:
    calls: list[str] = []

    def flaky(version: str) -> None:
        calls.append(version)
        if len(calls) == 1:
            raise RuntimeError("registry unreachable")

    one_step = fast(steps=[{"share": 1.0, "min_requests": 20, "min_seconds": 0}])
    controller = setup.make(one_step, on_promote=flaky)
    controller.start("1", "2")
    serve(controller, KEYS[:30])
    failed = controller.evaluate()
    assert failed.action == "hold" and "registry unreachable" in failed.reason
    assert controller.active is not None and controller.active.status == "running"
    assert controller.evaluate().action == "promote"
    assert calls == ["2", "2"]


def test_another_process_sees_the_changes(setup: Setup) -> None:
    first = setup.make()
    second = setup.make()
    started = first.start("1", "2")
    assert second.evaluate().action == "hold" and second.active is not None and second.active.id == started.id
    first.pause("check")
    second.evaluate()
    assert second.active is not None and second.active.status == "paused"
    first.abort("stop")
    assert second.evaluate().action == "none" and second.active is None
    assert second.route(KEYS[0]) == "champion"
    # Both processes reloaded their variants: started (second saw it), aborted (both).
    assert setup.recorder.changes.count((started.id, "aborted")) == 2


# Metrics and the evaluator thread.


def test_metrics_per_variant_in_the_injected_registry(setup: Setup) -> None:
    registry = CollectorRegistry()
    controller = setup.make(registry=registry)
    setup.make(registry=registry)  # a second controller on the same registry registers nothing twice
    controller.start("1", "2")
    serve(controller, KEYS[:1000])
    controller.record("challenger", ok=True, latency_seconds=0.01, valid=False)
    labels = {"model": "matchday-1x2"}
    champion = registry.get_sample_value(
        "matchday_canary_requests_total", {**labels, "variant": "champion", "outcome": "ok"}
    )
    challenger = registry.get_sample_value(
        "matchday_canary_requests_total", {**labels, "variant": "challenger", "outcome": "ok"}
    )
    invalid = registry.get_sample_value(
        "matchday_canary_requests_total", {**labels, "variant": "challenger", "outcome": "invalid"}
    )
    assert champion is not None and challenger is not None and champion + challenger == 1000 and invalid == 1
    count = registry.get_sample_value("matchday_canary_latency_seconds_count", {**labels, "variant": "challenger"})
    assert count == challenger + 1
    assert registry.get_sample_value("matchday_canary_share", labels) == 0.05
    assert registry.get_sample_value("matchday_canary_state", {**labels, "matchday_canary_state": "running"}) == 1
    controller.abort("done")
    assert registry.get_sample_value("matchday_canary_state", {**labels, "matchday_canary_state": "aborted"}) == 1
    assert registry.get_sample_value("matchday_canary_share", labels) == 0.0


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_evaluator_rolls_back_a_tripped_challenger_at_once(setup: Setup) -> None:
    controller = setup.make()
    controller.start("1", "2")
    controller.start_evaluator(interval=3600)  # only a trip can wake it within the test
    try:
        serve(controller, KEYS[:2000], challenger_ok=lambda _: False)
        assert wait_for(lambda: setup.recorder.rolled_back == ["2"])
        status = controller.status()
        assert status is not None and status.status == "rolled_back"
    finally:
        controller.stop_evaluator()


def test_the_evaluator_logs_an_exception_and_keeps_going(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    controller = setup.make()
    calls: list[int] = []
    done = threading.Event()

    def failing_then_done(now: datetime | None = None) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        done.set()
        return None

    controller.evaluate = failing_then_done  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="matchday.inference.canary"):
        controller.start_evaluator(interval=0.01)
        try:
            assert done.wait(10)
        finally:
            controller.stop_evaluator()
    assert any(record.message == "canary.evaluate_failed" for record in caplog.records)
