"""Dixon-Coles (1997) goals model with exponential time decay, fitted by MAP in NumPyro/JAX.

    home goals x ~ Poisson(lam = exp(home_advantage + attack[home] + defence[away]))
    away goals y ~ Poisson(mu  = exp(attack[away] + defence[home]))
    P(x, y) = tau(x, y; lam, mu, rho) * Poisson(x; lam) * Poisson(y; mu)

with tau(0, 0) = 1 - lam*mu*rho, tau(0, 1) = 1 + lam*rho, tau(1, 0) = 1 + mu*rho, tau(1, 1) = 1 - rho and 1 for
every other score. A high `defence` is a *weak* defence: it raises the opponent's scoring rate.

Each match's log-likelihood is weighted by exp(-xi * days before the reference date) (Dixon & Coles' phi).
Priors: attack, defence ~ Normal(0, fixed scale), home_advantage ~ Normal(0.25, 0.5), rho ~ Uniform(-0.3, 0.3).
The prior scales are fixed rather than given a HalfNormal hyperprior because the joint density of a hierarchical
scale is unbounded at scale -> 0 (the funnel), so its MAP is degenerate. The Normal priors also fix the one
direction the likelihood leaves free (attack + c, defence - c for every team), so no sum-to-zero constraint.

The MAP is found by a jit-compiled BFGS (`jax.scipy.optimize.minimize`) on the negative log joint of the NumPyro
model, in float64 (enabled only for the fit) with rho = 0.3 * tanh(u) so that every step stays inside the prior's
support; the density is evaluated at rho itself, so no Jacobian term moves the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
import numpyro
import numpyro.distributions as dist
import pandas as pd
from jax.scipy.optimize import minimize
from numpyro.infer.util import log_density
from scipy.special import gammaln

from matchday.domain import ScoreGrid

__all__ = [
    "DEFAULT_XI",
    "FORMAT_VERSION",
    "RHO_BOUND",
    "DixonColesParams",
    "DixonColesPriors",
    "MapFit",
    "fit_map",
    "fit_map_detailed",
    "outcome_probabilities",
    "predict_grid",
    "predict_grids",
    "rate_grids",
]

FloatArray = npt.NDArray[np.float64]

FORMAT_VERSION = 1
RHO_BOUND = 0.3
DEFAULT_XI = 0.0018  # per day: penaltyblog's tuned value, a half-life of ~385 days
_MODEL_NAME = "dixon_coles"
_UNKNOWN_POOL = 3  # promoted sides replace the relegated three: price a newcomer like the three weakest
_TAU_FLOOR = 1e-10  # tau can go negative for large rates and |rho| near the bound; keep the log finite
# Padding the data to a few fixed shapes lets one compiled solver serve a whole rolling backtest.
_MATCH_BUCKET = 512
_TEAM_BUCKET = 16  # 20-team leagues over a few seasons (20-28 teams) share one compiled shape: 32
_GTOL = 1e-7  # on the weight-averaged objective: parameters land within ~1e-5 of the optimum
_RESTARTS = 2


@dataclass(frozen=True, slots=True)
class DixonColesPriors:
    """Fixed prior scales; 0.5 for attack/defence is ~1.5x the spread seen in top leagues (weakly informative)."""

    attack_scale: float = 0.5
    defence_scale: float = 0.5
    home_mean: float = 0.25
    home_scale: float = 0.5


@dataclass(frozen=True, slots=True, eq=False)
class DixonColesParams:
    """Fitted parameters; `attack[k]` and `defence[k]` belong to `teams[k]`. Arrays are read-only copies."""

    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    teams: tuple[str, ...]
    attack: FloatArray
    defence: FloatArray
    home_advantage: float
    rho: float

    def __post_init__(self) -> None:
        for name in ("attack", "defence"):
            values = np.array(getattr(self, name), dtype=np.float64, copy=True)
            if values.shape != (len(self.teams),) or not np.isfinite(values).all():
                raise ValueError(f"{name} must be {len(self.teams)} finite values, got shape {values.shape}")
            values.setflags(write=False)
            object.__setattr__(self, name, values)
        if len(set(self.teams)) != len(self.teams):
            raise ValueError("teams must be unique")
        if not math.isfinite(self.home_advantage):
            raise ValueError(f"home_advantage must be finite, got {self.home_advantage!r}")
        if not abs(self.rho) <= RHO_BOUND:
            raise ValueError(f"rho must lie in [-{RHO_BOUND}, {RHO_BOUND}], got {self.rho!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of plain lists and floats, tagged with the model and format version."""
        return {
            "model": _MODEL_NAME,
            "format_version": FORMAT_VERSION,
            "teams": list(self.teams),
            "attack": [float(v) for v in self.attack],
            "defence": [float(v) for v in self.defence],
            "home_advantage": float(self.home_advantage),
            "rho": float(self.rho),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DixonColesParams:
        """Inverse of `to_dict`; ValueError when the model or format version is not this one."""
        if data.get("model") != _MODEL_NAME:
            raise ValueError(f"not Dixon-Coles parameters: model is {data.get('model')!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"Dixon-Coles parameters have format version {data.get('format_version')!r}; "
                f"this code reads version {FORMAT_VERSION} only - refit or convert them"
            )
        return cls(
            teams=tuple(str(team) for team in data["teams"]),
            attack=np.asarray(data["attack"], dtype=np.float64),
            defence=np.asarray(data["defence"], dtype=np.float64),
            home_advantage=float(data["home_advantage"]),
            rho=float(data["rho"]),
        )


@dataclass(frozen=True, slots=True)
class MapFit:
    """A MAP fit with the optimiser's report: BFGS iterations, whether it met the gradient tolerance, and the
    negative log joint per unit of match weight at the optimum."""

    params: DixonColesParams
    iterations: int
    converged: bool
    objective: float
    n_matches: int


class _Data(NamedTuple):
    """Padded model inputs: padding rows have weight 0 and padding teams play no match."""

    home: jax.Array
    away: jax.Array
    home_goals: jax.Array
    away_goals: jax.Array
    weight: jax.Array


def _log_tau(x: jax.Array, y: jax.Array, lam: jax.Array, mu: jax.Array, rho: jax.Array) -> jax.Array:
    tau = jnp.where(
        (x == 0) & (y == 0),
        1.0 - lam * mu * rho,
        jnp.where(
            (x == 0) & (y == 1),
            1.0 + lam * rho,
            jnp.where((x == 1) & (y == 0), 1.0 + mu * rho, jnp.where((x == 1) & (y == 1), 1.0 - rho, 1.0)),
        ),
    )
    return jnp.log(jnp.maximum(tau, _TAU_FLOOR))


def _model(data: _Data, n_teams: int, priors: DixonColesPriors) -> None:
    """The NumPyro model; usable as is with NUTS for a full posterior."""
    with numpyro.plate("teams", n_teams):
        attack = numpyro.sample("attack", dist.Normal(0.0, priors.attack_scale))
        defence = numpyro.sample("defence", dist.Normal(0.0, priors.defence_scale))
    home_advantage = numpyro.sample("home_advantage", dist.Normal(priors.home_mean, priors.home_scale))
    rho = numpyro.sample("rho", dist.Uniform(-RHO_BOUND, RHO_BOUND))
    log_lam = home_advantage + attack[data.home] + defence[data.away]
    log_mu = attack[data.away] + defence[data.home]
    log_lik = (
        dist.Poisson(jnp.exp(log_lam)).log_prob(data.home_goals)
        + dist.Poisson(jnp.exp(log_mu)).log_prob(data.away_goals)
        + _log_tau(data.home_goals, data.away_goals, jnp.exp(log_lam), jnp.exp(log_mu), rho)
    )
    # A weighted factor rather than an observed site: the time-decay weights are not a likelihood NumPyro knows.
    numpyro.factor("weighted_log_likelihood", jnp.sum(data.weight * log_lik))


def _unpack(theta: jax.Array, n_teams: int) -> dict[str, jax.Array]:
    return {
        "attack": theta[:n_teams],
        "defence": theta[n_teams : 2 * n_teams],
        "home_advantage": theta[2 * n_teams],
        "rho": RHO_BOUND * jnp.tanh(theta[2 * n_teams + 1]),
    }


def _solve_impl(theta0: jax.Array, data: _Data, n_teams: int, priors: DixonColesPriors, steps: int) -> Any:
    total_weight = jnp.sum(data.weight)

    def objective(theta: jax.Array) -> jax.Array:
        log_joint, _ = log_density(_model, (data, n_teams, priors), {}, _unpack(theta, n_teams))
        # Per unit of weight, so one gradient tolerance suits a month of data and ten seasons alike.
        return -jnp.asarray(log_joint) / total_weight

    # BFGS starts from an identity inverse Hessian and spends ~60 iterations learning the curvature even from last
    # week's optimum. Solving in z = L^T (theta - theta0), with H(theta0) = L L^T, makes the Hessian ~identity
    # where BFGS starts, so a warm start converges in a handful of iterations. Where H(theta0) is not positive
    # definite (far from the optimum rho can make it so) Cholesky gives NaN and the plain coordinates are used.
    hessian = jax.hessian(objective)(theta0)
    cholesky = jnp.linalg.cholesky(hessian)
    usable = jnp.all(jnp.isfinite(cholesky))
    factor = jnp.where(usable, cholesky, jnp.eye(theta0.shape[0], dtype=theta0.dtype))

    def to_theta(z: jax.Array) -> jax.Array:
        return theta0 + jax.scipy.linalg.solve_triangular(factor.T, z, lower=False)

    result = minimize(
        lambda z: objective(to_theta(z)),
        jnp.zeros_like(theta0),
        method="BFGS",
        options={"maxiter": steps, "gtol": _GTOL},
    )
    return to_theta(result.x), result.nit, result.status, result.fun


_solve = jax.jit(_solve_impl, static_argnames=("n_teams", "priors", "steps"))


def _optimise(
    theta: jax.Array, data: _Data, n_teams: int, priors: DixonColesPriors, steps: int
) -> tuple[FloatArray, int, int, float]:
    """(theta, iterations, BFGS status, objective). A failed line search (status >= 2) usually means a stale
    inverse-Hessian estimate, so the solver restarts from where it stopped, with a fresh one, a few times."""
    iterations = 0
    for _ in range(1 + _RESTARTS):
        theta, nit, code, fun = _solve(theta, data, n_teams, priors, steps)
        status = int(code)
        iterations += int(nit)
        if status < 2:  # 0 converged, 1 out of steps; 2+ the line search failed
            break
    return np.asarray(theta, dtype=np.float64), iterations, status, float(fun)


def _bucket(n: int, size: int) -> int:
    return max(size, -(-n // size) * size)


def _dates(values: pd.Series) -> pd.Series:
    # A walk-forward refits hundreds of times on frames that already hold datetimes: pd.to_datetime would still
    # scan every value (a third of a warm refit's time), so convert only what needs it.
    return values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values)


def _played_before(matches: pd.DataFrame, reference: pd.Timestamp) -> pd.DataFrame:
    """The matches strictly before the reference date: the only ones a forecast made on that date could know."""
    columns = ["match_date", "home_team", "away_team", "home_goals", "away_goals"]
    missing = [c for c in columns if c not in matches.columns]
    if missing:
        raise ValueError(f"match frame lacks column(s) {', '.join(missing)}")
    used = matches.loc[_dates(matches["match_date"]) < reference, columns]
    if used.empty:
        raise ValueError(f"no matches before the reference date {reference.date()}")
    if used[["home_goals", "away_goals"]].isna().any().any():
        raise ValueError("matches before the reference date must all have goals")
    return used


def _data(used: pd.DataFrame, teams: tuple[str, ...], reference: pd.Timestamp, xi: float) -> _Data:
    index = {team: k for k, team in enumerate(teams)}
    days = (reference - _dates(used["match_date"])).dt.days.to_numpy(dtype=np.float64)
    size = _bucket(len(used), _MATCH_BUCKET)

    def padded(values: npt.ArrayLike, dtype: type) -> jax.Array:
        out: npt.NDArray[Any] = np.zeros(size, dtype=dtype)
        out[: len(used)] = values
        return jnp.asarray(out)

    return _Data(
        home=padded(used["home_team"].map(index), np.int32),
        away=padded(used["away_team"].map(index), np.int32),
        home_goals=padded(used["home_goals"], np.float64),
        away_goals=padded(used["away_goals"], np.float64),
        weight=padded(np.exp(-xi * days), np.float64),
    )


def _initial_theta(
    teams: tuple[str, ...], n_padded: int, init: DixonColesParams | None, priors: DixonColesPriors
) -> FloatArray:
    """Cold start at the prior centre; a warm start copies `init`, with its unknown teams at 0."""
    theta = np.zeros(2 * n_padded + 2, dtype=np.float64)
    theta[2 * n_padded] = priors.home_mean
    if init is not None:
        known = {team: k for k, team in enumerate(init.teams)}
        for k, team in enumerate(teams):
            if team in known:
                theta[k] = init.attack[known[team]]
                theta[n_padded + k] = init.defence[known[team]]
        theta[2 * n_padded] = init.home_advantage
        # Near the bound tanh is flat and BFGS stalls there: start at most 90% of the way to it.
        theta[2 * n_padded + 1] = math.atanh(max(-0.9, min(0.9, init.rho / RHO_BOUND)))
    return theta


def fit_map_detailed(
    matches: pd.DataFrame,
    reference_date: date | datetime | pd.Timestamp | str,
    xi: float = DEFAULT_XI,
    init: DixonColesParams | None = None,
    steps: int = 500,
    priors: DixonColesPriors = DixonColesPriors(),  # frozen, so one shared default is safe
) -> MapFit:
    """MAP fit on the matches *strictly before* `reference_date` (later rows are ignored, so a frame holding the
    future cannot leak into the fit); see `fit_map`. `converged` is False when `steps` BFGS iterations did not
    reach the gradient tolerance - the parameters are then the last iterate."""
    if not (math.isfinite(xi) and xi >= 0):
        raise ValueError(f"xi must be finite and non-negative, got {xi!r}")
    reference = pd.Timestamp(reference_date)
    used = _played_before(matches, reference)
    teams = tuple(sorted(set(used["home_team"]) | set(used["away_team"])))
    n_padded = _bucket(len(teams), _TEAM_BUCKET)
    with jax.enable_x64(True):
        data = _data(used, teams, reference, xi)
        theta0 = jnp.asarray(_initial_theta(teams, n_padded, init, priors))
        theta, iterations, status, objective = _optimise(theta0, data, n_padded, priors, steps)
    n = len(teams)
    params = DixonColesParams(
        teams=teams,
        attack=theta[:n],
        defence=theta[n_padded : n_padded + n],
        home_advantage=float(theta[2 * n_padded]),
        rho=float(RHO_BOUND * math.tanh(theta[2 * n_padded + 1])),
    )
    return MapFit(params, iterations, status == 0, objective, len(used))


def fit_map(
    matches: pd.DataFrame,
    reference_date: date | datetime | pd.Timestamp | str,
    xi: float = DEFAULT_XI,
    init: DixonColesParams | None = None,
    steps: int = 500,
    priors: DixonColesPriors = DixonColesPriors(),  # frozen, so one shared default is safe
) -> DixonColesParams:
    """MAP parameters from a match frame (see `matchday.features.frames`) using only matches strictly before
    `reference_date`, each weighted exp(-xi * days before it). `init` warm-starts the optimiser (teams it lacks
    start at 0); `steps` caps the BFGS iterations."""
    return fit_map_detailed(matches, reference_date, xi, init, steps, priors).params


def _strengths(params: DixonColesParams, teams: Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """(attack, defence) of each team; an unseen team gets the means over the three weakest by attack - defence."""
    weakest = np.argsort(params.attack - params.defence, kind="stable")[:_UNKNOWN_POOL]
    unseen = (float(params.attack[weakest].mean()), float(params.defence[weakest].mean()))
    index = {team: k for k, team in enumerate(params.teams)}
    attack = np.array([params.attack[index[t]] if t in index else unseen[0] for t in teams], dtype=np.float64)
    defence = np.array([params.defence[index[t]] if t in index else unseen[1] for t in teams], dtype=np.float64)
    return attack, defence


def predict_grids(
    params: DixonColesParams, home_teams: Sequence[str], away_teams: Sequence[str], max_goals: int = 10
) -> FloatArray:
    """The (n, max_goals + 1, max_goals + 1) score grids of n fixtures at once: `predict_grid` vectorised, each
    with the low-score correction, truncated at `max_goals` and renormalised."""
    if isinstance(max_goals, bool) or not isinstance(max_goals, int) or max_goals < 1:
        raise ValueError(f"max_goals must be an integer >= 1, got {max_goals!r}")
    if not params.teams:
        raise ValueError("params hold no teams")
    home_attack, home_defence = _strengths(params, home_teams)
    away_attack, away_defence = _strengths(params, away_teams)
    lam = np.exp(params.home_advantage + home_attack + away_defence)
    mu = np.exp(away_attack + home_defence)
    return rate_grids(lam, mu, np.full_like(lam, params.rho), max_goals)


def rate_grids(lam: FloatArray, mu: FloatArray, rho: FloatArray, max_goals: int) -> FloatArray:
    """(n, G, G) Dixon-Coles grids of n (home rate, away rate, rho): independent Poissons times the low-score
    correction tau, truncated at `max_goals` and each renormalised. The one place the grid is computed."""
    goals = np.arange(max_goals + 1, dtype=np.float64)
    log_factorial = gammaln(goals + 1.0)

    def pmf(rate: FloatArray) -> FloatArray:
        values: FloatArray = np.exp(goals[None, :] * np.log(rate)[:, None] - rate[:, None] - log_factorial[None, :])
        return values

    grid = pmf(lam)[:, :, None] * pmf(mu)[:, None, :]
    tau = np.stack([1.0 - lam * mu * rho, 1.0 + lam * rho, 1.0 + mu * rho, 1.0 - rho], axis=1)
    # The same floor as the fit: a negative tau (extreme rates) would otherwise make a negative probability.
    grid[:, :2, :2] *= np.maximum(tau, _TAU_FLOOR).reshape(-1, 2, 2)
    grids: FloatArray = grid / grid.sum(axis=(1, 2), keepdims=True)
    return grids


def outcome_probabilities(grids: FloatArray) -> FloatArray:
    """(n, 3) home/draw/away probabilities of (n, G, G) score grids."""
    home = np.tril(grids, k=-1).sum(axis=(1, 2))
    draw = np.trace(grids, axis1=1, axis2=2)
    away = np.triu(grids, k=1).sum(axis=(1, 2))
    probs: FloatArray = np.column_stack([home, draw, away])
    return probs


def predict_grid(params: DixonColesParams, home_team: str, away_team: str, max_goals: int = 10) -> ScoreGrid:
    """The score grid with the low-score correction, truncated at `max_goals` and renormalised. A team the fit
    never saw (a promoted side) is priced like the mean of the fit's three weakest teams."""
    return ScoreGrid.from_matrix(predict_grids(params, [home_team], [away_team], max_goals)[0], normalise=True)
