"""The Open Inference Protocol v2 front ends, end to end: the real gRPC server and the HTTP routes under a real uvicorn
server, both on 127.0.0.1 and a free port, driven by Triton's own clients (tritonclient.grpc and tritonclient.http).

The engine here is a stand-in that keeps the protocol layer honest: its probabilities are Pinnacle's opening prices
with the overround removed, it refuses teams it does not know as the real engine does (`InvalidInput` naming
`fixtures[i].home_team`), its readiness can be switched off, and it can hold a request until released.
"""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
import uvicorn
from tritonclient.utils import InferenceServerException

from matchday.inference.errors import RateLimited, ServingError, Unauthorized
from matchday.inference.oip_grpc import GrpcServerHandle, start_grpc_server
from matchday.inference.oip_http import oip_http_app
from matchday.inference.oip_pb import grpc_predict_v2_pb2 as pb
from matchday.inference.oip_pb import grpc_predict_v2_pb2_grpc as pb_grpc
from matchday.inference.schema import Fixture, InvalidInput, ModelInfo, ModelRef, Prediction, Probabilities

pytestmark = pytest.mark.integration

MODEL = "matchday-1x2"
VERSION = "3"
TEAMS = {"Arsenal", "Chelsea", "Everton", "Fulham"}
FIXTURES = [("E0", "Arsenal", "Chelsea"), ("E0", "Everton", "Fulham")]
PINNACLE = np.array([[2.0, 3.5, 4.0], [1.8, 3.6, 4.5]])


class PinnacleEngine:
    """An `InferenceEngine` over Pinnacle's opening prices; `loaded` switches readiness, `hold` parks predictions."""

    model_name = MODEL

    def __init__(self) -> None:
        self.loaded = True
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()
        self.calls: list[tuple[str, str]] = []

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self.loaded

    def models(self) -> list[ModelInfo]:
        if not self.loaded:
            return []
        info = {"name": MODEL, "version": VERSION, "variant": "champion", "alias": "champion", "moment": "open"}
        return [
            ModelInfo.model_validate({**info, "output": "stack", "required_odds": ["open.pinnacle"], "ready": True})
        ]

    def predict(
        self, fixtures: Sequence[Fixture], *, request_id: str, routing_key: str, markets: bool = True
    ) -> list[Prediction]:
        self.calls.append((request_id, routing_key))
        self.started.set()
        assert self.hold.wait(30), "the test never released the held prediction"
        prefix = (lambda i: f"fixtures[{i}].") if len(fixtures) > 1 else (lambda i: "")
        for i, fixture in enumerate(fixtures):
            for side in ("home_team", "away_team"):
                if getattr(fixture, side) not in TEAMS:
                    raise InvalidInput(f"{prefix(i)}{side}", getattr(fixture, side), "unknown team")
        return [self._prediction(fixture, request_id) for fixture in fixtures]

    @staticmethod
    def _prediction(fixture: Fixture, request_id: str) -> Prediction:
        prices = fixture.odds["open"]["pinnacle"]
        implied = np.array([1 / prices.home, 1 / prices.draw, 1 / prices.away])
        home, draw, away = (float(p) for p in implied / implied.sum())
        return Prediction(
            request_id=request_id,
            competition=fixture.competition,
            home_team=fixture.home_team,
            away_team=fixture.away_team,
            probabilities=Probabilities(home=home, draw=draw, away=away),
            markets=None,
            model=ModelRef(name=MODEL, version=VERSION, variant="champion"),
        )


class Gatekeeper:
    """An `authorize` hook: records what it was shown and raises `refusal` when one is set."""

    def __init__(self) -> None:
        self.refusal: ServingError | None = None
        self.seen: list[dict[str, str]] = []

    def __call__(self, metadata: Mapping[str, str]) -> None:
        self.seen.append(dict(metadata))
        if self.refusal is not None:
            raise self.refusal


def _expected() -> np.ndarray:
    implied = 1 / PINNACLE
    return implied / implied.sum(axis=1, keepdims=True)


@pytest.fixture
def engine() -> PinnacleEngine:
    return PinnacleEngine()


@pytest.fixture
def gatekeeper() -> Gatekeeper:
    return Gatekeeper()


@pytest.fixture
def grpc_handle(engine: PinnacleEngine, gatekeeper: Gatekeeper) -> Iterator[GrpcServerHandle]:
    handle = start_grpc_server(engine, "127.0.0.1", 0, authorize=gatekeeper, max_workers=4)
    try:
        yield handle
    finally:
        engine.hold.set()
        handle.stop(grace_seconds=5)


@pytest.fixture
def grpc_client(grpc_handle: GrpcServerHandle) -> Iterator[triton_grpc.InferenceServerClient]:
    client = triton_grpc.InferenceServerClient(url=f"127.0.0.1:{grpc_handle.port}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def http_url(engine: PinnacleEngine, gatekeeper: Gatekeeper) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(oip_http_app(engine, gatekeeper), log_level="warning", ws="none", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        engine.hold.set()
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def http_client(http_url: str) -> Iterator[triton_http.InferenceServerClient]:
    client = triton_http.InferenceServerClient(url=http_url)
    try:
        yield client
    finally:
        client.close()
        # tritonclient's HTTP client sits in a reference cycle and its __del__ must run on this thread (gevent):
        # collect it here rather than let a server thread of a later test do it (seen failing a later test)
        del client
        gc.collect()


def _grpc_inputs(odds: np.ndarray = PINNACLE, odds_type: str = "FP64") -> list[triton_grpc.InferInput]:
    return _inputs(triton_grpc.InferInput, odds, odds_type, {})


def _http_inputs(
    odds: np.ndarray = PINNACLE, odds_type: str = "FP64", *, binary: bool = True
) -> list[triton_http.InferInput]:
    return _inputs(triton_http.InferInput, odds, odds_type, {"binary_data": binary})


def _inputs(kind: type, odds: np.ndarray, odds_type: str, options: dict[str, bool]) -> list:
    inputs = []
    for column, name in enumerate(("competition", "home_team", "away_team")):
        tensor = kind(name, [len(FIXTURES)], "BYTES")
        tensor.set_data_from_numpy(np.array([row[column] for row in FIXTURES], dtype=object), **options)
        inputs.append(tensor)
    prices = kind("odds_open_pinnacle", list(odds.shape), odds_type)
    prices.set_data_from_numpy(odds, **options)
    return [*inputs, prices]


def _grpc_error(call: object) -> InferenceServerException:
    assert callable(call)
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def test_grpc_health_and_metadata(grpc_client: triton_grpc.InferenceServerClient) -> None:
    assert grpc_client.is_server_live()
    assert grpc_client.is_server_ready()
    assert grpc_client.is_model_ready(MODEL)
    assert grpc_client.is_model_ready(MODEL, VERSION)
    server = grpc_client.get_server_metadata()
    assert server.name == "matchday"
    metadata = grpc_client.get_model_metadata(MODEL)
    assert (metadata.name, list(metadata.versions)) == (MODEL, [VERSION])
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("competition", "BYTES", [-1]),
        ("home_team", "BYTES", [-1]),
        ("away_team", "BYTES", [-1]),
        ("odds_open_pinnacle", "FP64", [-1, 3]),
    ]
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.outputs] == [("probabilities", "FP64", [-1, 3])]
    assert "NOT_FOUND" in _grpc_error(lambda: grpc_client.get_model_metadata("other")).status()
    assert "NOT_FOUND" in _grpc_error(lambda: grpc_client.is_model_ready(MODEL, "99")).status()


def test_grpc_infer_answers_probabilities(
    grpc_client: triton_grpc.InferenceServerClient, engine: PinnacleEngine, gatekeeper: Gatekeeper
) -> None:
    result = grpc_client.infer(
        MODEL, _grpc_inputs(), request_id="req-1", headers={"x-client-id": "punter-7", "x-api-key": "k-1"}
    )
    assert np.allclose(result.as_numpy("probabilities"), _expected())
    response = result.get_response()
    assert (response.id, response.model_name, response.model_version) == ("req-1", MODEL, VERSION)
    assert gatekeeper.seen[-1]["x-api-key"] == "k-1"  # the invocation metadata reaches authorize
    assert engine.calls[-1] == ("req-1", "punter-7")

    # FP32 prices are widened; no id means a fresh one; without a client id the API key routes.
    requested = [triton_grpc.InferRequestedOutput("probabilities")]
    result = grpc_client.infer(
        MODEL, _grpc_inputs(PINNACLE.astype(np.float32), "FP32"), outputs=requested, headers={"x-api-key": "k-2"}
    )
    assert np.allclose(result.as_numpy("probabilities"), _expected(), atol=1e-6)
    generated = result.get_response().id
    assert len(generated) == 32 and engine.calls[-1] == (generated, "k-2")


def test_grpc_rejections_name_the_tensor(grpc_client: triton_grpc.InferenceServerClient) -> None:
    wrong_type = _grpc_error(lambda: grpc_client.infer(MODEL, _grpc_inputs(PINNACLE.astype(np.int32), "INT32")))
    assert "INVALID_ARGUMENT" in wrong_type.status()
    assert "odds_open_pinnacle" in wrong_type.message() and "expected FP64 or FP32" in wrong_type.message()
    wrong_shape = _grpc_error(lambda: grpc_client.infer(MODEL, _grpc_inputs(PINNACLE[:, :2].copy())))
    assert "odds_open_pinnacle" in wrong_shape.message() and "expected [-1, 3]" in wrong_shape.message()
    bad_price = PINNACLE.copy()
    bad_price[1, 2] = np.nan
    nan = _grpc_error(lambda: grpc_client.infer(MODEL, _grpc_inputs(bad_price)))
    assert "odds_open_pinnacle" in nan.message() and "row 1 (away)" in nan.message()
    unknown = _grpc_error(
        lambda: grpc_client.infer(MODEL, _grpc_inputs(), outputs=[triton_grpc.InferRequestedOutput("logits")])
    )
    assert "INVALID_ARGUMENT" in unknown.status() and "'logits'" in unknown.message()
    missing = _grpc_error(lambda: grpc_client.infer(MODEL, _grpc_inputs()[:3]))
    assert "odds_open_pinnacle" in missing.message() and "required input is missing" in missing.message()
    assert "NOT_FOUND" in _grpc_error(lambda: grpc_client.infer("other", _grpc_inputs())).status()


def test_grpc_engine_errors_point_at_the_tensor_row(grpc_client: triton_grpc.InferenceServerClient) -> None:
    inputs = _grpc_inputs()
    inputs[1].set_data_from_numpy(np.array(["Arsenal", "Atlantis FC"], dtype=object))
    error = _grpc_error(lambda: grpc_client.infer(MODEL, inputs))
    assert "INVALID_ARGUMENT" in error.status()
    assert error.message() == "home_team='Atlantis FC': row 1: unknown team"


def test_grpc_typed_contents_get_typed_outputs(grpc_handle: GrpcServerHandle, gatekeeper: Gatekeeper) -> None:
    request = pb.ModelInferRequest(model_name=MODEL, id="typed")
    for column, name in enumerate(("competition", "home_team", "away_team")):
        tensor = request.inputs.add(name=name, datatype="BYTES", shape=[2])
        tensor.contents.bytes_contents.extend(row[column].encode() for row in FIXTURES)
    prices = request.inputs.add(name="odds_open_pinnacle", datatype="FP64", shape=[2, 3])
    prices.contents.fp64_contents.extend(PINNACLE.ravel().tolist())
    with grpc.insecure_channel(f"127.0.0.1:{grpc_handle.port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        response = stub.ModelInfer(request, timeout=10)
        assert not response.raw_output_contents
        [output] = response.outputs
        assert (output.name, list(output.shape), response.id) == ("probabilities", [2, 3], "typed")
        assert np.allclose(np.array(output.contents.fp64_contents).reshape(2, 3), _expected())

        gatekeeper.refusal = RateLimited("60 requests a minute", retry_after_seconds=2.5)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ModelInfer(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert ("retry-after", "3") in tuple(caught.value.trailing_metadata())


def test_grpc_not_ready_and_unauthorized(
    grpc_client: triton_grpc.InferenceServerClient, engine: PinnacleEngine, gatekeeper: Gatekeeper
) -> None:
    gatekeeper.refusal = Unauthorized("missing API key")
    refused = _grpc_error(lambda: grpc_client.infer(MODEL, _grpc_inputs()))
    assert "UNAUTHENTICATED" in refused.status() and refused.message() == "missing API key"
    gatekeeper.refusal = None
    engine.loaded = False
    assert grpc_client.is_server_live()
    assert not grpc_client.is_server_ready()
    assert not grpc_client.is_model_ready(MODEL)
    assert not grpc_client.is_model_ready(MODEL, VERSION)
    assert "UNAVAILABLE" in _grpc_error(lambda: grpc_client.infer(MODEL, _grpc_inputs())).status()
    assert engine.calls == []


def test_grpc_stop_finishes_the_request_in_flight(grpc_handle: GrpcServerHandle, engine: PinnacleEngine) -> None:
    url = f"127.0.0.1:{grpc_handle.port}"
    engine.hold.clear()
    results: list[object] = []

    def slow_call() -> None:
        client = triton_grpc.InferenceServerClient(url=url)
        try:
            results.append(client.infer(MODEL, _grpc_inputs(), request_id="slow").as_numpy("probabilities"))
        except InferenceServerException as error:
            results.append(error)
        finally:
            client.close()

    caller = threading.Thread(target=slow_call)
    caller.start()
    assert engine.started.wait(10)
    stopper = threading.Thread(target=grpc_handle.stop, kwargs={"grace_seconds": 20})
    stopper.start()
    # The server refuses new calls while the held one is still running...
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        probe = triton_grpc.InferenceServerClient(url=url)
        try:
            probe.is_server_live(client_timeout=1)
        except InferenceServerException:
            break
        finally:
            probe.close()
        time.sleep(0.05)
    else:
        pytest.fail("the server kept accepting calls after stop")
    assert stopper.is_alive() and caller.is_alive()
    # ...and once the held call is released it completes normally before stop returns.
    engine.hold.set()
    stopper.join(20)
    caller.join(20)
    assert not stopper.is_alive()
    [result] = results
    assert isinstance(result, np.ndarray) and np.allclose(result, _expected())


def test_http_health_and_metadata(http_client: triton_http.InferenceServerClient) -> None:
    assert http_client.is_server_live()
    assert http_client.is_server_ready()
    assert http_client.is_model_ready(MODEL)
    assert http_client.is_model_ready(MODEL, VERSION)
    assert not http_client.is_model_ready("other")
    assert http_client.get_server_metadata()["name"] == "matchday"
    for metadata in (http_client.get_model_metadata(MODEL), http_client.get_model_metadata(MODEL, VERSION)):
        assert (metadata["name"], metadata["versions"], metadata["platform"]) == (MODEL, [VERSION], "matchday")
        assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["inputs"]] == [
            ("competition", "BYTES", [-1]),
            ("home_team", "BYTES", [-1]),
            ("away_team", "BYTES", [-1]),
            ("odds_open_pinnacle", "FP64", [-1, 3]),
        ]
        assert metadata["outputs"] == [{"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]}]
    with pytest.raises(InferenceServerException) as caught:
        http_client.get_model_metadata(MODEL, "99")
    assert caught.value.status() == "404" and "no version '99'" in caught.value.message()


@pytest.mark.parametrize("binary", [True, False])
def test_http_infer_answers_probabilities(
    http_client: triton_http.InferenceServerClient, engine: PinnacleEngine, binary: bool
) -> None:
    outputs = [triton_http.InferRequestedOutput("probabilities", binary_data=binary)]
    result = http_client.infer(
        MODEL, _http_inputs(binary=binary), outputs=outputs, request_id="h-1", headers={"x-api-key": "k-9"}
    )
    assert np.allclose(result.as_numpy("probabilities"), _expected())
    response = result.get_response()
    assert (response["id"], response["model_name"], response["model_version"]) == ("h-1", MODEL, VERSION)
    assert ("data" in response["outputs"][0]) is not binary
    assert engine.calls[-1] == ("h-1", "k-9")
    # No requested outputs: tritonclient asks for every output in binary.
    assert np.allclose(http_client.infer(MODEL, _http_inputs()).as_numpy("probabilities"), _expected())


def test_http_rejections(
    http_client: triton_http.InferenceServerClient, engine: PinnacleEngine, gatekeeper: Gatekeeper
) -> None:
    def error(call: object) -> InferenceServerException:
        assert callable(call)
        with pytest.raises(InferenceServerException) as caught:
            call()
        return caught.value

    wrong_type = error(lambda: http_client.infer(MODEL, _http_inputs(PINNACLE.astype(np.int64), "INT64")))
    assert wrong_type.status() == "400" and "odds_open_pinnacle" in wrong_type.message()
    assert "expected FP64 or FP32" in wrong_type.message()
    wrong_shape = error(lambda: http_client.infer(MODEL, _http_inputs(PINNACLE.ravel().copy())))
    assert wrong_shape.status() == "400" and "expected [-1, 3]" in wrong_shape.message()
    assert error(lambda: http_client.infer("other", _http_inputs())).status() == "404"
    gatekeeper.refusal = Unauthorized("missing API key")
    refused = error(lambda: http_client.infer(MODEL, _http_inputs()))
    assert (refused.status(), refused.message()) == ("401", "missing API key")
    gatekeeper.refusal = None
    engine.loaded = False
    assert http_client.is_server_live()
    assert not http_client.is_server_ready()
    assert not http_client.is_model_ready(MODEL)
    assert error(lambda: http_client.infer(MODEL, _http_inputs())).status() == "503"


def test_http_json_bodies_statuses_and_headers(http_url: str, engine: PinnacleEngine, gatekeeper: Gatekeeper) -> None:
    body = {
        "id": "json-1",
        "inputs": [
            {"name": "competition", "datatype": "BYTES", "shape": [2], "data": ["E0", "E0"]},
            {"name": "home_team", "datatype": "BYTES", "shape": [2], "data": ["Arsenal", "Everton"]},
            {"name": "away_team", "datatype": "BYTES", "shape": [2], "data": ["Chelsea", "Fulham"]},
            {"name": "odds_open_pinnacle", "datatype": "FP64", "shape": [2, 3], "data": PINNACLE.tolist()},
        ],
    }
    with httpx.Client(base_url=f"http://{http_url}", timeout=10) as client:
        answer = client.post(f"/v2/models/{MODEL}/versions/{VERSION}/infer", json=body)
        assert answer.status_code == 200, answer.text
        [output] = answer.json()["outputs"]
        assert output["shape"] == [2, 3] and np.allclose(np.reshape(output["data"], (2, 3)), _expected())

        not_json = client.post(f"/v2/models/{MODEL}/infer", content=b"{nope")
        assert not_json.status_code == 400 and "not a JSON document" in not_json.json()["error"]
        body["inputs"][1]["data"] = ["Arsenal", "Atlantis FC"]
        unknown_team = client.post(f"/v2/models/{MODEL}/infer", json=body)
        assert unknown_team.json() == {"error": "home_team='Atlantis FC': row 1: unknown team"}

        gatekeeper.refusal = RateLimited("60 requests a minute", retry_after_seconds=0.2)
        limited = client.post(f"/v2/models/{MODEL}/infer", json=body)
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
        assert limited.json() == {"error": "60 requests a minute"}

        engine.loaded = False
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 503
        assert client.get(f"/v2/models/{MODEL}/ready").json() == {"name": MODEL, "ready": False}
        assert client.get(f"/v2/models/{MODEL}").status_code == 503
