"""The Open Inference Protocol v2 over gRPC (`inference.GRPCInferenceService`, KServe's grpc_predict_v2.proto).

`start_grpc_server(engine, host, port)` serves an `InferenceEngine` from a thread pool and returns a
`GrpcServerHandle` (`.port`, the bound port when 0 was asked for; `.stop(grace_seconds)`, which stops accepting
calls and waits for the running ones). Triton's gRPC client interoperates: raw inputs get raw outputs.

Status codes: `InvalidInput` -> INVALID_ARGUMENT (the message names the tensor), an unknown model or version ->
NOT_FOUND, `ServingError` by its HTTP status (401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 429 RESOURCE_EXHAUSTED
with a `retry-after` trailer, 503 UNAVAILABLE), anything else INTERNAL. Readiness RPCs answer false, never fail,
while the engine is not ready; ModelInfer then fails UNAVAILABLE. `authorize`, when given, is called on every
ModelInfer with the invocation metadata as a lower-cased dict and may raise `ServingError`s.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc  # type: ignore[import-untyped]  # grpcio ships no type information

from matchday import __version__
from matchday.inference import oip_codec as codec
from matchday.inference.engine import InferenceEngine
from matchday.inference.errors import ServingError
from matchday.inference.oip_codec import Authorize
from matchday.inference.oip_pb import grpc_predict_v2_pb2 as pb
from matchday.inference.schema import InvalidInput, ModelInfo

__all__ = ["Authorize", "GrpcServerHandle", "start_grpc_server"]

logger = logging.getLogger(__name__)

SERVICE = "inference.GRPCInferenceService"
SERVER_NAME = "matchday"
_T = TypeVar("_T")
_CODES: dict[int, Any] = {
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


@dataclass(frozen=True)
class GrpcServerHandle:
    """A running server: `port` is the bound port."""

    port: int
    server: Any

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Stops accepting calls, lets running ones finish for up to `grace_seconds`, then cancels the rest."""
        self.server.stop(grace_seconds).wait()
        logger.info("oip grpc server stopped", extra={"port": self.port})

    def wait_for_termination(self, timeout_seconds: float | None = None) -> bool:
        """Blocks until the server stops (True) or the timeout passes (False)."""
        return not bool(self.server.wait_for_termination(timeout_seconds))


def start_grpc_server(
    engine: InferenceEngine,
    host: str,
    port: int,
    *,
    authorize: Authorize | None = None,
    max_workers: int = 8,
) -> GrpcServerHandle:
    """Serves `engine` on `host:port` (0 picks a free port) until the handle's `stop`."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="oip-grpc"))
    server.add_generic_rpc_handlers((_handlers(_Service(engine, authorize)),))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:
        raise OSError(f"cannot bind the OIP gRPC server to {address}: {error}") from error
    if not bound:
        raise OSError(f"cannot bind the OIP gRPC server to {address}")
    server.start()
    logger.info("oip grpc server started", extra={"host": host, "port": bound, "model": engine.model_name})
    return GrpcServerHandle(port=bound, server=server)


def _handlers(service: _Service) -> Any:
    methods: dict[str, tuple[Callable[[Any, Any], Any], Any]] = {
        "ServerLive": (service.server_live, pb.ServerLiveRequest),
        "ServerReady": (service.server_ready, pb.ServerReadyRequest),
        "ModelReady": (service.model_ready, pb.ModelReadyRequest),
        "ServerMetadata": (service.server_metadata, pb.ServerMetadataRequest),
        "ModelMetadata": (service.model_metadata, pb.ModelMetadataRequest),
        "ModelInfer": (service.model_infer, pb.ModelInferRequest),
    }
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            name: grpc.unary_unary_rpc_method_handler(
                method, request_deserializer=request.FromString, response_serializer=_serialize
            )
            for name, (method, request) in methods.items()
        },
    )


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


class _Service:
    """The six RPCs; each translates and delegates to the engine (grpc passes (request, context))."""

    def __init__(self, engine: InferenceEngine, authorize: Authorize | None) -> None:
        self.engine = engine
        self.authorize = authorize

    def server_live(self, request: pb.ServerLiveRequest, context: Any) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=codec.ready_safely(self.engine.live))

    def server_ready(self, request: pb.ServerReadyRequest, context: Any) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=codec.ready_safely(self.engine.ready))

    def model_ready(self, request: pb.ModelReadyRequest, context: Any) -> pb.ModelReadyResponse:
        info = _guard(context, lambda: _resolve_quietly(self.engine, request.name, request.version))
        return pb.ModelReadyResponse(ready=info is not None and info.ready and codec.ready_safely(self.engine.ready))

    def server_metadata(self, request: pb.ServerMetadataRequest, context: Any) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=__version__, extensions=[])

    def model_metadata(self, request: pb.ModelMetadataRequest, context: Any) -> pb.ModelMetadataResponse:
        return _guard(context, lambda: self._model_metadata(request))

    def model_infer(self, request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        return _guard(context, lambda: self._model_infer(request, context))

    def _model_metadata(self, request: pb.ModelMetadataRequest) -> pb.ModelMetadataResponse:
        info = codec.loaded_model(self.engine, request.name, request.version)
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=self.engine.model_name,
            versions=[model.version for model in self.engine.models()],
            platform=SERVER_NAME,
            inputs=[tensor(name=s.name, datatype=s.datatype, shape=list(s.shape)) for s in codec.input_specs(info)],
            outputs=[tensor(name=s.name, datatype=s.datatype, shape=list(s.shape)) for s in codec.OUTPUT_SPECS],
        )

    def _model_infer(self, request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        metadata = {str(key).lower(): value for key, value in context.invocation_metadata() if isinstance(value, str)}
        if self.authorize is not None:
            self.authorize(metadata)
        info = codec.loaded_model(self.engine, request.model_name, request.model_version)
        request_id = request.id or uuid.uuid4().hex
        raw = len(request.raw_input_contents) > 0
        version, outputs = codec.predict_tensors(
            self.engine,
            info,
            _inputs(request),
            [output.name for output in request.outputs],
            request_id=request_id,
            routing_key=codec.routing_key(metadata, request_id),
        )
        response = pb.ModelInferResponse(model_name=self.engine.model_name, model_version=version, id=request_id)
        for output in outputs:
            tensor = response.outputs.add(name=output.name, datatype=output.datatype, shape=list(output.shape))
            if raw:
                response.raw_output_contents.append(codec.encode_raw(output))
            else:
                tensor.contents.fp64_contents.extend(output.values)
        return response


def _inputs(request: pb.ModelInferRequest) -> list[codec.InputTensor]:
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            "raw_input_contents", len(raw), f"one raw content per input expected ({len(request.inputs)})"
        )
    tensors = []
    for index, tensor in enumerate(request.inputs):
        if raw and tensor.HasField("contents"):
            raise InvalidInput(tensor.name, "contents", "typed contents cannot be mixed with raw_input_contents")
        values = codec.decode_raw(tensor.name, tensor.datatype, raw[index]) if raw else _typed(tensor)
        tensors.append(codec.InputTensor(tensor.name, tensor.datatype, tuple(tensor.shape), values))
    return tensors


def _typed(tensor: pb.ModelInferRequest.InferInputTensor) -> list[object]:
    contents = tensor.contents
    if tensor.datatype == "BYTES":
        return list(contents.bytes_contents)
    if tensor.datatype == "FP64":
        return list(contents.fp64_contents)
    if tensor.datatype == "FP32":
        return list(contents.fp32_contents)
    return []


def _resolve_quietly(engine: InferenceEngine, name: str, version: str) -> ModelInfo | None:
    try:
        return codec.resolve_model(engine, name, version)
    except codec.ModelNotFoundError:
        raise
    except Exception:  # readiness answers false rather than failing
        logger.exception("model readiness check failed", extra={"model": name, "version": version})
        return None


def _guard(context: Any, work: Callable[[], _T]) -> _T:
    """Runs an RPC body, turning the errors a client should see into a gRPC status."""
    try:
        return work()
    except InvalidInput as error:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
    except codec.ModelNotFoundError as error:
        _abort(context, grpc.StatusCode.NOT_FOUND, error.message)
    except ServingError as error:
        context.set_trailing_metadata(tuple((key.lower(), value) for key, value in error.headers().items()))
        _abort(context, _CODES.get(error.status, grpc.StatusCode.INTERNAL), error.message)
    except Exception:
        logger.exception("oip grpc call failed")
        _abort(context, grpc.StatusCode.INTERNAL, "internal error")


def _abort(context: Any, code: Any, message: str) -> NoReturn:
    logger.info("oip grpc call refused", extra={"code": str(code), "error": message})
    context.abort(code, message)
    raise RuntimeError(message)  # context.abort raises; this keeps the type checker's NoReturn honest
