"""Dixon-Coles as a forecaster: one MAP fit per competition (`matchday.models.dixon_coles`), warm-started from the
previous fit, over a sliding window of past matches with exponential time decay. It uses results only, no prices,
so it predicts at the `open` moment; every match of a competition it has seen gets a forecast, a promoted side
included (priced like the fit's three weakest teams until it has played)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from matchday.domain import ScoreGrid
from matchday.features.moments import Moment
from matchday.models.base import FloatArray
from matchday.models.dixon_coles import (
    DixonColesParams,
    DixonColesPriors,
    fit_map_detailed,
    outcome_probabilities,
    predict_grids,
)
from matchday.models.persistence import read_manifest, register, write_manifest

__all__ = ["DEFAULT_WINDOW_DAYS", "VALIDATED_XI", "DixonColesModel"]

log = logging.getLogger(__name__)

# Chosen by weekly walk-forward RPS on E0 2015-16 .. 2018-19, seasons before any that the benchmarks score, over
# xi in {0.0012, 0.0018, 0.0025, 0.0035} and windows of three and five years: 0.0025 and five years scored 0.19459,
# penaltyblog's 0.0018 and three years 0.19483 (BENCHMARKS.md). A five-year-old match weighs 1% of today's.
VALIDATED_XI = 0.0025
DEFAULT_WINDOW_DAYS = 5 * 365


class DixonColesModel:
    """Fits on the matches of the last `window_days` days (all of them when None) before the day after the latest
    match of the history, weighted exp(-xi * age in days)."""

    KIND: ClassVar[str] = "dixon_coles"
    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(
        self,
        xi: float = VALIDATED_XI,
        window_days: int | None = DEFAULT_WINDOW_DAYS,
        priors: DixonColesPriors = DixonColesPriors(),  # noqa: B008 - frozen, so one shared default is safe
        name: str = "dixon_coles",
        max_goals: int = 10,
    ) -> None:
        if window_days is not None and window_days < 1:
            raise ValueError(f"window_days must be at least 1 (or None for all history), got {window_days!r}")
        self.xi = xi
        self.window_days = window_days
        self.priors = priors
        self.name = name
        self.max_goals = max_goals
        self.moment = Moment.OPEN
        self.params: dict[str, DixonColesParams] = {}
        self.fit_dates: dict[str, pd.Timestamp] = {}

    def fit(self, history: pd.DataFrame) -> None:
        if history.empty:
            raise ValueError("cannot fit Dixon-Coles on an empty history")
        dates = history["match_date"]
        if not pd.api.types.is_datetime64_any_dtype(dates):
            dates = pd.to_datetime(dates)
        for competition, rows in history.groupby("competition", sort=True):
            reference = dates[rows.index].max().normalize() + pd.Timedelta(days=1)
            used = rows
            if self.window_days is not None:
                used = rows[dates[rows.index] >= reference - pd.Timedelta(days=self.window_days)]
            if used.empty:
                continue  # a competition not played within the window: its old parameters would mislead
            fit = fit_map_detailed(
                used, reference, xi=self.xi, init=self.params.get(str(competition)), priors=self.priors
            )
            if not fit.converged:
                log.warning(
                    "Dixon-Coles fit did not converge",
                    extra={
                        "competition": competition,
                        "reference": str(reference.date()),
                        "iterations": fit.iterations,
                    },
                )
            self.params[str(competition)] = fit.params
            self.fit_dates[str(competition)] = reference

    def grid_arrays(self, rows: pd.DataFrame) -> FloatArray:
        """(n, G, G) score grids of `rows`, NaN for a competition the model was never fitted on; vectorised per
        competition (`predict_grids`)."""
        return self.grids_of(
            rows["competition"].astype(str).tolist(),
            rows["home_team"].astype(str).tolist(),
            rows["away_team"].astype(str).tolist(),
        )

    def grids_of(self, competitions: Sequence[str], home_teams: Sequence[str], away_teams: Sequence[str]) -> FloatArray:
        """`grid_arrays` from the three key columns as lists."""
        size = self.max_goals + 1
        out = np.full((len(competitions), size, size), np.nan)
        codes = np.asarray(competitions, dtype=object)
        homes, aways = np.asarray(home_teams, dtype=object), np.asarray(away_teams, dtype=object)
        for competition in dict.fromkeys(competitions):
            params = self.params.get(str(competition))
            if params is not None:
                at = np.flatnonzero(codes == competition)
                out[at] = predict_grids(params, homes[at].tolist(), aways[at].tolist(), self.max_goals)
        return out

    def grids(self, rows: pd.DataFrame) -> list[ScoreGrid | None]:
        """The score grid of each row (None for a competition it was never fitted on): every goals market
        (1X2, over/under, Asian handicap, both teams to score, correct score) derives from it."""
        return [None if np.isnan(g[0, 0]) else ScoreGrid.from_matrix(g) for g in self.grid_arrays(rows)]

    def predict(self, rows: pd.DataFrame) -> FloatArray:
        if not self.params:
            raise RuntimeError(f"{self.name} is not fitted: call fit first")
        return outcome_probabilities(self.grid_arrays(rows))

    def save(self, path: Path) -> None:
        payload = {
            "name": self.name,
            "xi": self.xi,
            "window_days": self.window_days,
            "max_goals": self.max_goals,
            "priors": {
                "attack_scale": self.priors.attack_scale,
                "defence_scale": self.priors.defence_scale,
                "home_mean": self.priors.home_mean,
                "home_scale": self.priors.home_scale,
            },
            "competitions": {
                competition: {"fitted_for": str(self.fit_dates[competition].date()), "params": params.to_dict()}
                for competition, params in sorted(self.params.items())
            },
        }
        write_manifest(path, self.KIND, self.FORMAT_VERSION, payload)

    @classmethod
    def load(cls, path: Path) -> DixonColesModel:
        manifest = read_manifest(path, cls.KIND, cls.FORMAT_VERSION)
        model = cls(
            xi=float(manifest["xi"]),
            window_days=manifest["window_days"],
            priors=DixonColesPriors(**manifest["priors"]),
            name=str(manifest["name"]),
            max_goals=int(manifest["max_goals"]),
        )
        for competition, entry in manifest["competitions"].items():
            model.params[competition] = DixonColesParams.from_dict(entry["params"])
            model.fit_dates[competition] = pd.Timestamp(entry["fitted_for"])
        return model


register(DixonColesModel.KIND, DixonColesModel.load)
