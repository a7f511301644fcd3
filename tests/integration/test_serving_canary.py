"""A faulty challenger is rolled back with no failed user request: the serving engine with the real champion and
challenger versions from MLflow, the real Feast online store and the canary controller on a real database; the
challenger is broken on purpose (it raises, or it is slow), since a trained model does neither on demand."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from matchday.config import Settings
from matchday.inference.canary import CanaryController, CanaryRecord, mlflow_actions
from matchday.inference.canary_config import CanaryConfig, CanaryStep
from matchday.inference.fixture_rows import CachedTeamFeatures
from matchday.inference.predictor import Predictor, Scored
from matchday.inference.schema import Fixture
from matchday.inference.service_engine import ServingEngine
from matchday.ingest.store.database import make_engine, migrate
from matchday.integrations.feast_store import OnlineTeamFeatures, open_store
from matchday.integrations.mlflow_registry import load_bundle_by_version

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning"),
]

FIXTURE = Fixture.model_validate(
    {
        "competition": "E0",
        "home_team": "Arsenal",
        "away_team": "Chelsea",
        "odds": {
            "open": {
                "pinnacle": {"home": 1.95, "draw": 3.7, "away": 4.1},
                "market_avg": {"home": 1.91, "draw": 3.6, "away": 3.95},
                "market_max": {"home": 2.0, "draw": 3.8, "away": 4.3},
            }
        },
    }
)
CONFIG = CanaryConfig(
    steps=(
        CanaryStep(share=0.5, min_requests=20, min_seconds=0),
        CanaryStep(share=1.0, min_requests=20, min_seconds=0),
    ),
    min_requests_to_judge=20,
    max_error_rate=0.05,  # a budget of one failure in 20
    max_p99_latency_ms=40,
    evaluation_interval_seconds=0.05,
)


class FailingPredictor(Predictor):
    def predict(self, fixtures: Sequence[Fixture], *, markets: bool = True) -> list[Scored]:
        raise RuntimeError("challenger is broken")


class SlowPredictor(Predictor):
    def predict(self, fixtures: Sequence[Fixture], *, markets: bool = True) -> list[Scored]:
        time.sleep(0.06)
        return super().predict(fixtures, markets=markets)


@pytest.fixture
def teams(serving_settings: Settings) -> Iterator[CachedTeamFeatures]:
    with open_store(serving_settings) as store:
        yield CachedTeamFeatures(OnlineTeamFeatures(store), 60)


def _rollout(
    settings: Settings, teams: CachedTeamFeatures, challenger_class: type[Predictor], tmp_path: Path
) -> tuple[ServingEngine, CanaryController, list[str]]:
    name = settings.model_name
    champion = Predictor(load_bundle_by_version(settings, "1"), name=name, version="1", teams=teams)
    challenger = challenger_class(load_bundle_by_version(settings, "2"), name=name, version="2", teams=teams)
    engine = ServingEngine(name, "champion")
    engine.set_variants(champion, challenger)

    def changed(record: CanaryRecord) -> None:
        if not record.active:
            engine.set_variants(champion, None)

    database = make_engine(f"sqlite:///{tmp_path / 'canary.db'}")
    migrate(database)
    actions = mlflow_actions(settings)
    controller = CanaryController.load(
        database,
        name,
        CONFIG,
        on_promote=actions.on_promote,
        on_rollback=actions.on_rollback,
        on_change=changed,
        registry=CollectorRegistry(),
    )
    controller.start("1", "2")
    engine.set_router(controller)
    controller.start_evaluator()
    variants = []
    try:
        for _ in range(300):
            [prediction] = engine.predict([FIXTURE], request_id=uuid.uuid4().hex, routing_key=uuid.uuid4().hex)
            variants.append(prediction.model.variant)
        deadline = time.monotonic() + 10
        while controller.active is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        controller.close()
    return engine, controller, variants


def test_a_failing_challenger_is_rolled_back_and_no_user_request_fails(
    serving_settings: Settings, teams: CachedTeamFeatures, tmp_path: Path
) -> None:
    engine, controller, variants = _rollout(serving_settings, teams, FailingPredictor, tmp_path)
    status = controller.status()
    assert status is not None and status.status == "rolled_back"
    assert status.reason is not None and "error" in status.reason
    # every request was answered, by the champion: the failures fell back to it
    assert len(variants) == 300 and set(variants) == {"champion"}
    events = {event.kind: event.detail for event in status.events}
    assert "rolled_back" in events
    failures = events["rolled_back"]["challenger"]["errors"]
    assert 1 <= failures <= 2, events["rolled_back"]  # the budget (one) and the failure that broke it
    assert [m.variant for m in engine.models()] == ["champion"]


def test_a_slow_challenger_is_rolled_back_on_its_p99(
    serving_settings: Settings, teams: CachedTeamFeatures, tmp_path: Path
) -> None:
    engine, controller, variants = _rollout(serving_settings, teams, SlowPredictor, tmp_path)
    status = controller.status()
    assert status is not None and status.status == "rolled_back"
    assert status.reason is not None and "p99" in status.reason
    assert len(variants) == 300
    slow = variants.count("challenger")
    assert CONFIG.min_requests_to_judge <= slow < 60, slow  # judged as soon as it had enough requests
    assert [m.variant for m in engine.models()] == ["champion"]
