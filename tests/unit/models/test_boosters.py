"""XGBoost and LightGBM forecasters on a simulated feature table: skill over the base rate, the prediction moment,
the time-ordered early-stopping split, determinism, persistence and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.metrics import log_loss
from matchday.features.moments import Moment
from matchday.features.table import KEY_COLUMNS
from matchday.models import boosters, persistence
from matchday.models.base import Forecaster, without_results
from matchday.models.boosters import (
    BoosterModel,
    BoosterParams,
    Library,
    LightGBMModel,
    XGBoostModel,
    _time_split,
    booster_model,
)

LIBRARIES: tuple[Library, ...] = ("xgboost", "lightgbm")
N_MATCHES = 3000
N_TRAIN = 2500
CLOSE_COLUMNS = ("close_pinnacle_h", "close_pinnacle_d", "close_pinnacle_a")


def _sigma(v: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-v))
    return result


def _probs(latent: np.ndarray) -> np.ndarray:
    """Ordered-logit (home, draw, away) probabilities of a home-side latent margin."""
    p_away = _sigma(-0.8 - latent)
    p_not_home = _sigma(0.5 - latent)
    return np.column_stack([1.0 - p_not_home, p_not_home - p_away, p_away])


def _prices(rng: np.random.Generator, latent: np.ndarray, noise: float, missing: float) -> np.ndarray:
    """A bookmaker's decimal odds with a 5% margin, from its noisy view of the latent margin; some rows unquoted."""
    prices = 1.0 / (1.05 * _probs(latent + rng.normal(0.0, noise, len(latent))))
    prices[rng.random(len(latent)) < missing] = np.nan
    return prices


def simulate(n: int = N_MATCHES, seed: int = 1, flip_latest: float = 0.0, n_noise: int = 3) -> pd.DataFrame:
    """A match dataset in shuffled row order. `elo_diff` and `form_diff` carry the signal (elo's reversed in the
    latest `flip_latest` share of matches); opening prices see the truth with noise, closing prices with less."""
    rng = np.random.default_rng(seed)
    # Rounds of ten matches three days apart at four kickoff hours, so kickoffs tie and match_id must break them.
    hours = rng.choice([12.5, 15.0, 17.5, 20.0], n)
    kickoff = pd.Timestamp("2012-08-01") + pd.to_timedelta((np.arange(n) // 10) * 3 * 24 + hours, unit="h")
    elo_diff = rng.normal(0.0, 150.0, n)
    form_diff = rng.normal(0.0, 1.0, n)
    sign = np.where(np.arange(n) >= n - round(n * flip_latest), -1.0, 1.0)
    latent = 0.25 + sign * 0.8 * elo_diff / 150.0 + 0.3 * form_diff
    u = rng.random(n)
    cumulative = np.cumsum(_probs(latent), axis=1)
    outcome = (u[:, None] > cumulative[:, :2]).sum(axis=1)
    open_prices = _prices(rng, latent, noise=0.4, missing=0.1)
    close_prices = _prices(rng, latent, noise=0.15, missing=0.05)
    elo_diff[:30] = np.nan  # sides without a rating yet
    frame = pd.DataFrame(
        {
            "match_id": np.arange(n) + 10_000,
            "kickoff": kickoff,
            "home_team": rng.choice([f"team{i}" for i in range(20)], n),
            "away_team": rng.choice([f"team{i}" for i in range(20)], n),
            "competition": "E0",
            "season": kickoff.year,
            "elo_diff": elo_diff,
            "form_diff": form_diff,
            "home_rest_days": pd.array(rng.integers(2, 10, n), dtype="Int64"),
            "h2h_goal_diff": np.nan,  # entirely missing: no pair has met before
            **{f"noise_{i}": rng.normal(0.0, 1.0, n) for i in range(n_noise)},
            **{f"open_pinnacle_{o}": open_prices[:, k] for k, o in enumerate("hda")},
            **{f"close_pinnacle_{o}": close_prices[:, k] for k, o in enumerate("hda")},
        }
    )
    frame.loc[rng.random(n) < 0.05, "home_rest_days"] = pd.NA
    frame["match_date"] = frame["kickoff"].dt.normalize()
    frame["home_goals"] = np.where(outcome == 0, 2, np.where(outcome == 1, 1, 0))
    frame["away_goals"] = np.where(outcome == 2, 2, np.where(outcome == 1, 1, 0))
    frame["outcome"] = outcome.astype(np.int64)
    assert set(KEY_COLUMNS) <= set(frame.columns)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def matches() -> pd.DataFrame:
    return simulate()


@pytest.fixture(scope="module")
def split(matches: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ordered = matches.sort_values(["kickoff", "match_id"])
    return ordered.iloc[:N_TRAIN].sample(frac=1.0, random_state=3), ordered.iloc[N_TRAIN:]


@pytest.fixture(scope="module", params=LIBRARIES)
def open_model(request: pytest.FixtureRequest, split: tuple[pd.DataFrame, pd.DataFrame]) -> BoosterModel:
    model = booster_model(request.param, Moment.OPEN)
    model.fit(split[0])
    return model


def test_is_a_forecaster_named_by_library_and_moment(open_model: BoosterModel) -> None:
    assert isinstance(open_model, Forecaster)
    assert open_model.name == f"{open_model.LIBRARY}_open"
    assert open_model.KIND == open_model.LIBRARY
    assert open_model.FORMAT_VERSION == 1


def test_beats_the_base_rate_on_later_matches(
    open_model: BoosterModel, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train, test = split
    outcomes = test["outcome"].to_numpy()
    base_rate = np.bincount(train["outcome"], minlength=3) / len(train)
    model_loss = log_loss(open_model.predict(without_results(test)), outcomes)
    base_loss = log_loss(np.tile(base_rate, (len(test), 1)), outcomes)
    # The simulated signal is worth ~0.1 nats a match over the base rate; 0.03 leaves room for the 500-match
    # sample's noise (its standard error is ~0.02 on the difference) while a model without skill fails.
    assert model_loss < base_loss - 0.03, (model_loss, base_loss)
    assert open_model.best_rounds is not None and 1 <= open_model.best_rounds < open_model.max_rounds


def test_open_model_never_uses_closing_prices(
    open_model: BoosterModel, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    assert not [feature for feature in open_model.features if feature.startswith("close_")]
    assert {"elo_diff", "open_pinnacle_h", "h2h_goal_diff"} <= set(open_model.features)
    rows = without_results(split[1])
    altered = rows.assign(**{column: rows[column].to_numpy()[::-1] for column in CLOSE_COLUMNS})
    altered.loc[altered.index[:100], list(CLOSE_COLUMNS)] = np.nan
    np.testing.assert_array_equal(open_model.predict(rows), open_model.predict(altered))
    np.testing.assert_array_equal(open_model.predict(rows), open_model.predict(rows.drop(columns=list(CLOSE_COLUMNS))))


@pytest.mark.parametrize("library", LIBRARIES)
def test_close_model_uses_closing_prices(library: Library, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    model = booster_model(library, Moment.CLOSE)
    model.fit(split[0])
    assert model.name == f"{library}_close"
    assert set(CLOSE_COLUMNS) <= set(model.features)
    with pytest.raises(ValueError, match="close_pinnacle_h"):
        model.predict(without_results(split[1]).drop(columns=["close_pinnacle_h"]))


def test_time_split_holds_out_the_latest_matches(matches: pd.DataFrame) -> None:
    ordered = matches.sort_values(["kickoff", "match_id"])
    train, valid = _time_split(ordered, 0.15)
    assert len(valid) == 450 and len(train) == N_MATCHES - 450
    assert valid["match_id"].tolist() == ordered["match_id"].tolist()[-450:]
    assert train["kickoff"].max() <= valid["kickoff"].min()
    with pytest.raises(ValueError, match="cannot be split"):
        _time_split(ordered.iloc[:3], 0.15)


def _earliest_split(ordered: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_valid = round(len(ordered) * fraction)
    return ordered.iloc[n_valid:], ordered.iloc[:n_valid]


def _random_split(ordered: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    valid = np.random.default_rng(0).random(len(ordered)) < fraction
    return ordered[~valid], ordered[valid]


@pytest.mark.parametrize("library", LIBRARIES)
def test_early_stopping_validates_on_the_latest_matches(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    # elo_diff's effect reverses in the latest 15% of matches. Validated on exactly those, every round that learns
    # the earlier effect makes the validation loss worse, so early stopping keeps the first round. The same fit with
    # the earliest or a random 15% held out (patched in below) validates on matches like its training ones and
    # boosts on: 15 to 56 rounds over seeds 5-10, against 1 round for the latest hold-out at every one of them.
    flipped = simulate(flip_latest=0.15, seed=5)
    rounds: dict[str, int] = {}
    for name, split in (("latest", boosters._time_split), ("earliest", _earliest_split), ("random", _random_split)):
        monkeypatch.setattr(boosters, "_time_split", split)
        model = booster_model(library, Moment.OPEN)
        model.fit(flipped)
        assert model.best_rounds is not None
        rounds[name] = model.best_rounds
    assert rounds["latest"] <= 3 and rounds["earliest"] >= 10 and rounds["random"] >= 10, rounds


def test_deterministic_for_a_seed_and_rows_sum_to_one(
    open_model: BoosterModel, split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    library = open_model.LIBRARY
    rows = without_results(split[1])
    again = booster_model(library, Moment.OPEN)
    again.fit(split[0].sample(frac=1.0, random_state=11))  # another row order: the fit sorts by kickoff first
    probs = open_model.predict(rows)
    np.testing.assert_array_equal(probs, again.predict(rows))
    assert probs.shape == (len(rows), 3) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0.0, atol=1e-12)
    assert ((probs > 0.0) & (probs < 1.0)).all()
    reseeded = booster_model(library, Moment.OPEN, seed=1)
    reseeded.fit(split[0])
    assert not np.array_equal(probs, reseeded.predict(rows))  # subsampling draws from the seed
    assert open_model.predict(rows.iloc[:0]).shape == (0, 3)


def test_save_load_round_trip(
    open_model: BoosterModel, split: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    open_model.save(tmp_path / "model")
    loaded = type(open_model).load(tmp_path / "model")
    rows = without_results(split[1])
    np.testing.assert_array_equal(open_model.predict(rows), loaded.predict(rows))
    assert (loaded.name, loaded.moment, loaded.features) == (open_model.name, open_model.moment, open_model.features)
    assert (loaded.best_rounds, loaded.params) == (open_model.best_rounds, open_model.params)
    manifest = json.loads((tmp_path / "model" / persistence.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["model"] == open_model.KIND and manifest["moment"] == "open"
    assert (tmp_path / "model" / manifest["native_file"]).is_file()
    assert persistence._LOADERS[open_model.KIND] == type(open_model).load


def test_other_format_version_fails_naming_it(open_model: BoosterModel, tmp_path: Path) -> None:
    open_model.save(tmp_path)
    manifest_file = tmp_path / persistence.MANIFEST
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest_file.write_text(json.dumps({**manifest, "format_version": 7}), encoding="utf-8")
    with pytest.raises(ValueError, match="format version 7"):
        type(open_model).load(tmp_path)


def test_loading_another_kind_fails(open_model: BoosterModel, tmp_path: Path) -> None:
    open_model.save(tmp_path)
    other = LightGBMModel if isinstance(open_model, XGBoostModel) else XGBoostModel
    with pytest.raises(ValueError, match=f"holds a '{open_model.KIND}' model"):
        other.load(tmp_path)


def test_missing_feature_column_is_named(open_model: BoosterModel, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="form_diff"):
        open_model.predict(without_results(split[1]).drop(columns=["form_diff"]))


@pytest.mark.parametrize("library", LIBRARIES)
def test_unfitted_model_refuses_to_predict_or_save(
    library: Library, split: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    model = booster_model(library, Moment.OPEN)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(without_results(split[1]))
    with pytest.raises(RuntimeError, match="not fitted"):
        model.save(tmp_path)


def test_history_without_outcomes_or_too_short_is_rejected(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    model = booster_model("xgboost", Moment.OPEN)
    with pytest.raises(ValueError, match="outcome"):
        model.fit(split[0].drop(columns=["outcome"]))
    with pytest.raises(ValueError, match="not 0, 1 or 2"):
        model.fit(split[0].assign(outcome=split[0]["outcome"].where(split[0].index != split[0].index[5], 3)))
    with pytest.raises(ValueError, match="cannot be split"):
        model.fit(split[0].iloc[:2])


def test_params_round_trip_and_validation() -> None:
    params = BoosterParams(learning_rate=0.1, max_depth=4, subsample=0.7)
    assert BoosterParams.from_dict(params.to_dict()) == params
    assert BoosterParams.from_dict({"max_depth": 5.0, "num_leaves": 12}) == BoosterParams(max_depth=5, num_leaves=12)
    with pytest.raises(ValueError, match="depth"):
        BoosterParams.from_dict({"depth": 3})
    with pytest.raises(ValueError, match="max_depth must be an integer"):
        BoosterParams.from_dict({"max_depth": 3.5})
    with pytest.raises(ValueError, match="subsample"):
        BoosterParams(subsample=0.0)
    with pytest.raises(ValueError, match="device"):
        booster_model("xgboost", Moment.OPEN, device="tpu")  # type: ignore[arg-type]
