"""How the served probabilities did once the results are in, next to the market on the same matches.

Served fixtures are matched to stored results by competition, teams and kickoff date; the market is Pinnacle's
opening and closing prices with the overround removed (`matchday.features.market`), the yardstick every model is
judged by. Only settled fixtures that every forecaster priced count, so the figures are paired.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from matchday.evaluation.metrics import log_loss, mean_rps

__all__ = ["MARKETS", "ServedQuality", "served_quality", "settle"]

MARKETS = {"pinnacle_open": "open_pinnacle", "pinnacle_close": "close_pinnacle"}
_SERVED = ["p_home", "p_draw", "p_away"]


@dataclass(frozen=True)
class ServedQuality:
    settled: int  # served fixtures with a known result and every market price
    rps: dict[str, float]  # "served" and each market
    log_loss: dict[str, float]

    @property
    def rps_gap(self) -> float:
        """Served RPS minus Pinnacle's closing RPS: above zero, the model did worse than the closing market."""
        return self.rps["served"] - self.rps["pinnacle_close"] if self.settled else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"rps_gap": self.rps_gap}


def settle(served: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """`served` rows joined to their match in `results` (`load_match_frame`: match_id, competition, home_team,
    away_team, match_date, home_goals, away_goals): adds match_id and outcome (0 home, 1 draw, 2 away); rows with
    no result yet are left out."""
    keys = served.assign(match_date=pd.to_datetime(served["kickoff"]).dt.normalize())
    table = results.assign(match_date=pd.to_datetime(results["match_date"]).dt.normalize())
    goal_difference = table["home_goals"] - table["away_goals"]
    table = table.assign(outcome=np.select([goal_difference > 0, goal_difference == 0], [0, 1], default=2))
    table = table[["match_id", "competition", "home_team", "away_team", "match_date", "outcome"]]
    return keys.merge(table, on=["competition", "home_team", "away_team", "match_date"], how="inner")


def served_quality(settled: pd.DataFrame, market: pd.DataFrame) -> ServedQuality:
    """Scores of the settled served rows (`settle`) and of the market (`market_features` frame, indexed by
    match_id) on the same matches."""
    frame = settled.join(market, on="match_id", how="left", rsuffix="_market")
    forecasts = {"served": frame[_SERVED].to_numpy(dtype=np.float64)}
    for name, prefix in MARKETS.items():
        columns = [f"{prefix}_{side}" for side in ("h", "d", "a")]
        present = all(column in frame.columns for column in columns)
        forecasts[name] = frame[columns].to_numpy(dtype=np.float64) if present else np.full((len(frame), 3), np.nan)
    complete = np.all([~np.isnan(probs).any(axis=1) for probs in forecasts.values()], axis=0)
    outcomes = frame["outcome"].to_numpy(dtype=np.int64)[complete]
    if not complete.any():
        nan = {name: float("nan") for name in forecasts}
        return ServedQuality(0, nan, dict(nan))
    rps = {name: mean_rps(probs[complete], outcomes) for name, probs in forecasts.items()}
    losses = {name: log_loss(probs[complete], outcomes) for name, probs in forecasts.items()}
    return ServedQuality(int(complete.sum()), rps, losses)
