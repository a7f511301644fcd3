"""Inference latency of the native models against their ONNX export (`matchday.integrations.onnx_export`).

XGBoost and LightGBM (default `BoosterParams`, one thread) are fitted on every E0 season before 2020-21 and price
the 1,140 E0 matches of 2020-21 .. 2022-23; a stack (log-linear pool, a given calibrator) is fitted over those two
boosters' predictions and the Pinnacle and average opening prices, with NaN rows punched in as in the tests. Each
model is timed on a single row and on a batch of 1,000 rows:

    native         model.predict on its native input (the feature DataFrame; the stack's dict of arrays)
    onnx           the float32 input built from that same native input, then OnnxPredictor.predict
    onnx session   OnnxPredictor.predict on an input prepared beforehand (what a server holding arrays pays)

onnxruntime runs one intra-op thread on the CPU provider, like the boosters. The three are timed in turn within
each repetition, so load from other processes falls on all of them alike; medians over the repetitions. The largest
absolute difference between native and ONNX probabilities (priced rows) is reported beside the timings. Usage:
`python benchmarks/onnx_inference.py [--data-dir DIR] [--markdown FILE] [--single-reps N] [--batch-reps N]`.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from machine import machine

from matchday.config import load_settings
from matchday.evaluation.dataset import dataset_from_files
from matchday.features.moments import Moment
from matchday.integrations.onnx_export import (
    OnnxPredictor,
    booster_input,
    booster_to_onnx,
    stack_input,
    stack_to_onnx,
)
from matchday.models.base import without_results
from matchday.models.boosters import BoosterModel, booster_model
from matchday.models.stack import StackModel

REPO_ROOT = Path(__file__).resolve().parents[1]
FIRST_PRICED = 2020
LAST_SEASON = 2022
BATCH = 1000
STACK_CALIBRATIONS = ("dirichlet", "isotonic")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Case:
    """One model at one batch size: the three ways to get its probabilities."""

    model: str
    rows: int
    native: Callable[[], FloatArray]
    onnx: Callable[[], FloatArray]
    session: Callable[[], FloatArray]


@dataclass(frozen=True)
class Timing:
    case: Case
    native_us: float
    onnx_us: float
    session_us: float
    max_diff: float


def time_case(case: Case, reps: int) -> Timing:
    native, onnx = case.native(), case.onnx()
    priced = ~np.isnan(native).all(axis=1)
    max_diff = float(np.abs(native[priced] - onnx[priced]).max()) if priced.any() else 0.0
    for _ in range(max(reps // 20, 5)):  # warm-up: caches, lazily built kernels
        case.native(), case.onnx(), case.session()
    samples = np.empty((reps, 3))
    clock = time.perf_counter_ns
    for rep in range(reps):
        for column, call in enumerate((case.native, case.onnx, case.session)):
            began = clock()
            call()
            samples[rep, column] = clock() - began
    native_us, onnx_us, session_us = np.median(samples, axis=0) / 1000.0
    return Timing(case, float(native_us), float(onnx_us), float(session_us), max_diff)


def onnx_from_frame(predictor: OnnxPredictor, frame: pd.DataFrame, features: list[str]) -> FloatArray:
    return predictor.predict(booster_input(frame, features))


def onnx_from_bases(predictor: OnnxPredictor, bases: dict[str, FloatArray], names: list[str]) -> FloatArray:
    return predictor.predict(stack_input(bases, names))


def booster_cases(model: BoosterModel, rows: pd.DataFrame) -> list[Case]:
    predictor = OnnxPredictor(booster_to_onnx(model), providers=["CPUExecutionProvider"], n_threads=1)
    cases = []
    for frame in (rows.iloc[[0]], rows.iloc[:BATCH]):
        x = booster_input(frame, model.features)
        cases.append(
            Case(
                model.name,
                len(frame),
                partial(model.predict, frame),
                partial(onnx_from_frame, predictor, frame, model.features),
                partial(predictor.predict, x),
            )
        )
    return cases


def stack_cases(stack: StackModel, bases: dict[str, FloatArray]) -> list[Case]:
    predictor = OnnxPredictor(stack_to_onnx(stack), providers=["CPUExecutionProvider"], n_threads=1)
    cases = []
    first_priced = int(np.flatnonzero(~np.isnan(stack.predict(bases)).all(axis=1))[0])
    for index in (slice(first_priced, first_priced + 1), slice(0, BATCH)):
        part = {name: prediction[index] for name, prediction in bases.items()}
        x = stack_input(part, stack.base_names)
        cases.append(
            Case(
                f"stack ({stack.chosen_calibration})",
                len(x),
                partial(stack.predict, part),
                partial(onnx_from_bases, predictor, part, stack.base_names),
                partial(predictor.predict, x),
            )
        )
    return cases


def versions() -> str:
    packages = ("numpy", "xgboost", "lightgbm", "onnx", "onnxmltools", "onnxruntime")
    return ", ".join([f"Python {platform.python_version()}", *(f"{name} {version(name)}" for name in packages)])


def markdown(timings: list[Timing], header: list[str]) -> str:
    lines = [
        "## ONNX Runtime inference (`benchmarks/onnx_inference.py`)",
        "",
        *header,
        "",
        "| model | rows | native | ONNX (input built from the native input) | ONNX session only | native / ONNX "
        "| native / session | max abs diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.case.model} | {t.case.rows:,} | {t.native_us:,.1f} µs | {t.onnx_us:,.1f} µs | "
            f"{t.session_us:,.1f} µs | {t.native_us / t.onnx_us:.1f}x | {t.native_us / t.session_us:.1f}x | "
            f"{t.max_diff:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = load_settings().data_dir or REPO_ROOT.parent / "shared" / "data"
    parser.add_argument("--data-dir", type=Path, default=default_dir, help="folder with football-data/")
    parser.add_argument("--markdown", type=Path, help="also write the results as a markdown section here")
    parser.add_argument("--single-reps", type=int, default=2000, help="repetitions of each single-row timing")
    parser.add_argument("--batch-reps", type=int, default=200, help="repetitions of each 1,000-row timing")
    args = parser.parse_args()

    started = datetime.now(UTC)
    header = [
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}.",
        versions() + ".",
    ]
    dataset, _ = dataset_from_files(args.data_dir, ["E0"], FIRST_PRICED, LAST_SEASON)
    history = dataset[dataset["season"] < FIRST_PRICED]
    priced = dataset[dataset["season"] >= FIRST_PRICED].reset_index(drop=True)
    rows = without_results(priced)
    if len(rows) < BATCH:
        raise SystemExit(f"only {len(rows)} E0 matches in {FIRST_PRICED}-{LAST_SEASON}; the batch needs {BATCH}")

    boosters = []
    for library in ("xgboost", "lightgbm"):
        model = booster_model(library, Moment.OPEN)
        model.fit(history)
        boosters.append(model)
    header.append(
        f"Boosters fitted on {len(history):,} E0 matches before {FIRST_PRICED}-{(FIRST_PRICED + 1) % 100:02d} "
        f"({len(boosters[0].features)} features; "
        + ", ".join(f"{model.name} {model.best_rounds} rounds" for model in boosters)
        + "); one thread for the native libraries and for onnxruntime (CPU provider)."
    )

    bases: dict[str, FloatArray] = {model.name: model.predict(rows) for model in boosters}
    for book in ("pinnacle", "avg"):
        bases[book] = rows[[f"open_{book}_{o}" for o in "hda"]].to_numpy(dtype=np.float64)
    bases["pinnacle"][::7] = np.nan
    bases["avg"][::5] = np.nan
    for prediction in bases.values():
        prediction[::35] = np.nan
    stacks = []
    for calibration in STACK_CALIBRATIONS:
        stack = StackModel(list(bases), calibration=calibration, name=f"stack_{calibration}")
        stack.fit(bases, priced["outcome"].to_numpy(dtype=np.int64))
        stacks.append(stack)
    header.append(
        f"Stacks: log-linear pool over {', '.join(bases)} (K = {len(bases)}), calibrators "
        f"{', '.join(STACK_CALIBRATIONS)}; the single stack row is one every base priced. Medians of "
        f"{args.single_reps:,} repetitions (single row) and {args.batch_reps:,} (1,000 rows)."
    )

    cases = [case for model in boosters for case in booster_cases(model, rows)]
    cases += [case for stack in stacks for case in stack_cases(stack, bases)]
    timings = [time_case(case, args.single_reps if case.rows == 1 else args.batch_reps) for case in cases]
    section = markdown(timings, header)
    print(section)
    if args.markdown:
        args.markdown.write_text(section)


if __name__ == "__main__":
    main()
