"""MLflow tracking and the model registry on a real SQLite store: two training runs of a real bundle (Dixon-Coles
and Pinnacle's opening prices, fitted on E0 2020-21 and 2021-22), each registered as a new version that takes
the `challenger` alias; `champion` moves only on `promote`; `models:/<name>@<alias>` predicts exactly what the
bundle does on the 2022-23 rows; the run holds its params, metrics, tags, report and predictions; and nothing
is written to ./mlruns of the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import get_model_info
from mlflow.tracking import MlflowClient

from matchday.config import Settings
from matchday.evaluation.dataset import dataset_from_files
from matchday.evaluation.report import PREDICTION_COLUMNS, write_report
from matchday.features.moments import Moment
from matchday.integrations.mlflow_registry import (
    CHALLENGER,
    CHAMPION,
    FEATURES_ARTIFACT,
    PREDICTIONS_ARTIFACT,
    TrainingRun,
    data_hash,
    load_by_alias,
    log_training_run,
    promote,
    run_predictions,
    version_by_alias,
)
from matchday.models.base import Forecaster, without_results
from matchday.models.bundle import ModelBundle
from matchday.models.dixon_coles_model import DixonColesModel
from matchday.models.market import MarketBaseline
from matchday.training.gate import decide

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # MLflow's SQL store maps its tables with a loader strategy that SQLAlchemy 2.1 deprecates.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning"),
]

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "matchday" / "sample_data"
EXPERIMENT = "matchday-test/E0"
METRIC = "rps/E0/2022-23"


@dataclass
class Registry:
    settings: Settings
    cwd: Path
    bundle: ModelBundle
    rows: pd.DataFrame  # the 2022-23 matches, results removed
    predictions: pd.DataFrame
    hash: str
    first: TrainingRun
    second: TrainingRun
    after_first: dict[str, str | None]  # alias -> version right after the first run


def _predictions(bundle: ModelBundle, season: pd.DataFrame) -> pd.DataFrame:
    """The long table (PREDICTION_COLUMNS) of every member on `season`, one block from its first day."""
    frames = []
    for model, probs in bundle.predict_all(without_results(season)).items():
        frame = season[["match_id", "competition", "season", "match_date", "home_team", "away_team", "outcome"]]
        frame = frame.assign(model=model, p_home=probs[:, 0], p_draw=probs[:, 1], p_away=probs[:, 2])
        frames.append(frame.assign(block_start=season["match_date"].min()))
    return pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]


def _aliases(settings: Settings) -> dict[str, str | None]:
    found = {alias: version_by_alias(settings, alias) for alias in (CHALLENGER, CHAMPION)}
    return {alias: None if version is None else str(version.version) for alias, version in found.items()}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("mlflow")
    cwd = root / "cwd"
    cwd.mkdir()
    settings = Settings(state_dir=root / "state")
    dataset, _ = dataset_from_files(SAMPLE, ["E0"], 2022, 2022)
    history, season = dataset[dataset["season"] < 2022], dataset[dataset["season"] == 2022]
    members: list[Forecaster] = [DixonColesModel(), MarketBaseline("pinnacle", Moment.OPEN)]
    for member in members:
        member.fit(history)
    bundle = ModelBundle(members, None, "dixon_coles", Moment.OPEN)
    bundle.save(root / "bundle")
    predictions = _predictions(bundle, season)
    write_report(predictions, root / "report", "test run", {"seasons": "2022-23"}, n_resamples=200)
    rows = without_results(season).reset_index(drop=True)
    saved_env = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)  # a stray ./mlruns would land here

        def log(alpha: float) -> TrainingRun:
            return log_training_run(
                settings,
                experiment=EXPERIMENT,
                params={"xi": 0.0025, "members": ["dixon_coles", "pinnacle_open"], "alpha": alpha},
                metrics={METRIC: 0.2, "rps/E0/all": 0.2 + alpha},
                bundle_dir=root / "bundle",
                report_dir=root / "report",
                features=["open_pinnacle_h", "open_pinnacle_d", "open_pinnacle_a"],
                data_hash=data_hash(history),
                input_example=rows.head(5),
                predictions=predictions,
            )

        try:
            first = log(0.0)
            after_first = _aliases(settings)
            second = log(0.1)
            yield Registry(settings, cwd, bundle, rows, predictions, data_hash(history), first, second, after_first)
        finally:
            for name, value in saved_env.items():  # mlflow.set_tracking_uri exports these to the environment
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def test_each_run_moves_challenger_and_only_promote_moves_champion(registry: Registry) -> None:
    settings = registry.settings
    assert registry.after_first == {CHALLENGER: registry.first.model_version, CHAMPION: None}
    assert int(registry.second.model_version) == int(registry.first.model_version) + 1
    assert _aliases(settings) == {CHALLENGER: registry.second.model_version, CHAMPION: None}
    promote(settings, registry.first.model_version)
    assert _aliases(settings) == {CHALLENGER: registry.second.model_version, CHAMPION: registry.first.model_version}
    champion = version_by_alias(settings, CHAMPION)
    assert champion is not None and champion.run_id == registry.first.run_id
    assert version_by_alias(settings, "no-such-alias") is None
    unregistered = Settings(state_dir=settings.state_dir, model_name="matchday-never-trained")
    assert version_by_alias(unregistered, CHAMPION) is None
    with pytest.raises(mlflow.exceptions.MlflowException):
        promote(settings, 99)


def test_challenger_predicts_exactly_what_the_bundle_does(registry: Registry) -> None:
    model = load_by_alias(registry.settings, CHALLENGER)
    expected = registry.bundle.predict(registry.rows)
    assert len(expected) == 380 and not np.isnan(expected).any()
    answer = model.predict(registry.rows[registry.bundle.input_columns()])
    assert isinstance(answer, pd.DataFrame)
    assert list(answer.columns) == ["p_home", "p_draw", "p_away"]
    np.testing.assert_array_equal(answer.to_numpy(), expected)
    # Serving may send whole feature rows: the columns the signature does not name are ignored.
    whole = model.predict(registry.rows)
    assert isinstance(whole, pd.DataFrame)
    np.testing.assert_array_equal(whole.to_numpy(), expected)
    assert model.metadata.run_id == registry.second.run_id


def test_run_holds_params_metrics_tags_and_artifacts(registry: Registry) -> None:
    client = MlflowClient(registry.settings.resolved_mlflow_tracking_uri)
    run = client.get_run(registry.second.run_id)
    assert run.data.params == {"xi": "0.0025", "members": '["dixon_coles", "pinnacle_open"]', "alpha": "0.1"}
    assert run.data.metrics == {METRIC: 0.2, "rps/E0/all": pytest.approx(0.3)}
    assert run.data.tags["matchday.data_hash"] == registry.hash
    assert run.data.tags["matchday.output"] == "dixon_coles"
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"report", FEATURES_ARTIFACT, "evaluation"} <= artifacts
    assert [item.path for item in client.list_artifacts(run.info.run_id, "evaluation")] == [PREDICTIONS_ARTIFACT]
    report = {Path(item.path).name for item in client.list_artifacts(run.info.run_id, "report")}
    assert {"report.md", "reliability.png", "metrics.json", "predictions.csv"} <= report
    features = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/{FEATURES_ARTIFACT}")
    assert features == {"features": ["open_pinnacle_h", "open_pinnacle_d", "open_pinnacle_a"]}
    version = client.get_model_version(registry.settings.model_name, registry.second.model_version)
    assert version.tags["matchday.data_hash"] == registry.hash
    signature = get_model_info(registry.second.model_uri).signature
    assert signature is not None
    assert signature.inputs.input_names() == registry.bundle.input_columns()
    assert signature.outputs.input_names() == ["p_home", "p_draw", "p_away"]


def test_predictions_artifact_round_trips(registry: Registry) -> None:
    for run in (registry.first, registry.second):
        back = run_predictions(registry.settings, run.model_version)
        pd.testing.assert_frame_equal(back, registry.predictions)
    # What the gate does with them: the same bundle retrained on the same data is no reason to promote.
    challenger, champion = (
        run_predictions(registry.settings, run.model_version).query("model == 'dixon_coles'")
        for run in (registry.second, registry.first)
    )
    decision = decide(challenger, champion, np.array([0.45, 0.25, 0.30]), model="dixon_coles")
    assert decision.n == 380 and decision.mean_difference == 0.0 and not decision.promote
    assert (registry.settings.mlflow_artifact_dir / "matchday-test_E0").is_dir()


def test_nothing_lands_in_the_working_directory(registry: Registry) -> None:
    assert not (registry.cwd / "mlruns").exists()
    assert list(registry.cwd.iterdir()) == []
    stored = {path.name for path in registry.settings.mlflow_artifact_dir.rglob("*")}
    assert {"reliability.png", "predictions.parquet", "MLmodel", "manifest.json"} <= stored


def test_data_hash_is_stable_and_sensitive() -> None:
    frame = pd.DataFrame({"team": ["Arsenal", "Chelsea", "Everton"], "goals": [2, 0, 1], "xg": [1.5, 0.4, 0.9]})
    digest = data_hash(frame)
    assert len(digest) == 64
    assert data_hash(frame.copy()) == digest
    assert data_hash(frame.set_index(pd.Index([7, 8, 9]))) == digest  # the index is not data
    assert data_hash(frame.iloc[::-1]) != digest
    assert data_hash(frame.rename(columns={"xg": "expected_goals"})) != digest
    changed = frame.copy()
    changed.loc[1, "goals"] = 1
    assert data_hash(changed) != digest
