"""Training a bundle: the walk-forward evaluation, then every member refitted on all history and the stack on the
walk's out-of-fold predictions; the saved bundle predicts exactly what the trained one does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matchday.evaluation.dataset import dataset_from_files
from matchday.evaluation.suites import ModelSuite
from matchday.evaluation.walk_forward import StackSpec, WalkForwardConfig
from matchday.features.moments import Moment
from matchday.models.base import without_results
from matchday.models.bundle import ModelBundle
from matchday.models.dixon_coles_model import DixonColesModel
from matchday.models.market import MarketBaseline
from matchday.models.persistence import load_model
from matchday.training.fit import train_suite

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "matchday" / "sample_data"


@pytest.fixture(scope="module")
def dataset() -> pd.DataFrame:
    table, _ = dataset_from_files(SAMPLE, ["E0"], 2021, 2022)
    return table


def _suite() -> ModelSuite:
    return ModelSuite(
        [DixonColesModel()],
        [MarketBaseline("pinnacle", Moment.OPEN), MarketBaseline("avg", Moment.OPEN)],
        StackSpec(("dixon_coles", "pinnacle_open", "market_avg_open"), Moment.OPEN),
    )


def test_bundle_is_refitted_on_everything_and_round_trips(dataset: pd.DataFrame, tmp_path: Path) -> None:
    trained = train_suite(dataset, _suite(), WalkForwardConfig(seasons=(2022,), warmup_seasons=1, refit_days=28))
    bundle = trained.bundle
    assert bundle.output == "stack" and bundle.stack is not None
    assert trained.trained_on == len(dataset)
    dixon_coles = bundle.forecasters[0]
    assert isinstance(dixon_coles, DixonColesModel)
    # refitted after the last match, not frozen at the walk's last block
    assert dixon_coles.fit_dates["E0"] == dataset["match_date"].max() + pd.Timedelta(days=1)
    rows = without_results(dataset.tail(30))
    probs = bundle.predict(rows)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert set(bundle.predict_all(rows)) == {"dixon_coles", "pinnacle_open", "market_avg_open", "stack"}
    assert {"home_team", "open_pinnacle_h", "open_avg_a"} <= set(bundle.input_columns())

    bundle.save(tmp_path / "bundle")
    loaded = load_model(tmp_path / "bundle")
    assert isinstance(loaded, ModelBundle)
    np.testing.assert_array_equal(loaded.predict(rows), probs)


def test_bundle_rejects_a_stack_over_missing_members() -> None:
    with pytest.raises(ValueError, match="output 'stack' is not a member"):
        ModelBundle([DixonColesModel()], None, "stack", Moment.OPEN)
