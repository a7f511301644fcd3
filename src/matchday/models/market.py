"""Market baselines: a bookmaker's own 1X2 probabilities, the overround removed (multiplicatively, in
`matchday.features.market`). They learn nothing, so `fit` only checks its input; they are the yardstick every
model is judged against and an input of the stack. A match the bookmaker did not price predicts NaN."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd

from matchday.features.moments import Moment
from matchday.models.base import FloatArray
from matchday.models.persistence import read_manifest, register, write_manifest

__all__ = ["DEFAULT_BASELINES", "MarketBaseline", "MarketSource"]

MarketSource = Literal["pinnacle", "avg"]
_SOURCE_NAMES = {"pinnacle": "pinnacle", "avg": "market_avg"}


class MarketBaseline:
    """Probabilities read from the `{moment}_{source}_{h,d,a}` feature columns: Pinnacle's or the market average's
    opening (`open`) or closing (`close`) prices."""

    KIND: ClassVar[str] = "market"
    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(self, source: MarketSource, moment: Moment) -> None:
        if source not in _SOURCE_NAMES:
            raise ValueError(f"market source must be one of {', '.join(_SOURCE_NAMES)}, got {source!r}")
        self.source: MarketSource = source
        self.moment = Moment(moment)
        self.name = f"{_SOURCE_NAMES[source]}_{self.moment}"
        self.columns = [f"{self.moment}_{source}_{outcome}" for outcome in ("h", "d", "a")]

    def fit(self, history: pd.DataFrame) -> None:
        self._check(history)

    def predict(self, rows: pd.DataFrame) -> FloatArray:
        self._check(rows)
        return self.predict_values(rows[self.columns].to_numpy(dtype=np.float64))

    def predict_values(self, values: FloatArray) -> FloatArray:
        """`predict` on the (n, 3) values of `columns` (a server's rows are arrays, not frames)."""
        probs = np.array(values, dtype=np.float64, copy=True)
        # A partial triplet is not a forecast: all three or none.
        probs[np.isnan(probs).any(axis=1)] = np.nan
        return probs

    def _check(self, frame: pd.DataFrame) -> None:
        missing = [column for column in self.columns if column not in frame.columns]
        if missing:
            raise ValueError(f"{self.name} needs the market column(s) {', '.join(missing)}")

    def save(self, path: Path) -> None:
        write_manifest(path, self.KIND, self.FORMAT_VERSION, {"source": self.source, "moment": str(self.moment)})

    @classmethod
    def load(cls, path: Path) -> MarketBaseline:
        manifest = read_manifest(path, cls.KIND, cls.FORMAT_VERSION)
        return cls(manifest["source"], Moment(manifest["moment"]))


DEFAULT_BASELINES = (
    MarketBaseline("pinnacle", Moment.OPEN),
    MarketBaseline("pinnacle", Moment.CLOSE),
    MarketBaseline("avg", Moment.OPEN),
)

register(MarketBaseline.KIND, MarketBaseline.load)
