"""ONNX export of the boosters and the stack, and an ONNX Runtime predictor for the exported graphs.

    booster_to_onnx(model)           fitted XGBoostModel / LightGBMModel -> ModelProto (input "features")
    stack_to_onnx(stack)             fitted StackModel -> ModelProto (input "base_probs")
    OnnxPredictor(model)             an onnxruntime session: predict(x) -> (n, 3) float64, .features, .metadata
    save_onnx(proto, path)           checked and written to disk
    booster_input / stack_input      the arrays the two graphs take, built from the native inputs

Why ONNX: a serving image then needs onnxruntime alone, not XGBoost, LightGBM, SciPy and scikit-learn, and one
runtime (CPU or CUDA) runs every model. Every graph has one input (float32; a stack's may be float64) and one
float32 output "probabilities" of shape (n, 3) ordered (home, draw, away); the model's kind, name, and the column
order of its input are in the ModelProto's metadata_props under "matchday.*", so a served file says what it
expects without its manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import onnx
import onnxmltools  # type: ignore[import-untyped]
import onnxruntime as ort  # type: ignore[import-untyped]
import pandas as pd
from onnx import TensorProto, helper, numpy_helper
from onnxmltools.convert.common.data_types import FloatTensorType  # type: ignore[import-untyped]

from matchday.evaluation.metrics import AWAY, DRAW, HOME, N_OUTCOMES
from matchday.models.boosters import BoosterModel, LightGBMModel, XGBoostModel
from matchday.models.calibrators import _ISOTONIC_FLOOR, PROB_FLOOR
from matchday.models.stack import StackModel

__all__ = [
    "BOOSTER_INPUT",
    "METADATA_PREFIX",
    "OUTPUT",
    "STACK_INPUT",
    "STACK_OPSET",
    "InputType",
    "OnnxPredictor",
    "booster_input",
    "booster_to_onnx",
    "default_providers",
    "onnx_metadata",
    "save_onnx",
    "stack_input",
    "stack_to_onnx",
]

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
InputType = Literal["float32", "float64"]

BOOSTER_INPUT: Final = "features"
STACK_INPUT: Final = "base_probs"
OUTPUT: Final = "probabilities"
METADATA_PREFIX: Final = "matchday."
FORMAT_VERSION: Final = 1
OUTCOMES: Final = ("home", "draw", "away")
# Opset 21 (IR 10) holds every op the stack graph uses and loads in onnxruntime >= 1.18, so an exported stack also
# runs on serving images older than the runtime it was tested with. The booster graphs keep the opsets onnxmltools
# chooses (its converters go no higher than 15).
STACK_OPSET: Final = 21
_STACK_IR_VERSION: Final = 10
_BATCH: Final = "n"
_N_LOG_ODDS: Final = N_OUTCOMES - 1


def _key(name: str) -> str:
    return f"{METADATA_PREFIX}{name}"


def _set_metadata(proto: onnx.ModelProto, values: Mapping[str, Any]) -> None:
    """Adds `values` (JSON-encoded unless already strings) under the "matchday." prefix, keeping other entries."""
    props = {entry.key: entry.value for entry in proto.metadata_props}
    for name, value in values.items():
        props[_key(name)] = value if isinstance(value, str) else json.dumps(value)
    helper.set_model_props(proto, props)


def onnx_metadata(proto: onnx.ModelProto) -> dict[str, str]:
    """The ModelProto's metadata_props as a dict (values as stored: JSON text for lists and numbers)."""
    return {entry.key: entry.value for entry in proto.metadata_props}


def _tensor_type(name: str, elem_type: int, dims: Sequence[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, list(dims))


# ---- boosters


def _probabilities_only(proto: onnx.ModelProto, source: str, n_features: int) -> None:
    """Keeps only the graph's probability output, renamed `OUTPUT`, with the nodes and initializers it needs.

    The converters also emit a class-label output; it is dead weight for a forecaster, and LightGBM's declares a
    shape of (1,) that onnxruntime warns about on every batch."""
    graph = proto.graph
    if source not in {output.name for output in graph.output}:
        raise RuntimeError(f"the converter produced no {source!r} output, only {[o.name for o in graph.output]}")
    for node in graph.node:
        node.output[:] = [OUTPUT if name == source else name for name in node.output]
    needed = {OUTPUT}
    kept: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    initializers = [tensor for tensor in graph.initializer if tensor.name in needed]
    del graph.node[:]
    graph.node.extend(reversed(kept))
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.output[:]
    graph.output.append(_tensor_type(OUTPUT, TensorProto.FLOAT, [_BATCH, N_OUTCOMES]))
    del graph.input[:]
    graph.input.append(_tensor_type(BOOSTER_INPUT, TensorProto.FLOAT, [_BATCH, n_features]))


def booster_to_onnx(model: BoosterModel) -> onnx.ModelProto:
    """The fitted booster as an ONNX tree ensemble: input "features" float32 (n, len(model.features)) with the
    columns in `model.features` order (NaN for a missing value, as in training), output "probabilities"
    float32 (n, 3). Predictions match `model.predict` to float32 rounding (~1e-7)."""
    if not model.fitted:
        raise RuntimeError(f"{model.name} is not fitted: there is nothing to export")
    n_features = len(model.features)
    initial_types = [(BOOSTER_INPUT, FloatTensorType([None, n_features]))]
    if isinstance(model, XGBoostModel):
        booster = model._fitted_booster().copy()
        # The converter reads split features as "f<column index>"; the copy drops the names, and the input's
        # columns are `model.features` in order, which is the order the booster was trained on.
        booster.feature_names = None
        booster.feature_types = None
        proto = onnxmltools.convert_xgboost(booster, name=model.name, initial_types=initial_types)
    elif isinstance(model, LightGBMModel):
        proto = onnxmltools.convert_lightgbm(
            model._fitted_booster(), name=model.name, initial_types=initial_types, zipmap=False
        )
    else:
        raise TypeError(f"no ONNX export for {type(model).__name__}; exportable: XGBoostModel, LightGBMModel")
    if not isinstance(proto, onnx.ModelProto):
        raise TypeError(f"onnxmltools returned {type(proto).__name__}, not an onnx.ModelProto")
    _probabilities_only(proto, "probabilities", n_features)
    proto.graph.name = model.name
    _set_metadata(
        proto,
        {
            "format_version": FORMAT_VERSION,
            "kind": model.KIND,
            "name": model.name,
            "moment": str(model.moment),
            "features": model.features,
            "outcomes": list(OUTCOMES),
            "input": BOOSTER_INPUT,
            "library": model.LIBRARY,
            "library_version": model._library_version(),
            "best_rounds": model.best_rounds,
        },
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def booster_input(rows: pd.DataFrame, features: Sequence[str]) -> Float32Array:
    """The (n, len(features)) float32 matrix a booster graph takes, from feature rows (pd.NA becomes NaN)."""
    missing = [feature for feature in features if feature not in rows.columns]
    if missing:
        raise ValueError(f"rows lack the feature column(s) the model was fitted on: {', '.join(missing)}")
    x: Float32Array = rows[list(features)].to_numpy(dtype=np.float32, na_value=np.nan)
    return x


# ---- stack


class _Graph:
    """Nodes and constants of a graph under construction, each output given a fresh name."""

    def __init__(self, reserved: Sequence[str] = ()) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set(reserved)
        self._axes: dict[tuple[int, ...], str] = {}

    def _fresh(self, stem: str) -> str:
        name, i = stem, 1
        while name in self._names:
            i += 1
            name = f"{stem}_{i}"
        self._names.add(name)
        return name

    def const(self, stem: str, value: npt.ArrayLike, dtype: type[np.generic] = np.float64) -> str:
        name = self._fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], stem: str | None = None, **attributes: Any) -> str:
        output = self._fresh(stem or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=f"{output}_node", **attributes))
        return output

    def axes(self, *axes: int) -> str:
        """An int64 vector constant (axes, starts, ends), shared by every op that uses the same one."""
        if axes not in self._axes:
            self._axes[axes] = self.const("axes", list(axes), np.int64)
        return self._axes[axes]


def _clipped_log(g: _Graph, p: str) -> str:
    """log(clip(p, PROB_FLOOR, 1)), as `_log_probs` and the stack's features take it (Max/Min: no NaN reaches it)."""
    floor = g.const("prob_floor", PROB_FLOOR)
    one = g.const("one", 1.0)
    return g.op("Log", [g.op("Min", [g.op("Max", [p, floor]), one])], "log_p")


def _isotonic(g: _Graph, p: str, thresholds: Sequence[Sequence[Sequence[float]]]) -> str:
    """np.interp of each outcome's probability over its thresholds, floored and renormalised.

    For v clipped to [x_0, x_last] (np.interp's flat ends), interp(v) = y_0 + sum_j s_j clip(v - x_j, 0, w_j) over
    the intervals j of width w_j > 0 and slope s_j: a sum of ramps, with no per-row search (onnxruntime has no
    searchsorted). All three outcomes' ramps are columns of one (n, ramps) matrix: a 0/1 MatMul copies each
    outcome's v into its ramps' columns, and a MatMul with the slopes sums them back per outcome. A repeated
    threshold (w_j = 0, which sklearn never emits but the calibrator accepts) is a jump that np.interp takes at
    v = x_j, so it adds (y_(j+1) - y_j) [v >= x_j]. Agrees with numpy to ~1e-15."""
    pairs = [(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)) for xs, ys in thresholds]
    clipped = g.op(
        "Min",
        [
            g.op("Max", [p, g.const("x_first", [x[0] for x, _ in pairs])]),
            g.const("x_last", [x[-1] for x, _ in pairs]),
        ],
    )  # (n, 3)
    raw = g.op("Add", [g.op("Sub", [clipped, clipped]), g.const("y_first", [y[0] for _, y in pairs])])  # y_0 each
    for kind in ("ramp", "jump"):
        outcome, start, width, rise = [], [], [], []
        for k, (x, y) in enumerate(pairs):
            widths = np.diff(x)
            chosen = widths > 0.0 if kind == "ramp" else widths == 0.0
            outcome += [k] * int(chosen.sum())
            start += x[:-1][chosen].tolist()
            width += widths[chosen].tolist()
            rise += np.diff(y)[chosen].tolist()
        if not outcome:
            continue
        spread = np.zeros((N_OUTCOMES, len(outcome)))
        spread[outcome, np.arange(len(outcome))] = 1.0
        gather = spread.T.copy()
        v = g.op("MatMul", [clipped, g.const(f"{kind}_outcome", spread)])  # (n, columns): each column's outcome's v
        if kind == "ramp":
            offset = g.op("Sub", [v, g.const("ramp_start", start)])
            ramp = g.op("Min", [g.op("Max", [offset, g.const("zero", 0.0)]), g.const("ramp_width", width)])
            gather *= (np.asarray(rise) / np.asarray(width))[:, None]  # the slopes
        else:
            past = g.op("GreaterOrEqual", [v, g.const("jump_at", start)])
            ramp = g.op("Cast", [past], to=TensorProto.DOUBLE)
            gather *= np.asarray(rise)[:, None]
        raw = g.op("Add", [raw, g.op("MatMul", [ramp, g.const(f"{kind}_sum", gather)])])
    floored = g.op("Max", [raw, g.const("isotonic_floor", _ISOTONIC_FLOOR)])
    return g.op("Div", [floored, g.op("ReduceSum", [floored, g.axes(1)], keepdims=1)], "calibrated")


def _calibrated(g: _Graph, p: str, calibrator: Mapping[str, Any]) -> str:
    """The calibrator (as `Calibrator.to_dict` describes it) applied to the (n, 3) meta probabilities `p`."""
    name = calibrator.get("name")
    if name == "none":
        return p
    if name == "temperature":
        scaled = g.op("Div", [_clipped_log(g, p), g.const("temperature", float(calibrator["temperature"]))])
        return g.op("Softmax", [scaled], "calibrated", axis=-1)
    if name == "dirichlet":
        coef_t = g.const("dirichlet_coef_t", np.asarray(calibrator["coef"], dtype=np.float64).T)
        logits = g.op("Gemm", [_clipped_log(g, p), coef_t, g.const("dirichlet_b", calibrator["intercept"])])
        return g.op("Softmax", [logits], "calibrated", axis=-1)
    if name == "isotonic":
        return _isotonic(g, p, calibrator["thresholds"])
    raise ValueError(f"calibrator {name!r} has no ONNX export; exportable: none, temperature, dirichlet, isotonic")


def stack_to_onnx(stack: StackModel, input_type: InputType = "float32") -> onnx.ModelProto:
    """The fitted stack as an ONNX graph: input "base_probs" (n, K, 3), the bases in `stack.base_names` order, a
    row of NaN where a base did not price the match; output "probabilities" float32 (n, 3), NaN where no base
    priced it. It computes `StackModel.predict` step by step in float64 (a few hundred flops a row: double costs
    nothing and keeps the log floor and isotonic comparisons those of numpy), so it matches to the rounding of the
    input and output. float32 input is what the booster graphs emit; an isotonic calibrator's steep steps amplify
    its rounding (a few 1e-6 on real rows, against ~5e-8 for the others); `input_type="float64"` removes it. A base
    row with any NaN counts as unpriced (`predict` rejects partial rows)."""
    if input_type not in get_args(InputType):
        raise ValueError(f"input_type must be one of {get_args(InputType)}, got {input_type!r}")
    calibrator = stack.calibrator.to_dict()  # raises if the stack is not fitted
    coef, intercept = stack.coefficients, stack.intercept
    k = len(stack.base_names)
    g = _Graph(reserved=(STACK_INPUT, OUTPUT))
    elem_type = TensorProto.FLOAT if input_type == "float32" else TensorProto.DOUBLE
    p = g.op("Cast", [STACK_INPUT], "p", to=TensorProto.DOUBLE) if input_type == "float32" else STACK_INPUT
    # The graph works on (n, columns) matrices, and every sum, difference or repetition across bases is a MatMul
    # with a constant 0/1/-1 matrix: onnxruntime's broadcasting ops (a (n, K, 1) operand against (n, K, 2)) took
    # most of the graph's time, and such a MatMul is exact, each output being one rounded sum of exact products.
    # A base prices a row when its three probabilities are numbers, i.e. when their sum is (computed before any
    # MatMul: NaN * 0 is NaN, so a NaN must not meet the 0/1 matrices).
    row_sum = g.op("ReduceSum", [p, g.axes(2)], keepdims=0)  # (n, K)
    present = g.op("Cast", [g.op("Not", [g.op("IsNaN", [row_sum])])], "present", to=TensorProto.DOUBLE)  # 1 or 0
    flat = g.op("Reshape", [p, g.const("flat_shape", [0, N_OUTCOMES * k], np.int64)], "p_flat")  # (n, 3K)
    # NaN replaced before the log so no NaN flows through Max/Min/Log/MatMul (the replacement is masked out below).
    safe = g.op("Where", [g.op("IsNaN", [flat]), g.const("third", 1.0 / N_OUTCOMES), flat], "p_safe")
    log_p = _clipped_log(g, safe)
    against_away = np.zeros((N_OUTCOMES * k, _N_LOG_ODDS * k))  # column 2b + c: log p_(b, c) - log p_(b, away)
    for b in range(k):
        for c, outcome in enumerate((HOME, DRAW)):
            against_away[N_OUTCOMES * b + outcome, _N_LOG_ODDS * b + c] = 1.0
            against_away[N_OUTCOMES * b + AWAY, _N_LOG_ODDS * b + c] = -1.0
    odds = g.op("MatMul", [log_p, g.const("against_away", against_away)], "odds")  # (n, 2K), finite
    # A missing base takes the mean log-odds of the bases that priced the row, as StackModel._features does. Masks
    # multiply: odds are finite, so a * 1 + b * 0 is a exactly.
    repeat = np.kron(np.eye(k), np.ones((1, _N_LOG_ODDS)))  # (K, 2K): each base's flag on its two log-odds
    present_wide = g.op("MatMul", [present, g.const("repeat_flag", repeat)], "present_wide")
    masked = g.op("Mul", [odds, present_wide], "masked")
    per_base = np.tile(np.eye(_N_LOG_ODDS), (k, 1))  # (2K, 2): sums the home, and the draw, log-odds over bases
    total = g.op("MatMul", [masked, g.const("sum_bases", per_base)])  # (n, 2)
    # (n, 2): the number of bases that priced the row, once per log-odds column
    count = g.op("MatMul", [present, g.const("ones_k2", np.ones((k, _N_LOG_ODDS)))], "count")
    pool = g.op("Div", [total, g.op("Max", [count, g.const("one", 1.0)])], "pool")  # (n, 2)
    pool_wide = g.op("MatMul", [pool, g.const("repeat_pool", per_base.T)])  # (n, 2K): the pool for every base
    missing_wide = g.op("Sub", [g.const("one", 1.0), present_wide])
    features = g.op("Add", [masked, g.op("Mul", [pool_wide, missing_wide])], "stack_features")  # (n, 2K)
    logits = g.op("Gemm", [features, g.const("meta_coef_t", coef.T), g.const("meta_b", intercept)])
    meta = g.op("Softmax", [logits], "meta", axis=-1)
    calibrated = _calibrated(g, meta, calibrator)
    count_wide = g.op("MatMul", [present, g.const("ones_k3", np.ones((k, N_OUTCOMES)))])  # (n, 3)
    priced = g.op("Greater", [count_wide, g.const("zero", 0.0)], "priced")
    out = g.op("Where", [priced, calibrated, g.const("nan", np.nan)], "probabilities_f64")
    g.nodes.append(helper.make_node("Cast", [out], [OUTPUT], name="output_cast", to=TensorProto.FLOAT))
    graph = helper.make_graph(
        g.nodes,
        stack.name,
        [_tensor_type(STACK_INPUT, elem_type, [_BATCH, k, N_OUTCOMES])],
        [_tensor_type(OUTPUT, TensorProto.FLOAT, [_BATCH, N_OUTCOMES])],
        initializer=g.initializers,
    )
    proto = helper.make_model(
        graph,
        producer_name="matchday",
        opset_imports=[helper.make_opsetid("", STACK_OPSET)],
        ir_version=_STACK_IR_VERSION,
    )
    _set_metadata(
        proto,
        {
            "format_version": FORMAT_VERSION,
            "kind": stack.KIND,
            "name": stack.name,
            "features": stack.base_names,
            "outcomes": list(OUTCOMES),
            "input": STACK_INPUT,
            "meta": stack.meta,
            "calibration": str(calibrator["name"]),
            "input_type": input_type,
        },
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def stack_input(
    base_predictions: Mapping[str, npt.ArrayLike], base_names: Sequence[str], dtype: type[np.floating[Any]] = np.float32
) -> npt.NDArray[np.floating[Any]]:
    """The (n, K, 3) array a stack graph takes, the bases in `base_names` order."""
    missing = [base for base in base_names if base not in base_predictions]
    if missing:
        raise ValueError(f"no predictions for base(s) {', '.join(missing)}; the stack needs {list(base_names)}")
    arrays = [np.asarray(base_predictions[base], dtype=dtype) for base in base_names]
    shapes = {base: a.shape for base, a in zip(base_names, arrays, strict=True)}
    if any(len(shape) != 2 or shape[1] != N_OUTCOMES for shape in shapes.values()) or len(set(shapes.values())) > 1:
        raise ValueError(f"base predictions must all have the same shape (n, 3), got {shapes}")
    return np.stack(arrays, axis=1)


# ---- files and runtime


def save_onnx(proto: onnx.ModelProto, path: Path) -> Path:
    """Checks `proto` and writes it to `path` (parent folders created); returns `path`."""
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, path)
    return path


def default_providers() -> list[str]:
    """CUDA first where this onnxruntime build has it, then CPU. Ops without a CUDA kernel (the tree ensembles)
    run on the CPU provider either way; onnxruntime places them."""
    available = set(ort.get_available_providers())
    return [name for name in ("CUDAExecutionProvider", "CPUExecutionProvider") if name in available]


class OnnxPredictor:
    """An onnxruntime session over an exported booster or stack. `n_threads` is onnxruntime's intra-op pool: one
    by default, like the boosters (whose module docstring measures threads on shared cores), so a server scales by
    running predictors side by side; raise it on a dedicated machine."""

    def __init__(
        self,
        model: bytes | str | Path | onnx.ModelProto,
        providers: Sequence[str] | None = None,
        n_threads: int = 1,
    ) -> None:
        if n_threads < 1:
            raise ValueError(f"n_threads must be at least 1, got {n_threads}")
        source: bytes | str
        if isinstance(model, onnx.ModelProto):
            source = model.SerializeToString()
        elif isinstance(model, Path):
            source = str(model)
        else:
            source = model
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        self._session: Any = ort.InferenceSession(
            source, sess_options=options, providers=list(providers) if providers else default_providers()
        )
        self.metadata: dict[str, str] = {
            str(key): str(value) for key, value in self._session.get_modelmeta().custom_metadata_map.items()
        }
        if _key("features") not in self.metadata:
            raise ValueError("the ONNX model carries no matchday.features metadata: export it with this module")
        self.features: list[str] = [str(name) for name in json.loads(self.metadata[_key("features")])]
        self.kind = self.metadata.get(_key("kind"), "")
        self.name = self.metadata.get(_key("name"), "")
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or OUTPUT not in [output.name for output in outputs]:
            raise ValueError(f"expected one input and an output {OUTPUT!r}, got {len(inputs)} input(s) and {outputs}")
        self.input_name = str(inputs[0].name)
        self.row_shape: tuple[int, ...] = tuple(int(dim) for dim in inputs[0].shape[1:])
        self.input_dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32

    @property
    def providers(self) -> list[str]:
        return [str(name) for name in self._session.get_providers()]

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        """(n, 3) float64 probabilities for the (n, *row_shape) input, renormalised in float64 so rows sum to 1
        to rounding, as the native predict does; rows the model cannot price stay NaN."""
        arr = np.ascontiguousarray(x, dtype=self.input_dtype)
        if arr.ndim != 1 + len(self.row_shape) or arr.shape[1:] != self.row_shape:
            expected = ", ".join(["n", *map(str, self.row_shape)])
            order = "bases" if self.input_name == STACK_INPUT else "feature columns"
            raise ValueError(
                f"{self.name or 'the model'} takes {self.input_name!r} of shape ({expected}), {order} in the order "
                f"of .features, got shape {arr.shape}"
            )
        if len(arr) == 0:
            return np.empty((0, N_OUTCOMES), dtype=np.float64)
        raw = self._session.run([OUTPUT], {self.input_name: arr})[0]
        probs = np.asarray(raw, dtype=np.float64)
        normalised: FloatArray = probs / probs.sum(axis=1, keepdims=True)
        return normalised
