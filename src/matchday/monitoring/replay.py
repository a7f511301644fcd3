"""Replay played matches through a registered bundle into the served-predictions log, as if they had been served.

Serving builds each fixture's row from the online store, the bundle's fixture recipe and the request's prices, and
the parity tests prove those rows equal the feature table's pre-kickoff rows. Replaying the table's rows (results
removed) through `bundle.predict` and the same `PredictionLog` therefore writes what serving would have logged,
for matches the online store can no longer serve (it holds each team's latest state only). That backfills a log
to judge drift thresholds on, and is how the tests serve a later season, another league, or prices sent in
another format to a model.

`served_at` is each match's kickoff minus `lead`: a request made before the match, as a bettor's would be.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from matchday.config import Settings
from matchday.evaluation.dataset import load_dataset
from matchday.features.market import market_features
from matchday.inference.prediction_log import LoggedPrediction, PredictionLog
from matchday.ingest.store.frames import load_quote_frame
from matchday.models.base import without_results
from matchday.models.bundle import ModelBundle

__all__ = ["OddsFormat", "ReplayRow", "as_served_prices", "replay", "replay_matches", "replay_records"]

# "fractional": a client sending fractional odds where decimals are expected (5/2 as 2.5, not 3.5).
OddsFormat = Literal["decimal", "fractional"]
_MARKET_PREFIXES = ("open_", "close_")


@dataclass(frozen=True)
class ReplayRow:
    """A logged model input row (what `FeatureBlock.row` gives serving's log): JSON-ready, NaN as None."""

    values: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.values


def _json_ready(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def as_served_prices(rows: pd.DataFrame, quotes: pd.DataFrame, odds_format: OddsFormat) -> pd.DataFrame:
    """`rows` with their market features recomputed from `quotes` as a client sending `odds_format` would have
    sent them. Serving refuses a price at or below 1.0 (422), so such a quote is not sent, and a fixture left
    without the 1X2 prices a model at the opening moment requires (Pinnacle, market average, market maximum) is
    not served at all: only the fixtures a server would have answered remain."""
    if odds_format == "decimal":
        return rows
    sent = quotes.assign(price=quotes["price"] - 1.0)  # fractional: the returned stake is not in the price
    sent = sent[sent["price"] > 1.0]
    market = market_features(sent, rows["match_id"].tolist())
    out = rows.copy()
    columns = [column for column in market.columns if column in out.columns and column.startswith(_MARKET_PREFIXES)]
    out[columns] = market.loc[out["match_id"].to_numpy(), columns].to_numpy()
    required = [f"open_{book}_{side}" for book in ("pinnacle", "avg", "max") for side in ("h", "d", "a")]
    return out[out[required].notna().all(axis=1)]


def replay_records(
    bundle: ModelBundle, rows: pd.DataFrame, *, model_name: str, version: str, lead: timedelta
) -> Iterator[LoggedPrediction]:
    """The log records of `rows` (feature-table rows of played matches) as the bundle would have served them."""
    inputs = without_results(rows).reset_index(drop=True)
    probabilities = bundle.predict(inputs)
    columns = bundle.input_columns()
    kickoffs = pd.to_datetime(inputs["kickoff"])
    for i in range(len(inputs)):
        if not np.isfinite(probabilities[i]).all():
            continue  # the server would have refused a fixture the model cannot price
        kickoff = kickoffs.iloc[i].to_pydatetime().replace(tzinfo=None)
        row = {column: _json_ready(inputs.at[i, column]) for column in columns if column in inputs.columns}
        yield LoggedPrediction(
            request_id=f"replay-{uuid.uuid4().hex[:16]}",
            served_at=kickoff - lead,
            model_name=model_name,
            model_version=version,
            variant="champion",
            competition=str(inputs.at[i, "competition"]),
            home_team=str(inputs.at[i, "home_team"]),
            away_team=str(inputs.at[i, "away_team"]),
            kickoff=kickoff,
            features=ReplayRow(row),
            probabilities=(float(probabilities[i, 0]), float(probabilities[i, 1]), float(probabilities[i, 2])),
            latency_ms=0.0,
        )


def replay(
    engine: Engine,
    bundle: ModelBundle,
    rows: pd.DataFrame,
    *,
    model_name: str,
    version: str,
    lead: timedelta = timedelta(hours=24),
) -> int:
    """Write the replayed predictions of `rows` through the served-predictions log; returns how many."""
    log = PredictionLog(engine, batch_size=1_000, interval_seconds=0.2, registry=CollectorRegistry())
    records = list(replay_records(bundle, rows, model_name=model_name, version=version, lead=lead))
    try:
        log.submit(records)
    finally:
        log.close(timeout_seconds=120.0)
    return len(records)


def replay_matches(
    settings: Settings,
    engine: Engine,
    leagues: Sequence[str],
    first_season: int,
    last_season: int,
    *,
    version: str | None = None,
    odds_format: OddsFormat = "decimal",
    lead: timedelta = timedelta(hours=24),
) -> tuple[int, str]:
    """Replay the stored matches of `leagues` in the seasons through `version` (default the served alias's);
    returns how many were written and the version. Ratings are fitted on the seasons before the first one, as
    the feature table does, so no replayed row sees its own season's results."""
    from matchday.integrations.mlflow_registry import load_bundle_by_version  # noqa: PLC0415  (MLflow is slow)
    from matchday.monitoring.check import served_version  # noqa: PLC0415

    used = version or served_version(settings)
    bundle = load_bundle_by_version(settings, used)
    dataset, _ = load_dataset(engine, list(leagues), first_season, last_season)
    rows = dataset[dataset["season"].between(first_season, last_season)]
    if rows.empty:
        raise ValueError(f"no stored matches of {', '.join(leagues)} in seasons {first_season}-{last_season}")
    rows = as_served_prices(rows, load_quote_frame(engine, rows["match_id"].tolist()), odds_format)
    written = replay(engine, bundle, rows, model_name=settings.model_name, version=used, lead=lead)
    return written, used
