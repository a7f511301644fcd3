"""The one interface every forecaster shares: fit on matches before t, predict probabilities for later matches.

A forecaster works on the *match dataset* (`matchday.evaluation.dataset`): the point-in-time feature table
(`matchday.features.table`) with, per match, `match_date` (the day, a Timestamp), `home_goals`, `away_goals`
and `outcome` (0 home win, 1 draw, 2 away win), sorted by kickoff. `fit` receives the rows of matches played
before the moment it is refitted; `predict` receives the rows to forecast *without* the result columns, so a
forecaster cannot read the result it predicts. `predict` returns an (n, 3) array ordered (home, draw, away) whose
rows sum to 1; a row of NaN means the forecaster cannot price that match (a bookmaker that did not quote it).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.features.moments import Moment, features_for
from matchday.features.table import KEY_COLUMNS

__all__ = ["NON_FEATURE_COLUMNS", "RESULT_COLUMNS", "FloatArray", "Forecaster", "feature_names", "without_results"]

FloatArray = npt.NDArray[np.float64]

RESULT_COLUMNS = ("home_goals", "away_goals", "outcome")
NON_FEATURE_COLUMNS = frozenset((*KEY_COLUMNS, "match_date", *RESULT_COLUMNS))


@runtime_checkable
class Forecaster(Protocol):
    """A model of 1X2 probabilities. `name` labels its predictions; `moment` is when it predicts (`open`: only
    opening prices are known; `close`: closing prices too). `KIND` and `FORMAT_VERSION` tag its saved form."""

    KIND: ClassVar[str]
    FORMAT_VERSION: ClassVar[int]
    name: str
    moment: Moment

    def fit(self, history: pd.DataFrame) -> None:
        """Learn from `history`, the rows of matches already played (results included)."""

    def predict(self, rows: pd.DataFrame) -> FloatArray:
        """(len(rows), 3) probabilities for `rows`, which hold no result columns."""
        ...

    def save(self, path: Path) -> None:
        """Write the fitted model into the folder `path` (see `matchday.models.persistence`)."""


def without_results(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with their result columns dropped: what a forecaster may see of the matches it predicts."""
    return rows.drop(columns=[column for column in RESULT_COLUMNS if column in rows.columns])


def feature_names(columns: Iterable[str], moment: Moment) -> list[str]:
    """The feature columns among `columns`, in order, that a model predicting at `moment` may use."""
    return features_for((column for column in columns if column not in NON_FEATURE_COLUMNS), moment)
