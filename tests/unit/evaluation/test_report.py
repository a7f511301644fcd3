"""Report of a walk-forward evaluation: common matches, metric and comparison tables, summary, plot, files, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from matchday.evaluation.calibration import expected_calibration_error
from matchday.evaluation.metrics import accuracy, brier, log_loss, mean_rps
from matchday.evaluation.report import (
    ALL,
    PREDICTION_COLUMNS,
    PROB_COLUMNS,
    common_matches,
    coverage,
    format_table,
    metrics_table,
    paired_comparisons,
    plot_reliability,
    render_markdown,
    summary,
    table_rows,
    write_report,
)

FloatArray = npt.NDArray[np.float64]
MODELS = ("dixon_coles", "stack", "pinnacle_open", "pinnacle_close")
MATCHES_PER_GROUP = 80
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _draw(truth: FloatArray, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    u = rng.random(len(truth))[:, None]
    outcomes: npt.NDArray[np.int64] = np.minimum((u > np.cumsum(truth, axis=1)).sum(axis=1), 2).astype(np.int64)
    return outcomes


def _blur(probs: FloatArray, noise: float, rng: np.random.Generator) -> FloatArray:
    """Multiplicative log-normal noise, renormalised: a forecast that is right on average but noisy."""
    noisy = probs * np.exp(noise * rng.standard_normal(probs.shape))
    out: FloatArray = noisy / noisy.sum(axis=1, keepdims=True)
    return out


def _table(matches: pd.DataFrame, forecasts: dict[str, FloatArray]) -> pd.DataFrame:
    frames = [
        matches.assign(model=model, p_home=p[:, 0], p_draw=p[:, 1], p_away=p[:, 2]) for model, p in forecasts.items()
    ]
    return pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]


def _matches(competitions: tuple[str, ...], seasons: tuple[int, ...], n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Rounds of 10 matches a week from August; a refit every 4 weeks; outcomes left to the caller."""
    rows = []
    for competition in competitions:
        for season in seasons:
            start = pd.Timestamp(f"{season}-08-10")
            for i in range(n):
                week = i // 10
                rows.append(
                    {
                        "competition": competition,
                        "season": season,
                        "match_date": start + pd.Timedelta(days=7 * week),
                        "home_team": f"T{rng.integers(20)}",
                        "away_team": f"T{rng.integers(20)}",
                        "block_start": start + pd.Timedelta(days=28 * (week // 4)),
                    }
                )
    frame = pd.DataFrame(rows)
    return frame.assign(match_id=np.arange(1, len(frame) + 1), outcome=0)


def _synthetic(seed: int = 0) -> tuple[pd.DataFrame, set[int]]:
    """2 competitions x 2 seasons x 80 matches, 4 models; pinnacle_close unpriced (NaN) for every 9th match."""
    rng = np.random.default_rng(seed)
    matches = _matches(("E0", "SP1"), (2019, 2020), MATCHES_PER_GROUP, rng)
    truth = rng.dirichlet([9.0, 5.0, 6.0], size=len(matches))
    matches["outcome"] = _draw(truth, rng)
    forecasts = {
        "dixon_coles": _blur(truth, 0.35, rng),
        "stack": _blur(truth, 0.2, rng),
        "pinnacle_open": _blur(truth, 0.1, rng),
        "pinnacle_close": truth.copy(),
    }
    unpriced = set(matches["match_id"].iloc[::9].tolist())
    table = _table(matches, forecasts)
    missing = (table["model"] == "pinnacle_close") & table["match_id"].isin(unpriced)
    table.loc[missing, list(PROB_COLUMNS)] = np.nan
    return table, unpriced


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, set[int]]:
    return _synthetic()


def _by_hand(table: pd.DataFrame, dropped: set[int], model: str, **group: object) -> dict[str, float]:
    rows = table[(table["model"] == model) & ~table["match_id"].isin(dropped)]
    for column, value in group.items():
        rows = rows[rows[column] == value]
    p = rows[list(PROB_COLUMNS)].to_numpy()
    o = rows["outcome"].to_numpy()
    return {
        "n": len(rows),
        "rps": mean_rps(p, o),
        "log_loss": log_loss(p, o),
        "brier": brier(p, o),
        "accuracy": accuracy(p, o),
        "ece": expected_calibration_error(p, o, bins=10),
    }


# --- common matches -------------------------------------------------------------------------------------------


def test_a_match_one_model_did_not_price_is_dropped_for_every_model(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, unpriced = synthetic
    common = common_matches(table)
    assert set(common["model"]) == set(MODELS)
    ids = {model: set(rows["match_id"]) for model, rows in common.groupby("model")}
    expected = set(table["match_id"]) - unpriced
    assert all(found == expected for found in ids.values())
    assert not common[list(PROB_COLUMNS)].isna().any().any()
    # Without the baseline that misses matches, nothing is dropped.
    assert common_matches(table, ["dixon_coles", "stack"])["match_id"].nunique() == table["match_id"].nunique()


def test_a_missing_row_counts_as_unpriced(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, unpriced = synthetic
    gone = int(table["match_id"].max())
    trimmed = table[~((table["match_id"] == gone) & (table["model"] == "stack"))]
    assert gone not in unpriced
    assert gone not in set(common_matches(trimmed)["match_id"])
    assert gone in set(common_matches(trimmed, ["dixon_coles", "pinnacle_open"])["match_id"])


def test_coverage_counts_priced_and_dropped_matches(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, unpriced = synthetic
    total = table["match_id"].nunique()
    cov = coverage(table).set_index("model")
    assert list(cov.index) == ["dixon_coles", "stack", "pinnacle_open", "pinnacle_close"]
    assert (cov["matches"] == total).all()
    assert cov.loc["pinnacle_close", "unpriced"] == len(unpriced)
    assert cov.loc["stack", "unpriced"] == 0
    assert (cov["common"] == total - len(unpriced)).all()
    assert cov.loc["stack", "dropped"] == len(unpriced)
    assert cov.loc["pinnacle_close", "dropped"] == 0
    assert cov.loc["pinnacle_close", "share_priced"] == pytest.approx(1 - len(unpriced) / total)


# --- metrics --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("competition", "season", "model"),
    [("E0", 2019, "stack"), ("SP1", 2020, "pinnacle_close"), ("SP1", ALL, "dixon_coles"), (ALL, ALL, "pinnacle_open")],
)
def test_metrics_equal_the_metrics_module_on_the_common_subset(
    synthetic: tuple[pd.DataFrame, set[int]], competition: str, season: int | str, model: str
) -> None:
    table, unpriced = synthetic
    metrics = metrics_table(table)
    row = metrics[(metrics["competition"] == competition) & (metrics["season"] == season) & (metrics["model"] == model)]
    assert len(row) == 1
    group = {k: v for k, v in (("competition", competition), ("season", season)) if v != ALL}
    expected = _by_hand(table, unpriced, model, **group)
    for column, value in expected.items():
        assert row[column].iloc[0] == pytest.approx(value, rel=1e-12), column


def test_metrics_table_rolls_up_competitions_and_seasons(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, unpriced = synthetic
    metrics = metrics_table(table)
    groups = list(dict.fromkeys(zip(metrics["competition"], metrics["season"], strict=True)))
    assert groups == [("E0", 2019), ("E0", 2020), ("E0", ALL), ("SP1", 2019), ("SP1", 2020), ("SP1", ALL), (ALL, ALL)]
    assert (metrics.groupby(["competition", "season"])["n"].nunique() == 1).all()
    overall = metrics[metrics["competition"] == ALL]
    assert list(overall["model"]) == list(MODELS)
    assert (overall["n"] == table["match_id"].nunique() - len(unpriced)).all()
    # The closing price is the truth here, so it should score best overall.
    assert overall.set_index("model")["rps"].idxmin() == "pinnacle_close"


def test_metrics_table_by_one_column(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, _ = synthetic
    metrics = metrics_table(table, by="season")
    assert list(metrics.columns) == ["season", "model", "n", "rps", "log_loss", "brier", "accuracy", "ece"]
    assert list(dict.fromkeys(metrics["season"])) == [2019, 2020, ALL]


# --- paired comparisons ---------------------------------------------------------------------------------------


def _expected_rps(forecast: FloatArray, truth: FloatArray) -> FloatArray:
    """E[RPS(forecast, Y)] for Y ~ truth, per match: the true score a forecaster would earn on average."""
    out = np.zeros(len(truth))
    for k in range(3):
        gap = np.cumsum(forecast, axis=1)[:, :2] - (np.arange(2) >= k)
        out += truth[:, k] * np.sum(gap**2, axis=1) / 2
    return out


def test_paired_comparison_sign_and_interval_contain_the_true_difference() -> None:
    rng = np.random.default_rng(5)
    matches = _matches(("E0",), (2019,), 2000, rng)
    truth = rng.dirichlet([3.0, 1.5, 2.0], size=len(matches))
    matches["outcome"] = _draw(truth, rng)
    vague = 0.3 * truth + 0.7 / 3  # the reference: right direction, far too timid
    table = _table(matches, {"oracle": truth, "vague": vague, "pinnacle_open": vague.copy()})
    true_difference = float(np.mean(_expected_rps(truth, truth) - _expected_rps(vague, truth)))
    assert true_difference < 0
    result = paired_comparisons(table, reference="pinnacle_open", n_resamples=2000, seed=1)
    assert list(result["competition"]) == ["E0", "E0", ALL, ALL]
    oracle = result[(result["model"] == "oracle") & (result["competition"] == ALL)].iloc[0]
    assert oracle["n"] == 2000
    assert oracle["ci_lower"] <= true_difference <= oracle["ci_upper"]
    assert oracle["mean_difference"] < 0
    assert oracle["ci_upper"] < 0
    assert oracle["share_better"] > 0.99
    assert oracle["dm_statistic"] < 0
    assert oracle["dm_p_value"] < 0.01
    assert oracle["mean_difference"] == pytest.approx(oracle["rps"] - oracle["rps_reference"])
    # Four-week refits of ten matches a week: blocks of 40 matches.
    assert oracle["block"] == 40
    same = result[(result["model"] == "vague") & (result["competition"] == ALL)].iloc[0]
    assert (same["mean_difference"], same["ci_lower"], same["ci_upper"], same["dm_p_value"]) == (0.0, 0.0, 0.0, 1.0)


def test_paired_comparisons_are_deterministic_and_take_a_block_override(
    synthetic: tuple[pd.DataFrame, set[int]],
) -> None:
    table, unpriced = synthetic
    first = paired_comparisons(table, n_resamples=300)
    pd.testing.assert_frame_equal(first, paired_comparisons(table, n_resamples=300))
    assert set(first["model"]) == {"dixon_coles", "stack", "pinnacle_close"}
    assert list(dict.fromkeys(first["competition"])) == ["E0", "SP1", ALL]
    assert (first.loc[first["competition"] == ALL, "n"] == table["match_id"].nunique() - len(unpriced)).all()
    iid = paired_comparisons(table, n_resamples=300, block=1)
    assert (iid["block"] == 1).all()
    pd.testing.assert_series_equal(iid["mean_difference"], first["mean_difference"])


# --- summary, plot, markdown, files ---------------------------------------------------------------------------


def test_summary_is_strict_json_with_the_same_matches_for_every_model(
    synthetic: tuple[pd.DataFrame, set[int]],
) -> None:
    table, unpriced = synthetic
    result = summary(table, n_resamples=200)
    decoded = json.loads(json.dumps(result, allow_nan=False))
    n = table["match_id"].nunique() - len(unpriced)
    assert decoded["common_matches"] == n
    assert decoded["seasons"] == ["2019-20", "2020-21"]
    assert {m: v["n"] for m, v in decoded["models"].items()} == dict.fromkeys(MODELS, n)
    assert decoded["models"]["pinnacle_open"]["kind"] == "market"
    assert decoded["models"]["stack"]["kind"] == "forecaster"
    metrics = metrics_table(table)
    overall = metrics[metrics["competition"] == ALL].set_index("model")
    assert decoded["models"]["stack"]["rps"] == pytest.approx(overall.loc["stack", "rps"], rel=1e-15)
    season = decoded["by_competition"]["SP1"]["seasons"]["2020-21"]
    assert len({v["n"] for v in season.values()}) == 1
    comparison = decoded["comparison"]
    assert comparison["reference"] == "pinnacle_open"
    assert set(comparison["overall"]) == {"dixon_coles", "stack", "pinnacle_close"}
    assert set(comparison["by_competition"]) == {"E0", "SP1"}
    assert summary(table, reference=None)["comparison"] is None


def test_reliability_png_is_written_and_deterministic(synthetic: tuple[pd.DataFrame, set[int]], tmp_path: Path) -> None:
    table, _ = synthetic
    first = plot_reliability(table, tmp_path / "a" / "reliability.png")
    second = plot_reliability(table, tmp_path / "b.png")
    data = first.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000
    assert data == second.read_bytes()
    with pytest.raises(ValueError, match="unknown model\\(s\\) 'elo'"):
        plot_reliability(table, tmp_path / "c.png", models=["stack", "elo"])
    with pytest.raises(ValueError, match="bins"):
        plot_reliability(table, tmp_path / "c.png", bins=0)


def test_markdown_carries_the_configuration_tables_and_sentences(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, unpriced = synthetic
    config = {"leagues": ["E0", "SP1"], "seasons": [2019, 2020], "moment": "open", "warm-up seasons": 2}
    text = render_markdown(table, "Walk-forward E0 and SP1", config, n_resamples=200)
    assert text.startswith("# Walk-forward E0 and SP1\n")
    assert "| seasons | 2019-20, 2020-21 |" in text
    assert "| moment | open |" in text
    assert "| warm-up seasons | 2 |" in text
    n = table["match_id"].nunique() - len(unpriced)
    assert f"uses the {n} matches priced by all 4 models ({len(unpriced)} of" in text
    metrics = metrics_table(table)
    stack = metrics[(metrics["competition"] == ALL) & (metrics["model"] == "stack")].iloc[0]
    reference = metrics[(metrics["competition"] == ALL) & (metrics["model"] == "pinnacle_open")].iloc[0]
    assert f"stack RPS {stack['rps']:.4f} vs Pinnacle opening {reference['rps']:.4f}: " in text
    comparison = paired_comparisons(table, n_resamples=200)
    row = comparison[(comparison["competition"] == ALL) & (comparison["model"] == "stack")].iloc[0]
    assert f"(95% CI {row['ci_lower']:+.4f} to {row['ci_upper']:+.4f})" in text
    for heading in ("## Coverage", "## Overall", "### E0", "### SP1", "## Paired comparison with Pinnacle opening"):
        assert heading in text
    assert "![Reliability of every model](reliability.png)" in text


def test_write_report_writes_the_four_files(synthetic: tuple[pd.DataFrame, set[int]], tmp_path: Path) -> None:
    table, _ = synthetic
    files = write_report(table, tmp_path / "run", "Report", {"seasons": 2019}, n_resamples=200)
    assert files.reliability.read_bytes().startswith(PNG_MAGIC)
    assert "| seasons | 2019-20 |" in files.markdown.read_text(encoding="utf-8")
    assert "](reliability.png)" in files.markdown.read_text(encoding="utf-8")
    assert json.loads(files.metrics.read_text(encoding="utf-8")) == json.loads(
        json.dumps(summary(table, n_resamples=200))
    )
    written = pd.read_csv(files.predictions)
    assert list(written.columns) == list(PREDICTION_COLUMNS)
    assert len(written) == len(table)


def test_format_table_and_rows(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, _ = synthetic
    metrics = metrics_table(table)
    headers, rows = table_rows(metrics)
    assert headers == ["competition", "season", "model", "n", "RPS", "log loss", "Brier", "accuracy", "ECE"]
    assert rows[0][:3] == ["E0", "2019-20", "dixon_coles"]
    assert rows[0][4] == f"{metrics['rps'].iloc[0]:.4f}"
    assert rows[0][7].endswith("%")
    text = format_table(metrics)
    lines = text.splitlines()
    assert len(lines) == len(metrics) + 2
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert "pinnacle_close" in text


# --- errors ---------------------------------------------------------------------------------------------------


def test_a_missing_column_is_named(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, _ = synthetic
    broken = table.drop(columns=["block_start", "p_draw"])
    for call in (common_matches, coverage, metrics_table, paired_comparisons, summary):
        with pytest.raises(ValueError, match="'p_draw', 'block_start'"):
            call(broken)
    with pytest.raises(ValueError, match="'block_start'"):
        render_markdown(table.drop(columns=["block_start"]), "t", {})


def test_an_unknown_reference_or_model_is_named(synthetic: tuple[pd.DataFrame, set[int]], tmp_path: Path) -> None:
    table, _ = synthetic
    with pytest.raises(ValueError, match="unknown reference model 'bet365_open'"):
        paired_comparisons(table, reference="bet365_open")
    with pytest.raises(ValueError, match="unknown reference model 'bet365_open'"):
        summary(table, reference="bet365_open")
    with pytest.raises(ValueError, match="unknown reference model 'bet365_open'"):
        write_report(table, tmp_path, "t", {}, reference="bet365_open")
    with pytest.raises(ValueError, match="unknown model\\(s\\) 'elo'"):
        common_matches(table, ["stack", "elo"])
    with pytest.raises(ValueError, match="'model'"):
        metrics_table(table, by=("competition", "model"))


def test_malformed_rows_are_rejected(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, _ = synthetic
    partial = table.copy()
    partial.loc[3, "p_draw"] = np.nan
    with pytest.raises(ValueError, match="all given or all NaN"):
        common_matches(partial)
    undated = table.copy()
    undated.loc[5, "match_date"] = pd.NaT
    with pytest.raises(ValueError, match="no match_date"):
        paired_comparisons(undated)
    with pytest.raises(ValueError, match="more than once"):
        common_matches(pd.concat([table, table.iloc[[0]]], ignore_index=True))
    with pytest.raises(ValueError, match="'outcome'"):
        metrics_table(table.assign(outcome=table["outcome"].astype(float)))
    unpriced = table.assign(p_home=np.nan, p_draw=np.nan, p_away=np.nan)
    with pytest.raises(ValueError, match="no match is priced by every model"):
        metrics_table(unpriced)


def test_categorical_columns_give_the_same_tables(synthetic: tuple[pd.DataFrame, set[int]]) -> None:
    table, _ = synthetic
    categorical = table.astype({"model": "category", "competition": "category"})
    expected = metrics_table(table)
    found = metrics_table(categorical)
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, check_categorical=False)
    differences = paired_comparisons(categorical, n_resamples=50)["mean_difference"]
    assert differences.tolist() == paired_comparisons(table, n_resamples=50)["mean_difference"].tolist()
