"""The promotion gate: a challenger clearly better than the champion (or, with none, than the base rate) is
promoted; an equal, worse or only-noisily-better one is not; the two are compared on the matches both priced."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.report import PREDICTION_COLUMNS
from matchday.training.gate import BASE_RATE, CHAMPION, base_rate, decide

N = 300
RATE = np.array([0.45, 0.25, 0.30])


def _truth(n: int = N, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sharp per-match probabilities and outcomes drawn from them: a model that knows them is clearly better."""
    rng = np.random.default_rng(seed)
    logits = 2.5 * rng.normal(size=(n, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    outcomes = np.array([rng.choice(3, p=p) for p in probs], dtype=np.int64)
    return probs, outcomes


def _table(model: str, probs: np.ndarray, outcomes: np.ndarray, ids: np.ndarray | None = None) -> pd.DataFrame:
    ids = np.arange(len(outcomes)) if ids is None else ids
    dates = pd.Timestamp("2022-08-05") + pd.to_timedelta(ids // 5, unit="D")  # five matches a day, by id
    table = pd.DataFrame(
        {
            "match_id": ids.astype(np.int64),
            "competition": "E0",
            "season": 2022,
            "match_date": dates,
            "home_team": [f"home{i}" for i in ids],
            "away_team": [f"away{i}" for i in ids],
            "outcome": outcomes[ids].astype(np.int64),
            "model": model,
            "p_home": probs[:, 0],
            "p_draw": probs[:, 1],
            "p_away": probs[:, 2],
            "block_start": dates - pd.to_timedelta(dates.dayofweek, unit="D"),  # refit every Monday
        }
    )
    return table[list(PREDICTION_COLUMNS)]


def _flat(n: int = N) -> np.ndarray:
    return np.full((n, 3), 1.0 / 3.0)


def test_clearly_better_challenger_is_promoted() -> None:
    truth, outcomes = _truth()
    # The same name on both sides (a retrained stack against the serving one) must not mix their rows.
    decision = decide(_table("stack", truth, outcomes), _table("stack", _flat(), outcomes), RATE, model="stack")
    assert decision.promote
    assert decision.reference == CHAMPION
    assert decision.n == N
    assert decision.rps_challenger < decision.rps_reference
    assert decision.ci_lower <= decision.mean_difference <= decision.ci_upper < 0.0
    assert math.isclose(decision.mean_difference, decision.rps_challenger - decision.rps_reference, abs_tol=1e-12)
    assert "promote" in decision.reason and decision.reason.startswith("stack RPS")


def test_equal_challenger_is_not_promoted() -> None:
    truth, outcomes = _truth()
    decision = decide(_table("a", truth, outcomes), _table("b", truth, outcomes), RATE)
    assert not decision.promote
    assert decision.mean_difference == 0.0
    assert decision.ci_lower == decision.ci_upper == 0.0
    assert "not better" in decision.reason


def test_worse_challenger_is_not_promoted() -> None:
    truth, outcomes = _truth()
    decision = decide(_table("new", _flat(), outcomes), _table("old", truth, outcomes), RATE)
    assert not decision.promote
    assert decision.mean_difference > 0.0 and decision.ci_lower > 0.0


def test_better_only_by_noise_is_not_promoted() -> None:
    _, outcomes = _truth()
    champion = _flat()
    challenger = champion.copy()
    # Better on two matches of 300 and equal elsewhere: a lower mean, but many resamples miss both matches.
    for match in (10, 200):
        challenger[match] = np.eye(3)[outcomes[match]] * 0.4 + 0.2
    decision = decide(_table("new", challenger, outcomes), _table("old", champion, outcomes), RATE)
    assert decision.rps_challenger < decision.rps_reference
    assert decision.ci_upper >= 0.0
    assert not decision.promote
    assert "interval reaches 0" in decision.reason


def test_without_champion_beating_the_base_rate_promotes() -> None:
    truth, outcomes = _truth()
    decision = decide(_table("stack", truth, outcomes), None, RATE)
    assert decision.promote
    assert decision.reference == BASE_RATE
    assert decision.n == N
    assert decision.ci_upper < 0.0


def test_without_champion_a_base_rate_forecast_is_not_promoted() -> None:
    _, outcomes = _truth()
    exact = np.tile(RATE, (N, 1))
    assert not decide(_table("rate", exact, outcomes), None, RATE).promote
    # A little noise around the base rate is no knowledge either: worse on average, never promoted.
    noisy = exact + np.random.default_rng(7).normal(scale=0.02, size=(N, 3))
    noisy /= noisy.sum(axis=1, keepdims=True)
    decision = decide(_table("noisy", noisy, outcomes), None, RATE)
    assert not decision.promote
    assert decision.reference == BASE_RATE


def test_compared_on_the_matches_both_priced() -> None:
    truth, outcomes = _truth(400)
    challenger = _table("new", truth[:300], outcomes, np.arange(0, 300))
    champion = _table("old", _flat(300), outcomes, np.arange(100, 400))
    champion.loc[champion["match_id"] == 150, ["p_home", "p_draw", "p_away"]] = np.nan  # unpriced: left out
    shuffled = champion.sample(frac=1.0, random_state=3)
    decision = decide(challenger, shuffled, RATE)
    assert decision.n == 199
    # The same as deciding on the pre-aligned tables: nothing but the common priced matches counted.
    keep = np.setdiff1d(np.arange(100, 300), [150])
    aligned = decide(challenger[challenger["match_id"].isin(keep)], champion[champion["match_id"].isin(keep)], RATE)
    assert decision == aligned


def test_no_common_match_is_an_error() -> None:
    truth, outcomes = _truth(400)
    challenger = _table("new", truth[:200], outcomes, np.arange(0, 200))
    champion = _table("old", _flat(200), outcomes, np.arange(200, 400))
    with pytest.raises(ValueError, match="share no priced match"):
        decide(challenger, champion, RATE)
    unpriced = _table("new", np.full((400, 3), np.nan), outcomes)
    with pytest.raises(ValueError, match="share no priced match"):
        decide(unpriced, None, RATE)


def test_tables_of_several_models_and_bad_rates_are_rejected() -> None:
    truth, outcomes = _truth()
    both = pd.concat([_table("a", truth, outcomes), _table("b", _flat(), outcomes)])
    with pytest.raises(ValueError, match="one model's rows"):
        decide(both, None, RATE)
    with pytest.raises(ValueError, match="shape"):
        decide(_table("a", truth, outcomes), None, np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="sums to"):
        decide(_table("a", truth, outcomes), None, np.array([0.5, 0.3, 0.3]))


def test_base_rate_counts_only_earlier_seasons() -> None:
    dataset = pd.DataFrame(
        {
            "season": [2020] * 4 + [2021] * 4 + [2022] * 4,
            "outcome": [0, 0, 1, 2, 0, 2, 2, 0, 1, 1, 1, 1],  # 2020, 2021, 2022
        }
    )
    np.testing.assert_allclose(base_rate(dataset, 2022), [4 / 8, 1 / 8, 3 / 8])
    np.testing.assert_allclose(base_rate(dataset, 2021), [2 / 4, 1 / 4, 1 / 4])
    with pytest.raises(ValueError, match="no match before season 2020"):
        base_rate(dataset, 2020)
