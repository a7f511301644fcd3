"""The promotion gate: does a newly trained bundle (the challenger) replace the one serving (the champion)?

Both are judged on their walk-forward predictions, out of sample by construction, on the matches both priced.
A lower mean RPS is not enough: the 95% paired bootstrap interval of (challenger - champion) per-match RPS must
lie wholly below 0, so a retrain that is better only by the noise of one season never moves the champion. With
no champion yet, the bar is the base-rate forecast (the league's home/draw/away frequencies of past seasons):
a model that cannot beat it has learnt nothing worth serving. The statistics are those of the evaluation report
(`matchday.evaluation.report.paired_comparisons`: moving blocks of one refit period, matches in kick-off order),
so the gate and the report never disagree about the same comparison.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.evaluation.metrics import N_OUTCOMES, validate_forecasts
from matchday.evaluation.report import ALL, PREDICTION_COLUMNS, PROB_COLUMNS, common_matches, paired_comparisons

__all__ = ["BASE_RATE", "CHALLENGER", "CHAMPION", "GateDecision", "base_rate", "decide"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

CHALLENGER = "challenger"
CHAMPION = "champion"
BASE_RATE = "base_rate"
_MIN_MATCHES = 2  # a paired interval needs two matches


@dataclass(frozen=True, slots=True)
class GateDecision:
    """`n` common matches; `mean_difference` and the interval are of challenger minus reference RPS (negative:
    the challenger is better); `reference` is "champion" or "base_rate". The interval is NaN below two matches."""

    promote: bool
    reason: str
    n: int
    rps_challenger: float
    rps_reference: float
    mean_difference: float
    ci_lower: float
    ci_upper: float
    reference: str


def base_rate(dataset: pd.DataFrame, before_season: int) -> FloatArray:
    """Home, draw and away frequencies of the matches of seasons before `before_season`: the forecast that knows
    only the league's long-run mix, from data the evaluated seasons could have been predicted with."""
    for column in ("season", "outcome"):
        if column not in dataset.columns:
            raise ValueError(f"the dataset lacks column {column!r}")
    past = dataset.loc[dataset["season"] < before_season, "outcome"].to_numpy()
    if len(past) == 0:
        raise ValueError(f"no match before season {before_season} to take the base rate from")
    _, outcomes = validate_forecasts(np.full((len(past), N_OUTCOMES), 1.0 / N_OUTCOMES), past)
    counts = np.bincount(outcomes, minlength=N_OUTCOMES).astype(np.float64)
    rates: FloatArray = counts / counts.sum()
    return rates


def _one_model(table: pd.DataFrame, role: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"the {role}'s predictions must be a pandas DataFrame, got {type(table).__name__}")
    missing = [column for column in PREDICTION_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"the {role}'s predictions lack column(s) {', '.join(missing)}")
    models = [str(name) for name in pd.unique(table["model"])]
    if len(models) != 1:
        raise ValueError(f"the {role}'s predictions must hold one model's rows, got {models}")
    # Renamed to the role: a challenger and champion of the same name (a retrained "stack") must stay apart.
    return table.loc[:, list(PREDICTION_COLUMNS)].assign(model=role)


def _base_rate_rows(challenger: pd.DataFrame, rate: npt.ArrayLike) -> pd.DataFrame:
    probs = np.asarray(rate, dtype=np.float64)
    if probs.shape != (N_OUTCOMES,):
        raise ValueError(f"base_rate must be (home, draw, away) frequencies of shape (3,), got shape {probs.shape}")
    validate_forecasts(probs[None, :], np.zeros(1, dtype=np.int64))
    rows = challenger.assign(model=BASE_RATE)
    rows[list(PROB_COLUMNS)] = np.tile(probs, (len(rows), 1))
    return rows


def _reason(model: str, reference: str, row: pd.Series[Any], promote: bool, n: int) -> str:
    figures = (
        f"{model} RPS {row['rps']:.4f} vs {reference} {row['rps_reference']:.4f} on {n} matches, "
        f"difference {row['mean_difference']:+.4f} (95% CI {row['ci_lower']:+.4f} to {row['ci_upper']:+.4f})"
    )
    if promote:
        return f"{figures}: better beyond the noise, promote"
    if row["mean_difference"] >= 0.0:
        return f"{figures}: not better, keep the {reference}"
    return f"{figures}: better on average but the interval reaches 0, keep the {reference}"


def decide(
    challenger: pd.DataFrame,
    champion: pd.DataFrame | None,
    base_rate: npt.ArrayLike,
    model: str = CHALLENGER,
    n_resamples: int = 2000,
    seed: int = 0,
) -> GateDecision:
    """Whether to promote the challenger. `challenger` and `champion` are walk-forward prediction tables of one
    model each (`PREDICTION_COLUMNS`), compared on the matches both priced; without a champion the challenger
    faces `base_rate` on its own priced matches. `model` names the challenger in the reason. Promote only when
    the challenger's mean RPS is lower and the paired bootstrap interval of the difference lies below 0.
    ValueError when the two share no priced match or disagree about a match's facts."""
    ours = _one_model(challenger, CHALLENGER)
    if champion is not None:
        reference, theirs = CHAMPION, _one_model(champion, CHAMPION)
    else:
        reference, theirs = BASE_RATE, _base_rate_rows(ours, base_rate)
    table = pd.concat([ours, theirs], ignore_index=True)
    n = int(common_matches(table)["match_id"].nunique())
    if n == 0:
        raise ValueError(f"the challenger and the {reference} share no priced match: nothing to compare them on")
    comparisons = paired_comparisons(table, reference=reference, n_resamples=n_resamples, seed=seed)
    row = comparisons[(comparisons["competition"] == ALL) & (comparisons["model"] == CHALLENGER)].iloc[0]
    if n < _MIN_MATCHES:
        promote = False
        reason = f"only {n} match in common with the {reference}: too few to judge, keep the {reference}"
    else:
        promote = bool(row["rps"] < row["rps_reference"] and row["ci_upper"] < 0.0)
        reason = _reason(model, reference, row, promote, n)
    decision = GateDecision(
        promote=promote,
        reason=reason,
        n=n,
        rps_challenger=float(row["rps"]),
        rps_reference=float(row["rps_reference"]),
        mean_difference=float(row["mean_difference"]),
        ci_lower=float(row["ci_lower"]) if n >= _MIN_MATCHES else math.nan,
        ci_upper=float(row["ci_upper"]) if n >= _MIN_MATCHES else math.nan,
        reference=reference,
    )
    log.info(
        "gate.decided",
        extra={
            "model": model,
            "reference": reference,
            "promote": promote,
            "matches": n,
            "mean_difference": decision.mean_difference,
            "ci_upper": decision.ci_upper,
        },
    )
    return decision
