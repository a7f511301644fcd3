"""Drift monitoring on real matches: an EPL model (XGBoost walked over 2020-21, registered with its reference)
serves later EPL seasons without an alert at the configured thresholds, and a real shift (another league's
matches, prices sent as fractional odds) is detected and starts exactly one retraining: the real training
pipeline, launched by the drift check and run to a new registered version.

Serving is replayed (`matchday.monitoring.replay`): the seasons' pre-kickoff rows through the registered bundle
into the served-predictions log, as `matchday monitor replay` does.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import SADeprecationWarning
from typer.testing import CliRunner

from matchday.cli import app
from matchday.config import Settings
from matchday.ingest.store import open_store
from matchday.ingest.store.models import PipelineRunRow, RetrainTriggerRow
from matchday.integrations.kfp_client import pipelines_module
from matchday.integrations.mlflow_monitoring import MONITORING_EXPERIMENT
from matchday.integrations.mlflow_registry import configure, version_by_alias
from matchday.monitoring.check import CheckOutcome, run_check
from matchday.monitoring.drift_config import DriftConfig, RetrainPolicy
from matchday.monitoring.replay import replay_matches
from matchday.monitoring.retrain import LocalPipelineLauncher
from matchday.training import steps

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # scipy's K-S on constant columns (e.g. h2h_n early on)
]

# A retraining a test can wait for: the model of the fixture, one season; a cooldown longer than the checks span.
FAST_RETRAIN = RetrainPolicy(cooldown=timedelta(days=60), leagues=("E0",), seasons="2020", model="xgboost")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A state dir with the EPL and Bundesliga stored and an XGBoost EPL model (2020-21 walked) as champion."""
    source = tmp_path_factory.mktemp("drift-data")
    for league in ("E0", "D1"):
        (source / "football-data").mkdir(exist_ok=True)
        (source / "football-data" / league).symlink_to(data_dir / "football-data" / league)
    state = tmp_path_factory.mktemp("drift-state")
    warnings.filterwarnings("ignore", "The ``noload`` loader strategy", SADeprecationWarning)
    steps.ingest(str(state), str(source))
    train_json = steps.train(str(state), "E0", 2020, 2020, model="xgboost", refit_days=56, booster_refit_days=56)
    steps.register(str(state), train_json)
    (state / "data").symlink_to(source)
    return state


@pytest.fixture
def state(trained: Path, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    """A copy of the trained state (each test serves its own traffic), its settings and store."""
    copy = tmp_path / "state"
    shutil.copytree(trained, copy, symlinks=True)
    settings = Settings(state_dir=copy, data_dir=copy / "data")
    with closing(open_store(settings)) as store:
        yield settings, store.engine


def _checks(
    settings: Settings, engine: Engine, config: DriftConfig, start: datetime, windows: int, **kwargs: object
) -> list[CheckOutcome]:
    ends = [start + config.window * (i + 1) for i in range(windows)]
    return [run_check(settings, engine, config, end=end, version="1", log_to_mlflow=False, **kwargs) for end in ends]  # type: ignore[arg-type]


def _first_kickoff(engine: Engine) -> datetime:
    frame = pd.read_sql("select min(kickoff) as first from served_predictions", engine)
    return pd.Timestamp(frame["first"].iloc[0]).normalize().to_pydatetime()


def test_later_epl_seasons_raise_no_alert(state: tuple[Settings, Engine]) -> None:
    settings, engine = state
    written, version = replay_matches(settings, engine, ["E0"], 2021, 2022, version="1")
    assert (written, version) == (760, "1")
    config = DriftConfig(window=timedelta(days=30))
    outcomes = _checks(settings, engine, config, _first_kickoff(engine) - timedelta(days=1), windows=22)
    judged = [o.drift.result for o in outcomes if o.drift.result.verdict != "insufficient"]
    alerts = [result for result in judged if result.drifted]
    assert len(judged) >= 15
    assert alerts == [], [result.reasons for result in alerts]
    # within a league the features move a little between seasons, far from the configured share
    assert max(result.feature_share for result in judged) < config.features.drift_share
    # every judged window was also scored against the market once its results were in
    settled = [o.quality for o in outcomes if o.quality is not None and o.drift.result.verdict != "insufficient"]
    assert len(settled) == len(judged) and all(q.settled > 0 for q in settled)
    assert all(abs(q.rps_gap) < 0.05 for q in settled)


def test_fractional_odds_are_detected(state: tuple[Settings, Engine]) -> None:
    settings, engine = state
    written, _ = replay_matches(settings, engine, ["E0"], 2021, 2021, version="1", odds_format="fractional")
    # a favourite's price under 2.0 is under 1.0 as a fractional price: the server refuses those fixtures
    assert 50 < written < 380
    config = DriftConfig(window=timedelta(days=30))
    outcomes = _checks(settings, engine, config, _first_kickoff(engine) - timedelta(days=1), windows=2)
    for outcome in outcomes:
        result = outcome.drift.result
        assert result.drifted, result.reasons
        # The normalised probabilities the model reads hardly move (the overround is divided out), so neither the
        # share of drifted features nor the predictions give it away; Pinnacle's overround does, grossly.
        shifted = {c.column: c.score for c in result.of_kind("shift") if c.drifted}
        assert shifted.get("open_pinnacle_overround", 0.0) > 30.0, shifted
        assert any(reason.startswith("open_pinnacle_overround moved") for reason in result.reasons), result.reasons


def test_another_league_is_detected_and_retrains_exactly_once(
    state: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = state
    # the launched pipeline is a process of its own: it reads its settings from the environment, as in production
    for key in [key for key in os.environ if key.startswith("MATCHDAY_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MATCHDAY_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("MATCHDAY_DATA_DIR", str(settings.data_dir))
    replay_matches(settings, engine, ["D1"], 2021, 2021, version="1")
    # two weeks: a Bundesliga week is 9 fixtures, under min_rows
    config = DriftConfig(window=timedelta(days=14), retrain=FAST_RETRAIN)
    launcher = LocalPipelineLauncher(settings)
    start = _first_kickoff(engine) - timedelta(days=1)
    outcomes = _checks(settings, engine, config, start, windows=4, launcher=launcher)
    judged = [o for o in outcomes if o.drift.result.verdict != "insufficient"]

    assert len(judged) >= 3
    assert all(o.drift.result.drifted for o in judged), [o.drift.result.reasons for o in judged]
    assert all("competition drifted" in " ".join(o.drift.result.reasons) for o in judged)
    statuses = [o.trigger.status if o.trigger else None for o in judged]
    assert statuses == ["launched"] + ["cooldown"] * (len(judged) - 1)
    with engine.connect() as connection:
        rows = connection.execute(select(RetrainTriggerRow.status, RetrainTriggerRow.launcher)).all()
    assert sorted(rows) == [("cooldown", "local")] * (len(judged) - 1) + [("launched", "local")]

    # the one launched training runs to the end: the pipeline registered a new version and recorded its run
    [process] = launcher.processes
    assert process.wait(timeout=480) == 0, outcomes[0].trigger
    with engine.connect() as connection:
        runs = connection.execute(select(PipelineRunRow.pipeline, PipelineRunRow.status)).all()
    assert runs == [("training", "succeeded")]
    latest = version_by_alias(settings, "challenger")
    assert latest is not None and int(latest.version) >= 2


def test_the_cli_replays_and_checks(state: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _ = state
    for key in [key for key in os.environ if key.startswith("MATCHDAY_")]:
        monkeypatch.delenv(key)
    env = {"MATCHDAY_STATE_DIR": str(settings.state_dir), "MATCHDAY_DATA_DIR": str(settings.data_dir)}
    replayed = CliRunner().invoke(app, ["monitor", "replay", "--league", "D1", "--seasons", "2021"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 306 matches of D1 2021 as v1" in replayed.output
    args = ["monitor", "drift", "--window", "30d", "--end", "2021-09-30", "--no-retrain", "--json"]
    checked = CliRunner().invoke(app, args, env=env)
    assert checked.exit_code == 0, checked.output
    summary = json.loads(checked.stdout)
    assert summary["drift_detected"] and summary["trigger"] is None
    assert summary["window"] == ["2021-08-31T00:00:00", "2021-09-30T00:00:00"]
    assert Path(summary["report"]).suffix == ".html" and Path(summary["report"]).is_file()
    # logged to MLflow with its figures and the report
    client = configure(settings)
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["matchday.drift"] == "drift"
    assert runs[0].data.metrics["current_rows"] == summary["drift"]["current_rows"]
    refused = CliRunner().invoke(app, ["monitor", "drift", "--window", "7 days"], env=env)
    assert refused.exit_code == 2 and "7 days" in refused.output
    unknown = CliRunner().invoke(app, ["monitor", "drift", "--version", "99", "--no-retrain"], env=env)
    assert unknown.exit_code == 1 and "version 99 of matchday-1x2 is not registered" in unknown.output


def test_the_monitoring_pipeline_retrains_in_its_own_branch(
    state: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = state
    for key in [key for key in os.environ if key.startswith("MATCHDAY_")]:
        monkeypatch.delenv(key)
    replay_matches(settings, engine, ["D1"], 2021, 2021, version="1")
    arguments: dict[str, object] = {
        "state_dir": str(settings.state_dir), "data_dir": str(settings.data_dir), "window": "30d",
        "end": "2021-09-30T00:00:00", "leagues": "E0", "first_season": 2020, "last_season": 2020,
        "model": "xgboost", "moment": "open", "num_samples": 0,
    }  # fmt: skip
    pipelines_module().run_local(Settings(), arguments, settings.state_dir / "kfp", pipeline="monitoring")
    with engine.connect() as connection:
        triggers = connection.execute(select(RetrainTriggerRow.status, RetrainTriggerRow.launcher)).all()
    assert triggers == [("launched", "pipeline")]
    retrained = version_by_alias(settings, "challenger")
    assert retrained is not None and int(retrained.version) >= 2  # the nested training registered a version
