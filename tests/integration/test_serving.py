"""The serving stack for real: `bentoml serve` on a model trained and registered by the pipeline's own steps, with
the OIP gRPC server beside it, API keys in the database, rate limits in the real Redis, the prediction log, and a
canary that promotes a healthy challenger through the MLflow aliases. Clients are plain HTTP and tritonclient."""

from __future__ import annotations

import gc
import json
import re
import signal
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from sqlalchemy import func, select
from sqlalchemy.exc import SADeprecationWarning
from tritonclient.utils import InferenceServerException

from matchday.config import Settings
from matchday.inference.auth import ApiKeyStore, issue_token
from matchday.inference.schema import MAX_BATCH
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.models import ServedPredictionRow
from matchday.integrations.mlflow_registry import tag_gate, version_by_alias

from .serving_support import ServingProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning"),
]

PRICES = {
    "pinnacle": {"home": 1.95, "draw": 3.7, "away": 4.1},
    "market_avg": {"home": 1.91, "draw": 3.6, "away": 3.95},
    "market_max": {"home": 2.0, "draw": 3.8, "away": 4.3},
}
FIXTURE: dict[str, Any] = {
    "competition": "E0",
    "home_team": "Arsenal",
    "away_team": "Chelsea",
    "odds": {"open": PRICES},
}


@pytest.fixture(scope="module")
def settings(serving_settings: Settings) -> Settings:
    return serving_settings


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[ServingProcess]:
    process = ServingProcess(settings)
    try:
        process.wait_ready()
        yield process
    finally:
        code = process.stop()
        assert code == 0, process.tail()


@pytest.fixture(scope="module")
def api_key(settings: Settings) -> str:
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with warnings.catch_warnings():  # the first ORM use configures MLflow's mappers too (imported by then)
        warnings.filterwarnings("ignore", "The ``noload`` loader strategy", SADeprecationWarning)
        return ApiKeyStore(engine).create(f"tests-{uuid.uuid4().hex[:8]}", rate_per_minute=100_000).key


def _predict(server: ServingProcess, key: str, fixture: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/predict", json={"fixture": fixture}, headers={"x-api-key": key, **headers}, timeout=30
    )


def _bearer(settings: Settings, role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(settings, 'tester', [role])}"}


def test_health_and_models(server: ServingProcess, settings: Settings) -> None:
    assert httpx.get(f"{server.url}/livez").status_code == 200
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert httpx.get(f"{server.url}/admin/canary").status_code == 401
    models = httpx.get(f"{server.url}/v1/models").json()
    assert [(m["variant"], m["version"], m["moment"]) for m in models] == [("champion", "1", "open")]
    assert models[0]["required_odds"] == ["open.pinnacle", "open.market_avg", "open.market_max"]
    assert "/v1/predict" in httpx.get(f"{server.url}/docs.json").json()["paths"]


def test_prediction_needs_a_key_and_answers_with_markets(server: ServingProcess, api_key: str) -> None:
    refused = httpx.post(f"{server.url}/v1/predict", json={"fixture": FIXTURE})
    assert refused.status_code == 401 and "API key" in refused.json()["error"]
    assert _predict(server, "md_not-a-key", FIXTURE).status_code == 401
    response = _predict(server, api_key, FIXTURE, **{"x-request-id": "req-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["request_id"] == "req-1" and response.headers["x-request-id"] == "req-1"
    probs = body["probabilities"]
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    assert probs["home"] > probs["away"]  # Pinnacle makes Arsenal favourites at 1.95; the model agrees
    assert body["model"] == {"name": "matchday-1x2", "version": "1", "variant": "champion"}
    markets = body["markets"]
    assert {line["line"] for line in markets["over_under"]} == {1.5, 2.5, 3.5}
    assert 0.0 < markets["both_teams_to_score"] < 1.0
    batch = httpx.post(
        f"{server.url}/v1/predict/batch",
        json={"fixtures": [FIXTURE, {**FIXTURE, "home_team": "Chelsea", "away_team": "Arsenal"}]},
        headers={"x-api-key": api_key},
        timeout=30,
    )
    assert batch.status_code == 200, batch.text
    assert [p["home_team"] for p in batch.json()] == ["Arsenal", "Chelsea"]
    assert batch.json()[0]["probabilities"] == pytest.approx(probs)


@pytest.mark.parametrize(
    ("change", "status", "named"),
    [
        ({"home_team": "Arsenl"}, 422, "home_team='Arsenl'"),
        ({"competition": "SP1"}, 422, "competition='SP1'"),
        ({"odds": {"open": {"pinnacle": PRICES["pinnacle"]}}}, 422, "odds.open.market_avg"),
        ({"odds": {"open": {**PRICES, "pinnacle": {"home": -2.0, "draw": 3.7, "away": 4.1}}}}, 400, "pinnacle"),
        ({"away_team": "Arsenal"}, 400, "Arsenal"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field(
    server: ServingProcess, api_key: str, change: dict[str, Any], status: int, named: str
) -> None:
    response = _predict(server, api_key, {**FIXTURE, **change})
    assert response.status_code == status, response.text
    assert named in response.text


def test_rate_limit_answers_429_with_retry_after(server: ServingProcess, settings: Settings) -> None:
    key = ApiKeyStore(make_engine(settings.resolved_database_url)).create(f"slow-{uuid.uuid4().hex[:8]}", 3).key
    statuses = [_predict(server, key, FIXTURE).status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200]
    refused = _predict(server, key, FIXTURE)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


def test_open_inference_protocol_over_grpc_and_http(server: ServingProcess, api_key: str) -> None:
    expected = _predict(server, api_key, FIXTURE).json()["probabilities"]
    grpc = grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
    http = httpclient.InferenceServerClient(f"127.0.0.1:{server.http_port}")
    try:
        for client, module in ((grpc, grpcclient), (http, httpclient)):
            _check_oip(client, module, api_key, [expected["home"], expected["draw"], expected["away"]])
    finally:
        grpc.close()
        http.close()
        # tritonclient's HTTP client sits in a reference cycle and its __del__ must run on this thread (gevent):
        # collect it here rather than let a server thread of a later test do it
        del grpc, http
        gc.collect()


def _check_oip(client: Any, module: Any, api_key: str, expected: list[float]) -> None:
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("matchday-1x2")
    metadata = client.get_model_metadata("matchday-1x2")
    inputs = metadata.inputs if module is grpcclient else metadata["inputs"]
    names = [tensor.name if module is grpcclient else tensor["name"] for tensor in inputs]
    assert names[:3] == ["competition", "home_team", "away_team"]
    result = client.infer("matchday-1x2", _oip_inputs(module), headers={"x-api-key": api_key})
    probs = result.as_numpy("probabilities")
    assert probs.shape == (1, 3)
    np.testing.assert_allclose(probs[0], expected, rtol=1e-12)
    bad = _oip_inputs(module)
    bad[1] = module.InferInput("home_team", [1], "FP64")
    bad[1].set_data_from_numpy(np.array([1.0]))
    with pytest.raises(InferenceServerException, match="home_team"):
        client.infer("matchday-1x2", bad, headers={"x-api-key": api_key})
    with pytest.raises(InferenceServerException, match=r"(?i)api key"):
        client.infer("matchday-1x2", _oip_inputs(module))


def _oip_inputs(module: Any) -> list[Any]:
    tensors = []
    for name, value in (("competition", "E0"), ("home_team", "Arsenal"), ("away_team", "Chelsea")):
        tensor = module.InferInput(name, [1], "BYTES")
        tensor.set_data_from_numpy(np.array([value.encode()], dtype=np.object_))
        tensors.append(tensor)
    for book, prices in PRICES.items():
        tensor = module.InferInput(f"odds_open_{book}", [1, 3], "FP64")
        tensor.set_data_from_numpy(np.array([[prices["home"], prices["draw"], prices["away"]]]))
        tensors.append(tensor)
    return tensors


def test_served_predictions_are_logged_with_their_features(
    server: ServingProcess, settings: Settings, api_key: str
) -> None:
    request_id = f"logged-{uuid.uuid4().hex}"
    assert _predict(server, api_key, FIXTURE, **{"x-request-id": request_id}).status_code == 200
    engine = make_engine(settings.resolved_database_url)
    deadline = time.monotonic() + 20
    row = None
    while row is None and time.monotonic() < deadline:
        with engine.connect() as connection:
            row = connection.execute(
                select(ServedPredictionRow).where(ServedPredictionRow.request_id == request_id)
            ).first()
        time.sleep(0.2)
    assert row is not None, "the prediction was not logged within 20 s"
    assert (row.model_version, row.variant, row.home_team) == ("1", "champion", "Arsenal")
    features = json.loads(row.features)
    assert features["open_pinnacle_h"] == pytest.approx((1 / 1.95) / (1 / 1.95 + 1 / 3.7 + 1 / 4.1))
    assert features["elo_home"] is not None and row.latency_ms > 0
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(ServedPredictionRow)) >= 2
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'matchday_canary_requests_total{model="matchday-1x2",outcome="ok",variant="champion"}' in metrics
    # the serving dashboard's BentoML panels read metrics this server really exports
    dashboard = (
        Path(__file__).resolve().parents[2] / "monitoring" / "grafana" / "dashboards" / "serving.json"
    ).read_text()
    bentoml_names = set(re.findall(r"bentoml_[a-z_]+", dashboard))
    assert bentoml_names and all(f"\n{name}{{" in metrics for name in bentoml_names), bentoml_names


def test_a_challenger_that_cannot_load_aborts_its_canary(
    server: ServingProcess, settings: Settings, api_key: str
) -> None:
    admin = _bearer(settings, "admin")
    started = httpx.post(f"{server.url}/admin/canary/start", json={"challenger_version": "99"}, headers=admin)
    assert started.status_code == 200, started.text
    deadline = time.monotonic() + 30
    status = started.json()
    while status["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = httpx.get(f"{server.url}/admin/canary", headers=admin).json()
    assert status["status"] == "aborted" and "version 99 failed to load" in status["reason"]
    assert _predict(server, api_key, FIXTURE).json()["model"]["version"] == "1"  # the champion served on


def test_a_challenger_that_passed_the_gate_is_rolled_out_and_promoted(
    server: ServingProcess, settings: Settings, api_key: str
) -> None:
    admin = _bearer(settings, "admin")
    viewer_start = httpx.post(f"{server.url}/admin/canary/start", json={}, headers=_bearer(settings, "viewer"))
    assert viewer_start.status_code == 403
    # training's hand-over: the gate passed version 2 (the fixture's second registration was kept out)
    tag_gate(settings, "2", passed=True)
    deadline = time.monotonic() + 30
    status: dict[str, Any] = {}
    while status.get("challenger_version") != "2" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = httpx.get(f"{server.url}/admin/canary", headers=admin).json() or {}
    assert (status["challenger_version"], status["status"], status["share"]) == ("2", "running", 0.05)
    variants: set[str] = set()
    deadline = time.monotonic() + 120
    while status["status"] == "running" and time.monotonic() < deadline:
        for _ in range(20):
            response = _predict(server, api_key, FIXTURE, **{"x-client-id": uuid.uuid4().hex})
            assert response.status_code == 200, response.text  # no user request fails during the rollout
            variants.add(response.json()["model"]["variant"])
        status = httpx.get(f"{server.url}/admin/canary", headers=admin).json()
    assert status["status"] == "promoted", status
    assert [event["kind"] for event in status["events"]] == ["started", "advanced", "advanced", "advanced", "promoted"]
    assert variants == {"champion", "challenger"}
    champion = version_by_alias(settings, "champion")
    assert champion is not None and str(champion.version) == "2"
    assert champion.tags["matchday.canary"] == "promoted"
    assert version_by_alias(settings, "challenger") is None
    deadline = time.monotonic() + 30
    models: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        models = httpx.get(f"{server.url}/v1/models").json()
        if [(m["variant"], m["version"]) for m in models] == [("champion", "2")]:
            break
        time.sleep(0.2)
    assert [(m["variant"], m["version"]) for m in models] == [("champion", "2")]
    assert _predict(server, api_key, FIXTURE).json()["model"]["version"] == "2"


def test_matchday_serve_drains_an_in_flight_request_on_sigterm(settings: Settings, api_key: str) -> None:
    process = ServingProcess(settings, cli=True)
    outcome: dict[str, Any] = {}

    def long_batch() -> None:
        fixtures = [FIXTURE] * MAX_BATCH  # about a second of work: still running when SIGTERM arrives
        outcome["response"] = httpx.post(
            f"{process.url}/v1/predict/batch", json={"fixtures": fixtures}, headers={"x-api-key": api_key}, timeout=60
        )

    try:
        process.wait_ready()
        worker = threading.Thread(target=long_batch)
        worker.start()
        time.sleep(0.3)
        assert worker.is_alive(), "the batch finished before the signal: the test would prove nothing"
        process.process.send_signal(signal.SIGTERM)
        worker.join(60)
    finally:
        code = process.stop()
    assert outcome["response"].status_code == 200
    assert len(outcome["response"].json()) == MAX_BATCH
    assert code == 0, process.tail()
    assert "oip grpc server stopped" in process.tail(200)
