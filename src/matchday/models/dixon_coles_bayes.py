"""Full-Bayesian Dixon-Coles: the posterior of the model in `matchday.models.dixon_coles`, sampled with NUTS.

The model and its priors are those of dixon_coles.py, unchanged (the same NumPyro `_model`): Poisson home and away
goals with the Dixon-Coles low-score correction tau, each match's log-likelihood weighted exp(-xi * days before the
reference date), Normal priors on attack, defence and home advantage and a Uniform(-0.3, 0.3) prior on rho. The
Normal priors make the posterior proper without a sum-to-zero constraint; they are not a funnel (fixed scales), so
NUTS samples it without reparametrisation.

Sampler: NumPyro's NUTS kernel (`numpyro.infer.hmc.hmc(..., algo="NUTS")`, the kernel that `MCMC(NUTS(model))` runs,
with its step-size and windowed mass-matrix adaptation) driven by our own `lax.scan` inside one module-level
`jax.jit`. `MCMC` rebuilds and recompiles its sampling loop on every `run` (its jit cache is keyed on closures it
creates per call), and compiling NUTS costs seconds; the jitted loop here is compiled once per shape and setting and
then serves every later fit of that shape (a rolling backtest refits every week). The data are padded by
dixon_coles's `_data` (zero-weight rows, teams that play no match), so shapes change rarely; padded teams are sampled
from their prior and dropped from the output.

Chains start at the MAP (`fit_map`), so warmup only has to adapt the step size and mass matrix rather than travel
from the prior centre. The Poisson part of the posterior is log-concave in attack, defence and home advantage and
tau only perturbs four cells, so the posterior is unimodal in practice and a common start costs r_hat little; the
chains separate at their first momentum draw.

Chain method: JAX sees a CPU host as one device, so NumPyro's "parallel" cannot run chains side by side (it warns and
falls back to sequential). That leaves vmapping the chains into one program ("vectorized") or running them one after
the other ("sequential", lax.map). Sequential is the default because it measured faster on every count on the 2-core
development machine (EPL, 3 seasons, 2 chains x 1,000 iterations): batching NUTS's data-dependent while loops makes
every chain wait for the longest trajectory and multiplies the XLA program (tracing ~8 s against ~1 s, compiling
~12 s against ~8 s), and a warm fit took ~6.5 s vectorized against ~4 s sequential. BENCHMARKS.md has the figures.
A diagonal mass matrix: a dense one tripled the effective sample size but also the time of a fit (no gain per second).
Fits run in float64, enabled only for the fit as in `fit_map`: float32 warm fits took 3.2-4.1 s against 4.1-7.1 s in
one run on the (shared, noisy) machine, too small and uncertain a gain to give up the MAP fit's precision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, ClassVar, Literal

import jax
import numpy as np
import numpy.typing as npt
import pandas as pd
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, potential_energy, unconstrain_fn

from matchday.domain import ScoreGrid
from matchday.models.dixon_coles import (
    _TEAM_BUCKET,
    _UNKNOWN_POOL,
    DEFAULT_XI,
    RHO_BOUND,
    DixonColesParams,
    DixonColesPriors,
    _bucket,
    _Data,
    _data,
    _model,
    _played_before,
    fit_map,
    rate_grids,
)

__all__ = ["CHAIN_METHODS", "FORMAT_VERSION", "ChainMethod", "DixonColesPosterior", "fit_nuts"]

FloatArray = npt.NDArray[np.float64]
ChainMethod = Literal["vectorized", "sequential"]
CHAIN_METHODS: tuple[ChainMethod, ...] = ("vectorized", "sequential")

FORMAT_VERSION = 1
_MODEL_NAME = "dixon_coles_nuts"
_SITES = ("attack", "defence", "home_advantage", "rho")
_DEFAULT_PRIORS = DixonColesPriors()
_DENSE_MASS = False  # see the module docstring


@dataclass(frozen=True, slots=True, eq=False)
class DixonColesPosterior:
    """Posterior draws: `attack[s, k]` and `defence[s, k]` are draw s of `teams[k]`. Draws are stored chain by chain
    (the first `draws // num_chains` come from chain 0, and so on). Arrays are read-only float64 copies.

    Diagnostics over every real parameter (padded teams excluded): `max_r_hat` is the largest split r_hat,
    `min_ess` the smallest effective sample size, `divergences` the number of divergent transitions after warmup.
    """

    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION

    teams: tuple[str, ...]
    attack: FloatArray
    defence: FloatArray
    home_advantage: FloatArray
    rho: FloatArray
    num_chains: int
    max_r_hat: float
    min_ess: float
    divergences: int

    def __post_init__(self) -> None:
        if not self.teams or len(set(self.teams)) != len(self.teams):
            raise ValueError("teams must be non-empty and unique")
        draws = len(np.asarray(self.home_advantage).reshape(-1))
        shapes: dict[str, tuple[int, ...]] = {"attack": (draws, len(self.teams)), "defence": (draws, len(self.teams))}
        shapes |= {"home_advantage": (draws,), "rho": (draws,)}
        for name, shape in shapes.items():
            values = np.array(getattr(self, name), dtype=np.float64, copy=True)
            if values.shape != shape or not np.isfinite(values).all():
                raise ValueError(f"{name} must be finite values of shape {shape}, got shape {values.shape}")
            values.setflags(write=False)
            object.__setattr__(self, name, values)
        if draws == 0:
            raise ValueError("a posterior needs at least one draw")
        if not np.all(np.abs(self.rho) <= RHO_BOUND):
            raise ValueError(f"rho draws must lie in [-{RHO_BOUND}, {RHO_BOUND}]")
        if isinstance(self.num_chains, bool) or not isinstance(self.num_chains, int) or self.num_chains < 1:
            raise ValueError(f"num_chains must be an integer >= 1, got {self.num_chains!r}")
        if draws % self.num_chains:
            raise ValueError(f"{draws} draws do not split into {self.num_chains} chains of equal length")
        if isinstance(self.divergences, bool) or not isinstance(self.divergences, int) or self.divergences < 0:
            raise ValueError(f"divergences must be an integer >= 0, got {self.divergences!r}")

    @property
    def num_draws(self) -> int:
        return len(self.home_advantage)

    def mean_params(self) -> DixonColesParams:
        """Posterior means as point parameters (for the plug-in grid of `dixon_coles.predict_grid`)."""
        return DixonColesParams(
            teams=self.teams,
            attack=self.attack.mean(axis=0),
            defence=self.defence.mean(axis=0),
            home_advantage=float(self.home_advantage.mean()),
            rho=float(self.rho.mean()),
        )

    def _strengths(self, team: str) -> tuple[FloatArray, FloatArray]:
        """(attack, defence) draws of a team; an unseen team gets, draw by draw, the means over that draw's three
        weakest teams by attack - defence (as `dixon_coles.predict_grid` does for point parameters)."""
        if team in self.teams:
            k = self.teams.index(team)
            return self.attack[:, k], self.defence[:, k]
        weakest = np.argsort(self.attack - self.defence, axis=1, kind="stable")[:, :_UNKNOWN_POOL]
        attack = np.take_along_axis(self.attack, weakest, axis=1).mean(axis=1)
        defence = np.take_along_axis(self.defence, weakest, axis=1).mean(axis=1)
        return attack, defence

    def predict_grid(self, home_team: str, away_team: str, max_goals: int = 10) -> ScoreGrid:
        """The posterior predictive score grid: the mean over draws of each draw's Dixon-Coles grid (truncated at
        `max_goals` and renormalised draw by draw, like the plug-in grid). Unseen teams: see `_strengths`."""
        if isinstance(max_goals, bool) or not isinstance(max_goals, int) or max_goals < 1:
            raise ValueError(f"max_goals must be an integer >= 1, got {max_goals!r}")
        home_attack, home_defence = self._strengths(home_team)
        away_attack, away_defence = self._strengths(away_team)
        lam = np.exp(self.home_advantage + home_attack + away_defence)
        mu = np.exp(away_attack + home_defence)
        grids = rate_grids(lam, mu, np.asarray(self.rho, dtype=np.float64), max_goals)
        return ScoreGrid.from_matrix(grids.mean(axis=0), normalise=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (draws as nested lists), tagged with the model and format version. A diagnostic that is
        not finite (r_hat of a hand-made single draw) is written as None."""
        return {
            "model": _MODEL_NAME,
            "format_version": FORMAT_VERSION,
            "teams": list(self.teams),
            "attack": self.attack.tolist(),
            "defence": self.defence.tolist(),
            "home_advantage": self.home_advantage.tolist(),
            "rho": self.rho.tolist(),
            "num_chains": self.num_chains,
            "max_r_hat": _finite_or_none(self.max_r_hat),
            "min_ess": _finite_or_none(self.min_ess),
            "divergences": self.divergences,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DixonColesPosterior:
        """Inverse of `to_dict`; ValueError when the model or format version is not this one."""
        if data.get("model") != _MODEL_NAME:
            raise ValueError(f"not a Dixon-Coles NUTS posterior: model is {data.get('model')!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"Dixon-Coles NUTS posterior has format version {data.get('format_version')!r}; "
                f"this code reads version {FORMAT_VERSION} only - refit or convert it"
            )
        n_teams = len(data["teams"])
        return cls(
            teams=tuple(str(team) for team in data["teams"]),
            attack=np.asarray(data["attack"], dtype=np.float64).reshape(-1, n_teams),
            defence=np.asarray(data["defence"], dtype=np.float64).reshape(-1, n_teams),
            home_advantage=np.asarray(data["home_advantage"], dtype=np.float64),
            rho=np.asarray(data["rho"], dtype=np.float64),
            num_chains=int(data["num_chains"]),
            max_r_hat=_none_to_nan(data["max_r_hat"]),
            min_ess=_none_to_nan(data["min_ess"]),
            divergences=int(data["divergences"]),
        )


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


@partial(
    jax.jit,
    static_argnames=("n_teams", "priors", "num_warmup", "num_samples", "chain_method", "dense_mass"),
)
def _sample(
    keys: jax.Array,
    start: dict[str, FloatArray],
    data: _Data,
    n_teams: int,
    priors: DixonColesPriors,
    num_warmup: int,
    num_samples: int,
    chain_method: ChainMethod,
    dense_mass: bool,
) -> tuple[dict[str, jax.Array], jax.Array]:
    """(constrained draws by site, each (chains, samples, ...); divergent flags (chains, samples)). Compiled once
    per shape and static setting; every chain starts at the constrained values `start`."""
    args = (data, n_teams, priors)

    def potential_fn_gen(data: _Data) -> Any:
        return lambda z: potential_energy(_model, (data, n_teams, priors), {}, z)

    z0: dict[str, jax.Array] = unconstrain_fn(_model, args, {}, start)

    def constrain(z: dict[str, jax.Array]) -> dict[str, jax.Array]:
        params: dict[str, jax.Array] = constrain_fn(_model, args, {}, z)
        return params

    def chain(key: jax.Array) -> tuple[dict[str, jax.Array], jax.Array]:
        # A fresh kernel per trace: `hmc` keeps the warmup schedule in closure state that init_kernel sets.
        init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
        state = init_kernel(z0, num_warmup, dense_mass=dense_mass, model_args=(data,), rng_key=key)

        def step(state: Any, _: None) -> tuple[Any, tuple[dict[str, jax.Array], jax.Array]]:
            state = sample_kernel(state, model_args=(data,))
            return state, (state.z, state.diverging)

        # One scan over warmup and sampling, not two: each holds a copy of the NUTS kernel, which XLA compiles
        # for seconds; keeping the warmup draws costs a few hundred kB.
        _, (z, diverging) = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
        z = {site: values[num_warmup:] for site, values in z.items()}
        diverging = diverging[num_warmup:]
        return jax.vmap(constrain)(z), diverging

    if chain_method == "vectorized":
        return jax.vmap(chain)(keys)
    return jax.lax.map(chain, keys)  # type: ignore[no-any-return]


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def fit_nuts(
    matches: pd.DataFrame,
    reference_date: date | datetime | pd.Timestamp | str,
    xi: float = DEFAULT_XI,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    seed: int = 0,
    priors: DixonColesPriors = _DEFAULT_PRIORS,
    chain_method: ChainMethod = "sequential",
) -> DixonColesPosterior:
    """NUTS posterior from a match frame (see `matchday.features.frames`) using only matches strictly before
    `reference_date` (later rows are ignored, as in `fit_map`), each weighted exp(-xi * days before it).
    `num_samples` draws are kept from each of `num_chains` chains after `num_warmup` adaptation steps; the same
    seed and data give the same draws."""
    _check_count("num_warmup", num_warmup, 0)
    _check_count("num_samples", num_samples, 4)  # split r_hat halves each chain
    _check_count("num_chains", num_chains, 1)
    _check_count("seed", seed, 0)
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"chain_method must be one of {', '.join(CHAIN_METHODS)}, got {chain_method!r}")
    reference = pd.Timestamp(reference_date)
    map_fit = fit_map(matches, reference, xi, priors=priors)  # validates xi and the frame
    used = _played_before(matches, reference)
    teams = map_fit.teams
    n, n_padded = len(teams), _bucket(len(teams), _TEAM_BUCKET)
    with jax.enable_x64(True):
        data = _data(used, teams, reference, xi)
        start = {
            "attack": np.zeros(n_padded),
            "defence": np.zeros(n_padded),
            "home_advantage": np.array(map_fit.home_advantage),
            "rho": np.array(map_fit.rho),
        }
        start["attack"][:n] = map_fit.attack
        start["defence"][:n] = map_fit.defence
        keys = jax.random.split(jax.random.PRNGKey(seed), num_chains)
        samples, diverging = _sample(
            keys, start, data, n_padded, priors, num_warmup, num_samples, chain_method, _DENSE_MASS
        )
        by_chain = {site: np.asarray(samples[site], dtype=np.float64) for site in _SITES}
        divergences = int(np.asarray(diverging).sum())
    by_chain["attack"] = by_chain["attack"][..., :n]
    by_chain["defence"] = by_chain["defence"][..., :n]
    r_hat = max(float(np.max(split_gelman_rubin(by_chain[site]))) for site in _SITES)
    ess = min(float(np.min(effective_sample_size(by_chain[site]))) for site in _SITES)
    draws = num_chains * num_samples
    return DixonColesPosterior(
        teams=teams,
        attack=by_chain["attack"].reshape(draws, n),
        defence=by_chain["defence"].reshape(draws, n),
        home_advantage=by_chain["home_advantage"].reshape(draws),
        rho=by_chain["rho"].reshape(draws),
        num_chains=num_chains,
        max_r_hat=r_hat,
        min_ess=ess,
        divergences=divergences,
    )
