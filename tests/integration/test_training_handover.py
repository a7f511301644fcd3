"""Training hands a version to serving through the registry: a version that passes the gate against a champion is
not promoted by the gate; it is tagged and a canary is requested, and serving's canary moves `champion`."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from matchday.config import Settings
from matchday.integrations.mlflow_registry import GATE_TAG, load_reference, version_by_alias
from matchday.training import steps
from matchday.training.register import register_and_gate

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning"),
]


def test_a_version_that_beats_the_champion_is_handed_to_the_canary(serving_settings: Settings, tmp_path: Path) -> None:
    # a copy of the session's state, so the registry the serving tests use is left as it is
    state = tmp_path / "state"
    shutil.copytree(serving_settings.state_dir, state)
    settings = Settings(state_dir=state)
    champion = version_by_alias(settings, "champion")
    assert champion is not None
    [train_json] = state.glob("models/*/train.json")
    trained_info = json.loads(train_json.read_text())
    trained_info |= {key: value.replace(str(serving_settings.state_dir), str(state)) for key, value in
                     trained_info.items() if key in ("folder", "bundle_dir", "report_dir")}  # fmt: skip
    trained, dataset = steps._trained_bundle(trained_info)
    # The challenger's walk-forward predictions moved halfway to the results: better than the champion's beyond any
    # noise, which is all the gate is asked here (the plumbing after its verdict is under test, not the model).
    table = trained.evaluation.predictions.copy()
    mine = table["model"] == trained.bundle.output
    onehot = np.eye(3)[table.loc[mine, "outcome"].to_numpy(dtype=int)]
    columns = ["p_home", "p_draw", "p_away"]
    table.loc[mine, columns] = 0.5 * table.loc[mine, columns].to_numpy() + 0.5 * onehot
    better = dataclasses.replace(trained, evaluation=dataclasses.replace(trained.evaluation, predictions=table))

    outcome = register_and_gate(
        settings,
        better,
        dataset,
        Path(trained_info["bundle_dir"]),
        Path(trained_info["report_dir"]),
        trained_info["params"],
    )

    assert outcome.decision.promote and not outcome.promoted
    assert outcome.deploy_request is not None
    request = json.loads(outcome.deploy_request.read_text())
    version = outcome.run.model_version
    assert (request["version"], request["strategy"]) == (version, "canary")
    after = version_by_alias(settings, "champion")
    assert after is not None and after.version == champion.version  # the canary moves it, not the gate
    challenger = version_by_alias(settings, "challenger")
    assert challenger is not None and str(challenger.version) == version
    assert challenger.tags[GATE_TAG] == "passed"
    # the reference drift monitoring compares served traffic with: the evaluated season, pre-kickoff columns only
    reference = load_reference(settings, version)
    evaluated = table.loc[mine, "match_id"].unique()
    assert sorted(reference["match_id"]) == sorted(evaluated)
    assert set(trained.bundle.input_columns()) | {"p_home", "p_draw", "p_away"} <= set(reference.columns)
    assert not {"home_goals", "away_goals", "outcome"} & set(reference.columns)
    assert reference[["p_home", "p_draw", "p_away"]].sum(axis=1).to_numpy() == pytest.approx(1.0)
