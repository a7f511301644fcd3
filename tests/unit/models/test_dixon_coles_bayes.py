"""Dixon-Coles NUTS: parameter recovery on a simulated league, agreement with the MAP fit, convergence diagnostics,
the posterior predictive grid (against the plug-in grid, draw by draw), unseen teams, the reference-date cut-off,
the serialised form and input validation.

Every fit uses the same sampler settings, so the NUTS program is compiled once for the module."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from matchday.models.dixon_coles import DixonColesParams, fit_map, predict_grid
from matchday.models.dixon_coles_bayes import FORMAT_VERSION, DixonColesPosterior, fit_nuts

from .simulated import simulate_league

N_TEAMS = 12
TRUE_HOME, TRUE_RHO = 0.3, -0.08
WARMUP, SAMPLES, CHAINS = 500, 500, 2


@pytest.fixture(scope="module")
def league() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    attack = rng.normal(0.0, 0.35, N_TEAMS)
    defence = rng.normal(0.0, 0.35, N_TEAMS)
    teams = {f"T{k:02d}": np.full(3, attack[k]) for k in range(N_TEAMS)}
    return simulate_league(rng, teams, defence, home=TRUE_HOME, rho=TRUE_RHO, seasons=3), attack, defence


def _after_last(matches: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(matches["match_date"].max()) + pd.Timedelta(days=1)


def _fit(matches: pd.DataFrame, reference: pd.Timestamp, **kwargs: object) -> DixonColesPosterior:
    settings: dict[str, object] = {"num_warmup": WARMUP, "num_samples": SAMPLES, "num_chains": CHAINS} | kwargs
    return fit_nuts(matches, reference, **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def posterior(league: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> DixonColesPosterior:
    matches, _, _ = league
    return _fit(matches, _after_last(matches), xi=0.0)


def _inside(values: np.ndarray, truth: np.ndarray | float, level: float = 0.99) -> np.ndarray:
    """Whether each true value lies in the central `level` interval of its draws (draws along axis 0)."""
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return np.asarray((low <= truth) & (truth <= high), dtype=bool)


def test_shapes_and_diagnostics(posterior: DixonColesPosterior) -> None:
    assert posterior.teams == tuple(f"T{k:02d}" for k in range(N_TEAMS))  # padded teams dropped
    assert posterior.attack.shape == posterior.defence.shape == (CHAINS * SAMPLES, N_TEAMS)
    assert posterior.home_advantage.shape == posterior.rho.shape == (CHAINS * SAMPLES,)
    assert posterior.num_chains == CHAINS
    assert posterior.max_r_hat < 1.05
    assert posterior.min_ess > 100
    assert posterior.divergences <= 0.01 * CHAINS * SAMPLES
    assert np.all(np.abs(posterior.rho) <= 0.3)
    # the chains are not copies of each other
    first, second = np.split(posterior.attack, CHAINS)
    assert not np.array_equal(first, second)


def test_recovers_simulated_parameters(
    league: tuple[pd.DataFrame, np.ndarray, np.ndarray], posterior: DixonColesPosterior
) -> None:
    _, attack, defence = league
    # The likelihood sees attack + defence sums only; the prior sets the level split between the two, so the
    # team-by-team check is on values relative to the league mean, draw by draw.
    centred_attack = posterior.attack - posterior.attack.mean(axis=1, keepdims=True)
    centred_defence = posterior.defence - posterior.defence.mean(axis=1, keepdims=True)
    assert _inside(centred_attack, attack - attack.mean()).sum() >= N_TEAMS - 1
    assert _inside(centred_defence, defence - defence.mean()).sum() >= N_TEAMS - 1
    assert _inside(posterior.home_advantage, TRUE_HOME)
    assert _inside(posterior.rho, TRUE_RHO)
    assert np.corrcoef(centred_attack.mean(axis=0), attack)[0, 1] > 0.9
    assert np.corrcoef(centred_defence.mean(axis=0), defence)[0, 1] > 0.9
    # 396 matches: posterior sds are ~0.15 for a team and ~0.06 for the home advantage
    assert np.abs(centred_attack.mean(axis=0) - (attack - attack.mean())).mean() < 0.15
    assert np.abs(centred_defence.mean(axis=0) - (defence - defence.mean())).mean() < 0.15
    assert abs(posterior.home_advantage.mean() - TRUE_HOME) < 0.15


def test_posterior_mean_agrees_with_the_map_fit(
    league: tuple[pd.DataFrame, np.ndarray, np.ndarray], posterior: DixonColesPosterior
) -> None:
    matches, _, _ = league
    map_params = fit_map(matches, _after_last(matches), xi=0.0)
    mean = posterior.mean_params()
    assert mean.teams == map_params.teams
    # mean and mode differ by the (small) skew of the posterior plus Monte Carlo error of ~sd / sqrt(ess)
    np.testing.assert_allclose(mean.attack, map_params.attack, atol=0.05)
    np.testing.assert_allclose(mean.defence, map_params.defence, atol=0.05)
    assert mean.home_advantage == pytest.approx(map_params.home_advantage, abs=0.03)
    assert mean.rho == pytest.approx(map_params.rho, abs=0.03)


def test_predictive_grid_is_a_distribution_near_the_plug_in_grid(posterior: DixonColesPosterior) -> None:
    grid = posterior.predict_grid("T03", "T07")
    assert grid.probabilities.shape == (11, 11)
    assert np.all(grid.probabilities >= 0)
    assert grid.probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    plug_in = predict_grid(posterior.mean_params(), "T03", "T07")
    gap = np.abs(grid.probabilities - plug_in.probabilities).max()
    assert 1e-5 < gap < 0.01  # parameter uncertainty widens the grid a little
    assert posterior.predict_grid("T03", "T07", max_goals=6).probabilities.shape == (7, 7)


@pytest.mark.parametrize(("home", "away"), [("T03", "T07"), ("Promoted FC", "T00"), ("T05", "Promoted FC")])
def test_predictive_grid_is_the_mean_of_the_per_draw_grids(
    posterior: DixonColesPosterior, home: str, away: str
) -> None:
    """Against dixon_coles.predict_grid draw by draw: the same tau floor, truncation and unseen-team rule."""
    draws = range(0, posterior.num_draws, 25)
    subset = DixonColesPosterior(
        posterior.teams,
        posterior.attack[draws],
        posterior.defence[draws],
        posterior.home_advantage[draws],
        posterior.rho[draws],
        num_chains=1,
        max_r_hat=float("nan"),
        min_ess=float("nan"),
        divergences=0,
    )
    expected = np.mean(
        [
            predict_grid(
                DixonColesParams(
                    posterior.teams,
                    posterior.attack[s],
                    posterior.defence[s],
                    float(posterior.home_advantage[s]),
                    float(posterior.rho[s]),
                ),
                home,
                away,
            ).probabilities
            for s in draws
        ],
        axis=0,
    )
    np.testing.assert_allclose(subset.predict_grid(home, away).probabilities, expected, rtol=1e-10, atol=1e-15)


def test_unseen_team_is_priced_like_the_weakest(posterior: DixonColesPosterior) -> None:
    grid = posterior.predict_grid("Promoted FC", "T00")
    assert np.isfinite(grid.probabilities).all()
    assert grid.probabilities.sum() == pytest.approx(1.0)
    strongest = int(np.argmax(posterior.mean_params().attack - posterior.mean_params().defence))
    home_win_newcomer = grid.outcome_probabilities()[0]
    home_win_strongest = posterior.predict_grid(posterior.teams[strongest], "T00").outcome_probabilities()[0]
    assert home_win_newcomer < home_win_strongest
    both_unknown = posterior.predict_grid("Promoted FC", "Other Newcomer")
    assert np.isfinite(both_unknown.probabilities).all()


def test_matches_on_or_after_the_reference_date_are_ignored(
    league: tuple[pd.DataFrame, np.ndarray, np.ndarray], posterior: DixonColesPosterior
) -> None:
    matches, _, _ = league
    reference = _after_last(matches)
    future = pd.DataFrame(
        {
            "match_id": [10_000, 10_001, 10_002],
            "match_date": [reference, reference, reference + pd.Timedelta(days=7)],
            "home_team": ["T00", "Only In The Future", "T01"],
            "away_team": ["T01", "T02", "T00"],
            "home_goals": [9.0, 0.0, np.nan],  # unplayed fixtures are fine too
            "away_goals": [0.0, 9.0, np.nan],
            "competition": "SIM",
            "season": 2020,
        }
    )
    with_future = _fit(pd.concat([matches, future], ignore_index=True), reference, xi=0.0)  # the fixture's seed
    assert with_future.teams == posterior.teams
    for name in ("attack", "defence", "home_advantage", "rho"):
        np.testing.assert_array_equal(getattr(with_future, name), getattr(posterior, name))
    assert with_future.to_dict() == posterior.to_dict()


def test_to_dict_round_trips_through_json(posterior: DixonColesPosterior) -> None:
    data = json.loads(json.dumps(posterior.to_dict()))
    assert data["model"] == "dixon_coles_nuts"
    assert data["format_version"] == FORMAT_VERSION == DixonColesPosterior.FORMAT_VERSION
    restored = DixonColesPosterior.from_dict(data)
    assert restored.to_dict() == posterior.to_dict()
    np.testing.assert_array_equal(restored.attack, posterior.attack)
    assert (restored.max_r_hat, restored.min_ess, restored.divergences) == (
        posterior.max_r_hat,
        posterior.min_ess,
        posterior.divergences,
    )
    assert restored.predict_grid("T03", "Promoted FC") == posterior.predict_grid("T03", "Promoted FC")


def test_non_finite_diagnostics_are_written_as_null(posterior: DixonColesPosterior) -> None:
    single = DixonColesPosterior(
        posterior.teams,
        posterior.attack[:1],
        posterior.defence[:1],
        posterior.home_advantage[:1],
        posterior.rho[:1],
        num_chains=1,
        max_r_hat=float("nan"),
        min_ess=float("nan"),
        divergences=0,
    )
    text = json.dumps(single.to_dict(), allow_nan=False)
    restored = DixonColesPosterior.from_dict(json.loads(text))
    assert np.isnan(restored.max_r_hat)
    assert np.isnan(restored.min_ess)
    # one draw: the predictive grid is the plug-in grid of that draw
    assert restored.predict_grid("T01", "T02") == predict_grid(single.mean_params(), "T01", "T02")


def test_from_dict_rejects_another_format_version_or_model(posterior: DixonColesPosterior) -> None:
    data = posterior.to_dict() | {"format_version": FORMAT_VERSION + 1}
    with pytest.raises(ValueError, match=rf"format version {FORMAT_VERSION + 1}.*version {FORMAT_VERSION} only"):
        DixonColesPosterior.from_dict(data)
    with pytest.raises(ValueError, match="not a Dixon-Coles NUTS posterior"):
        DixonColesPosterior.from_dict(posterior.mean_params().to_dict())


def test_posterior_is_validated_and_read_only(posterior: DixonColesPosterior) -> None:
    def make(**changes: object) -> DixonColesPosterior:
        fields: dict[str, object] = {
            "teams": ("A", "B"),
            "attack": np.zeros((4, 2)),
            "defence": np.zeros((4, 2)),
            "home_advantage": np.zeros(4),
            "rho": np.zeros(4),
            "num_chains": 2,
            "max_r_hat": 1.0,
            "min_ess": 4.0,
            "divergences": 0,
        } | changes
        return DixonColesPosterior(**fields)  # type: ignore[arg-type]

    assert make().num_draws == 4
    with pytest.raises(ValueError, match="attack"):
        make(attack=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="defence"):
        make(defence=np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="rho"):
        make(rho=np.full(4, 0.5))
    with pytest.raises(ValueError, match="unique"):
        make(teams=("A", "A"))
    with pytest.raises(ValueError, match="chains of equal length"):
        make(num_chains=3)
    with pytest.raises(ValueError, match="at least one draw"):
        make(attack=np.zeros((0, 2)), defence=np.zeros((0, 2)), home_advantage=np.zeros(0), rho=np.zeros(0))
    with pytest.raises(ValueError, match="divergences"):
        make(divergences=-1)
    with pytest.raises(ValueError, match="read-only"):
        posterior.attack[0, 0] = 1.0


def test_rejects_bad_input(league: tuple[pd.DataFrame, np.ndarray, np.ndarray], posterior: DixonColesPosterior) -> None:
    matches, _, _ = league
    reference = _after_last(matches)
    with pytest.raises(ValueError, match="no matches before"):
        fit_nuts(matches, matches["match_date"].min())
    with pytest.raises(ValueError, match="xi"):
        fit_nuts(matches, reference, xi=-1.0)
    with pytest.raises(ValueError, match="lacks column"):
        fit_nuts(matches.drop(columns="home_goals"), reference)
    with pytest.raises(ValueError, match="num_samples"):
        fit_nuts(matches, reference, num_samples=3)
    with pytest.raises(ValueError, match="num_chains"):
        fit_nuts(matches, reference, num_chains=0)
    with pytest.raises(ValueError, match="num_warmup"):
        fit_nuts(matches, reference, num_warmup=True)
    with pytest.raises(ValueError, match="seed"):
        fit_nuts(matches, reference, seed=-1)
    with pytest.raises(ValueError, match="chain_method"):
        fit_nuts(matches, reference, chain_method="parallel")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_goals"):
        posterior.predict_grid("T00", "T01", max_goals=0)
