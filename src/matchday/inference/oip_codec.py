"""Open Inference Protocol v2 tensors to and from `Fixture` / `Prediction`: what the gRPC and HTTP front ends share.

The served model (OIP name `engine.model_name`, version the champion's `ModelInfo.version`) takes one row per fixture:

- `competition`, `home_team`, `away_team`: BYTES [-1], UTF-8;
- `odds_{phase}_{bookmaker}`: FP64 [-1, 3] decimal (home, draw, away) prices, required for each `phase.bookmaker`
  in the champion's `ModelInfo.required_odds`; other bookmakers' prices (`odds_open_bet365`) are optional extras;
- `totals_{phase}_{bookmaker}`: FP64 [-1, 2] (over, under 2.5) prices, optional.

FP32 prices are accepted and widened. The one output is `probabilities` FP64 [-1, 3] (home, draw, away).
Every rejection is an `InvalidInput` whose field is a tensor's name (`outputs` for an unknown requested output).

Public API: `Authorize`, `InputTensor`, `OutputTensor`, `TensorSpec`, `OUTPUT_SPECS`, `ModelNotFoundError`,
`resolve_model`, `input_specs`, `decode_raw`, `encode_raw`, `routing_key`, `fixtures_from_tensors` and
`predict_tensors` (validate, predict, encode).
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from matchday.inference.engine import InferenceEngine
from matchday.inference.errors import NotReady
from matchday.inference.schema import MAX_BATCH, Fixture, InvalidInput, ModelInfo, Prediction

__all__ = [
    "OUTPUT_SPECS",
    "Authorize",
    "InputTensor",
    "ModelNotFoundError",
    "OutputTensor",
    "TensorSpec",
    "decode_raw",
    "encode_raw",
    "fixtures_from_tensors",
    "input_specs",
    "loaded_model",
    "predict_tensors",
    "ready_safely",
    "resolve_model",
    "routing_key",
]

logger = logging.getLogger(__name__)

# The front ends' authorization hook: shown the request's metadata or headers (lower-cased), raises `ServingError`s.
Authorize = Callable[[Mapping[str, str]], None]
TEAM_INPUTS = ("competition", "home_team", "away_team")
PROBABILITIES = "probabilities"
_FLOAT_FORMATS = {"FP64": "d", "FP32": "f"}
_PRICE_RE = re.compile(r"^(odds|totals)_(open|close)_([a-z0-9][a-z0-9_]*)$")
_PRICE_COLUMNS = {"odds": ("home", "draw", "away"), "totals": ("over", "under")}
_ENGINE_FIELD_RE = re.compile(r"^fixtures\[(\d+)\]\.?(.*)$")


@dataclass(frozen=True)
class TensorSpec:
    """A tensor as model metadata describes it; -1 is the variable batch dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class InputTensor:
    """A decoded input: `values` is flat, row-major (bytes or str for BYTES, numbers for FP64/FP32)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    values: Sequence[object]


@dataclass(frozen=True)
class OutputTensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    values: tuple[float, ...]


OUTPUT_SPECS = (TensorSpec(PROBABILITIES, "FP64", (-1, 3)),)


class ModelNotFoundError(LookupError):
    """The request names a model or version this server does not serve (gRPC NOT_FOUND, HTTP 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resolve_model(engine: InferenceEngine, name: str, version: str = "") -> ModelInfo | None:
    """The loaded variant a request names (the champion for an empty version); None while nothing is loaded.

    A version may name any loaded variant: during a canary the router, not the version, picks who answers, and the
    response's model_version says who did."""
    if name != engine.model_name:
        raise ModelNotFoundError(f"unknown model {name!r}; this server serves {engine.model_name!r}")
    models = engine.models()
    if not models:
        return None
    if not version:
        return models[0]
    for info in models:
        if info.version == version:
            return info
    loaded = ", ".join(info.version for info in models)
    raise ModelNotFoundError(f"model {name!r} has no version {version!r} (loaded: {loaded})")


def input_specs(info: ModelInfo) -> list[TensorSpec]:
    """The required inputs of a model, in the order metadata lists them."""
    specs = [TensorSpec(name, "BYTES", (-1,)) for name in TEAM_INPUTS]
    specs.extend(TensorSpec(_odds_tensor(entry), "FP64", (-1, 3)) for entry in info.required_odds)
    return specs


def decode_raw(name: str, datatype: str, raw: bytes) -> list[object]:
    """Little-endian raw tensor bytes as a flat list; a BYTES element is a 4-byte little-endian length then the bytes.

    A datatype the model never takes decodes to nothing: validation then names the datatype it expected."""
    if datatype == "BYTES":
        return _split_bytes(name, raw)
    code = _FLOAT_FORMATS.get(datatype)
    if code is None:
        return []
    size = struct.calcsize(code)
    if len(raw) % size:
        raise InvalidInput(name, f"{len(raw)} bytes", f"raw {datatype} content is not a whole number of elements")
    return list(struct.unpack(f"<{len(raw) // size}{code}", raw))


def _split_bytes(name: str, raw: bytes) -> list[object]:
    elements: list[object] = []
    offset = 0
    while offset < len(raw):
        length = struct.unpack_from("<I", raw, offset)[0] if offset + 4 <= len(raw) else None
        if length is None or offset + 4 + length > len(raw):
            raise InvalidInput(name, f"{len(raw)} bytes", f"raw BYTES content is truncated at element {len(elements)}")
        elements.append(raw[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return elements


def encode_raw(tensor: OutputTensor) -> bytes:
    """An FP64 output as little-endian raw bytes (gRPC raw_output_contents, HTTP binary tensor data)."""
    return struct.pack(f"<{len(tensor.values)}d", *tensor.values)


def routing_key(metadata: Mapping[str, str], request_id: str) -> str:
    """What the canary router hashes: the caller's `x-client-id`, else its `x-api-key`, else the request id."""
    return metadata.get("x-client-id") or metadata.get("x-api-key") or request_id


def predict_tensors(
    engine: InferenceEngine,
    info: ModelInfo,
    inputs: Sequence[InputTensor],
    requested: Sequence[str],
    *,
    request_id: str,
    routing_key: str,
) -> tuple[str, list[OutputTensor]]:
    """Validates the tensors, asks the engine and returns (the answering model version, the outputs).

    An empty `requested` means every output. Raises `InvalidInput` naming a tensor, or the engine's `NotReady`."""
    for name in requested:
        if name not in {spec.name for spec in OUTPUT_SPECS}:
            raise InvalidInput("outputs", name, f"unknown output; the model produces {PROBABILITIES!r}")
    fixtures = fixtures_from_tensors(inputs, info.required_odds)
    try:
        predictions = engine.predict(fixtures, request_id=request_id, routing_key=routing_key, markets=False)
    except InvalidInput as error:
        raise _renamed(error, len(fixtures)) from error
    if len(predictions) != len(fixtures):  # an engine defect, not the caller's: an internal error
        raise RuntimeError(f"model {info.name!r} answered {len(predictions)} of {len(fixtures)} fixtures")
    logger.debug("oip inference", extra={"request_id": request_id, "rows": len(fixtures)})
    return predictions[0].model.version, [_probabilities(predictions)]


def loaded_model(engine: InferenceEngine, name: str, version: str) -> ModelInfo:
    """The loaded model `name` (and `version`, when given); `NotReady` while the engine is not ready."""
    info = resolve_model(engine, name, version)
    if info is None or not engine.ready():
        raise NotReady(f"model {name!r} is not ready")
    return info


def ready_safely(check: Callable[[], bool]) -> bool:
    """A liveness or readiness probe that answers False rather than failing."""
    try:
        return bool(check())
    except Exception:
        logger.exception("readiness check failed")
        return False


def fixtures_from_tensors(inputs: Sequence[InputTensor], required_odds: Sequence[str]) -> list[Fixture]:
    """One `Fixture` per row; raises `InvalidInput` naming the first offending tensor (and row)."""
    by_name: dict[str, InputTensor] = {}
    for tensor in inputs:
        if tensor.name in by_name:
            raise InvalidInput(tensor.name, tensor.name, "input given more than once")
        _check_tensor(tensor)
        by_name[tensor.name] = tensor
    for name in (*TEAM_INPUTS, *(_odds_tensor(entry) for entry in required_odds)):
        if name not in by_name:
            raise InvalidInput(name, None, "required input is missing")
    rows = _batch_size(list(by_name.values()))
    texts = {name: _texts(by_name[name]) for name in TEAM_INPUTS}
    prices = {name: _prices(tensor) for name, tensor in by_name.items() if name not in TEAM_INPUTS}
    return [_fixture(row, texts, prices) for row in range(rows)]


def _check_tensor(tensor: InputTensor) -> None:
    name, shape = tensor.name, tensor.shape
    match = _PRICE_RE.match(name)
    if name not in TEAM_INPUTS and match is None:
        raise InvalidInput(
            name,
            name,
            "unknown input; expected competition, home_team, away_team, odds_{phase}_{bookmaker} or "
            "totals_{phase}_{bookmaker} with phase open or close",
        )
    expected = ("BYTES",) if match is None else ("FP64", "FP32")
    if tensor.datatype not in expected:
        raise InvalidInput(name, tensor.datatype, f"wrong datatype; expected {' or '.join(expected)}")
    width = None if match is None else len(_PRICE_COLUMNS[match.group(1)])
    wanted = "[-1]" if width is None else f"[-1, {width}]"
    if len(shape) != (1 if width is None else 2) or (width is not None and shape[1] != width):
        raise InvalidInput(name, list(shape), f"wrong shape; expected {wanted}")
    if shape[0] < 0:
        raise InvalidInput(name, list(shape), "a shape cannot have a negative dimension")
    if len(tensor.values) != math.prod(shape):
        raise InvalidInput(name, len(tensor.values), f"holds {len(tensor.values)} elements but shape {list(shape)}")


def _batch_size(tensors: Sequence[InputTensor]) -> int:
    first = tensors[0]
    for tensor in tensors[1:]:
        if tensor.shape[0] != first.shape[0]:
            raise InvalidInput(
                tensor.name, tensor.shape[0], f"batch size disagrees with {first.name}'s {first.shape[0]}"
            )
    if not 1 <= first.shape[0] <= MAX_BATCH:
        raise InvalidInput(first.name, first.shape[0], f"batch size must be 1 to {MAX_BATCH}")
    return first.shape[0]


def _texts(tensor: InputTensor) -> list[str]:
    texts: list[str] = []
    for row, value in enumerate(tensor.values):
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, bytes):
            try:
                texts.append(value.decode("utf-8"))
            except UnicodeDecodeError as error:
                raise InvalidInput(tensor.name, value, f"row {row}: not UTF-8 ({error.reason})") from error
        else:
            raise InvalidInput(tensor.name, value, f"row {row}: expected a string")
    return texts


def _prices(tensor: InputTensor) -> list[tuple[float, ...]]:
    columns = _PRICE_COLUMNS[tensor.name.split("_", 1)[0]]
    values: list[float] = []
    for index, value in enumerate(tensor.values):
        row, column = divmod(index, len(columns))
        where = f"row {row} ({columns[column]})"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(tensor.name, value, f"{where}: expected a number")
        if not math.isfinite(value) or value <= 1.0:
            raise InvalidInput(tensor.name, value, f"{where}: a decimal price must be finite and greater than 1.0")
        values.append(float(value))
    return [tuple(values[start : start + len(columns)]) for start in range(0, len(values), len(columns))]


def _fixture(row: int, texts: Mapping[str, list[str]], prices: Mapping[str, list[tuple[float, ...]]]) -> Fixture:
    fields: dict[str, Any] = {name: texts[name][row] for name in TEAM_INPUTS}
    for name, rows in prices.items():
        kind, phase, bookmaker = _split_price_name(name)
        fields.setdefault(kind, {}).setdefault(phase, {})[bookmaker] = dict(
            zip(_PRICE_COLUMNS[kind], rows[row], strict=True)
        )
    try:
        return Fixture.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        loc = [str(part) for part in first["loc"]]
        reason = f"row {row}: {first['msg'].removeprefix('Value error, ')}"
        if not loc:  # the one model-level rule: two different teams
            raise InvalidInput("away_team", fields["away_team"], reason) from error
        raise InvalidInput(_tensor_for_path(loc), first.get("input"), reason) from error


def _split_price_name(name: str) -> tuple[str, str, str]:
    kind, phase, bookmaker = name.split("_", 2)
    return kind, phase, bookmaker


def _odds_tensor(entry: str) -> str:
    phase, _, bookmaker = entry.partition(".")
    return f"odds_{phase}_{bookmaker}"


def _tensor_for_path(parts: Sequence[str]) -> str:
    """`odds.open.pinnacle[.home]` -> `odds_open_pinnacle`; `home_team` -> itself; anything else stays a path."""
    if parts and parts[0] in _PRICE_COLUMNS and len(parts) >= 3:
        return f"{parts[0]}_{parts[1]}_{parts[2]}"
    return ".".join(parts) if parts else "inputs"


def _renamed(error: InvalidInput, rows: int) -> InvalidInput:
    """The engine names request paths (`fixtures[2].odds.open.pinnacle`, `home_team`); a client sent tensors."""
    field, row = error.field, (0 if rows == 1 else None)
    match = _ENGINE_FIELD_RE.match(field)
    if match:
        row, field = int(match.group(1)), match.group(2)
    tensor = _tensor_for_path(field.split(".") if field else [])
    where = "" if row is None else f"row {row}: "
    return InvalidInput(tensor, error.value, f"{where}{error.reason}")


def _probabilities(predictions: Sequence[Prediction]) -> OutputTensor:
    values: list[float] = []
    for prediction in predictions:
        p = prediction.probabilities
        values.extend((p.home, p.draw, p.away))
    return OutputTensor(PROBABILITIES, "FP64", (len(predictions), 3), tuple(values))
