"""The OIP v2 tensor contract: decoding, validation naming the tensor (and row), the engine's errors renamed to
tensors, outputs and model resolution. Raw byte layouts are checked against Triton's own client serializers."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np
import pytest
from tritonclient.utils import serialize_byte_tensor

from matchday.inference.oip_codec import (
    OUTPUT_SPECS,
    InputTensor,
    ModelNotFoundError,
    OutputTensor,
    TensorSpec,
    decode_raw,
    encode_raw,
    fixtures_from_tensors,
    input_specs,
    predict_tensors,
    resolve_model,
    routing_key,
)
from matchday.inference.schema import Fixture, InvalidInput, ModelInfo, ModelRef, Prediction, Probabilities

MODEL = "matchday-1x2"


def _info(version: str = "3", variant: str = "champion", required: Sequence[str] = ("open.pinnacle",)) -> ModelInfo:
    return ModelInfo.model_validate(
        {
            "name": MODEL,
            "version": version,
            "variant": variant,
            "alias": variant,
            "moment": "open",
            "output": "stack",
            "required_odds": list(required),
            "ready": True,
        }
    )


class OverroundEngine:
    """Probabilities are Pinnacle's opening implied probabilities with the overround removed."""

    model_name = MODEL

    def __init__(self, models: Sequence[ModelInfo] = (), *, fail: InvalidInput | None = None) -> None:
        self._models = list(models) or [_info()]
        self.fail = fail
        self.calls: list[tuple[str, str, int]] = []

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return bool(self._models)

    def models(self) -> list[ModelInfo]:
        return self._models

    def predict(
        self, fixtures: Sequence[Fixture], *, request_id: str, routing_key: str, markets: bool = True
    ) -> list[Prediction]:
        self.calls.append((request_id, routing_key, len(fixtures)))
        if self.fail is not None:
            raise self.fail
        champion = self._models[0]
        predictions = []
        for fixture in fixtures:
            prices = fixture.odds["open"]["pinnacle"]
            implied = [1 / prices.home, 1 / prices.draw, 1 / prices.away]
            home, draw, away = (p / sum(implied) for p in implied)
            predictions.append(
                Prediction(
                    request_id=request_id,
                    competition=fixture.competition,
                    home_team=fixture.home_team,
                    away_team=fixture.away_team,
                    probabilities=Probabilities(home=home, draw=draw, away=away),
                    markets=None,
                    model=ModelRef(name=MODEL, version=champion.version, variant="champion"),
                )
            )
        return predictions


def _teams(rows: int = 2) -> list[InputTensor]:
    names = [("Arsenal", "Chelsea"), ("Everton", "Fulham"), ("Leeds", "Wolves")][:rows]
    return [
        InputTensor("competition", "BYTES", (rows,), [b"E0"] * rows),
        InputTensor("home_team", "BYTES", (rows,), [home.encode() for home, _ in names]),
        InputTensor("away_team", "BYTES", (rows,), [away for _, away in names]),  # str, as HTTP JSON sends them
    ]


def _odds(name: str = "odds_open_pinnacle", rows: int = 2, datatype: str = "FP64") -> InputTensor:
    values = [2.0, 3.5, 4.0, 1.8, 3.6, 4.5, 2.5, 3.2, 2.9][: rows * 3]
    return InputTensor(name, datatype, (rows, 3), values)


def _replace(tensors: list[InputTensor], tensor: InputTensor) -> list[InputTensor]:
    return [tensor if t.name == tensor.name else t for t in tensors]


def test_metadata_lists_the_required_inputs_and_the_output() -> None:
    specs = input_specs(_info(required=["open.pinnacle", "close.market_avg"]))
    assert specs == [
        TensorSpec("competition", "BYTES", (-1,)),
        TensorSpec("home_team", "BYTES", (-1,)),
        TensorSpec("away_team", "BYTES", (-1,)),
        TensorSpec("odds_open_pinnacle", "FP64", (-1, 3)),
        TensorSpec("odds_close_market_avg", "FP64", (-1, 3)),
    ]
    [output] = OUTPUT_SPECS
    assert output == TensorSpec("probabilities", "FP64", (-1, 3))


def test_tensors_become_fixtures_with_optional_bookmakers_and_totals() -> None:
    extras = [
        InputTensor("odds_open_bet365", "FP32", (2, 3), [2.25, 3.5, 3.75, 1.75, 3.5, 4.25]),
        InputTensor("totals_close_market_avg", "FP64", (2, 2), [1.9, 1.95, 2.1, 1.8]),
    ]
    fixtures = fixtures_from_tensors([*_teams(), _odds(), *extras], ["open.pinnacle"])
    assert [(f.competition, f.home_team, f.away_team) for f in fixtures] == [
        ("E0", "Arsenal", "Chelsea"),
        ("E0", "Everton", "Fulham"),
    ]
    second = fixtures[1]
    assert (second.odds["open"]["pinnacle"].home, second.odds["open"]["pinnacle"].away) == (1.8, 4.5)
    assert second.odds["open"]["bet365"].home == 1.75  # FP32 widened (1.75 is exact in both)
    assert (second.totals["close"]["market_avg"].over, second.totals["close"]["market_avg"].under) == (2.1, 1.8)


@pytest.mark.parametrize(
    ("tensors", "field", "fragment"),
    [
        (
            [*_teams(), _odds(), InputTensor("odds_live_pinnacle", "FP64", (2, 3), [2.0] * 6)],
            "odds_live_pinnacle",
            "unknown input",
        ),
        (
            _replace([*_teams(), _odds()], InputTensor("home_team", "FP64", (2,), [1.0, 2.0])),
            "home_team",
            "expected BYTES",
        ),
        ([*_teams(), _odds(datatype="INT32")], "odds_open_pinnacle", "expected FP64 or FP32"),
        (
            [*_teams(), InputTensor("odds_open_pinnacle", "FP64", (6,), [2.0] * 6)],
            "odds_open_pinnacle",
            "expected [-1, 3]",
        ),
        (
            [*_teams(), InputTensor("odds_open_pinnacle", "FP64", (3, 2), [2.0] * 6)],
            "odds_open_pinnacle",
            "expected [-1, 3]",
        ),
        (
            _replace([*_teams(), _odds()], InputTensor("competition", "BYTES", (2, 1), [b"E0"] * 2)),
            "competition",
            "expected [-1]",
        ),
        ([*_teams(), _odds(rows=3)], "odds_open_pinnacle", "disagrees with competition's 2"),
        (_teams(), "odds_open_pinnacle", "required input is missing"),
        ([*_teams()[1:], _odds()], "competition", "required input is missing"),
        (
            [*_teams(), InputTensor("odds_open_pinnacle", "FP64", (2, 3), [2.0] * 5)],
            "odds_open_pinnacle",
            "holds 5 elements",
        ),
        (
            [*_teams(), InputTensor("odds_open_pinnacle", "FP64", (2, 3), [2.0, 3.0, 4.0, 2.0, math.nan, 4.0])],
            "odds_open_pinnacle",
            "row 1 (draw)",
        ),
        (
            [*_teams(), InputTensor("odds_open_pinnacle", "FP64", (2, 3), [1.0, 3.0, 4.0, 2.0, 3.0, 4.0])],
            "odds_open_pinnacle",
            "row 0 (home): a decimal price must be finite and greater than 1.0",
        ),
        (
            [*_teams(), InputTensor("odds_open_pinnacle", "FP64", (2, 3), [2.0, 3.0, "4", 2.0, 3.0, 4.0])],
            "odds_open_pinnacle",
            "expected a number",
        ),
        (
            _replace([*_teams(), _odds()], InputTensor("away_team", "BYTES", (2,), [b"Chelsea", b"\xff"])),
            "away_team",
            "row 1: not UTF-8",
        ),
        (
            _replace([*_teams(), _odds()], InputTensor("away_team", "BYTES", (2,), ["Chelsea", "Everton"])),
            "away_team",
            "row 1: home_team and away_team are both 'Everton'",
        ),
        (
            _replace([*_teams(), _odds()], InputTensor("competition", "BYTES", (2,), [b"E0", b"X" * 17])),
            "competition",
            "row 1: String should have at most 16 characters",
        ),
        ([*_teams(), _odds(), _odds()], "odds_open_pinnacle", "more than once"),
        ([*_teams(0), _odds(rows=0)], "competition", "batch size must be 1 to"),
    ],
)
def test_invalid_tensors_are_named(tensors: list[InputTensor], field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        fixtures_from_tensors(tensors, ["open.pinnacle"])
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_raw_contents_decode_as_triton_serializes_them() -> None:
    names = np.array(["Arsenal", "Málaga", ""], dtype=object)
    raw = serialize_byte_tensor(names).item()  # one bytes object, length-prefixed
    assert decode_raw("home_team", "BYTES", raw) == [b"Arsenal", "Málaga".encode(), b""]
    prices = np.array([[2.0, 3.5, 4.0]], dtype=np.float64)
    assert decode_raw("odds_open_pinnacle", "FP64", prices.astype("<f8").tobytes()) == [2.0, 3.5, 4.0]
    assert decode_raw("odds_open_pinnacle", "FP32", prices.astype("<f4").tobytes()) == [2.0, 3.5, 4.0]
    assert decode_raw("odds_open_pinnacle", "INT64", b"\x00" * 8) == []  # validation names the datatype


@pytest.mark.parametrize(
    ("datatype", "raw", "fragment"),
    [
        ("FP64", b"\x00" * 12, "not a whole number of elements"),
        ("BYTES", struct.pack("<I", 10) + b"short", "truncated at element 0"),
        ("BYTES", struct.pack("<I", 2) + b"E0" + b"\x01\x00", "truncated at element 1"),
    ],
)
def test_malformed_raw_contents_are_refused(datatype: str, raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment) as caught:
        decode_raw("competition", datatype, raw)
    assert caught.value.field == "competition"


def test_raw_output_is_little_endian_fp64() -> None:
    tensor = OutputTensor("probabilities", "FP64", (1, 3), (0.5, 0.25, 0.25))
    assert np.frombuffer(encode_raw(tensor), dtype="<f8").tolist() == [0.5, 0.25, 0.25]


def test_predict_returns_the_answering_version_and_probabilities() -> None:
    engine = OverroundEngine([_info("3"), _info("4", "challenger")])
    version, outputs = predict_tensors(engine, _info("3"), [*_teams(), _odds()], [], request_id="r1", routing_key="k")
    assert version == "3"
    [probabilities] = outputs
    assert (probabilities.name, probabilities.datatype, probabilities.shape) == ("probabilities", "FP64", (2, 3))
    implied = np.array([[1 / 2.0, 1 / 3.5, 1 / 4.0], [1 / 1.8, 1 / 3.6, 1 / 4.5]])
    expected = implied / implied.sum(axis=1, keepdims=True)
    assert np.allclose(np.array(probabilities.values).reshape(2, 3), expected)
    assert engine.calls == [("r1", "k", 2)]


def test_an_unknown_requested_output_is_named_before_the_engine_runs() -> None:
    engine = OverroundEngine()
    with pytest.raises(InvalidInput, match="'logits'") as caught:
        predict_tensors(engine, _info(), [*_teams(), _odds()], ["logits"], request_id="r", routing_key="k")
    assert caught.value.field == "outputs"
    assert engine.calls == []


@pytest.mark.parametrize(
    ("engine_field", "rows", "tensor", "prefix"),
    [
        ("fixtures[1].home_team", 2, "home_team", "row 1: "),
        ("fixtures[0].odds.open.pinnacle", 2, "odds_open_pinnacle", "row 0: "),
        ("fixtures[1].totals.close.market_avg.over", 2, "totals_close_market_avg", "row 1: "),
        ("home_team", 1, "home_team", "row 0: "),
        ("home_team", 2, "home_team", ""),
    ],
)
def test_engine_errors_are_renamed_to_tensors(engine_field: str, rows: int, tensor: str, prefix: str) -> None:
    engine = OverroundEngine(fail=InvalidInput(engine_field, "Atlantis FC", "unknown team"))
    with pytest.raises(InvalidInput) as caught:
        predict_tensors(engine, _info(), [*_teams(rows), _odds(rows=rows)], [], request_id="r", routing_key="k")
    assert caught.value.field == tensor
    assert caught.value.reason == f"{prefix}unknown team"
    assert caught.value.value == "Atlantis FC"


def test_models_resolve_by_name_and_version() -> None:
    champion, challenger = _info("3"), _info("4", "challenger")
    engine = OverroundEngine([champion, challenger])
    assert resolve_model(engine, MODEL) == champion
    assert resolve_model(engine, MODEL, "4") == challenger
    with pytest.raises(ModelNotFoundError, match="unknown model 'other'"):
        resolve_model(engine, "other")
    with pytest.raises(ModelNotFoundError, match=r"no version '9' \(loaded: 3, 4\)"):
        resolve_model(engine, MODEL, "9")
    engine._models = []
    assert resolve_model(engine, MODEL, "9") is None  # nothing loaded: not ready rather than not found


def test_routing_key_prefers_the_client_then_the_key_then_the_request() -> None:
    assert routing_key({"x-client-id": "c", "x-api-key": "k"}, "r") == "c"
    assert routing_key({"x-api-key": "k"}, "r") == "k"
    assert routing_key({}, "r") == "r"
