"""Dixon-Coles: parameter recovery on a simulated league, time decay, the tau correction, warm starts, the
serialised form, unseen teams and the reference-date cut-off."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from matchday.domain.score_grid import ScoreGrid
from matchday.models.dixon_coles import (
    FORMAT_VERSION,
    DixonColesParams,
    fit_map,
    fit_map_detailed,
    predict_grid,
)

from .simulated import dc_matrix, simulate_league


@pytest.fixture(scope="module")
def league() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    attack = rng.normal(0.0, 0.35, 12)
    defence = rng.normal(0.0, 0.35, 12)
    teams = {f"T{k:02d}": np.full(3, attack[k]) for k in range(12)}
    return simulate_league(rng, teams, defence, home=0.3, rho=-0.08, seasons=3), attack, defence


@pytest.fixture(scope="module")
def fitted(league: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> DixonColesParams:
    matches, _, _ = league
    return fit_map(matches, matches["match_date"].max() + pd.Timedelta(days=1), xi=0.0)


def test_recovers_simulated_parameters(
    league: tuple[pd.DataFrame, np.ndarray, np.ndarray], fitted: DixonColesParams
) -> None:
    _, attack, defence = league
    assert fitted.teams == tuple(f"T{k:02d}" for k in range(12))
    assert np.corrcoef(fitted.attack, attack)[0, 1] > 0.9
    assert np.corrcoef(fitted.defence, defence)[0, 1] > 0.9
    # 396 matches, ~1.4 goals a side: the standard error of the home advantage is ~0.06; 0.15 is 2.5 of them.
    assert abs(fitted.home_advantage - 0.3) < 0.15
    assert -0.3 < fitted.rho < 0.3


def test_fit_reports_convergence(league: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    matches, _, _ = league
    fit = fit_map_detailed(matches, matches["match_date"].max() + pd.Timedelta(days=1), xi=0.0)
    assert fit.converged
    assert fit.n_matches == len(matches)
    assert math.isfinite(fit.objective)


def test_large_xi_follows_a_team_that_changed() -> None:
    rng = np.random.default_rng(7)
    # "Changer" is the best attack of the league in season one and the worst in season two.
    attack = {f"T{k}": np.full(2, 0.0) for k in range(7)} | {"Changer": np.array([0.8, -0.8])}
    matches = simulate_league(rng, attack, np.zeros(8), home=0.25, rho=0.0, seasons=2)
    reference = matches["match_date"].max() + pd.Timedelta(days=1)
    k = sorted(attack).index("Changer")
    flat = fit_map(matches, reference, xi=0.0).attack
    recent = fit_map(matches, reference, xi=0.03).attack  # half-life ~23 days: season one weighs ~nothing
    assert recent[k] < flat[k] - 0.3
    assert recent[k] == recent.min()
    assert recent[k] < 0.0  # the prior shrinks the few heavily weighted matches towards 0, not to -0.8


def test_rho_zero_grid_is_the_independent_poisson_grid(fitted: DixonColesParams) -> None:
    params = DixonColesParams(fitted.teams, fitted.attack, fitted.defence, fitted.home_advantage, 0.0)
    grid = predict_grid(params, "T00", "T01", max_goals=8)
    lam = math.exp(params.home_advantage + params.attack[0] + params.defence[1])
    mu = math.exp(params.attack[1] + params.defence[0])
    goals = np.arange(9)
    pmf_home = np.array([math.exp(-lam) * lam**g / math.factorial(g) for g in goals])
    pmf_away = np.array([math.exp(-mu) * mu**g / math.factorial(g) for g in goals])
    np.testing.assert_allclose(grid.probabilities, np.outer(pmf_home, pmf_away) / np.outer(pmf_home, pmf_away).sum())
    np.testing.assert_allclose(grid.probabilities, ScoreGrid.from_poisson(lam, mu, 8).probabilities, rtol=1e-12)


def test_grid_and_1x2_match_an_independent_computation() -> None:
    params = DixonColesParams(("A", "B"), np.array([0.3, -0.1]), np.array([-0.2, 0.1]), 0.27, -0.13)
    grid = predict_grid(params, "A", "B")
    expected = dc_matrix(math.exp(0.27 + 0.3 + 0.1), math.exp(-0.1 - 0.2), -0.13)
    np.testing.assert_allclose(grid.probabilities, expected, rtol=1e-12, atol=1e-15)
    home, draw, away = grid.outcome_probabilities()
    assert home == pytest.approx(np.tril(expected, -1).sum(), abs=1e-12)
    assert draw == pytest.approx(np.trace(expected), abs=1e-12)
    assert away == pytest.approx(np.triu(expected, 1).sum(), abs=1e-12)
    # a negative rho takes mass from 0-1 and 1-0 and gives it to 0-0 and 1-1: more draws than independence
    independent = DixonColesParams(params.teams, params.attack, params.defence, params.home_advantage, 0.0)
    assert draw > predict_grid(independent, "A", "B").outcome_probabilities()[1]


def test_warm_start_reaches_the_cold_optimum_in_fewer_steps(
    league: tuple[pd.DataFrame, np.ndarray, np.ndarray],
) -> None:
    matches, _, _ = league
    earlier = matches["match_date"].iloc[len(matches) // 2]
    later = earlier + pd.Timedelta(days=21)  # three more rounds of results
    previous = fit_map(matches, earlier)
    cold = fit_map_detailed(matches, later)
    warm = fit_map_detailed(matches, later, init=previous)
    assert cold.converged
    assert warm.converged
    assert warm.iterations < cold.iterations
    np.testing.assert_allclose(warm.params.attack, cold.params.attack, atol=1e-4)
    np.testing.assert_allclose(warm.params.defence, cold.params.defence, atol=1e-4)
    assert warm.params.home_advantage == pytest.approx(cold.params.home_advantage, abs=1e-4)
    assert warm.params.rho == pytest.approx(cold.params.rho, abs=1e-4)


def test_warm_start_from_params_missing_a_team(fitted: DixonColesParams, league: tuple[pd.DataFrame, ...]) -> None:
    matches = league[0]
    reference = matches["match_date"].max() + pd.Timedelta(days=1)
    partial = DixonColesParams(fitted.teams[1:], fitted.attack[1:], fitted.defence[1:], fitted.home_advantage, 0.3)
    warm = fit_map(matches, reference, xi=0.0, init=partial)
    np.testing.assert_allclose(warm.attack, fitted.attack, atol=1e-4)
    assert warm.rho == pytest.approx(fitted.rho, abs=1e-4)


def test_to_dict_round_trips_through_json(fitted: DixonColesParams) -> None:
    data = json.loads(json.dumps(fitted.to_dict()))
    assert data["format_version"] == FORMAT_VERSION
    restored = DixonColesParams.from_dict(data)
    assert restored.to_dict() == fitted.to_dict()
    assert predict_grid(restored, "T03", "T07") == predict_grid(fitted, "T03", "T07")


def test_from_dict_rejects_another_format_version(fitted: DixonColesParams) -> None:
    data = fitted.to_dict() | {"format_version": FORMAT_VERSION + 1}
    with pytest.raises(ValueError, match="format version"):
        DixonColesParams.from_dict(data)
    with pytest.raises(ValueError, match="not Dixon-Coles"):
        DixonColesParams.from_dict(fitted.to_dict() | {"model": "elo"})


def test_params_are_validated_and_read_only(fitted: DixonColesParams) -> None:
    with pytest.raises(ValueError, match="attack"):
        DixonColesParams(("A", "B"), np.zeros(3), np.zeros(2), 0.2, 0.0)
    with pytest.raises(ValueError, match="rho"):
        DixonColesParams(("A", "B"), np.zeros(2), np.zeros(2), 0.2, 0.5)
    with pytest.raises(ValueError, match="unique"):
        DixonColesParams(("A", "A"), np.zeros(2), np.zeros(2), 0.2, 0.0)
    with pytest.raises(ValueError, match="read-only"):
        fitted.attack[0] = 1.0


def test_unknown_team_is_priced_like_the_three_weakest(fitted: DixonColesParams) -> None:
    grid = predict_grid(fitted, "Promoted FC", "T00")
    assert np.isfinite(grid.probabilities).all()
    assert grid.probabilities.sum() == pytest.approx(1.0)
    weakest = np.argsort(fitted.attack - fitted.defence)[:3]
    stand_in = DixonColesParams(
        (*fitted.teams, "Stand-in"),
        np.append(fitted.attack, fitted.attack[weakest].mean()),
        np.append(fitted.defence, fitted.defence[weakest].mean()),
        fitted.home_advantage,
        fitted.rho,
    )
    np.testing.assert_allclose(grid.probabilities, predict_grid(stand_in, "Stand-in", "T00").probabilities)
    both_unknown = predict_grid(fitted, "Promoted FC", "Other Newcomer")
    assert np.isfinite(both_unknown.probabilities).all()


def test_matches_on_or_after_the_reference_date_are_ignored(
    league: tuple[pd.DataFrame, np.ndarray, np.ndarray],
) -> None:
    matches, _, _ = league
    reference = matches["match_date"].iloc[300]
    base = fit_map(matches, reference)
    future = matches["match_date"] >= reference
    assert future.sum() > 0
    rewritten = matches.copy()
    rewritten.loc[future, ["home_goals", "away_goals"]] = [9, 0]
    rewritten.loc[future, "home_team"] = "Only In The Future"
    rewritten.loc[future, "home_goals"] = np.nan  # unplayed fixtures are fine too
    assert fit_map(rewritten, reference).to_dict() == base.to_dict()


def test_rejects_bad_input(league: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    matches, _, _ = league
    with pytest.raises(ValueError, match="no matches before"):
        fit_map(matches, matches["match_date"].min())
    with pytest.raises(ValueError, match="xi"):
        fit_map(matches, "2030-01-01", xi=-1.0)
    with pytest.raises(ValueError, match="lacks column"):
        fit_map(matches.drop(columns="away_goals"), "2030-01-01")
    with pytest.raises(ValueError, match="max_goals"):
        predict_grid(DixonColesParams(("A",), np.zeros(1), np.zeros(1), 0.2, 0.0), "A", "A", max_goals=0)
