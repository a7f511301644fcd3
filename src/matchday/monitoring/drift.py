"""Feature and prediction drift of served traffic against a model's training reference, computed by Evidently.

`compute_drift(reference, current, config)` runs one Evidently report (0.7 API: `Report`, `Dataset`,
`DataDefinition`, a `ValueDrift` per column and test: each numeric model input for drift and for a gross shift, the
categorical identity columns, the three probabilities) and reads its figures back into a typed `DriftResult`: a
score per column, which drifted, the share of drifted features, and a verdict with its reasons. The report itself
comes back too, so the caller can save its HTML.

Reference: `mlflow_registry.load_reference` (pre-kickoff feature rows and the model's out-of-sample probabilities).
Current: `matchday.monitoring.served.served_frame`, one row per fixture (`latest_per_fixture`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.report import Snapshot
from evidently.metrics import ValueDrift

from matchday.monitoring.drift_config import DriftConfig

__all__ = [
    "KEY_COLUMNS",
    "PROBABILITY_COLUMNS",
    "ColumnDrift",
    "DriftOutcome",
    "DriftResult",
    "Verdict",
    "compute_drift",
    "latest_per_fixture",
]

PROBABILITY_COLUMNS = ("p_home", "p_draw", "p_away")
KEY_COLUMNS = ("competition", "home_team", "away_team")
# Columns of the reference snapshot or the served log that are bookkeeping, never model inputs.
_NOT_FEATURES = frozenset(
    {"match_id", "kickoff", "season", "request_id", "served_at", "model_version", "variant", "latency_ms"}
)
_FIXTURE_KEYS = ["model_version", "competition", "home_team", "away_team", "kickoff"]
Verdict = Literal["drift", "ok", "insufficient"]
ColumnKind = Literal["feature", "shift", "categorical", "prediction"]


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: ColumnKind
    method: str
    threshold: float
    score: float  # a p-value or a distance, as `method` gives it (NaN: the test had no answer)
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    verdict: Verdict
    reasons: tuple[str, ...]
    reference_rows: int
    current_rows: int
    feature_share: float  # share of the tested feature columns that drifted
    columns: tuple[ColumnDrift, ...]
    unavailable: tuple[str, ...]  # model inputs with no value on one side (nothing to test)
    current_means: dict[str, float] = field(default_factory=dict)  # of the probabilities
    reference_means: dict[str, float] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return self.verdict == "drift"

    def of_kind(self, kind: ColumnKind) -> list[ColumnDrift]:
        return [column for column in self.columns if column.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftOutcome:
    result: DriftResult
    snapshot: Snapshot | None  # None when there was too little served traffic to run a report


def latest_per_fixture(served: pd.DataFrame) -> pd.DataFrame:
    """The latest served prediction of each fixture and version: repeated requests for one match are one draw
    from the fixture distribution, not many (see monitoring/drift.yaml, `dedupe_fixtures`)."""
    keys = [key for key in _FIXTURE_KEYS if key in served.columns]
    ordered = served.sort_values("served_at", kind="stable") if "served_at" in served.columns else served
    return ordered.drop_duplicates(keys, keep="last").reset_index(drop=True)


def _numeric_inputs(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(tested, unavailable): the model's numeric inputs both sides carry, and those one side has no value of."""
    candidates = [
        column
        for column in reference.columns
        if column not in _NOT_FEATURES and column not in KEY_COLUMNS and column not in PROBABILITY_COLUMNS
    ]
    tested, unavailable = [], []
    for column in candidates:
        has_both = column in current.columns and reference[column].notna().sum() >= 2
        if has_both and current[column].notna().sum() >= 2:
            tested.append(column)
        else:
            unavailable.append(column)
    return tested, unavailable


def _frame(source: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    data: dict[str, pd.Series[Any]] = {column: source[column].astype("float64") for column in numeric}
    data |= {column: source[column].astype("string").fillna("<none>") for column in categorical}
    return pd.DataFrame(data, index=source.index)


def _report(config: DriftConfig, features: list[str], categorical: list[str]) -> Report:
    # One ValueDrift per column and test, not the DataDriftPreset: the preset renders its summary by running
    # Evidently's legacy drift metrics over every column again, a third of the report's time on 10,000 rows.
    metrics: list[Any] = [
        ValueDrift(column=column, method=config.features.method, threshold=config.features.threshold)
        for column in features
    ]
    metrics += [
        ValueDrift(column=column, method=config.shift.method, threshold=config.shift.threshold) for column in features
    ]
    metrics += [
        ValueDrift(column=column, method=config.categorical.method, threshold=config.categorical.threshold)
        for column in categorical
    ]
    metrics += [
        ValueDrift(column=column, method=config.predictions.method, threshold=config.predictions.threshold)
        for column in PROBABILITY_COLUMNS
    ]
    return Report(metrics)


def _scores(snapshot: Snapshot) -> dict[tuple[str, str], float]:
    """Each ValueDrift's score by (column, method)."""
    scores: dict[tuple[str, str], float] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if str(config.get("type", "")).endswith(":ValueDrift"):
            value = metric["value"]
            scores[str(config["column"]), str(config["method"])] = math.nan if value is None else float(value)
    return scores


def _columns(
    scores: dict[tuple[str, str], float], config: DriftConfig, features: list[str], categorical: list[str]
) -> tuple[ColumnDrift, ...]:
    kinds: list[tuple[ColumnKind, Any, Sequence[str]]] = [
        ("feature", config.features, features),
        ("shift", config.shift, features),
        ("categorical", config.categorical, categorical),
        ("prediction", config.predictions, PROBABILITY_COLUMNS),
    ]
    return tuple(
        ColumnDrift(
            column=column,
            kind=kind,
            method=test.method,
            threshold=test.threshold,
            score=scores[column, test.method],
            drifted=not math.isnan(scores[column, test.method]) and test.drifted(scores[column, test.method]),
        )
        for kind, test, columns in kinds
        for column in columns
    )


def _verdict(columns: tuple[ColumnDrift, ...], config: DriftConfig) -> tuple[Verdict, tuple[str, ...], float]:
    features = [c for c in columns if c.kind == "feature"]
    share = sum(c.drifted for c in features) / len(features) if features else 0.0
    reasons = []
    if features and share >= config.features.drift_share:
        reasons.append(f"{share:.0%} of {len(features)} features drifted (threshold {config.features.drift_share:.0%})")
    reasons += [
        f"{c.column} moved {c.score:.3g} reference standard deviations ({c.method}; a unit or format change?)"
        for c in columns
        if c.kind == "shift" and c.drifted
    ]
    reasons += [
        f"{c.column} drifted ({c.method} {c.score:.3g})" for c in columns if c.kind == "categorical" and c.drifted
    ]
    drifted_predictions = [c.column for c in columns if c.kind == "prediction" and c.drifted]
    if len(drifted_predictions) >= config.predictions.min_columns:
        reasons.append(f"predictions drifted: {', '.join(drifted_predictions)}")
    return ("drift" if reasons else "ok"), tuple(reasons), share


def compute_drift(reference: pd.DataFrame, current: pd.DataFrame, config: DriftConfig) -> DriftOutcome:
    """Drift of `current` (served rows: the model's input columns and p_home/p_draw/p_away) against `reference`
    (the version's snapshot). Fewer than `config.min_rows` current rows: verdict "insufficient", no report."""
    missing = [c for c in PROBABILITY_COLUMNS if c not in reference.columns or c not in current.columns]
    if missing:
        raise ValueError(f"drift needs the probability column(s) {', '.join(missing)} on both sides")
    features, unavailable = _numeric_inputs(reference, current)
    categorical = [c for c in config.categorical.columns if c in reference.columns and c in current.columns]
    means = {c: float(current[c].mean()) for c in PROBABILITY_COLUMNS} if len(current) else {}
    reference_means = {c: float(reference[c].mean()) for c in PROBABILITY_COLUMNS}
    if len(current) < config.min_rows:
        reason = f"{len(current)} served fixtures in the window, fewer than min_rows={config.min_rows}"
        result = DriftResult(
            "insufficient", (reason,), len(reference), len(current), 0.0, (), tuple(unavailable), means, reference_means
        )
        return DriftOutcome(result, None)
    numeric = [*features, *PROBABILITY_COLUMNS]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = _report(config, features, categorical).run(
        current_data=Dataset.from_pandas(_frame(current, numeric, categorical), data_definition=definition),
        reference_data=Dataset.from_pandas(_frame(reference, numeric, categorical), data_definition=definition),
    )
    columns = _columns(_scores(snapshot), config, features, categorical)
    verdict, reasons, share = _verdict(columns, config)
    result = DriftResult(
        verdict, reasons, len(reference), len(current), share, columns, tuple(unavailable), means, reference_means
    )
    return DriftOutcome(result, snapshot)
