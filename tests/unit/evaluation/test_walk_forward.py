"""Walk-forward: blocks, windows and refit cadence, and above all that no forecast - a base model's or the stack's
- can depend on a result that was not known when it was made."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.dataset import outcome_codes
from matchday.evaluation.walk_forward import (
    PREDICTION_COLUMNS,
    StackSpec,
    WalkForwardConfig,
    _blocks,
    walk_forward,
)
from matchday.features.moments import Moment
from matchday.models.base import RESULT_COLUMNS, FloatArray
from matchday.models.market import MarketBaseline
from matchday.models.rating_logit import OrderedLogit

SEASONS = (2018, 2019, 2020, 2021)


def _league(seed: int = 7, teams: int = 12) -> pd.DataFrame:
    """Double round-robins, one round a week from August, with a strength-driven `rating_diff` feature and
    noisy `open_pinnacle_*` / `close_pinnacle_*` prices around the true probabilities."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 0.4, teams)
    rows = []
    match_id = 0
    for season in SEASONS:
        pairs = [(h, a) for h in range(teams) for a in range(teams) if h != a]
        rng.shuffle(pairs)
        start = pd.Timestamp(f"{season}-08-10")
        for n, (h, a) in enumerate(pairs):
            day = start + pd.Timedelta(days=7 * (n // (teams // 2)))
            lam, mu = np.exp(0.25 + strength[h] - strength[a]), np.exp(strength[a] - strength[h])
            rows.append((match_id, day, f"T{h}", f"T{a}", season, rng.poisson(lam), rng.poisson(mu), lam - mu))
            match_id += 1
    frame = pd.DataFrame(
        rows, columns=["match_id", "match_date", "home_team", "away_team", "season", "home_goals", "away_goals", "x"]
    )
    frame["kickoff"] = frame["match_date"] + pd.Timedelta(hours=15)
    frame["competition"] = "SIM"
    frame["rating_diff"] = frame["x"] + rng.normal(0.0, 0.3, len(frame))
    truth = np.column_stack([1 / (1 + np.exp(-frame["x"])) * 0.75, np.full(len(frame), 0.25), np.zeros(len(frame))])
    truth[:, 2] = 1.0 - truth[:, 0] - truth[:, 1]
    for moment, noise in (("open", 0.3), ("close", 0.1)):
        logits = np.log(truth) + rng.normal(0.0, noise, truth.shape)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for k, outcome in enumerate("hda"):
            frame[f"{moment}_pinnacle_{outcome}"] = probs[:, k]
    frame.loc[frame.sample(frac=0.05, random_state=1).index, ["open_pinnacle_h", "open_pinnacle_d"]] = np.nan
    frame["outcome"] = outcome_codes(frame["home_goals"], frame["away_goals"])
    return frame.drop(columns="x")


class Spy:
    """Records what it is shown; predicts the base rate of its history."""

    KIND: ClassVar[str] = "spy"
    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(self, name: str = "spy") -> None:
        self.name = name
        self.moment = Moment.OPEN
        self.histories: list[pd.DataFrame] = []
        self.shown: list[pd.DataFrame] = []
        self.rate = np.full(3, np.nan)

    def fit(self, history: pd.DataFrame) -> None:
        self.histories.append(history.copy())
        self.rate = np.bincount(history["outcome"], minlength=3) / len(history)

    def predict(self, rows: pd.DataFrame) -> FloatArray:
        self.shown.append(rows.copy())
        return np.tile(self.rate, (len(rows), 1))

    def save(self, path: Path) -> None:
        raise NotImplementedError


class RatingLogit:
    """A cheap real forecaster: an ordered logit on `rating_diff`."""

    KIND: ClassVar[str] = "rating_logit"
    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self.name = "rating_logit"
        self.moment = Moment.OPEN
        self.model: OrderedLogit | None = None

    def fit(self, history: pd.DataFrame) -> None:
        self.model = OrderedLogit.fit(history["rating_diff"].to_numpy(), history["outcome"].to_numpy())

    def predict(self, rows: pd.DataFrame) -> FloatArray:
        assert self.model is not None
        return self.model.predict(rows["rating_diff"].to_numpy())

    def save(self, path: Path) -> None:
        raise NotImplementedError


@pytest.fixture(scope="module")
def league() -> pd.DataFrame:
    return _league()


def test_blocks_start_on_match_days_and_skip_gaps() -> None:
    days = pd.Series(pd.to_datetime(["2020-08-01", "2020-08-02", "2020-08-08", "2020-08-09", "2020-09-20"]))
    blocks = _blocks(days, 7)
    assert [(s.strftime("%m-%d"), e.strftime("%m-%d")) for s, e in blocks] == [
        ("08-01", "08-08"),
        ("08-08", "08-15"),
        ("09-20", "09-27"),
    ]


def test_every_fit_sees_only_the_past_and_no_prediction_sees_a_result(league: pd.DataFrame) -> None:
    spy = Spy()
    result = walk_forward(league, [spy], WalkForwardConfig(seasons=(2020, 2021)))
    assert result.blocks == len(spy.histories) == len(spy.shown)
    for history, shown in zip(spy.histories, spy.shown, strict=True):
        assert history["match_date"].max() < shown["match_date"].min()
        assert not set(RESULT_COLUMNS) & set(shown.columns)
        assert shown["match_date"].max() - shown["match_date"].min() < pd.Timedelta(days=7)
    scored = league[league["season"].isin([2020, 2021])]
    predicted = result.predictions[result.predictions["model"] == "spy"]
    assert sorted(predicted["match_id"]) == sorted(scored["match_id"])  # every match once
    assert list(result.predictions.columns) == list(PREDICTION_COLUMNS)
    assert (predicted["block_start"] <= predicted["match_date"]).all()


def test_sliding_window_and_refit_cadence(league: pd.DataFrame) -> None:
    spy = Spy()
    config = WalkForwardConfig(seasons=(2021,), window="sliding", window_days=200, model_refit_days={"spy": 28})
    result = walk_forward(league, [spy], config)
    for history, shown in zip(spy.histories, spy.shown, strict=False):
        assert history["match_date"].min() >= shown["match_date"].min() - pd.Timedelta(days=200)
    assert result.fits["spy"] == len(spy.histories) < result.blocks
    gaps = np.diff([h["match_date"].max() for h in spy.histories])
    assert min(gaps) >= pd.Timedelta(days=21)


def _stacked(league: pd.DataFrame) -> pd.DataFrame:
    spec = StackSpec(base_names=("rating_logit", "pinnacle_open"), moment=Moment.OPEN)
    result = walk_forward(
        league,
        [RatingLogit()],
        WalkForwardConfig(seasons=(2020, 2021), warmup_seasons=2),
        baselines=[MarketBaseline("pinnacle", Moment.OPEN), MarketBaseline("pinnacle", Moment.CLOSE)],
        stack=spec,
    )
    assert result.calibrations and sum(result.calibrations.values()) == result.fits["stack"]
    return result.predictions


def test_no_forecast_changes_when_later_results_change(league: pd.DataFrame) -> None:
    """The sharpest leakage test: rewrite every result from a cut-off day on; every forecast made before that
    day - base model, market baseline and stack alike - must stay bit for bit the same."""
    before = _stacked(league)
    cut = pd.Timestamp("2021-01-01")
    tampered = league.copy()
    later = tampered["match_date"] >= cut
    rng = np.random.default_rng(99)
    tampered.loc[later, "home_goals"] = rng.integers(0, 6, later.sum())
    tampered.loc[later, "away_goals"] = rng.integers(0, 6, later.sum())
    tampered["outcome"] = outcome_codes(tampered["home_goals"], tampered["away_goals"])
    after = _stacked(tampered)
    columns = ["p_home", "p_draw", "p_away"]
    early_before = before[before["block_start"] < cut].sort_values(["model", "match_id"])
    early_after = after[after["block_start"] < cut].sort_values(["model", "match_id"])
    assert set(early_before["model"]) == {"rating_logit", "pinnacle_open", "pinnacle_close", "stack"}
    np.testing.assert_array_equal(early_before[columns].to_numpy(), early_after[columns].to_numpy())
    # and the tampering did reach the later forecasts, so the comparison above can fail
    late = before["block_start"] > cut + pd.Timedelta(days=14)
    assert not np.allclose(
        before[late & (before["model"] == "stack")][columns].to_numpy(),
        after[late & (after["model"] == "stack")][columns].to_numpy(),
    )


def test_stack_is_scored_only_on_evaluated_seasons_and_beats_a_noisy_base(league: pd.DataFrame) -> None:
    predictions = _stacked(league)
    assert set(predictions["season"]) == {2020, 2021}
    stack = predictions[predictions["model"] == "stack"]
    assert stack[["p_home", "p_draw", "p_away"]].notna().all(axis=None)
    np.testing.assert_allclose(stack[["p_home", "p_draw", "p_away"]].sum(axis=1), 1.0)


def test_rejects_bad_configuration(league: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="seasons must be increasing"):
        WalkForwardConfig(seasons=(2021, 2020))
    with pytest.raises(ValueError, match="refit_days"):
        WalkForwardConfig(seasons=(2021,), refit_days=0)
    with pytest.raises(ValueError, match="window must be"):
        WalkForwardConfig(seasons=(2021,), window="rolling")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no match of the seasons 2030"):
        walk_forward(league, [Spy()], WalkForwardConfig(seasons=(2030,)))
    with pytest.raises(ValueError, match="names must be unique"):
        walk_forward(league, [Spy(), Spy()], WalkForwardConfig(seasons=(2021,)))
    close_stack = StackSpec(base_names=("spy", "pinnacle_close"), moment=Moment.OPEN)
    with pytest.raises(ValueError, match="predicts at the close moment, after the stack's open moment"):
        walk_forward(
            league,
            [Spy()],
            WalkForwardConfig(seasons=(2021,)),
            baselines=[MarketBaseline("pinnacle", Moment.CLOSE)],
            stack=close_stack,
        )
    with pytest.raises(ValueError, match="stack base 'elo' is not among"):
        walk_forward(league, [Spy()], WalkForwardConfig(seasons=(2021,)), stack=StackSpec(("elo",), Moment.OPEN))
