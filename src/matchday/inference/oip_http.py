"""The Open Inference Protocol v2 over HTTP/REST (KServe's v2 REST API), as FastAPI routes over an `InferenceEngine`.

`oip_router(engine, authorize=None)` is an `APIRouter` with the `/v2` routes; `oip_http_app(...)` wraps it in a
FastAPI app for mounting at the root. Routes: GET `/v2` (server metadata), `/v2/health/live`, `/v2/health/ready`,
`/v2/models/{name}[/versions/{version}]` (model metadata), `.../ready`, and POST `.../infer`.

Readiness answers 200 when ready and 503 otherwise, never 500. Errors are `{"error": "<message>"}`: 400 for an
`InvalidInput` (the message names the tensor), 404 for an unknown model or version, a `ServingError`'s status and
headers (401, 403, 429 with Retry-After, 503). `authorize`, when given, gets the request headers (lower-cased) on the
infer routes and may raise `ServingError`s. Inputs come as JSON `data` (flat or nested) or, as Triton's binary tensor
data extension sends them, raw bytes after the JSON (`Inference-Header-Content-Length`); outputs are JSON `data`
unless the request asks for binary (`binary_data_output`, or `binary_data` on a requested output).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from matchday import __version__
from matchday.inference import oip_codec as codec
from matchday.inference.engine import InferenceEngine
from matchday.inference.errors import ServingError
from matchday.inference.oip_codec import Authorize
from matchday.inference.schema import InvalidInput

__all__ = ["Authorize", "oip_http_app", "oip_router"]

logger = logging.getLogger(__name__)

SERVER_NAME = "matchday"
HEADER_LENGTH = "inference-header-content-length"


def oip_http_app(engine: InferenceEngine, authorize: Authorize | None = None) -> FastAPI:
    """A FastAPI app serving the OIP v2 routes, for mounting at the root of another server."""
    app = FastAPI(title="Matchday Open Inference Protocol v2", version=__version__)
    app.include_router(oip_router(engine, authorize))
    return app


def oip_router(engine: InferenceEngine, authorize: Authorize | None = None) -> APIRouter:
    """The OIP v2 routes over `engine`; errors are answered inside each route, so no app-level handler is needed."""
    routes = _Routes(engine, authorize)
    router = APIRouter(prefix="/v2", tags=["open-inference-protocol"])
    router.add_api_route("", routes.server_metadata, methods=["GET"])
    router.add_api_route("/health/live", routes.live, methods=["GET"])
    router.add_api_route("/health/ready", routes.ready, methods=["GET"])
    for prefix in ("/models/{name}", "/models/{name}/versions/{version}"):
        router.add_api_route(prefix, routes.model_metadata, methods=["GET"])
        router.add_api_route(f"{prefix}/ready", routes.model_ready, methods=["GET"])
        router.add_api_route(f"{prefix}/infer", routes.infer, methods=["POST"])
    return router


class _Routes:
    def __init__(self, engine: InferenceEngine, authorize: Authorize | None) -> None:
        self.engine = engine
        self.authorize = authorize

    def server_metadata(self) -> Response:
        return JSONResponse({"name": SERVER_NAME, "version": __version__, "extensions": ["binary_tensor_data"]})

    def live(self) -> Response:
        live = codec.ready_safely(self.engine.live)
        return JSONResponse({"live": live}, status_code=200 if live else 503)

    def ready(self) -> Response:
        ready = codec.ready_safely(self.engine.ready)
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    def model_metadata(self, name: str, version: str = "") -> Response:
        def metadata() -> Response:
            info = codec.loaded_model(self.engine, name, version)
            return JSONResponse(
                {
                    "name": self.engine.model_name,
                    "versions": [model.version for model in self.engine.models()],
                    "platform": SERVER_NAME,
                    "inputs": [_spec_json(spec) for spec in codec.input_specs(info)],
                    "outputs": [_spec_json(spec) for spec in codec.OUTPUT_SPECS],
                }
            )

        return _guard(metadata)

    def model_ready(self, name: str, version: str = "") -> Response:
        def readiness() -> Response:
            try:
                info = codec.resolve_model(self.engine, name, version)
            except codec.ModelNotFoundError:
                raise
            except Exception:  # readiness answers 503 rather than failing
                logger.exception("model readiness check failed", extra={"model": name, "version": version})
                info = None
            ready = info is not None and info.ready and codec.ready_safely(self.engine.ready)
            return JSONResponse({"name": name, "ready": ready}, status_code=200 if ready else 503)

        return _guard(readiness)

    async def infer(self, request: Request, name: str, version: str = "") -> Response:
        headers = {key.lower(): value for key, value in request.headers.items()}
        body = await request.body()
        return await run_in_threadpool(_guard, lambda: self._infer(headers, body, name, version))

    def _infer(self, headers: Mapping[str, str], body: bytes, name: str, version: str) -> Response:
        if self.authorize is not None:
            self.authorize(headers)
        info = codec.loaded_model(self.engine, name, version)
        document, binary = _split_body(headers, body)
        request_id = _text(document.get("id"), "id") or uuid.uuid4().hex
        requested = _requested_outputs(document)
        model_version, outputs = codec.predict_tensors(
            self.engine,
            info,
            _inputs(document, binary),
            [output_name for output_name, _ in requested],
            request_id=request_id,
            routing_key=codec.routing_key(headers, request_id),
        )
        # Triton's rule: an output's own binary_data wins, else the request's binary_data_output, else JSON.
        binary_default = _parameters(document).get("binary_data_output") is True
        flags = {output_name: flag for output_name, flag in requested if flag is not None}
        return _infer_response(
            {"model_name": self.engine.model_name, "model_version": model_version, "id": request_id},
            outputs,
            {output.name: flags.get(output.name, binary_default) for output in outputs},
        )


def _infer_response(head: dict[str, Any], outputs: list[codec.OutputTensor], binary: Mapping[str, bool]) -> Response:
    tensors: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for output in outputs:
        tensor: dict[str, Any] = {"name": output.name, "datatype": output.datatype, "shape": list(output.shape)}
        if binary[output.name]:
            chunks.append(codec.encode_raw(output))
            tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
        else:
            tensor["data"] = list(output.values)
        tensors.append(tensor)
    document = json.dumps({**head, "outputs": tensors}).encode()
    if not chunks:
        return Response(document, media_type="application/json")
    return Response(
        document + b"".join(chunks),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(document))},
    )


def _split_body(headers: Mapping[str, str], body: bytes) -> tuple[dict[str, Any], bytes]:
    length_text = headers.get(HEADER_LENGTH)
    try:
        length = len(body) if length_text is None else int(length_text)
    except ValueError as error:
        raise InvalidInput("Inference-Header-Content-Length", length_text, "not an integer") from error
    if not 0 <= length <= len(body):
        raise InvalidInput("Inference-Header-Content-Length", length, f"outside the {len(body)}-byte body")
    try:
        document = json.loads(body[:length])
    except ValueError as error:
        raise InvalidInput("body", f"{length} bytes", f"not a JSON document ({error})") from error
    if not isinstance(document, dict):
        raise InvalidInput("body", type(document).__name__, "expected a JSON object with `inputs`")
    return document, body[length:]


def _inputs(document: Mapping[str, Any], binary: bytes) -> list[codec.InputTensor]:
    entries = document.get("inputs")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("inputs", entries, "expected a non-empty list of tensors")
    tensors, offset = [], 0
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidInput(f"inputs[{index}]", entry, "expected a tensor object")
        name = _text(entry.get("name"), f"inputs[{index}].name")
        if not name:
            raise InvalidInput(f"inputs[{index}].name", entry.get("name"), "a tensor needs a name")
        datatype = _text(entry.get("datatype"), name)
        shape = entry.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise InvalidInput(name, shape, "shape must be a list of integers")
        size = _parameters(entry).get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= len(binary) - offset:
                raise InvalidInput(name, size, f"binary_data_size exceeds the {len(binary) - offset} bytes left")
            values = codec.decode_raw(name, datatype, binary[offset : offset + size])
            offset += size
        else:
            values = _flatten(entry.get("data"), name)
        tensors.append(codec.InputTensor(name, datatype, tuple(shape), values))
    if offset != len(binary):
        raise InvalidInput("body", f"{len(binary) - offset} bytes", "binary data left over after the inputs")
    return tensors


def _flatten(data: object, name: str) -> list[object]:
    if not isinstance(data, list):
        raise InvalidInput(name, data, "data must be a JSON list (flat or nested)")
    flat: list[object] = []
    stack: list[object] = list(reversed(data))
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            flat.append(item)
    return flat


def _requested_outputs(document: Mapping[str, Any]) -> list[tuple[str, bool | None]]:
    """(name, binary_data) of each requested output; an empty list asks for every output."""
    entries = document.get("outputs") or []
    if not isinstance(entries, list):
        raise InvalidInput("outputs", entries, "expected a list of {name, parameters}")
    requested: list[tuple[str, bool | None]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidInput("outputs", entry, "expected a {name, parameters} object")
        flag = _parameters(entry).get("binary_data")
        requested.append((_text(entry.get("name"), "outputs"), flag if isinstance(flag, bool) else None))
    return requested


def _parameters(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    parameters = entry.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInput("parameters", parameters, "expected a JSON object")
    return parameters


def _text(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, value, "expected a string")
    return value


def _spec_json(spec: codec.TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "datatype": spec.datatype, "shape": list(spec.shape)}


def _guard(work: Callable[[], Response]) -> Response:
    """Runs a route body, turning the errors a client should see into a status and `{"error": ...}`."""
    try:
        return work()
    except InvalidInput as error:
        return _error(400, str(error))
    except codec.ModelNotFoundError as error:
        return _error(404, error.message)
    except ServingError as error:
        return _error(error.status, error.message, error.headers())
    except Exception:
        logger.exception("oip http call failed")
        return _error(500, "internal error")


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    logger.info("oip http call refused", extra={"status": status, "error": message})
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))
