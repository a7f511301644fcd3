"""ONNX export of the boosters and the stack: parity with the native predict on real rows (the issue's criterion:
max absolute difference < 1e-5), the metadata a served file carries, and clear errors on inputs of the wrong shape.

Boosters are fitted with their defaults on the sample E0 seasons 2020-21 and 2021-22 and predict 2022-23. The
stack's bases are those two boosters' 2022-23 predictions and the Pinnacle and average opening prices, with NaN
rows punched in (some rows priced by no base at all)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

from matchday.evaluation.dataset import dataset_from_files
from matchday.features.moments import Moment
from matchday.integrations.onnx_export import (
    BOOSTER_INPUT,
    OUTPUT,
    STACK_INPUT,
    InputType,
    OnnxPredictor,
    booster_input,
    booster_to_onnx,
    default_providers,
    onnx_metadata,
    save_onnx,
    stack_input,
    stack_to_onnx,
)
from matchday.models.base import without_results
from matchday.models.boosters import BoosterModel, Library, booster_model
from matchday.models.calibrators import IdentityCalibrator, IsotonicCalibrator
from matchday.models.stack import StackModel

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "matchday" / "sample_data"
PARITY = 1e-5
TEST_SEASON = 2022
LIBRARIES: tuple[Library, ...] = ("xgboost", "lightgbm")
CALIBRATIONS = ("none", "temperature", "dirichlet", "isotonic")

FloatArray = npt.NDArray[np.float64]


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    table, _ = dataset_from_files(SAMPLE, ["E0"], TEST_SEASON, TEST_SEASON)
    return table


@pytest.fixture(scope="module")
def rows(dataset: pd.DataFrame) -> pd.DataFrame:
    """The 2022-23 matches as a forecaster sees them: no result columns."""
    return without_results(dataset[dataset["season"] == TEST_SEASON].reset_index(drop=True))


@pytest.fixture(scope="module")
def boosters(dataset: pd.DataFrame) -> dict[str, BoosterModel]:
    history = dataset[dataset["season"] < TEST_SEASON]
    models: dict[str, BoosterModel] = {}
    for library in LIBRARIES:
        model = booster_model(library, Moment.OPEN)
        model.fit(history)
        models[library] = model
    return models


@pytest.fixture(scope="module")
def bases(dataset: pd.DataFrame, rows: pd.DataFrame, boosters: dict[str, BoosterModel]) -> dict[str, FloatArray]:
    predictions = {library: model.predict(rows) for library, model in boosters.items()}
    for book in ("pinnacle", "avg"):
        predictions[book] = rows[[f"open_{book}_{o}" for o in "hda"]].to_numpy(dtype=np.float64)
    predictions["pinnacle"][::7] = np.nan  # a bookmaker that did not quote the match
    predictions["avg"][::5] = np.nan
    for prediction in predictions.values():
        prediction[::35] = np.nan  # no base priced these
    return predictions


@pytest.fixture(scope="module")
def outcomes(dataset: pd.DataFrame) -> npt.NDArray[np.int64]:
    return dataset.loc[dataset["season"] == TEST_SEASON, "outcome"].to_numpy(dtype=np.int64)


def fitted_stack(
    bases: Mapping[str, FloatArray], outcomes: npt.NDArray[np.int64], calibration: str, meta: str
) -> StackModel:
    stack = StackModel(list(bases), calibration=calibration, meta=meta, name=f"stack_{meta}_{calibration}")
    stack.fit(bases, outcomes)
    return stack


# ---- boosters


@pytest.mark.parametrize("library", LIBRARIES)
def test_booster_predictions_match_native_on_real_rows(
    library: Library, boosters: dict[str, BoosterModel], rows: pd.DataFrame
) -> None:
    model = boosters[library]
    predictor = OnnxPredictor(booster_to_onnx(model))
    native = model.predict(rows)
    exported = predictor.predict(booster_input(rows, predictor.features))
    assert exported.shape == native.shape == (len(rows), 3)
    assert np.abs(exported - native).max() < PARITY
    single = predictor.predict(booster_input(rows.iloc[[3]], predictor.features))
    assert np.abs(single - native[[3]]).max() < PARITY


@pytest.mark.parametrize("library", LIBRARIES)
def test_missing_features_take_the_native_default_branch(
    library: Library, boosters: dict[str, BoosterModel], rows: pd.DataFrame
) -> None:
    """A third of the cells NaN, in features that never missed in training too: the graph must send each down the
    branch the library does (XGBoost's default child; LightGBM's, which reads NaN as 0 where training saw none)."""
    model = boosters[library]
    x = rows[model.features].to_numpy(dtype=np.float64, na_value=np.nan)
    x[np.random.default_rng(0).random(x.shape) < 1 / 3] = np.nan
    holey = pd.DataFrame(x, columns=model.features)
    predictor = OnnxPredictor(booster_to_onnx(model))
    assert np.abs(predictor.predict(booster_input(holey, model.features)) - model.predict(holey)).max() < PARITY


@pytest.mark.parametrize("library", LIBRARIES)
def test_booster_graph_has_one_input_one_output_and_its_metadata(
    library: Library, boosters: dict[str, BoosterModel]
) -> None:
    model = boosters[library]
    proto = booster_to_onnx(model)
    [graph_input], [graph_output] = proto.graph.input, proto.graph.output
    assert graph_input.name == BOOSTER_INPUT
    assert graph_input.type.tensor_type.elem_type == TensorProto.FLOAT
    assert [d.dim_value for d in graph_input.type.tensor_type.shape.dim][1:] == [len(model.features)]
    assert graph_output.name == OUTPUT
    assert [d.dim_value for d in graph_output.type.tensor_type.shape.dim][1:] == [3]
    metadata = onnx_metadata(proto)
    assert metadata["matchday.kind"] == library
    assert metadata["matchday.name"] == f"{library}_open"
    assert metadata["matchday.moment"] == "open"
    assert metadata["matchday.outcomes"] == '["home", "draw", "away"]'
    assert int(metadata["matchday.best_rounds"]) == model.best_rounds


@pytest.mark.parametrize("library", LIBRARIES)
def test_metadata_survives_a_round_trip_through_a_file(
    library: Library, boosters: dict[str, BoosterModel], rows: pd.DataFrame, tmp_path: Path
) -> None:
    model = boosters[library]
    path = save_onnx(booster_to_onnx(model), tmp_path / "models" / f"{library}.onnx")
    from_file, from_bytes = OnnxPredictor(path), OnnxPredictor(path.read_bytes())
    for predictor in (from_file, from_bytes):
        assert predictor.features == model.features
        assert (predictor.kind, predictor.name) == (model.KIND, model.name)
        assert predictor.metadata["matchday.moment"] == "open"
        assert predictor.input_name == BOOSTER_INPUT
        assert predictor.row_shape == (len(model.features),)
    x = booster_input(rows, model.features)
    np.testing.assert_array_equal(from_file.predict(x), from_bytes.predict(x))


# ---- stack


@pytest.mark.parametrize("meta", ["pool", "full"])
@pytest.mark.parametrize("calibration", CALIBRATIONS)
def test_stack_predictions_match_native_for_every_calibrator(
    calibration: str, meta: str, bases: dict[str, FloatArray], outcomes: npt.NDArray[np.int64]
) -> None:
    stack = fitted_stack(bases, outcomes, calibration, meta)
    assert stack.chosen_calibration == calibration
    native = stack.predict(bases)
    unpriced = np.isnan(native).all(axis=1)
    assert unpriced.sum() == 11  # every 35th row of 380
    cases: tuple[tuple[InputType, type[np.floating[Any]], float], ...] = (
        ("float32", np.float32, PARITY),
        ("float64", np.float64, 1e-7),
    )
    for input_type, dtype, tolerance in cases:
        predictor = OnnxPredictor(stack_to_onnx(stack, input_type=input_type))
        exported = predictor.predict(stack_input(bases, predictor.features, dtype))
        np.testing.assert_array_equal(np.isnan(exported), np.isnan(native))
        assert np.abs(exported[~unpriced] - native[~unpriced]).max() < tolerance


def test_isotonic_jumps_and_single_threshold_outcomes_match_np_interp(
    bases: dict[str, FloatArray], outcomes: npt.NDArray[np.int64]
) -> None:
    """sklearn emits strictly increasing thresholds, but the calibrator accepts repeated ones (a jump, which
    np.interp takes at the threshold) and a single one (a constant): the graph must follow np.interp there too."""
    stack = fitted_stack(bases, outcomes, "isotonic", "pool")
    stack._calibrator = IsotonicCalibrator(
        [
            ([0.3, 0.45, 0.45, 0.6], [0.2, 0.4, 0.6, 0.7]),
            ([0.25], [0.27]),
            ([0.1, 0.2, 0.3, 0.3, 0.3, 0.5], [0.05, 0.15, 0.2, 0.3, 0.35, 0.6]),
        ]
    )
    native = stack.predict(bases)
    priced = ~np.isnan(native).all(axis=1)
    meta = stack.predict_uncalibrated(bases)[priced]
    assert ((meta[:, 0] < 0.45) & (meta[:, 0] > 0.3)).any() and (meta[:, 0] > 0.45).any()  # both sides of a jump
    predictor = OnnxPredictor(stack_to_onnx(stack, input_type="float64"))
    exported = predictor.predict(stack_input(bases, stack.base_names, np.float64))
    np.testing.assert_array_equal(np.isnan(exported), np.isnan(native))
    assert np.abs(exported[priced] - native[priced]).max() < 1e-7


def test_stack_metadata_names_the_bases_in_input_order(
    bases: dict[str, FloatArray], outcomes: npt.NDArray[np.int64], tmp_path: Path
) -> None:
    stack = fitted_stack(bases, outcomes, "dirichlet", "pool")
    proto = stack_to_onnx(stack)
    [graph_input] = proto.graph.input
    assert graph_input.name == STACK_INPUT
    assert [d.dim_value for d in graph_input.type.tensor_type.shape.dim][1:] == [len(bases), 3]
    assert [op.domain or "ai.onnx" for op in proto.opset_import] == ["ai.onnx"]
    predictor = OnnxPredictor(save_onnx(proto, tmp_path / "stack.onnx"))
    assert predictor.features == stack.base_names == list(bases)
    assert (predictor.kind, predictor.name) == ("stack", stack.name)
    assert predictor.metadata["matchday.calibration"] == "dirichlet"
    assert predictor.metadata["matchday.meta"] == "pool"


def test_a_single_unpriced_row_and_an_empty_batch(
    bases: dict[str, FloatArray], outcomes: npt.NDArray[np.int64]
) -> None:
    stack = fitted_stack(bases, outcomes, "temperature", "pool")
    predictor = OnnxPredictor(stack_to_onnx(stack))
    x = stack_input(bases, stack.base_names)
    assert np.isnan(predictor.predict(x[[0]])).all()  # row 0 is one of the every-35th rows no base priced
    assert predictor.predict(x[:0]).shape == (0, 3)


# ---- errors


def test_wrong_feature_count_is_a_clear_error(boosters: dict[str, BoosterModel], rows: pd.DataFrame) -> None:
    model = boosters["xgboost"]
    predictor = OnnxPredictor(booster_to_onnx(model))
    x = booster_input(rows, model.features)
    n = len(model.features)
    with pytest.raises(ValueError, match=rf"'features' of shape \(n, {n}\), feature columns in the order of .features"):
        predictor.predict(x[:, :-1])
    with pytest.raises(ValueError, match=rf"got shape \({n},\)"):
        predictor.predict(x[0])
    with pytest.raises(ValueError, match="rows lack the feature column"):
        booster_input(rows.drop(columns=[model.features[0]]), model.features)


def test_wrong_base_count_is_a_clear_error(bases: dict[str, FloatArray], outcomes: npt.NDArray[np.int64]) -> None:
    stack = fitted_stack(bases, outcomes, "none", "pool")
    predictor = OnnxPredictor(stack_to_onnx(stack))
    x = stack_input(bases, stack.base_names)
    with pytest.raises(ValueError, match=r"'base_probs' of shape \(n, 4, 3\), bases in the order of .features"):
        predictor.predict(x[:, :3])
    with pytest.raises(ValueError, match="no predictions for base"):
        stack_input({"xgboost": bases["xgboost"]}, stack.base_names)
    with pytest.raises(ValueError, match="same shape"):
        stack_input(
            {name: prediction[:10] if name == "avg" else prediction for name, prediction in bases.items()}, list(bases)
        )


def test_unfitted_models_and_unknown_calibrators_are_refused(
    bases: dict[str, FloatArray], outcomes: npt.NDArray[np.int64]
) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        booster_to_onnx(booster_model("lightgbm", Moment.OPEN))
    with pytest.raises(RuntimeError, match="not fitted"):
        stack_to_onnx(StackModel(["a", "b"]))

    class BetaCalibrator(IdentityCalibrator):
        name = "beta"

    stack = fitted_stack(bases, outcomes, "none", "pool")
    stack._calibrator = BetaCalibrator()
    with pytest.raises(ValueError, match="calibrator 'beta' has no ONNX export"):
        stack_to_onnx(stack)
    with pytest.raises(ValueError, match="input_type"):
        stack_to_onnx(fitted_stack(bases, outcomes, "none", "pool"), input_type="float16")  # type: ignore[arg-type]


def test_a_model_without_matchday_metadata_is_refused() -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["probabilities"])],
        "bare",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", 3])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    onnx.checker.check_model(proto)
    with pytest.raises(ValueError, match=r"no matchday\.features metadata"):
        OnnxPredictor(proto)


def test_providers_prefer_cuda_and_fall_back_to_cpu(boosters: dict[str, BoosterModel]) -> None:
    providers = default_providers()
    assert providers[-1] == "CPUExecutionProvider"
    assert providers[0] == "CUDAExecutionProvider" or providers == ["CPUExecutionProvider"]
    assert OnnxPredictor(booster_to_onnx(boosters["lightgbm"])).providers[-1] == "CPUExecutionProvider"
    with pytest.raises(ValueError, match="n_threads"):
        OnnxPredictor(booster_to_onnx(boosters["lightgbm"]), n_threads=0)
