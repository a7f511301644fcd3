"""The retraining cooldown, and served quality scored against the market on the same settled matches."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.metrics import log_loss, mean_rps
from matchday.monitoring.check import window_end
from matchday.monitoring.drift_config import RetrainPolicy
from matchday.monitoring.quality import served_quality, settle
from matchday.monitoring.records import TriggerRecord
from matchday.monitoring.retrain import decide, pipeline_args

AT = datetime(2022, 10, 1, 12)


def _launched(at: datetime) -> TriggerRecord:
    return TriggerRecord(id=7, drift_check_id=3, triggered_at=at, status="launched", launcher="local", detail="")


def test_the_first_drift_launches() -> None:
    assert decide(None, AT, RetrainPolicy()).launch


def test_drift_within_the_cooldown_is_held_back_naming_the_training() -> None:
    decision = decide(_launched(AT - timedelta(days=6, hours=23)), AT, RetrainPolicy(cooldown=timedelta(days=7)))
    assert not decision.launch
    assert "training #7" in decision.reason and "next after 2022-10-01T13:00:00" in decision.reason
    assert decide(_launched(AT - timedelta(days=7)), AT, RetrainPolicy(cooldown=timedelta(days=7))).launch


def test_retraining_can_be_switched_off() -> None:
    decision = decide(None, AT, RetrainPolicy(enabled=False))
    assert not decision.launch and "disabled" in decision.reason


def test_the_pipeline_runs_with_the_policy_s_arguments() -> None:
    policy = RetrainPolicy(leagues=("E0", "D1"), seasons="2019-2022", model="xgboost")
    assert pipeline_args(policy) == ["--league", "E0", "--league", "D1", "--seasons", "2019-2022", "--model", "xgboost"]


def _served() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "competition": ["E0", "E0", "E0", "E0"],
            "home_team": ["Arsenal", "Everton", "Fulham", "Leeds"],
            "away_team": ["Chelsea", "Spurs", "Wolves", "Brighton"],
            "kickoff": pd.to_datetime(["2022-10-01 15:00", "2022-10-01 17:30", "2022-10-02 14:00", "2030-01-01 15:00"]),
            "p_home": [0.5, 0.3, 0.4, 0.4],
            "p_draw": [0.3, 0.3, 0.3, 0.3],
            "p_away": [0.2, 0.4, 0.3, 0.3],
        }
    )


RESULTS = pd.DataFrame(
    {
        "match_id": [11, 12, 13],
        "competition": ["E0", "E0", "E0"],
        "home_team": ["Arsenal", "Everton", "Fulham"],
        "away_team": ["Chelsea", "Spurs", "Wolves"],
        "match_date": pd.to_datetime(["2022-10-01", "2022-10-01", "2022-10-02"]),
        "home_goals": [2, 1, 0],
        "away_goals": [0, 1, 3],
    }
)


def test_settled_rows_get_their_match_and_outcome_and_unplayed_ones_wait() -> None:
    settled = settle(_served(), RESULTS)
    assert settled["match_id"].tolist() == [11, 12, 13]
    assert settled["outcome"].tolist() == [0, 1, 2]


def test_quality_is_scored_beside_the_market_on_the_same_matches() -> None:
    settled = settle(_served(), RESULTS)
    market = pd.DataFrame(
        {
            "open_pinnacle_h": [0.45, 0.35, 0.40], "open_pinnacle_d": [0.30, 0.30, 0.30],
            "open_pinnacle_a": [0.25, 0.35, 0.30], "close_pinnacle_h": [0.55, 0.30, np.nan],
            "close_pinnacle_d": [0.25, 0.35, np.nan], "close_pinnacle_a": [0.20, 0.35, np.nan],
        },
        index=pd.Index([11, 12, 13], name="match_id"),
    )  # fmt: skip
    quality = served_quality(settled, market)
    assert quality.settled == 2  # match 13 has no closing price: left out of every figure
    served = np.array([[0.5, 0.3, 0.2], [0.3, 0.3, 0.4]])
    close = np.array([[0.55, 0.25, 0.20], [0.30, 0.35, 0.35]])
    assert quality.rps["served"] == pytest.approx(mean_rps(served, [0, 1]))
    assert quality.rps["pinnacle_close"] == pytest.approx(mean_rps(close, [0, 1]))
    assert quality.log_loss["served"] == pytest.approx(log_loss(served, [0, 1]))
    assert quality.rps_gap == pytest.approx(quality.rps["served"] - quality.rps["pinnacle_close"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2023-05-28", datetime(2023, 5, 28)), ("2023-05-28T12:30:00", datetime(2023, 5, 28, 12, 30)),
     ("2023-05-28T12:30:00+02:00", datetime(2023, 5, 28, 10, 30)),
     ("2023-05-28T01:00:00-03:00", datetime(2023, 5, 28, 4))],
)  # fmt: skip
def test_a_window_end_is_naive_utc_as_the_store_keeps_times(text: str, expected: datetime) -> None:
    assert window_end(text) == expected
