"""Hyperparameter search with Ray Tune, each trial scored by walk-forward RPS on the validation seasons.

A trial walks its model through the validation seasons one at a time (`walk_forward` per season: refits before
each block on the matches played before it, so no trial sees a result it predicts) and reports the cumulative mean
RPS after every season. One season is one `training_iteration`, so ASHA can stop a weak trial after the first
season and spend the time on others. Only trials that walked every season are ranked: a stopped trial's RPS covers
fewer matches and is not comparable.

The dataset reaches the trials through the object store (`tune.with_parameters`), and each trial declares its
resources (`tune.with_resources`), so the same call fills a cluster's GPU node pool (boosters then train with
`device="cuda"`) or a laptop's cores. Ray is started locally only when no Ray is running and no address is given,
and is then shut down again; a running Ray (a cluster the caller joined) is used as it is and left running.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args

import numpy as np
import pandas as pd
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator

from matchday.evaluation.metrics import mean_rps
from matchday.evaluation.walk_forward import WalkForwardConfig, walk_forward
from matchday.features.moments import Moment
from matchday.models.base import Forecaster
from matchday.models.boosters import BoosterParams, Device, Library, booster_model

__all__ = [
    "DIXON_COLES_KEYS",
    "TuneResult",
    "booster_search_space",
    "dixon_coles_from_params",
    "dixon_coles_search_space",
    "tune_boosters",
    "tune_dixon_coles",
]

if TYPE_CHECKING:
    from matchday.models.dixon_coles_model import DixonColesModel

log = logging.getLogger(__name__)

ParamsT = TypeVar("ParamsT")
Kind = Literal["booster", "dixon_coles"]

# Matches before the first validation season: a booster's first fit holds out 15% of them for early stopping and
# Dixon-Coles needs every team to have played; fewer than about half a season gives scores that mean nothing.
MIN_HISTORY_MATCHES = 200
_YEAR = 365
DIXON_COLES_KEYS = ("xi", "window_days", "attack_scale", "defence_scale", "home_mean", "home_scale")
_PROBS = ["p_home", "p_draw", "p_away"]


@dataclass(frozen=True)
class TuneResult(Generic[ParamsT]):
    """`best_params` and `best_rps` are those of the best trial among those that walked every validation season.
    `table` holds one row per trial (sorted by trial id, i.e. creation order): `trial_id`, the sampled parameters,
    `rps` (the last reported, cumulative), `iterations` (seasons walked), `complete`, `stopped_early`, `error`,
    `rps_<season>` (cumulative RPS after each season, NaN where not reached), `cpus`/`gpus` (the resources Ray
    granted the trial) and `trial_seconds`."""

    best_params: ParamsT
    best_rps: float
    trials: int
    stopped_early: int
    failed: int
    table: pd.DataFrame
    seconds: float
    experiment_path: str


@dataclass(frozen=True, slots=True)
class _TrialSpec:
    """What every trial of one search shares, beside the dataset; small, so it travels in the object store too."""

    kind: Kind
    seasons: tuple[int, ...]
    refit_days: int
    library: Library = "xgboost"
    moment: Moment = Moment.OPEN
    device: Device = "cpu"
    n_threads: int = 1
    seed: int = 0
    jax_cache_dir: str | None = None


# Search spaces ---------------------------------------------------------------------------------------------------


def booster_search_space(library: Library) -> dict[str, Any]:
    """The default space over `BoosterParams`. `num_leaves` is searched for LightGBM only (XGBoost grows depth-wise
    and ignores it); `max_bin` and `min_split_gain` keep their defaults, the first being a cost more than a fit."""
    space: dict[str, Any] = {
        "learning_rate": tune.loguniform(0.02, 0.3),
        "max_depth": tune.randint(2, 7),  # 2..6: upper bound exclusive
        "min_child_weight": tune.loguniform(2.0, 100.0),
        "subsample": tune.uniform(0.5, 1.0),
        "colsample_bytree": tune.uniform(0.3, 1.0),
        "reg_lambda": tune.loguniform(0.1, 50.0),
        "reg_alpha": tune.uniform(0.0, 2.0),
    }
    if library == "lightgbm":
        space["num_leaves"] = tune.randint(4, 64)
    return space


def dixon_coles_search_space() -> dict[str, Any]:
    """The default Dixon-Coles space. The prior scales are a few discrete values rather than a continuous range:
    the priors are a static argument of the jit-compiled solver, so every distinct value costs a compilation of
    seconds in each trial process, while a handful of values are compiled once and then hit JAX's caches."""
    return {
        "xi": tune.loguniform(0.0005, 0.005),
        "window_days": tune.choice([2 * _YEAR, 3 * _YEAR, 5 * _YEAR]),
        "attack_scale": tune.choice([0.25, 0.5, 1.0]),
        "defence_scale": tune.choice([0.25, 0.5, 1.0]),
        "home_scale": tune.choice([0.25, 0.5]),
    }


def dixon_coles_from_params(params: Mapping[str, Any], name: str = "dixon_coles") -> DixonColesModel:
    """The model of a Dixon-Coles parameter dict (`DIXON_COLES_KEYS`; missing keys take the model's defaults)."""
    unknown = sorted(set(params) - set(DIXON_COLES_KEYS))
    if unknown:
        raise ValueError(f"unknown Dixon-Coles key(s): {', '.join(unknown)}; known: {', '.join(DIXON_COLES_KEYS)}")
    # Imported here: JAX and NumPyro cost a booster search's every trial process a second or two for nothing.
    from matchday.models.dixon_coles import DixonColesPriors  # noqa: PLC0415
    from matchday.models.dixon_coles_model import DEFAULT_WINDOW_DAYS, VALIDATED_XI, DixonColesModel  # noqa: PLC0415

    defaults = DixonColesPriors()
    priors = DixonColesPriors(
        attack_scale=float(params.get("attack_scale", defaults.attack_scale)),
        defence_scale=float(params.get("defence_scale", defaults.defence_scale)),
        home_mean=float(params.get("home_mean", defaults.home_mean)),
        home_scale=float(params.get("home_scale", defaults.home_scale)),
    )
    return DixonColesModel(
        xi=float(params.get("xi", VALIDATED_XI)),
        window_days=int(params.get("window_days", DEFAULT_WINDOW_DAYS)),
        priors=priors,
        name=name,
    )


def _plain(config: Mapping[str, Any]) -> dict[str, Any]:
    """Numpy scalars (what some samplers yield) as Python numbers, so `BoosterParams.from_dict` and reports accept
    them."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, np.integer):
            out[key] = int(value)
        elif isinstance(value, np.floating):
            out[key] = float(value)
        else:
            out[key] = value
    return out


def _merged_space(default: dict[str, Any], overrides: Mapping[str, Any] | None, known: Sequence[str]) -> dict[str, Any]:
    space = dict(default)
    if overrides:
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(f"search_space has unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
        space.update(overrides)
    return space


# The trial ------------------------------------------------------------------------------------------------------


def _model_for(spec: _TrialSpec, config: Mapping[str, Any]) -> Forecaster:
    if spec.kind == "booster":
        return booster_model(
            spec.library,
            spec.moment,
            params=BoosterParams.from_dict(dict(config)),
            seed=spec.seed,
            device=spec.device,
            n_threads=spec.n_threads,
        )
    return dixon_coles_from_params(config)


def _season_predictions(
    model: Forecaster, dataset: pd.DataFrame, season: int, refit_days: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """(probabilities, outcomes) of the matches of `season` the model priced, and how many it could not price."""
    config = WalkForwardConfig(seasons=(season,), refit_days=refit_days, warmup_seasons=0)
    predictions = walk_forward(dataset, [model], config).predictions
    priced = predictions[_PROBS].notna().all(axis=1)
    return (
        predictions.loc[priced, _PROBS].to_numpy(dtype=np.float64),
        predictions.loc[priced, "outcome"].to_numpy(dtype=np.int64),
        int((~priced).sum()),
    )


def _trial(config: dict[str, Any], dataset: pd.DataFrame, spec: _TrialSpec) -> None:
    """One trial: walk the validation seasons in order, reporting the cumulative RPS after each (ASHA's rungs).
    The model object carries over from season to season, so Dixon-Coles keeps warm-starting its fits."""
    if spec.jax_cache_dir is not None:
        # Imported here: only Dixon-Coles trials need JAX configured, and only in the trial's own process.
        from matchday.models.jax_cache import enable_compilation_cache  # noqa: PLC0415

        enable_compilation_cache(Path(spec.jax_cache_dir))
    resources = tune.get_context().get_trial_resources().required_resources
    model = _model_for(spec, _plain(config))
    probs: list[np.ndarray] = []
    outcomes: list[np.ndarray] = []
    unpriced = 0
    for season in spec.seasons:
        season_probs, season_outcomes, season_unpriced = _season_predictions(model, dataset, season, spec.refit_days)
        if len(season_probs) == 0:
            raise RuntimeError(f"{model.name} priced none of the {season_unpriced} matches of season {season}")
        probs.append(season_probs)
        outcomes.append(season_outcomes)
        unpriced += season_unpriced
        tune.report(
            {
                "rps": mean_rps(np.concatenate(probs), np.concatenate(outcomes)),
                "season": season,
                "season_rps": mean_rps(season_probs, season_outcomes),
                "priced": sum(len(block) for block in outcomes),
                "unpriced": unpriced,
                "cpus": float(resources.get("CPU", 0.0)),
                "gpus": float(resources.get("GPU", 0.0)),
            }
        )


# Validation and the Ray session --------------------------------------------------------------------------------


def _check_inputs(
    dataset: pd.DataFrame,
    validation_seasons: Sequence[int],
    num_samples: int,
    refit_days: int,
    cpus_per_trial: float,
    gpus_per_trial: float,
    max_concurrent: int | None,
    min_history_matches: int,
) -> tuple[int, ...]:
    seasons = tuple(int(season) for season in validation_seasons)
    if not seasons:
        raise ValueError("validation_seasons must name at least one season")
    if list(seasons) != sorted(set(seasons)):
        raise ValueError(f"validation_seasons must be increasing and unique, got {list(seasons)}")
    missing_columns = [column for column in ("season", "match_date", "outcome") if column not in dataset.columns]
    if missing_columns:
        raise ValueError(f"dataset lacks column(s) {', '.join(missing_columns)}")
    held = sorted(int(season) for season in dataset["season"].unique())
    absent = [season for season in seasons if season not in held]
    if absent:
        raise ValueError(
            f"the dataset holds no match of validation season(s) {', '.join(map(str, absent))}; "
            f"it holds {', '.join(map(str, held)) or 'none'}"
        )
    history = int((dataset["season"] < seasons[0]).sum())
    if history < min_history_matches:
        raise ValueError(
            f"only {history} matches before the first validation season {seasons[0]}; at least "
            f"{min_history_matches} are needed to fit the first models (add earlier seasons or validate later ones)"
        )
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    if isinstance(refit_days, bool) or not isinstance(refit_days, int) or refit_days < 1:
        raise ValueError(f"refit_days must be a whole number of days >= 1, got {refit_days!r}")
    if not (math.isfinite(cpus_per_trial) and cpus_per_trial > 0):
        raise ValueError(f"cpus_per_trial must be positive, got {cpus_per_trial!r}")
    if not (math.isfinite(gpus_per_trial) and gpus_per_trial >= 0):
        raise ValueError(f"gpus_per_trial must be >= 0, got {gpus_per_trial!r}")
    if max_concurrent is not None and max_concurrent < 1:
        raise ValueError(
            f"max_concurrent must be at least 1 (or None: as many as resources allow), got {max_concurrent}"
        )
    return seasons


@contextmanager
def _ray_session(
    address: str | None, local_cpus: int | None, cpus_per_trial: float, gpus_per_trial: float
) -> Iterator[None]:
    """Use the running Ray, or join `address`, or start a private local one (shut down on exit). A local Ray has a
    fixed size, so a trial larger than it fails here instead of waiting forever for resources; a cluster may grow
    (an autoscaled GPU pool starts at zero nodes), so there a shortfall is only logged."""
    if ray.is_initialized() or address is not None:
        if not ray.is_initialized():
            ray.init(address=address, logging_level=logging.WARNING)
            started = True
        else:
            started = False
        try:
            total = ray.cluster_resources()  # type: ignore[no-untyped-call]
            if cpus_per_trial > total.get("CPU", 0.0) or gpus_per_trial > total.get("GPU", 0.0):
                log.warning(
                    "tune.resources_exceed_cluster",
                    extra={"cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial, "cluster": total},
                )
            yield
        finally:
            if started:
                ray.shutdown()
        return
    cpus = local_cpus if local_cpus is not None else os.cpu_count() or 1
    if cpus_per_trial > cpus:
        raise ValueError(f"a trial asks for {cpus_per_trial} CPUs but the local Ray would have {cpus}: none could run")
    # address="local": a new private instance, never a Ray that someone else started on the same machine.
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)
    try:
        gpus = ray.cluster_resources().get("GPU", 0.0)  # type: ignore[no-untyped-call]
        if gpus_per_trial > gpus:
            raise ValueError(f"a trial asks for {gpus_per_trial} GPUs but this machine has {gpus:g}: none could run")
        yield
    finally:
        ray.shutdown()


# The search -----------------------------------------------------------------------------------------------------


def _trial_table(
    results: tune.ResultGrid, seasons: tuple[int, ...], param_keys: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """(the table described in `TuneResult`, each trial's parameters by trial id). The parameters are kept apart
    from the table because a DataFrame row would turn an integer parameter into a float."""
    rows: list[dict[str, Any]] = []
    configs: dict[str, dict[str, Any]] = {}
    for index in range(len(results)):  # ResultGrid indexes but declares no __iter__
        result = results[index]
        metrics = result.metrics or {}
        trial_id = str(metrics.get("trial_id", Path(result.path).name))
        config = _plain(result.config or {})
        configs[trial_id] = {key: config[key] for key in param_keys if key in config}
        iterations = int(metrics.get("training_iteration", 0) or 0)
        failed = result.error is not None
        row: dict[str, Any] = {"trial_id": trial_id, **{key: config.get(key) for key in param_keys}}
        row["rps"] = float(metrics.get("rps", math.nan))
        row["iterations"] = iterations
        row["complete"] = not failed and iterations == len(seasons)
        row["stopped_early"] = not failed and 0 < iterations < len(seasons)
        row["error"] = f"{type(result.error).__name__}: {result.error}" if failed else None
        history = result.metrics_dataframe
        reached: dict[int, float] = {}
        if history is not None and "season" in history:
            reached = dict(zip(history["season"].astype(int), history["rps"].astype(float), strict=True))
        for season in seasons:
            row[f"rps_{season}"] = float(reached.get(season, math.nan))
        row["cpus"] = float(metrics.get("cpus", math.nan))
        row["gpus"] = float(metrics.get("gpus", math.nan))
        row["trial_seconds"] = float(metrics.get("time_total_s", math.nan))
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("trial_id", kind="stable").reset_index(drop=True)
    return table, configs


@dataclass(frozen=True, slots=True)
class _Search:
    spec: _TrialSpec
    space: dict[str, Any]
    param_keys: tuple[str, ...]
    num_samples: int
    cpus_per_trial: float
    gpus_per_trial: float
    seed: int
    storage_dir: Path
    max_concurrent: int | None
    ray_address: str | None
    local_cpus: int | None


def _search(dataset: pd.DataFrame, search: _Search) -> tuple[pd.DataFrame, dict[str, Any], float, str]:
    """Run the trials; (the trial table, the best complete trial's parameters, its RPS, the experiment's path)."""
    seasons = search.spec.seasons
    name = f"{search.spec.kind}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    search.storage_dir.mkdir(parents=True, exist_ok=True)
    with _ray_session(search.ray_address, search.local_cpus, search.cpus_per_trial, search.gpus_per_trial):
        trainable = tune.with_resources(
            tune.with_parameters(_trial, dataset=dataset, spec=search.spec),
            {"cpu": search.cpus_per_trial, "gpu": search.gpus_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=search.space,
            tune_config=tune.TuneConfig(
                # Metric and mode live on the scheduler: Tune refuses them in both places.
                scheduler=ASHAScheduler(
                    metric="rps", mode="min", time_attr="training_iteration", grace_period=1, max_t=len(seasons)
                ),
                # The concurrency limit goes to the generator: Tune ignores `max_concurrent_trials` (with a warning)
                # when the search algorithm is a SearchGenerator such as this one.
                search_alg=BasicVariantGenerator(random_state=search.seed, max_concurrent=search.max_concurrent or 0),
                num_samples=search.num_samples,
                # One process per concurrent slot, reused by the next trial: the imports (and Dixon-Coles' compiled
                # solvers) cost more than most trials.
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=search.storage_dir.resolve().as_uri(),
                # Silences the per-trial progress table; Ray 2.60 still prints a short header (experiment name, search
                # algorithm, where the results go) once per search. Trials' warnings reach the driver's stderr.
                verbose=0,
            ),
        )
        results = tuner.fit()
        experiment_path = results.experiment_path
    table, configs = _trial_table(results, seasons, search.param_keys)
    complete = table[table["complete"]]
    if complete.empty:
        errors = table["error"].dropna()
        first = errors.iloc[0] if len(errors) else "none was an error: ASHA stopped them all"
        raise RuntimeError(f"no trial walked every validation season; first error: {first}")
    best = complete.loc[complete["rps"].idxmin()]
    return table, configs[str(best["trial_id"])], float(best["rps"]), experiment_path


def _summary(
    table: pd.DataFrame, best_params: ParamsT, best_rps: float, began: float, experiment_path: str
) -> TuneResult[ParamsT]:
    result = TuneResult(
        best_params=best_params,
        best_rps=best_rps,
        trials=len(table),
        stopped_early=int(table["stopped_early"].sum()),
        failed=int(table["error"].notna().sum()),
        table=table,
        seconds=time.perf_counter() - began,
        experiment_path=experiment_path,
    )
    log.info(
        "tune.done",
        extra={
            "trials": result.trials,
            "stopped_early": result.stopped_early,
            "failed": result.failed,
            "best_rps": best_rps,
            "seconds": round(result.seconds, 1),
            "experiment_path": experiment_path,
        },
    )
    return result


def tune_boosters(
    dataset: pd.DataFrame,
    library: Library,
    moment: Moment | str,
    validation_seasons: Sequence[int],
    *,
    storage_dir: Path,
    num_samples: int = 32,
    refit_days: int = 28,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0.0,
    seed: int = 0,
    max_concurrent: int | None = None,
    search_space: Mapping[str, Any] | None = None,
    min_history_matches: int = MIN_HISTORY_MATCHES,
    ray_address: str | None = None,
    local_cpus: int | None = None,
) -> TuneResult[BoosterParams]:
    """Random search (seeded) over `BoosterParams` for one library and moment, ASHA stopping weak trials after the
    first validation season. `search_space` overrides or pins entries of `booster_search_space(library)` (Tune
    domains or constants). A trial trains with `device="cuda"` when `gpus_per_trial > 0` and with
    `int(cpus_per_trial)` threads. `refit_days` defaults to four weeks, not the benchmarks' one: a search runs many
    walks, and a quarter of the refits keeps each affordable.

    Ray: a running one is used and left running; else `ray_address` is joined (and left after the search); else a
    private local Ray of `local_cpus` CPUs (default: every core) is started and shut down after the search.
    `max_concurrent` caps the trials running at once (default: as many as the resources allow)."""
    began = time.perf_counter()
    if library not in get_args(Library):
        raise ValueError(f"library must be one of {get_args(Library)}, got {library!r}")
    seasons = _check_inputs(
        dataset,
        validation_seasons,
        num_samples,
        refit_days,
        cpus_per_trial,
        gpus_per_trial,
        max_concurrent,
        min_history_matches,
    )
    known = tuple(f.name for f in fields(BoosterParams))
    space = _merged_space(booster_search_space(library), search_space, known)
    spec = _TrialSpec(
        kind="booster",
        seasons=seasons,
        refit_days=refit_days,
        library=library,
        moment=Moment(moment),
        device="cuda" if gpus_per_trial > 0 else "cpu",
        n_threads=max(1, int(cpus_per_trial)),
        seed=seed,
    )
    search = _Search(
        spec,
        space,
        tuple(key for key in known if key in space),
        num_samples,
        cpus_per_trial,
        gpus_per_trial,
        seed,
        storage_dir,
        max_concurrent,
        ray_address,
        local_cpus,
    )
    table, params, rps, path = _search(dataset, search)
    return _summary(table, BoosterParams.from_dict(params), rps, began, path)


def tune_dixon_coles(
    dataset: pd.DataFrame,
    validation_seasons: Sequence[int],
    *,
    storage_dir: Path,
    num_samples: int = 16,
    refit_days: int = 28,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0.0,
    seed: int = 0,
    max_concurrent: int | None = None,
    search_space: Mapping[str, Any] | None = None,
    min_history_matches: int = MIN_HISTORY_MATCHES,
    jax_cache_dir: Path | None = None,
    ray_address: str | None = None,
    local_cpus: int | None = None,
) -> TuneResult[dict[str, float]]:
    """Random search (seeded) over Dixon-Coles' decay `xi`, window and prior scales (`dixon_coles_search_space`,
    overridden or pinned by `search_space`); best params as a dict for `dixon_coles_from_params`. Trials share
    JAX's persistent compilation cache in `jax_cache_dir` (default `<storage_dir>/jax-cache`). Ray and the other
    arguments as in `tune_boosters`."""
    began = time.perf_counter()
    seasons = _check_inputs(
        dataset,
        validation_seasons,
        num_samples,
        refit_days,
        cpus_per_trial,
        gpus_per_trial,
        max_concurrent,
        min_history_matches,
    )
    space = _merged_space(dixon_coles_search_space(), search_space, DIXON_COLES_KEYS)
    cache = jax_cache_dir if jax_cache_dir is not None else storage_dir / "jax-cache"
    spec = _TrialSpec(
        kind="dixon_coles", seasons=seasons, refit_days=refit_days, seed=seed, jax_cache_dir=str(cache.resolve())
    )
    search = _Search(
        spec,
        space,
        tuple(key for key in DIXON_COLES_KEYS if key in space),
        num_samples,
        cpus_per_trial,
        gpus_per_trial,
        seed,
        storage_dir,
        max_concurrent,
        ray_address,
        local_cpus,
    )
    table, params, rps, path = _search(dataset, search)
    return _summary(table, params, rps, began, path)
