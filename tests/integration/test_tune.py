"""Ray Tune searches on a real local Ray over the bundled E0 seasons 2020-2022, validated on 2021-2022.

The tests run in file order: the first ones need no Ray running (input checks, and a search that starts and stops
its own Ray); the later ones share one local Ray (`local_ray`), since starting one costs 10-20 s here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import ray
from ray import tune

import matchday
from matchday.evaluation.dataset import dataset_from_files
from matchday.models.boosters import BoosterParams
from matchday.training.tune import (
    TuneResult,
    booster_search_space,
    tune_boosters,
    tune_dixon_coles,
)

pytestmark = [
    pytest.mark.integration,
    # Tune's default TensorBoard logger imports tensorboardX, which imports google-cloud-storage, which warns that
    # grpcio-status is missing (an optional extra for nicer gRPC errors).
    pytest.mark.filterwarnings("ignore:Please install grpcio-status:ImportWarning"),
    # Once an earlier test in the session has used JAX, JAX's at-fork hook warns on every fork; Ray forks only to
    # exec its own processes at once, which is the safe use of fork.
    pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning"),
]

SAMPLE_DATA = Path(matchday.__file__).parent / "sample_data"
SEASONS = (2021, 2022)
ASHA_REDUCTION_FACTOR = 4  # ASHAScheduler's default, which tune.py keeps


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    table, _ = dataset_from_files(SAMPLE_DATA, ["E0"], 2021, 2022)
    return table


def _ray_children() -> list[psutil.Process]:
    """The Ray processes under this one; other children (multiprocessing's resource tracker, started by an earlier
    test's process pool and alive for the whole session) are not Ray's to stop."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "ray" in command.lower():
            found.append(child)
    return found


def _assert_no_ray_left(children: list[psutil.Process]) -> None:
    assert not ray.is_initialized()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"processes left after ray.shutdown(): {[p.pid for p in alive]}"


# Without a running Ray ------------------------------------------------------------------------------------------


def test_validation_season_missing_from_the_dataset_is_refused(dataset: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no match of validation season\(s\) 2023; it holds 2020, 2021, 2022"):
        tune_boosters(dataset, "lightgbm", "open", (2022, 2023), storage_dir=tmp_path)
    assert not ray.is_initialized()


def test_validation_without_history_before_it_is_refused(dataset: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only 0 matches before the first validation season 2020"):
        tune_dixon_coles(dataset, (2020, 2021), storage_dir=tmp_path)
    with pytest.raises(ValueError, match="only 380 matches before the first validation season 2021"):
        tune_boosters(dataset, "xgboost", "open", SEASONS, storage_dir=tmp_path, min_history_matches=500)
    assert not ray.is_initialized()


def test_unknown_search_space_key_is_refused(dataset: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown key"):
        tune_boosters(dataset, "xgboost", "open", SEASONS, storage_dir=tmp_path, search_space={"eta": 0.1})


def test_a_trial_larger_than_the_local_ray_is_refused_before_starting_it(dataset: pd.DataFrame, tmp_path: Path) -> None:
    assert not ray.is_initialized(), "this test needs no Ray running: it must come before the local_ray tests"
    cores = os.cpu_count() or 1
    with pytest.raises(ValueError, match=f"asks for {cores + 1} CPUs but the local Ray would have {cores}"):
        tune_boosters(dataset, "lightgbm", "open", SEASONS, storage_dir=tmp_path, cpus_per_trial=cores + 1)
    with pytest.raises(ValueError, match="asks for 3 CPUs but the local Ray would have 2"):
        tune_dixon_coles(dataset, SEASONS, storage_dir=tmp_path, cpus_per_trial=3, local_cpus=2)
    assert not ray.is_initialized()


@pytest.mark.slow
def test_dixon_coles_search_starts_and_stops_its_own_ray(dataset: pd.DataFrame, tmp_path: Path) -> None:
    """One validation season and one refit per season: the jit-compiled solver then compiles for one shape only
    (priors pinned: they are a static argument, so each distinct value would compile again)."""
    assert not ray.is_initialized(), "this test needs no Ray running: it must come before the local_ray tests"
    space = {
        "xi": tune.loguniform(0.0005, 0.005),
        "window_days": tune.choice([730, 1095]),
        "attack_scale": 0.5,
        "defence_scale": 0.5,
        "home_scale": 0.5,
    }
    children: list[psutil.Process] = []
    original_shutdown = ray.shutdown

    def shutdown_noting_children() -> None:
        children.extend(_ray_children())
        original_shutdown()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ray, "shutdown", shutdown_noting_children)
        result = tune_dixon_coles(
            dataset,
            (2022,),
            storage_dir=tmp_path / "store",
            num_samples=2,
            refit_days=365,
            cpus_per_trial=2,  # the whole local Ray: one trial at a time, one process, one compilation
            search_space=space,
            seed=3,
            local_cpus=2,
        )

    assert children, "the search did not shut down the Ray it started"
    _assert_no_ray_left(children)
    assert result.trials == 2
    assert result.failed == 0
    table = result.table
    assert (table["iterations"] == 1).all()
    assert table["complete"].all()
    assert (table["cpus"] == 2.0).all()
    assert (table["gpus"] == 0.0).all()
    _assert_best_is_lowest(result)
    best = result.best_params
    assert 0.0005 <= best["xi"] <= 0.005
    assert best["window_days"] in (730, 1095)
    assert isinstance(best["window_days"], int)
    assert (best["attack_scale"], best["defence_scale"], best["home_scale"]) == (0.5, 0.5, 0.5)
    assert 0.15 < result.best_rps < 0.25
    assert Path(result.experiment_path).is_dir()
    assert (tmp_path / "store" / "jax-cache").is_dir()  # trials shared JAX's compilation cache there


def _assert_best_is_lowest(result: TuneResult[BoosterParams] | TuneResult[dict[str, float]]) -> None:
    """Only trials that walked every season are ranked: a stopped trial's RPS covers other matches."""
    complete = result.table[result.table["complete"]]
    best_row = complete.loc[complete["rps"].idxmin()]
    assert result.best_rps == best_row["rps"]
    params = result.best_params.to_dict() if isinstance(result.best_params, BoosterParams) else result.best_params
    for key in params:
        if key in result.table.columns:
            assert params[key] == pytest.approx(best_row[key]), key


# On a shared local Ray ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    assert not ray.is_initialized()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        children = _ray_children()
        ray.shutdown()
        _assert_no_ray_left(children)


@pytest.fixture(scope="module")
def booster_search(
    local_ray: None, dataset: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> TuneResult[BoosterParams]:
    # One trial at a time, so the order ASHA sees results in is the trial order, and its decisions can be replayed.
    return tune_boosters(
        dataset,
        "lightgbm",
        "open",
        SEASONS,
        storage_dir=tmp_path_factory.mktemp("boosters"),
        num_samples=3,
        refit_days=91,
        max_concurrent=1,
        seed=0,
    )


@pytest.mark.slow
def test_booster_best_params_lie_in_the_space_and_are_the_best_complete_trial(
    booster_search: TuneResult[BoosterParams],
) -> None:
    best = booster_search.best_params
    assert 0.02 <= best.learning_rate <= 0.3
    assert 2 <= best.max_depth <= 6
    assert 4 <= best.num_leaves < 64
    assert 2.0 <= best.min_child_weight <= 100.0
    assert 0.5 <= best.subsample <= 1.0
    assert 0.3 <= best.colsample_bytree <= 1.0
    assert 0.1 <= best.reg_lambda <= 50.0
    assert 0.0 <= best.reg_alpha <= 2.0
    assert (best.max_bin, best.min_split_gain) == (BoosterParams().max_bin, BoosterParams().min_split_gain)
    _assert_best_is_lowest(booster_search)
    assert booster_search.trials == 3
    assert booster_search.failed == 0
    assert 0.15 < booster_search.best_rps < 0.25
    assert set(booster_search.table.columns) >= {*booster_search_space("lightgbm"), "rps", "iterations"}


@pytest.mark.slow
def test_every_trial_reports_once_per_season_at_most(booster_search: TuneResult[BoosterParams]) -> None:
    table = booster_search.table
    assert table["iterations"].between(1, len(SEASONS)).all()
    assert table["rps_2021"].notna().all()
    assert (table["rps_2022"].notna() == table["complete"]).all()
    assert (table.loc[table["complete"], "rps"] == table.loc[table["complete"], "rps_2022"]).all()
    assert (table.loc[table["stopped_early"], "rps"] == table.loc[table["stopped_early"], "rps_2021"]).all()
    assert booster_search.stopped_early == int(table["stopped_early"].sum())


@pytest.mark.slow
def test_asha_decisions_follow_its_rule(booster_search: TuneResult[BoosterParams]) -> None:
    """With one rung (season one of two) and trials run one at a time, ASHA stops a trial whose first-season score
    is worse than the (1 - 1/reduction_factor) quantile of the trials before it; the first always continues."""
    first_season = booster_search.table["rps_2021"].to_numpy()
    stopped = booster_search.table["stopped_early"].to_numpy()
    assert not stopped[0]
    for k in range(1, len(first_season)):
        cutoff = np.nanpercentile(-first_season[:k], (1 - 1 / ASHA_REDUCTION_FACTOR) * 100)
        assert stopped[k] == (-first_season[k] < cutoff), k


@pytest.mark.slow
def test_declared_resources_are_what_each_trial_is_granted(booster_search: TuneResult[BoosterParams]) -> None:
    assert (booster_search.table["cpus"] == 1.0).all()
    assert (booster_search.table["gpus"] == 0.0).all()
    assert ray.is_initialized(), "a search must leave a Ray it did not start running"


@pytest.mark.slow
def test_asha_stops_a_clearly_worse_trial_after_the_first_season(
    local_ray: None, dataset: pd.DataFrame, tmp_path: Path
) -> None:
    """A grid of two: the default parameters, then the same with a learning rate of 1 (one huge boosting step,
    over-confident forecasts). The second is far worse in season one, so ASHA must stop it there."""
    pinned = {key: value for key, value in BoosterParams().to_dict().items() if key in booster_search_space("lightgbm")}
    result = tune_boosters(
        dataset,
        "lightgbm",
        "open",
        SEASONS,
        storage_dir=tmp_path,
        num_samples=1,
        refit_days=182,
        max_concurrent=1,
        search_space={**pinned, "learning_rate": tune.grid_search([0.1, 1.0])},
    )
    good, bad = (row for _, row in result.table.iterrows())  # in trial order, which is the grid's
    assert (good["learning_rate"], bad["learning_rate"]) == (0.1, 1.0)
    assert bad["rps_2021"] > good["rps_2021"] + 0.005  # the premise
    assert good["complete"]
    assert good["iterations"] == 2
    assert bad["stopped_early"]
    assert bad["iterations"] == 1
    assert result.stopped_early == 1
    assert result.best_params == BoosterParams(learning_rate=0.1)
