"""The canary's state on real SQLite and PostgreSQL: it survives a restart (a new controller loading it), every
change is written with its event, two processes cannot both move it or both start one; and on a real MLflow
registry (SQLite tracking store) `mlflow_actions` moves `champion` on promotion and drops `challenger`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, func, select

from matchday.config import Settings
from matchday.inference.canary import CanaryConflict, CanaryController, mlflow_actions
from matchday.inference.canary_config import CanaryConfig
from matchday.inference.canary_store import CanaryStore
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.models import CanaryEventRow, CanaryRow
from matchday.integrations.mlflow_registry import CHALLENGER, CHAMPION, configure, promote, version_by_alias

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 30, 0, 123456)  # microseconds: they must survive the round trip
KEYS = [f"client-{i}" for i in range(2000)]
CONFIG = CanaryConfig.model_validate(
    {
        "steps": [{"share": share, "min_requests": 10, "min_seconds": 30} for share in (0.05, 0.25, 0.5, 1.0)],
        "min_requests_to_judge": 10,
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def controller_on(engine: Engine, clock: Clock) -> Callable[..., CanaryController]:
    def make(**overrides: object) -> CanaryController:
        options: dict[str, object] = {
            "on_promote": lambda _: None,
            "on_rollback": lambda _: None,
            "registry": CollectorRegistry(),
            "clock": clock,
        }
        return CanaryController.load(engine, "matchday-1x2", CONFIG, **{**options, **overrides})  # type: ignore[arg-type]

    return make


def serve(controller: CanaryController, keys: list[str]) -> None:
    for key in keys:
        controller.record(controller.route(key), ok=True, latency_seconds=0.004, valid=True)


def test_the_canary_survives_a_restart(
    engine: Engine, clock: Clock, controller_on: Callable[..., CanaryController]
) -> None:
    first = controller_on()
    started = first.start("4", "5")
    serve(first, KEYS)
    clock.advance(30)
    assert first.evaluate().action == "advance"
    challengers = {key for key in KEYS if first.route(key) == "challenger"}
    first.close()

    clock.advance(5)
    restarted = controller_on()  # a new process: the same state, empty step counters
    active = restarted.active
    assert active is not None and active.id == started.id
    assert (active.status, active.step_index, active.share) == ("running", 1, 0.25)
    assert (active.champion_version, active.challenger_version) == ("4", "5")
    assert active.started_at == T0 and active.step_started_at == T0 + timedelta(seconds=30)
    assert {key for key in KEYS if restarted.route(key) == "challenger"} == challengers
    status = restarted.status()
    assert status is not None and status.challenger is not None and status.challenger.requests == 0
    assert status.counting_since == clock.now
    clock.advance(3600)
    held = restarted.evaluate()
    assert held.action == "hold" and "0/10 challenger requests" in held.reason  # the step is held again
    serve(restarted, KEYS)
    assert restarted.evaluate().action == "advance"

    restarted.pause("night")
    again = controller_on()
    assert again.active is not None and (again.active.status, again.active.step_index) == ("paused", 2)
    events = [(event.kind, event.share) for event in again.status().events]  # type: ignore[union-attr]
    assert events == [("started", 0.05), ("advanced", 0.25), ("advanced", 0.5), ("paused", 0.5)]
    with engine.connect() as connection:
        detail = connection.scalar(select(CanaryEventRow.detail).where(CanaryEventRow.kind == "advanced").limit(1))
    assert detail is not None and '"requests"' in detail and '"p99_latency_ms": 4.0' in detail


def test_a_rollback_is_one_transaction_with_its_event(
    engine: Engine, clock: Clock, controller_on: Callable[..., CanaryController]
) -> None:
    rolled_back: list[str] = []
    controller = controller_on(on_rollback=rolled_back.append)
    started = controller.start("4", "5")
    for key in KEYS:
        if controller.route(key) == "challenger":
            controller.record("challenger", ok=False, latency_seconds=0.5, valid=False)
    assert controller.evaluate().action == "rollback" and rolled_back == ["5"]
    with engine.connect() as connection:
        row = connection.execute(select(CanaryRow).where(CanaryRow.id == started.id)).one()
        kinds = connection.scalars(select(CanaryEventRow.kind).order_by(CanaryEventRow.id)).all()
    assert (row.status, row.share, row.step_index) == ("rolled_back", 0.0, 0)
    assert row.reason is not None and "max_error_rate" in row.reason
    assert kinds == ["started", "rolled_back"]
    assert controller_on().active is None  # a restart serves the champion only


def test_a_stale_writer_changes_nothing(engine: Engine, clock: Clock) -> None:
    store = CanaryStore(engine)
    seen = store.create("matchday-1x2", "1", "2", 0.05, T0)
    moved = store.transition(seen, kind="paused", status="paused", step_index=0, share=0.05, now=T0, detail={})
    assert moved is not None and moved.status == "paused"
    resumed = store.transition(moved, kind="resumed", status="running", step_index=0, share=0.05, now=T0, detail={})
    assert resumed is not None
    # `seen` is (running, step 0) again but older: another process's write must not be overwritten.
    assert (
        store.transition(seen, kind="advanced", status="running", step_index=1, share=0.25, now=T0, detail={}) is None
    )
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(CanaryEventRow)) == 3
    assert store.active("matchday-1x2") == resumed


def test_two_processes_cannot_both_start_a_canary(engine: Engine) -> None:
    stores = [CanaryStore(engine) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def start(store: CanaryStore, version: str) -> None:
        barrier.wait()
        try:
            store.create("matchday-1x2", "1", version, 0.05, T0)
            outcomes.append("started")
        except CanaryConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=start, args=(store, str(i + 2))) for i, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["refused", "refused", "refused", "started"]
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(CanaryRow)) == 1


def test_load_from_settings_migrates_and_reads_the_configured_file(tmp_path: Path) -> None:
    path = tmp_path / "canary.yaml"
    path.write_text("steps:\n  - {share: 1.0, min_requests: 100, min_seconds: 0}\n", encoding="utf-8")
    settings = Settings(state_dir=tmp_path / "state", canary_config=path)
    controller = CanaryController.load(
        settings,
        settings.model_name,
        on_promote=lambda _: None,
        on_rollback=lambda _: None,
        registry=CollectorRegistry(),
    )
    try:
        assert [step.share for step in controller.config.steps] == [1.0]
        assert controller.start("1", "2").share == 1.0
    finally:
        controller.close()
    assert (tmp_path / "state" / "matchday.db").is_file()


# A real MLflow registry.


@pytest.fixture
def registry_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.chdir(tmp_path)  # a stray ./mlruns would land here
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    try:
        yield Settings(state_dir=tmp_path / "state")
    finally:
        for name, value in saved.items():  # mlflow.set_tracking_uri exports these to the environment
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _register(client: MlflowClient, settings: Settings, source: Path) -> str:
    source.mkdir(parents=True, exist_ok=True)
    return str(client.create_model_version(settings.model_name, source.as_uri()).version)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning")
def test_mlflow_actions_move_the_champion_alias(registry_settings: Settings, tmp_path: Path) -> None:
    settings = registry_settings
    client = configure(settings)
    client.create_registered_model(settings.model_name)
    first, second, third, fourth = (_register(client, settings, tmp_path / f"v{i}") for i in range(1, 5))
    promote(settings, first)
    client.set_registered_model_alias(settings.model_name, CHALLENGER, second)
    actions = mlflow_actions(settings)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    one_step = CanaryConfig.model_validate(
        {"steps": [{"share": 1.0, "min_requests": 1, "min_seconds": 0}], "min_requests_to_judge": 1}
    )
    controller = CanaryController.load(
        engine,
        settings.model_name,
        one_step,
        on_promote=actions.on_promote,
        on_rollback=actions.on_rollback,
        registry=CollectorRegistry(),
    )

    def aliases() -> tuple[str | None, str | None]:
        found = (version_by_alias(settings, alias) for alias in (CHAMPION, CHALLENGER))
        champion, challenger = (None if version is None else str(version.version) for version in found)
        return champion, challenger

    try:
        controller.start(first, second)
        controller.record("challenger", ok=True, latency_seconds=0.001, valid=True)
        assert controller.evaluate().action == "promote"
        assert aliases() == (second, None)
        assert client.get_model_version(settings.model_name, second).tags["matchday.canary"] == "promoted"

        # A rollback drops `challenger` and leaves `champion` alone...
        client.set_registered_model_alias(settings.model_name, CHALLENGER, third)
        controller.start(second, third)
        controller.record("challenger", ok=False, latency_seconds=0.001, valid=False)
        assert controller.evaluate().action == "rollback"
        assert aliases() == (second, None)
        assert client.get_model_version(settings.model_name, third).tags["matchday.canary"] == "rolled_back"

        # ...but not when a newer training run has moved `challenger` since the canary started.
        controller.start(second, third)
        client.set_registered_model_alias(settings.model_name, CHALLENGER, fourth)
        controller.abort("superseded")
        assert aliases() == (second, fourth)
    finally:
        controller.close()
        engine.dispose()
