"""Evidently drift on samples whose truth is known: the same distribution stays quiet, a shifted one, a new
league or shifted predictions alert, too little traffic gives no verdict, repeated requests count once."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from matchday.monitoring.drift import compute_drift, latest_per_fixture
from matchday.monitoring.drift_config import DriftConfig

FEATURES = ["elo_diff", "home_form_points", "away_form_points", "open_pinnacle_h", "open_pinnacle_a"]

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's divide-by-zero on constant samples


def _rows(n: int, seed: int, *, shift: float = 0.0, league: str = "E0") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(shift, 1.0, n) for name in FEATURES})
    logits = np.column_stack([frame["elo_diff"] * 0.3, np.zeros(n), -frame["elo_diff"] * 0.3])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame[["p_home", "p_draw", "p_away"]] = probs
    frame.insert(0, "competition", league)
    frame.insert(1, "home_team", [f"team{i % 20}" for i in range(n)])
    frame.insert(2, "away_team", [f"team{(i + 7) % 20}" for i in range(n)])
    frame.insert(3, "kickoff", pd.Timestamp("2022-08-01") + pd.to_timedelta(np.arange(n), unit="h"))
    return frame


REFERENCE = _rows(400, seed=1)


def test_the_same_distribution_is_no_drift() -> None:
    outcome = compute_drift(REFERENCE, _rows(120, seed=2), DriftConfig())
    result = outcome.result
    assert result.verdict == "ok", result.reasons
    assert result.feature_share < 0.5
    assert {c.column for c in result.of_kind("feature")} == set(FEATURES)
    assert outcome.snapshot is not None
    assert result.current_means["p_home"] == pytest.approx(result.reference_means["p_home"], abs=0.03)


def test_shifted_features_and_predictions_drift() -> None:
    result = compute_drift(REFERENCE, _rows(120, seed=3, shift=1.0), DriftConfig()).result
    assert result.verdict == "drift"
    assert result.feature_share == 1.0
    assert all(c.drifted for c in result.of_kind("feature"))
    assert any("features drifted" in reason for reason in result.reasons)
    assert any(reason.startswith("predictions drifted") for reason in result.reasons)


def test_a_league_the_model_never_saw_drifts_on_its_own() -> None:
    result = compute_drift(REFERENCE, _rows(60, seed=4, league="D1"), DriftConfig()).result
    assert result.verdict == "drift"
    [competition] = result.of_kind("categorical")
    assert competition.column == "competition" and competition.drifted and competition.method == "jensenshannon"
    assert result.reasons == ("competition drifted (jensenshannon 0.833)",)


def test_too_little_traffic_gives_no_verdict() -> None:
    config = DriftConfig()
    outcome = compute_drift(REFERENCE, _rows(config.min_rows - 1, seed=5, shift=3.0), config)
    assert outcome.result.verdict == "insufficient" and outcome.snapshot is None
    assert str(config.min_rows) in outcome.result.reasons[0]


def test_a_model_input_with_no_served_value_is_reported_not_tested() -> None:
    current = _rows(60, seed=6)
    current["open_pinnacle_a"] = np.nan
    result = compute_drift(REFERENCE, current, DriftConfig()).result
    assert result.unavailable == ("open_pinnacle_a",)
    assert "open_pinnacle_a" not in {c.column for c in result.columns}


def test_probabilities_are_required() -> None:
    with pytest.raises(ValueError, match="p_draw"):
        compute_drift(REFERENCE, _rows(60, seed=7).drop(columns=["p_draw"]), DriftConfig())


def test_repeated_requests_for_one_fixture_count_once_the_latest_kept() -> None:
    at = datetime(2022, 8, 1, 12)
    served = pd.DataFrame(
        {
            "served_at": [at, at + timedelta(hours=1), at + timedelta(hours=2), at],
            "model_version": ["1", "1", "1", "2"],
            "competition": ["E0"] * 4,
            "home_team": ["Arsenal", "Arsenal", "Arsenal", "Arsenal"],
            "away_team": ["Chelsea"] * 4,
            "kickoff": [datetime(2022, 8, 6, 15)] * 4,
            "p_home": [0.40, 0.45, 0.50, 0.41],
        }
    )
    kept = latest_per_fixture(served.sample(frac=1.0, random_state=0))
    assert sorted(zip(kept["model_version"], kept["p_home"], strict=True)) == [("1", 0.50), ("2", 0.41)]


def test_traffic_of_one_repeated_fixture_would_alarm_without_dedupe() -> None:
    # Why dedupe_fixtures defaults to true: 200 requests for one match are one draw of the fixture
    # distribution; counted 200 times, every column's test is significant.
    one = _rows(1, seed=8)
    repeated = pd.concat([one] * 200, ignore_index=True)
    assert compute_drift(REFERENCE, repeated, DriftConfig()).result.verdict == "drift"
    deduped = latest_per_fixture(repeated.assign(model_version="1", served_at=repeated["kickoff"]))
    assert compute_drift(REFERENCE, deduped, DriftConfig()).result.verdict == "insufficient"
