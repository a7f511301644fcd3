"""The forecasters' shared interface: market baselines, the Dixon-Coles forecaster, saving and loading by kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.dataset import outcome_codes
from matchday.evaluation.suites import model_suite
from matchday.features.moments import Moment
from matchday.models.base import Forecaster, feature_names, without_results
from matchday.models.dixon_coles_model import DixonColesModel
from matchday.models.market import MarketBaseline
from matchday.models.persistence import MANIFEST, load_model

from .simulated import simulate_league


@pytest.fixture(scope="module")
def two_leagues() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frames = []
    for code, offset in (("AAA", 0), ("BBB", 10_000)):
        attack = rng.normal(0.0, 0.3, 8)
        teams = {f"{code}{k}": np.full(2, attack[k]) for k in range(8)}
        league = simulate_league(rng, teams, rng.normal(0.0, 0.3, 8), home=0.25, rho=-0.05, seasons=2)
        frames.append(league.assign(competition=code, match_id=league["match_id"] + offset))
    matches = pd.concat(frames, ignore_index=True).sort_values(["match_date", "match_id"], ignore_index=True)
    matches["kickoff"] = matches["match_date"]
    matches["outcome"] = outcome_codes(matches["home_goals"], matches["away_goals"])
    return matches


def test_market_baseline_reads_the_moment_columns_and_refuses_partial_prices() -> None:
    rows = pd.DataFrame(
        {
            "open_pinnacle_h": [0.5, 0.4, np.nan],
            "open_pinnacle_d": [0.3, 0.3, 0.3],
            "open_pinnacle_a": [0.2, 0.3, 0.4],
            "close_pinnacle_h": [0.6, 0.4, 0.3],
            "close_pinnacle_d": [0.2, 0.3, 0.3],
            "close_pinnacle_a": [0.2, 0.3, 0.4],
        }
    )
    opening = MarketBaseline("pinnacle", Moment.OPEN)
    assert opening.name == "pinnacle_open"
    probs = opening.predict(rows)
    np.testing.assert_array_equal(probs[:2], rows.iloc[:2, :3].to_numpy())
    assert np.isnan(probs[2]).all()  # a partial triplet is no forecast
    np.testing.assert_array_equal(MarketBaseline("pinnacle", Moment.CLOSE).predict(rows), rows.iloc[:, 3:].to_numpy())
    with pytest.raises(ValueError, match="market_avg_open needs the market column"):
        MarketBaseline("avg", Moment.OPEN).predict(rows)
    with pytest.raises(ValueError, match="market source must be one of"):
        MarketBaseline("bet365", Moment.OPEN)  # type: ignore[arg-type]


def test_dixon_coles_fits_each_competition_and_prices_only_those(two_leagues: pd.DataFrame) -> None:
    model = DixonColesModel()
    model.fit(two_leagues)
    assert sorted(model.params) == ["AAA", "BBB"]
    assert set(model.params["AAA"].teams) == {f"AAA{k}" for k in range(8)}
    rows = pd.DataFrame(
        {"competition": ["AAA", "BBB", "CCC", "AAA"], "home_team": ["AAA0", "BBB1", "X", "Newcomer"]}
        | {"away_team": ["AAA1", "BBB2", "Y", "AAA3"]}
    )
    probs = model.predict(rows)
    np.testing.assert_allclose(probs[[0, 1, 3]].sum(axis=1), 1.0)
    assert np.isnan(probs[2]).all()  # a competition it never saw: no forecast
    grids = model.grids(rows)
    assert grids[2] is None
    assert grids[0] is not None and grids[0].outcome_probabilities() == pytest.approx(tuple(probs[0]))


def test_dixon_coles_window_drops_old_matches(two_leagues: pd.DataFrame) -> None:
    short = DixonColesModel(window_days=120)
    short.fit(two_leagues[two_leagues["competition"] == "AAA"])
    last = two_leagues["match_date"].max()
    recent = two_leagues[(two_leagues["competition"] == "AAA") & (two_leagues["match_date"] > last - pd.Timedelta(120))]
    assert short.fit_dates["AAA"] == last.normalize() + pd.Timedelta(days=1)
    full = DixonColesModel(window_days=None)
    full.fit(two_leagues[two_leagues["competition"] == "AAA"])
    assert not np.allclose(short.params["AAA"].attack, full.params["AAA"].attack)
    assert len(recent) < (two_leagues["competition"] == "AAA").sum()
    with pytest.raises(ValueError, match="window_days must be at least 1"):
        DixonColesModel(window_days=0)


@pytest.mark.parametrize("make", [lambda: MarketBaseline("avg", Moment.CLOSE), DixonColesModel])
def test_save_and_load_by_kind_predict_the_same(
    make: type[Forecaster], two_leagues: pd.DataFrame, tmp_path: Path
) -> None:
    model = make()
    history = two_leagues.assign(close_avg_h=0.5, close_avg_d=0.3, close_avg_a=0.2)
    model.fit(history)
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(model) and loaded.name == model.name
    rows = without_results(history.tail(20))
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))


def test_loading_another_format_version_or_kind_fails_clearly(two_leagues: pd.DataFrame, tmp_path: Path) -> None:
    model = DixonColesModel()
    model.fit(two_leagues)
    model.save(tmp_path / "dc")
    manifest = json.loads((tmp_path / "dc" / MANIFEST).read_text())
    (tmp_path / "dc" / MANIFEST).write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(ValueError, match="format version 99; this code reads version 1"):
        load_model(tmp_path / "dc")
    (tmp_path / "dc" / MANIFEST).write_text(json.dumps(manifest | {"model": "neural_net"}))
    with pytest.raises(ValueError, match="unknown kind 'neural_net'"):
        load_model(tmp_path / "dc")
    with pytest.raises(FileNotFoundError, match="not a saved model"):
        load_model(tmp_path / "nothing")


def test_feature_names_respect_the_moment() -> None:
    columns = ["match_id", "kickoff", "match_date", "elo_diff", "open_pinnacle_h", "close_pinnacle_h", "outcome"]
    assert feature_names(columns, Moment.OPEN) == ["elo_diff", "open_pinnacle_h"]
    assert feature_names(columns, Moment.CLOSE) == ["elo_diff", "open_pinnacle_h", "close_pinnacle_h"]


def test_suites_assemble_the_stack_from_bases_known_at_its_moment() -> None:
    suite = model_suite("stack", Moment.OPEN)
    assert [m.name for m in suite.models] == ["dixon_coles", "xgboost_open", "lightgbm_open"]
    assert [b.name for b in suite.baselines] == ["pinnacle_open", "pinnacle_close", "market_avg_open"]
    assert suite.stack is not None
    assert suite.stack.base_names == (
        "dixon_coles",
        "xgboost_open",
        "lightgbm_open",
        "pinnacle_open",
        "market_avg_open",
    )
    close = model_suite("stack", Moment.CLOSE)
    assert close.stack is not None and "pinnacle_close" in close.stack.base_names
    assert model_suite("market", Moment.OPEN).models == []
    assert [m.name for m in model_suite("lightgbm", Moment.CLOSE).models] == ["lightgbm_close"]
    with pytest.raises(ValueError, match="model must be one of"):
        model_suite("neural", Moment.OPEN)
