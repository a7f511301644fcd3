"""The served-predictions log read back for monitoring: one row per served prediction in a time window, its model
input row expanded into columns, so it lines up with the reference snapshot logged with each version
(`matchday.integrations.mlflow_registry.load_reference`)."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, select

from matchday.ingest.store.models import ServedPredictionRow

__all__ = ["SERVED_COLUMNS", "served_frame"]

SERVED_COLUMNS = (
    "request_id",
    "served_at",
    "model_version",
    "variant",
    "kickoff",
    "p_home",
    "p_draw",
    "p_away",
    "latency_ms",
)


def served_frame(engine: Engine, model_name: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Predictions of `model_name` served in [start, end) (naive UTC), oldest first: SERVED_COLUMNS, then the
    keys and features of each prediction's input row (None in the log is NaN here)."""
    if end <= start:
        raise ValueError(f"end={end.isoformat()} must be after start={start.isoformat()}")
    table = ServedPredictionRow
    query = (
        select(table)
        .where(table.model_name == model_name, table.served_at >= start, table.served_at < end)
        .order_by(table.served_at, table.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    meta = pd.DataFrame(
        {
            "request_id": [r.request_id for r in rows],
            "served_at": [r.served_at for r in rows],
            "model_version": [r.model_version for r in rows],
            "variant": [r.variant for r in rows],
            "kickoff": [r.kickoff for r in rows],
            "p_home": [r.prob_home for r in rows],
            "p_draw": [r.prob_draw for r in rows],
            "p_away": [r.prob_away for r in rows],
            "latency_ms": [r.latency_ms for r in rows],
        },
        columns=list(SERVED_COLUMNS),
    )
    features = pd.DataFrame.from_records([json.loads(r.features) for r in rows])
    overlap = [column for column in features.columns if column in meta.columns]
    if overlap:
        raise ValueError(f"logged feature rows hold column(s) {overlap} that clash with the log's own")
    numeric = [c for c in features.columns if c not in ("competition", "home_team", "away_team")]
    features[numeric] = features[numeric].astype("float64")
    return pd.concat([meta, features], axis=1)
