"""The report of a walk-forward evaluation: scores per model, paired comparisons with a market baseline,
reliability plots, and the files a run leaves behind (markdown, PNG, CSV, JSON).

The input is the long predictions table of `matchday.evaluation.walk_forward`, one row per (match, model) with
the columns ``PREDICTION_COLUMNS``; ``p_home``, ``p_draw``, ``p_away`` are all NaN where the model could not
price the match. Every score here is computed on the *common* matches, those priced by every model in the table
(see `common_matches`): otherwise a bookmaker without prices for the odd awkward fixture, or a model that skips a
promoted team's first games, would be ranked on easier matches than the others. `coverage` says what that cost.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from matchday.domain.match import season_label
from matchday.evaluation.calibration import expected_calibration_error, reliability_curve
from matchday.evaluation.comparison import diebold_mariano, paired_bootstrap
from matchday.evaluation.metrics import N_OUTCOMES, accuracy, brier, log_loss, mean_rps, rps
from matchday.evaluation.walk_forward import PREDICTION_COLUMNS

__all__ = [
    "ALL",
    "CONFIDENCE",
    "MARKET_BASELINES",
    "METRIC_COLUMNS",
    "PREDICTION_COLUMNS",
    "PROB_COLUMNS",
    "ReportFiles",
    "common_matches",
    "coverage",
    "display_name",
    "format_table",
    "metrics_table",
    "paired_comparisons",
    "plot_reliability",
    "render_markdown",
    "summary",
    "table_rows",
    "write_report",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PROB_COLUMNS = ("p_home", "p_draw", "p_away")
METRIC_COLUMNS = ("n", "rps", "log_loss", "brier", "accuracy", "ece")
ALL = "all"  # the group label of the rows that pool every value of a grouping column
CONFIDENCE = 0.95
ECE_BINS = 10
_FIRST_YEAR, _LAST_YEAR = 1850, 2200
# Bookmaker probabilities with the overround removed: the baselines a forecaster is measured against.
MARKET_BASELINES: Mapping[str, str] = {
    "pinnacle_open": "Pinnacle opening",
    "pinnacle_close": "Pinnacle closing",
    "market_avg_open": "market average opening",
    "market_avg_close": "market average closing",
}
_OUTCOME_NAMES = ("home win", "draw", "away win")
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
_COUNT_COLUMNS = frozenset({"n", "matches", "priced", "unpriced", "common", "dropped", "block"})
_FORMATS: Mapping[str, str] = {
    **dict.fromkeys(("rps", "rps_reference", "log_loss", "brier", "ece"), "{:.4f}"),
    **dict.fromkeys(("mean_difference", "ci_lower", "ci_upper"), "{:+.4f}"),
    **dict.fromkeys(("accuracy", "share_better", "share_priced"), "{:.1%}"),
    "dm_statistic": "{:+.2f}",
}
_HEADERS: Mapping[str, str] = {
    "rps": "RPS",
    "rps_reference": "RPS ref",
    "log_loss": "log loss",
    "brier": "Brier",
    "ece": "ECE",
    "mean_difference": "diff",
    "ci_lower": "CI low",
    "ci_upper": "CI high",
    "share_better": "better in",
    "share_priced": "priced share",
    "dm_statistic": "DM",
    "dm_p_value": "DM p",
}


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """The files `write_report` wrote."""

    markdown: Path
    reliability: Path
    predictions: Path
    metrics: Path


def display_name(model: str) -> str:
    """'pinnacle_open' -> 'Pinnacle opening'; a forecaster keeps its own name."""
    return MARKET_BASELINES.get(model, model)


# --- validation and selection ---------------------------------------------------------------------------------


def _validated(predictions: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(predictions, pd.DataFrame):
        raise ValueError(f"predictions must be a pandas DataFrame, got {type(predictions).__name__}")
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lacks column(s) {', '.join(map(repr, missing))}")
    outcome = predictions["outcome"]
    if outcome.isna().any() or not pd.api.types.is_integer_dtype(outcome) or pd.api.types.is_bool_dtype(outcome):
        raise ValueError(f"column 'outcome' must hold integer codes 0, 1, 2 with no gaps, got dtype {outcome.dtype}")
    # Comparisons put matches in kick-off order, and a missing date would silently drop the match there.
    if predictions["match_date"].isna().any():
        row = predictions[predictions["match_date"].isna()].iloc[0]
        raise ValueError(f"match {row['match_id']} has no match_date")
    unpriced = predictions[list(PROB_COLUMNS)].isna()
    partial = unpriced.any(axis=1) & ~unpriced.all(axis=1)
    if partial.any():
        row = predictions[partial].iloc[0]
        raise ValueError(
            f"match {row['match_id']} model {row['model']!r}: p_home, p_draw, p_away must be all given or all NaN"
        )
    duplicated = predictions.duplicated(["match_id", "model"])
    if duplicated.any():
        row = predictions[duplicated].iloc[0]
        raise ValueError(f"match {row['match_id']} model {row['model']!r} appears more than once")
    facts = predictions.groupby("match_id", observed=True)[["competition", "season", "outcome"]].nunique()
    inconsistent = facts[(facts > 1).any(axis=1)]
    if len(inconsistent):
        raise ValueError(f"match {inconsistent.index[0]} has a different competition, season or outcome per model")
    return predictions


def _models(frame: pd.DataFrame) -> list[str]:
    """Forecasters in order of first appearance, then market baselines: tables read forecaster first."""
    names = [str(m) for m in pd.unique(frame["model"])]
    return [m for m in names if m not in MARKET_BASELINES] + [m for m in names if m in MARKET_BASELINES]


def _chosen_models(frame: pd.DataFrame, models: Iterable[str] | None) -> list[str]:
    present = _models(frame)
    if models is None:
        return present
    chosen = [models] if isinstance(models, str) else list(dict.fromkeys(models))
    unknown = [m for m in chosen if m not in present]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(map(repr, unknown))}; the predictions have {present}")
    if not chosen:
        raise ValueError("models must name at least one model")
    return chosen


def _check_reference(frame: pd.DataFrame, reference: str) -> None:
    present = _models(frame)
    if reference not in present:
        raise ValueError(f"unknown reference model {reference!r}; the predictions have {present}")


def _priced(frame: pd.DataFrame) -> pd.Series[bool]:
    return frame[list(PROB_COLUMNS)].notna().all(axis=1)


def _common(frame: pd.DataFrame, models: Sequence[str]) -> pd.DataFrame:
    rows = frame[frame["model"].isin(models)]
    rows = rows[_priced(rows)]
    # No duplicate (match, model) rows passed validation, so a count of len(models) means every model priced it.
    priced_by = rows.groupby("match_id", observed=True)["model"].size()
    keep = priced_by.index[priced_by == len(models)]
    common = rows[rows["match_id"].isin(keep)]
    return common.sort_values(["match_date", "match_id", "model"], kind="stable").reset_index(drop=True)


def common_matches(predictions: pd.DataFrame, models: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows of ``models`` (default: every model in the table) for the matches that all of them priced.

    A match a model has no row for counts as unpriced by it, like a row of NaN. Sorted by date, match, model.
    """
    frame = _validated(predictions)
    return _common(frame, _chosen_models(frame, models))


def _coverage(frame: pd.DataFrame, models: Sequence[str], common: pd.DataFrame) -> pd.DataFrame:
    total = int(frame["match_id"].nunique())
    n_common = int(common["match_id"].nunique())
    priced = frame[_priced(frame)].groupby("model", observed=True)["match_id"].nunique()
    rows = []
    for model in models:
        n = int(priced.get(model, 0))
        rows.append(
            {
                "model": model,
                "matches": total,
                "priced": n,
                "unpriced": total - n,
                "share_priced": n / total if total else math.nan,
                "common": n_common,
                "dropped": n - n_common,
            }
        )
    return pd.DataFrame(rows, columns=["model", "matches", "priced", "unpriced", "share_priced", "common", "dropped"])


def coverage(predictions: pd.DataFrame, models: Iterable[str] | None = None) -> pd.DataFrame:
    """Per model: matches in the table, how many it priced and did not, and how many of its priced matches the
    common-match rule drops because another model did not price them (``dropped = priced - common``)."""
    frame = _validated(predictions)
    chosen = _chosen_models(frame, models)
    return _coverage(frame, chosen, _common(frame, chosen))


# --- scores ---------------------------------------------------------------------------------------------------


def _arrays(rows: pd.DataFrame) -> tuple[FloatArray, IntArray]:
    return rows[list(PROB_COLUMNS)].to_numpy(dtype=np.float64), rows["outcome"].to_numpy(dtype=np.int64)


def _scores(rows: pd.DataFrame) -> dict[str, float | int]:
    p, o = _arrays(rows)
    return {
        "n": len(rows),
        "rps": mean_rps(p, o),
        "log_loss": log_loss(p, o),
        "brier": brier(p, o),
        "accuracy": accuracy(p, o),
        "ece": expected_calibration_error(p, o, bins=ECE_BINS),
    }


def _group_values(frame: pd.DataFrame, column: str) -> list[object]:
    values: list[object] = sorted(pd.unique(frame[column]).tolist())
    return values


def _rollup(
    frame: pd.DataFrame, by: Sequence[str], key: tuple[object, ...], models: Sequence[str]
) -> list[dict[str, object]]:
    """Rows for every group below ``key``, each value's groups followed by the group pooling them (label ALL)."""
    rows: list[dict[str, object]] = []
    depth = len(key)
    if depth < len(by):
        column = by[depth]
        for value in _group_values(frame, column):
            rows += _rollup(frame[frame[column] == value], by, (*key, value), models)
    labels = dict(zip(by, (*key, *[ALL] * (len(by) - depth)), strict=True))
    by_model = dict(tuple(frame.groupby("model", sort=False, observed=True)))
    rows += [{**labels, "model": model, **_scores(by_model[model])} for model in models]
    return rows


def _metrics(common: pd.DataFrame, by: Sequence[str], models: Sequence[str]) -> pd.DataFrame:
    if common.empty:
        raise ValueError("no match is priced by every model; coverage() shows which models miss matches")
    rows = _rollup(common, by, (), models)
    frame = pd.DataFrame(rows, columns=[*by, "model", *METRIC_COLUMNS])
    for column in by:
        frame[column] = frame[column].astype(object)
    return frame


def _check_by(frame: pd.DataFrame, by: str | Sequence[str]) -> tuple[str, ...]:
    columns = (by,) if isinstance(by, str) else tuple(by)
    unknown = [c for c in columns if c not in frame.columns or c in ("model", *PROB_COLUMNS)]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(map(repr, unknown))}: not a column that describes a match")
    return columns


def metrics_table(predictions: pd.DataFrame, by: str | Sequence[str] = ("competition", "season")) -> pd.DataFrame:
    """Per group of ``by`` and model: n, rps, log_loss, brier, accuracy, ece (classwise, 10 uniform bins).

    Computed on the matches every model priced (`common_matches`), so within a group n is the same for all
    models. Each value of a grouping column is followed by a row pooling it with label "all" in the columns
    after it, and the table ends with the rows pooling everything (every grouping column "all"); the grouping
    columns are therefore of object dtype (e.g. season 2019, 2020, "all").
    """
    frame = _validated(predictions)
    columns = _check_by(frame, by)
    models = _models(frame)
    return _metrics(_common(frame, models), columns, models)


# --- paired comparisons ---------------------------------------------------------------------------------------

# Why a block bootstrap, not the iid one (block = 1): the per-match RPS differences between a model and the market
# are not independent. Every match predicted between two refits comes from the same fitted parameters, so a
# mis-estimated team strength or home advantage pushes the differences of a whole refit period the same way, and
# matches of one round share news (injuries, weather) that the market prices and a model does not. Resampling
# single matches treats those as independent evidence and gives too narrow an interval. So the differences are
# put in kick-off order and resampled in moving blocks as long as a refit period (median matches per model and
# refit in the group), capped at sqrt(n) so that a refit once a season still leaves enough blocks to resample.
# Diebold-Mariano uses the same length as its horizon: the same assumption about how far the correlation reaches.
# No time block captures the dependence through the same teams playing all season; the intervals remain a little
# optimistic, which matters only for differences near the edge of significance.


def _block_length(rows: pd.DataFrame, n: int) -> int:
    refits = rows.dropna(subset=["block_start"]).groupby(["model", "block_start"], observed=True).size()
    length = float(refits.median()) if len(refits) else n ** (1 / 3)
    return max(1, min(round(length), math.isqrt(n)))


def _per_match_rps(common: pd.DataFrame) -> pd.DataFrame:
    """Matches in kick-off order (ties by match id) by model: the RPS of each."""
    p, o = _arrays(common)
    scored = common.assign(rps=rps(p, o))
    table = scored.pivot_table(
        index=["match_date", "match_id"], columns="model", values="rps", aggfunc="first", observed=True
    )
    return table.sort_index()


def _comparison_rows(
    common: pd.DataFrame,
    models: Sequence[str],
    reference: str,
    label: str,
    n_resamples: int,
    seed: int,
    block: int | None,
) -> list[dict[str, object]]:
    scores = _per_match_rps(common)
    n = len(scores)
    length = _block_length(common, n) if block is None else block
    ref = scores[reference].to_numpy(dtype=np.float64)
    rows: list[dict[str, object]] = []
    for model in models:
        if model == reference:
            continue
        own = scores[model].to_numpy(dtype=np.float64)
        row: dict[str, object] = {
            "competition": label,
            "model": model,
            "reference": reference,
            "n": n,
            "block": length,
            "rps": float(np.mean(own)),
            "rps_reference": float(np.mean(ref)),
            "mean_difference": float(np.mean(own - ref)),
            "ci_lower": math.nan,
            "ci_upper": math.nan,
            "share_better": math.nan,
            "dm_statistic": math.nan,
            "dm_p_value": math.nan,
        }
        if n >= 2:
            # The same seed for every model: each is compared on the same resampled matches.
            interval = paired_bootstrap(
                own, ref, n_resamples=n_resamples, confidence=CONFIDENCE, seed=seed, block=length
            )
            dm = diebold_mariano(own, ref, horizon=min(length, n - 1))
            row |= {
                "ci_lower": interval.lower,
                "ci_upper": interval.upper,
                "share_better": interval.share_a_lower,
                "dm_statistic": dm.statistic,
                "dm_p_value": dm.p_value,
            }
        rows.append(row)
    return rows


_COMPARISON_COLUMNS = [
    "competition",
    "model",
    "reference",
    "n",
    "block",
    "rps",
    "rps_reference",
    "mean_difference",
    "ci_lower",
    "ci_upper",
    "share_better",
    "dm_statistic",
    "dm_p_value",
]


def _comparisons(
    common: pd.DataFrame, models: Sequence[str], reference: str, n_resamples: int, seed: int, block: int | None
) -> pd.DataFrame:
    if common.empty:
        raise ValueError("no match is priced by every model; coverage() shows which models miss matches")
    rows: list[dict[str, object]] = []
    for competition in _group_values(common, "competition"):
        group = common[common["competition"] == competition]
        rows += _comparison_rows(group, models, reference, str(competition), n_resamples, seed, block)
    rows += _comparison_rows(common, models, reference, ALL, n_resamples, seed, block)
    return pd.DataFrame(rows, columns=_COMPARISON_COLUMNS)


def paired_comparisons(
    predictions: pd.DataFrame,
    reference: str = "pinnacle_open",
    n_resamples: int = 2000,
    seed: int = 0,
    *,
    block: int | None = None,
) -> pd.DataFrame:
    """Every other model against ``reference`` on the common matches, per competition and overall ("all").

    Columns: n, block (bootstrap block length), rps and rps_reference, mean_difference (model minus reference:
    negative means the model is better), ci_lower / ci_upper (95% moving-block bootstrap percentile interval,
    matches in kick-off order), share_better (share of resamples where the model scored lower), dm_statistic and
    dm_p_value (Diebold-Mariano with the HLN correction, horizon = block). ``block`` overrides the block length,
    which is otherwise one refit period (see the comment above). Fewer than two matches leave the inference NaN.
    """
    frame = _validated(predictions)
    _check_reference(frame, reference)
    models = _models(frame)
    return _comparisons(_common(frame, models), models, reference, n_resamples, seed, block)


# --- analysis shared by summary, markdown and files -----------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    frame: pd.DataFrame
    models: list[str]
    common: pd.DataFrame
    coverage: pd.DataFrame
    metrics: pd.DataFrame
    comparisons: pd.DataFrame | None
    reference: str | None
    n_resamples: int


def _analyse(
    predictions: pd.DataFrame, reference: str | None, n_resamples: int, seed: int, block: int | None
) -> _Analysis:
    frame = _validated(predictions)
    if reference is not None:
        _check_reference(frame, reference)
    models = _models(frame)
    common = _common(frame, models)
    metrics = _metrics(common, ("competition", "season"), models)
    comparisons = None if reference is None else _comparisons(common, models, reference, n_resamples, seed, block)
    return _Analysis(
        frame, models, common, _coverage(frame, models, common), metrics, comparisons, reference, n_resamples
    )


def _plain(value: object) -> object:
    """A JSON-safe scalar: numpy numbers to Python ones, NaN and inf to None (strict JSON has neither)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _record(row: pd.Series[Any], columns: Iterable[str]) -> dict[str, object]:
    return {column: _plain(row[column]) for column in columns}


def _key(value: object) -> str:
    is_year = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    return season_label(int(value)) if is_year else str(value)  # type: ignore[call-overload]


def _float(value: object) -> float:
    if not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _summary(analysis: _Analysis) -> dict[str, object]:
    metrics = analysis.metrics
    overall = metrics[(metrics["competition"] == ALL) & (metrics["season"] == ALL)]
    models = {
        str(row["model"]): {"kind": "market" if row["model"] in MARKET_BASELINES else "forecaster"}
        | _record(row, METRIC_COLUMNS)
        for _, row in overall.iterrows()
    }
    by_competition: dict[str, object] = {}
    for competition in _group_values(analysis.common, "competition"):
        rows = metrics[metrics["competition"] == competition]
        seasons: dict[str, dict[str, object]] = {}
        for _, row in rows[rows["season"] != ALL].iterrows():
            seasons.setdefault(_key(row["season"]), {})[str(row["model"])] = _record(row, METRIC_COLUMNS)
        pooled = rows[rows["season"] == ALL]
        by_competition[str(competition)] = {
            "overall": {str(row["model"]): _record(row, METRIC_COLUMNS) for _, row in pooled.iterrows()},
            "seasons": seasons,
        }
    result: dict[str, object] = {
        "common_matches": int(analysis.common["match_id"].nunique()),
        "matches": int(analysis.frame["match_id"].nunique()),
        "competitions": [str(c) for c in _group_values(analysis.common, "competition")],
        "seasons": [_key(s) for s in _group_values(analysis.common, "season")],
        "models": models,
        "coverage": {
            str(row["model"]): _record(row, ["matches", "priced", "unpriced", "common", "dropped"])
            for _, row in analysis.coverage.iterrows()
        },
        "by_competition": by_competition,
        "comparison": None,
    }
    if analysis.comparisons is not None:
        fields = [c for c in _COMPARISON_COLUMNS if c not in ("competition", "model", "reference")]
        groups: dict[str, dict[str, object]] = {}
        for _, row in analysis.comparisons.iterrows():
            groups.setdefault(str(row["competition"]), {})[str(row["model"])] = _record(row, fields)
        result["comparison"] = {
            "reference": analysis.reference,
            "confidence": CONFIDENCE,
            "n_resamples": analysis.n_resamples,
            "overall": groups.pop(ALL),
            "by_competition": groups,
        }
    return result


def summary(
    predictions: pd.DataFrame,
    reference: str | None = "pinnacle_open",
    n_resamples: int = 2000,
    seed: int = 0,
    *,
    block: int | None = None,
) -> dict[str, object]:
    """What ``--json`` prints: per model (forecasters and market baselines) n, rps, log_loss, brier, accuracy, ece
    on the common matches, overall and nested per competition and season (seasons keyed "2019-20"), coverage, and
    the comparison with ``reference`` (None leaves it out). Plain ints, floats, strings; NaN and inf as null."""
    return _summary(_analyse(predictions, reference, n_resamples, seed, block))


# --- tables ---------------------------------------------------------------------------------------------------


def _cell(column: str, value: object) -> str:
    if isinstance(value, float | np.floating) and math.isnan(value):
        return "n/a"
    if column == "season":
        return _key(value)
    if column in _COUNT_COLUMNS:
        return str(int(_float(value)))
    if column == "dm_p_value":
        return "<0.001" if _float(value) < 0.001 else f"{_float(value):.3f}"
    if isinstance(value, float | np.floating):
        return _FORMATS.get(column, "{:.4g}").format(float(value))
    return display_name(value) if column == "reference" and isinstance(value, str) else str(value)


def table_rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of a table from this module, e.g. for a rich Table: scores to 4 decimals,
    differences signed, shares as percentages, seasons as "2019-20"."""
    headers = [_HEADERS.get(str(c), str(c)) for c in table.columns]
    cells = [[_cell(str(c), v) for c, v in zip(table.columns, row, strict=True)] for row in table.itertuples(False)]
    return headers, cells


def _numeric(table: pd.DataFrame) -> list[bool]:
    return [str(c) in _COUNT_COLUMNS or pd.api.types.is_float_dtype(table[c]) for c in table.columns]


def format_table(table: pd.DataFrame) -> str:
    """A table from this module (metrics, comparisons, coverage) as aligned plain text, numbers right-aligned."""
    headers, cells = table_rows(table)
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    right = _numeric(table)
    lines = []
    for row in [headers, *cells]:
        padded = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)]
        lines.append("  ".join(padded).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown_table(table: pd.DataFrame) -> str:
    headers, cells = table_rows(table)
    escape = [[c.replace("|", r"\|") for c in row] for row in [headers, *cells]]
    rule = ["---:" if r else "---" for r in _numeric(table)]
    return "\n".join("| " + " | ".join(row) + " |" for row in [escape[0], rule, *escape[1:]])


# --- reliability plot -----------------------------------------------------------------------------------------


def _reliability_panel(
    ax: Axes, counts_ax: Axes, common: pd.DataFrame, models: Sequence[str], k: int, bins: int
) -> None:
    edges = np.linspace(0.0, 1.0, bins + 1)
    ax.plot([0.0, 1.0], [0.0, 1.0], color="0.6", linestyle=":", linewidth=1.0, label="perfect calibration")
    for i, model in enumerate(models):
        p, o = _arrays(common[common["model"] == model])
        curve = reliability_curve(p, o, k, bins=bins)
        style = "--" if model in MARKET_BASELINES else "-"
        colour, marker = _PALETTE[i % len(_PALETTE)], _MARKERS[i % len(_MARKERS)]
        ax.plot(
            curve.mean_predicted,
            curve.observed_frequency,
            style,
            color=colour,
            marker=marker,
            markersize=4,
            linewidth=1.2,
            label=display_name(model),
        )
        # The calibration module's uniform binning, with the empty bins kept so the steps line up with the edges.
        index = np.clip(np.floor(p[:, k] * bins), 0, bins - 1).astype(np.int64)
        counts_ax.stairs(np.bincount(index, minlength=bins), edges, color=colour, linestyle=style, linewidth=1.2)
    ax.set_title(f"P({_OUTCOME_NAMES[k]})")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("observed frequency")
    ax.tick_params(labelbottom=False)
    ax.grid(True, color="0.92")
    counts_ax.set_xlim(0.0, 1.0)
    counts_ax.set_xlabel("predicted probability")
    counts_ax.set_ylabel("matches per bin")
    counts_ax.grid(True, color="0.92")


def plot_reliability(
    predictions: pd.DataFrame, path: str | PathLike[str], models: Iterable[str] | None = None, bins: int = 10
) -> Path:
    """A PNG of reliability curves for home win, draw and away win (one-vs-rest, ``bins`` uniform bins), one line
    per model on the matches all ``models`` priced, with the number of matches per bin under each panel.
    Byte-identical for the same input and matplotlib version (no timestamp or version in the metadata)."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    frame = _validated(predictions)
    chosen = _chosen_models(frame, models)
    common = _common(frame, chosen)
    if common.empty:
        raise ValueError("no match is priced by every model; coverage() shows which models miss matches")
    # A fixed layout rather than constrained: as readable here, and it halves the drawing time.
    figure = Figure(figsize=(15.0, 7.5), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(
        2, N_OUTCOMES, height_ratios=(3, 1), left=0.05, right=0.99, top=0.92, bottom=0.15, wspace=0.2, hspace=0.08
    )
    for k in range(N_OUTCOMES):
        ax = figure.add_subplot(grid[0, k])
        _reliability_panel(ax, figure.add_subplot(grid[1, k], sharex=ax), common, chosen, k, bins)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncols=min(len(labels), 6), frameon=False)
    n = int(common["match_id"].nunique())
    figure.suptitle(f"Reliability on the {n} matches priced by every model ({bins} bins)")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png", metadata={"Software": None})
    return target


# --- markdown and files ---------------------------------------------------------------------------------------


def _config_value(key: str, value: object) -> str:
    if "season" in key.lower():
        # Only a year is a season; "warm-up seasons: 2" is a count.
        if isinstance(value, int) and not isinstance(value, bool) and _FIRST_YEAR <= value <= _LAST_YEAR:
            return season_label(value)
        if isinstance(value, Sequence) and not isinstance(value, str):
            return ", ".join(_config_value(key, v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(str(v) for v in value)
    return str(value)


def _sentence(row: pd.Series[Any]) -> str:
    reference = display_name(str(row["reference"]))
    lower, upper = _float(row["ci_lower"]), _float(row["ci_upper"])
    text = (
        f"{display_name(str(row['model']))} RPS {_cell('rps', row['rps'])} vs {reference} "
        f"{_cell('rps', row['rps_reference'])}: {_cell('mean_difference', row['mean_difference'])}"
    )
    if math.isnan(lower):
        return f"{text} (too few matches for an interval)."
    if upper < 0.0:
        verdict = f"better than {reference}"
    elif lower > 0.0:
        verdict = f"worse than {reference}"
    else:
        verdict = "no clear difference (the interval includes 0)"
    return (
        f"{text} ({CONFIDENCE:.0%} CI {_cell('ci_lower', lower)} to {_cell('ci_upper', upper)}): {verdict}; "
        f"better in {_cell('share_better', row['share_better'])} of resamples, "
        f"Diebold-Mariano p {_cell('dm_p_value', row['dm_p_value'])}."
    )


def _data_lines(analysis: _Analysis) -> list[str]:
    frame = analysis.frame
    dates = pd.to_datetime(frame["match_date"])
    refits = frame["block_start"].dropna().nunique()
    return [
        f"- Competitions: {', '.join(str(c) for c in _group_values(frame, 'competition'))}",
        f"- Seasons: {', '.join(_key(s) for s in _group_values(frame, 'season'))}",
        f"- Matches: {frame['match_id'].nunique()}, {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}",
        f"- Refits: {refits}",
        f"- Models: {', '.join(display_name(m) for m in analysis.models)}",
    ]


def _markdown(analysis: _Analysis, title: str, config: Mapping[str, object], reliability_path: str | None) -> str:
    metrics = analysis.metrics
    n_common = int(analysis.common["match_id"].nunique())
    total = int(analysis.frame["match_id"].nunique())
    config_table = pd.DataFrame(
        [(str(k), _config_value(str(k), v)) for k, v in config.items()], columns=["setting", "value"], dtype=object
    )
    parts = [f"# {title}", "## Configuration"]
    parts += [_markdown_table(config_table)] if len(config_table) else ["(none given)"]
    parts += ["## Data", "\n".join(_data_lines(analysis))]
    parts += [
        "## Coverage",
        f"Every figure below uses the {n_common} matches priced by all {len(analysis.models)} models "
        f"({total - n_common} of {total} matches dropped).",
        _markdown_table(analysis.coverage),
    ]
    overall = metrics[(metrics["competition"] == ALL) & (metrics["season"] == ALL)]
    parts += ["## Overall", _markdown_table(overall.drop(columns=["competition", "season"]))]
    parts += ["## By competition and season"]
    for competition in _group_values(analysis.common, "competition"):
        rows = metrics[metrics["competition"] == competition].drop(columns=["competition"])
        parts += [f"### {competition}", _markdown_table(rows)]
    if analysis.comparisons is not None and analysis.reference is not None:
        comparisons = analysis.comparisons
        pooled = comparisons[comparisons["competition"] == ALL]
        parts += [
            f"## Paired comparison with {display_name(analysis.reference)}",
            f"RPS difference model minus {display_name(analysis.reference)} (negative: the model is better), "
            f"{CONFIDENCE:.0%} moving-block bootstrap interval over matches in kick-off order "
            f"({analysis.n_resamples} resamples, blocks of about one refit period) and the Diebold-Mariano test.",
            "\n".join(f"- {_sentence(row)}" for _, row in pooled.iterrows()),
            _markdown_table(comparisons.drop(columns=["reference"])),
        ]
    if reliability_path is not None:
        parts += ["## Reliability", f"![Reliability of every model]({reliability_path})"]
    return "\n\n".join(parts) + "\n"


def render_markdown(
    predictions: pd.DataFrame,
    title: str,
    config: Mapping[str, object],
    reference: str | None = "pinnacle_open",
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    block: int | None = None,
    reliability_path: str | None = "reliability.png",
) -> str:
    """The report as markdown: configuration (season keys shown as "2019-20"), the data, coverage, the overall
    and per competition/season tables, the paired comparisons with ``reference`` (None leaves them out) with a
    sentence per model, and a link to ``reliability_path`` (None leaves it out; `write_report` writes the PNG)."""
    analysis = _analyse(predictions, reference, n_resamples, seed, block)
    return _markdown(analysis, title, config, reliability_path)


def write_report(
    predictions: pd.DataFrame,
    out_dir: str | PathLike[str],
    title: str,
    config: Mapping[str, object],
    reference: str | None = "pinnacle_open",
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    block: int | None = None,
    bins: int = 10,
) -> ReportFiles:
    """Write report.md, reliability.png, predictions.csv (the full table, unpriced rows included) and
    metrics.json (`summary`) into ``out_dir``, created if needed."""
    analysis = _analyse(predictions, reference, n_resamples, seed, block)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        markdown=folder / "report.md",
        reliability=folder / "reliability.png",
        predictions=folder / "predictions.csv",
        metrics=folder / "metrics.json",
    )
    plot_reliability(analysis.frame, files.reliability, bins=bins)
    analysis.frame.to_csv(files.predictions, index=False)
    files.metrics.write_text(json.dumps(_summary(analysis), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    files.markdown.write_text(_markdown(analysis, title, config, files.reliability.name), encoding="utf-8")
    return files
