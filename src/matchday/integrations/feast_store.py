"""Matchday's features in a Feast store: publish, materialize, and read them back point-in-time or online.

    write_sources(table, folder)              the feature table -> team_features / match_features parquet
    apply(settings)                           register entities, sources, views and services
    materialize(settings, start, end)         offline -> online store (SQLite locally, Redis in prod)
    historical_features(settings, matches, s) one row per match, the service's features in the table's names
    online_team_features(settings, teams)     each team's latest row, for serving

Each call opens a `FeatureStore` from `Settings` and closes it; a server passes one from `open_store` instead.
The column mapping is in `feast_sources`, the Feast objects and profiles in `feast_definitions`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from feast import FeatureStore, FeatureView, FileSource
from feast.feature_view_projection import FeatureViewProjection
from feast.types import String

from matchday.config import Profile, Settings
from matchday.integrations.feast_definitions import (
    SERVICES,
    TEAM_VIEW,
    FeastObjects,
    feast_dir,
    feast_objects,
    repo_config,
)
from matchday.integrations.feast_sources import TEAM_KEY, TIMESTAMP, Side, SourceFiles, table_column, write_sources

__all__ = [
    "SERVICES",
    "ApplySummary",
    "MaterializeSummary",
    "MaterializedView",
    "OnlineTeamFeatures",
    "SourceFiles",
    "apply",
    "historical_features",
    "materialize",
    "online_team_features",
    "open_store",
    "teardown",
    "write_sources",
]

logger = logging.getLogger(__name__)

MATCH_COLUMNS = ("match_id", "kickoff", "home_team", "away_team")


@dataclass(frozen=True, slots=True)
class ApplySummary:
    project: str
    team_features: int
    match_features: int
    services: dict[str, int]  # service name -> number of features it serves


@dataclass(frozen=True, slots=True)
class MaterializedView:
    name: str
    rows: int  # source rows inside the window
    entities: int  # keys written: the latest row of each
    seconds: float


@dataclass(frozen=True, slots=True)
class MaterializeSummary:
    start: datetime
    end: datetime
    views: tuple[MaterializedView, ...]

    @property
    def rows(self) -> int:
        return sum(view.rows for view in self.views)

    @property
    def seconds(self) -> float:
        return sum(view.seconds for view in self.views)


def _close(store: FeatureStore) -> None:
    # A sync FeatureStore has no close(): release the pools it opened, so a finished call leaves no PostgreSQL,
    # Redis or SQLite connection behind to be collected (and warned about) later.
    registry = getattr(store, "_registry", None)
    for engine in {getattr(registry, "write_engine", None), getattr(registry, "read_engine", None)} - {None}:
        engine.dispose()  # type: ignore[union-attr]
    online = getattr(getattr(store, "_provider", None), "_online_store", None)
    for attribute in ("_client", "_conn"):
        connection = getattr(online, attribute, None)
        if connection is not None:
            connection.close()
            setattr(online, attribute, None)


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[FeatureStore]:
    """A FeatureStore for the settings' profile, closed on exit."""
    if settings.profile is Profile.LOCAL:
        feast_dir(settings).mkdir(parents=True, exist_ok=True)
    store = FeatureStore(config=repo_config(settings))
    try:
        yield store
    finally:
        _close(store)


@contextlib.contextmanager
def _using(settings: Settings, store: FeatureStore | None) -> Iterator[FeatureStore]:
    if store is not None:
        yield store
        return
    with open_store(settings) as opened:
        yield opened


def apply(settings: Settings, sources: Path | None = None, *, store: FeatureStore | None = None) -> ApplySummary:
    """Register every Feast object over the sources in `sources` (default `<state_dir>/features`)."""
    objects: FeastObjects = feast_objects(settings, sources)
    with _using(settings, store) as feature_store:
        feature_store.apply(objects.all())
    summary = ApplySummary(
        project=settings.feast_project,
        team_features=len(objects.team_view.features),
        match_features=len(objects.match_view.features),
        services={s.name: sum(len(p.features) for p in s.feature_view_projections) for s in objects.services},
    )
    logger.info("feast.applied", extra={"project": summary.project, "services": summary.services})
    return summary


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _source_path(view: FeatureView) -> str:
    if not isinstance(view.batch_source, FileSource):
        raise ValueError(f"feature view {view.name!r} is not over a file source")
    return view.batch_source.path


def _source_window(views: Sequence[FeatureView]) -> tuple[datetime, datetime]:
    """The first and last event timestamps over the views' sources: all history, inclusive."""
    stamps = [pd.read_parquet(_source_path(view), columns=[TIMESTAMP])[TIMESTAMP] for view in views]
    return min(s.min() for s in stamps).to_pydatetime(), max(s.max() for s in stamps).to_pydatetime()


def _window_counts(view: FeatureView, start: datetime, end: datetime) -> tuple[int, int]:
    frame = pd.read_parquet(_source_path(view), columns=[*view.join_keys, TIMESTAMP])
    inside = frame[(frame[TIMESTAMP] >= start) & (frame[TIMESTAMP] <= end)]
    return len(inside), len(inside.drop_duplicates(view.join_keys))


def _materialize_view(store: FeatureStore, view: FeatureView, start: datetime, end: datetime) -> MaterializedView:
    started = time.perf_counter()
    # Feast prints a coloured banner to stdout while it materializes; keep it out of our output, in the debug log.
    with contextlib.redirect_stdout(io.StringIO()) as banner:
        store.materialize(start_date=start, end_date=end, feature_views=[view.name])
    rows, entities = _window_counts(view, start, end)
    done = MaterializedView(view.name, rows, entities, time.perf_counter() - started)
    logger.debug("feast.materialize.banner", extra={"view": view.name, "text": banner.getvalue().strip()})
    logger.info("feast.materialized", extra={"view": view.name, "rows": rows, "entities": entities})
    return done


def materialize(
    settings: Settings,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    on_view: Callable[[MaterializedView, int], None] | None = None,
    store: FeatureStore | None = None,
) -> MaterializeSummary:
    """Load the latest row of every key with an event time in [start, end] (default: all the sources hold) into
    the online store, one feature view at a time; `on_view(view, total)` hears about each view as it finishes.

    An `end` before the newest rows rewinds a local (SQLite) online store to that time; Redis keeps the newest."""
    with _using(settings, store) as feature_store:
        views = feature_store.list_feature_views()
        if not views:
            raise ValueError(f"Feast project {settings.feast_project!r} has no feature views: apply them first")
        first, last = _source_window(views)
        window = (_utc(start) if start else first, _utc(end) if end else last)
        if window[0] > window[1]:
            raise ValueError(f"materialize window starts ({window[0]}) after it ends ({window[1]})")
        if settings.profile is Profile.LOCAL and window[1] < last:
            # Redis keeps the row with the newest event time; Feast's SQLite store keeps the last one written.
            logger.warning("feast.materialize.sqlite_rewinds", extra={"end": str(window[1]), "latest": str(last)})
        done = []
        for view in views:
            done.append(_materialize_view(feature_store, view, *window))
            if on_view is not None:
                on_view(done[-1], len(views))
    return MaterializeSummary(window[0], window[1], tuple(done))


def _entity_frame(matches: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in MATCH_COLUMNS if column not in matches.columns]
    if missing:
        raise ValueError(f"matches lack column(s) {', '.join(missing)}")
    if matches[list(MATCH_COLUMNS)].isna().any().any():
        raise ValueError("matches have an empty match_id, kickoff, home_team or away_team")
    entity = matches[["match_id", "home_team", "away_team"]].reset_index(drop=True)
    kickoff = pd.to_datetime(matches["kickoff"]).reset_index(drop=True)
    kickoff = kickoff.dt.tz_localize("UTC") if kickoff.dt.tz is None else kickoff.dt.tz_convert("UTC")
    entity[TIMESTAMP] = kickoff.astype("datetime64[ns, UTC]")
    return entity


def _output_name(projection: FeatureViewProjection, feature: str) -> str:
    alias = projection.name_alias
    return table_column(feature, Side(alias)) if alias in set(Side) else feature


def _retrieve(store: FeatureStore, projection: FeatureViewProjection, entity: pd.DataFrame) -> pd.DataFrame:
    """One projection's features for every entity row, aligned to `entity`.

    Each projection is its own query because Feast's file store drops an entity row outright when its key has
    rows but none inside the TTL (a team before its first match, a match asked for before its kickoff): in one
    query with every view, a missing match row would take both teams' features with it.
    """
    view = store.get_feature_view(projection.name, allow_registry_cache=True)
    columns = {key: projection.join_key_map.get(key, key) for key in view.join_keys}  # view key -> entity column
    on = [*columns.values(), TIMESTAMP]
    query = entity[on].drop_duplicates().rename(columns={v: k for k, v in columns.items()})
    names = [feature.name for feature in projection.features]
    job = store.get_historical_features(entity_df=query, features=[f"{projection.name}:{name}" for name in names])
    found = job.to_df().rename(columns=columns)
    found[TIMESTAMP] = found[TIMESTAMP].astype("datetime64[ns, UTC]")
    aligned = entity[on].merge(found[[*on, *names]], on=on, how="left", indicator=True)
    absent = int(((aligned["_merge"] == "left_only") | aligned[names].isna().all(axis=1)).sum())
    if absent:
        logger.warning(
            "feast.historical.no_row", extra={"projection": projection.name_alias or projection.name, "matches": absent}
        )
    return aligned[names].rename(columns={name: _output_name(projection, name) for name in names})


def historical_features(
    settings: Settings, matches: pd.DataFrame, service: str, *, store: FeatureStore | None = None
) -> pd.DataFrame:
    """`matches` (match_id, kickoff, home_team, away_team) with the features of `service` as known at each
    kickoff, one row per input row in input order, named as in the feature table (`elo_home`, `home_form_n`).

    A match with no row inside a view's TTL keeps its row, with NaN for that view's features (and a warning)."""
    entity = _entity_frame(matches)
    with _using(settings, store) as feature_store:
        projections = feature_store.get_feature_service(service, allow_cache=True).feature_view_projections
        parts = [_retrieve(feature_store, projection, entity) for projection in projections]
    result = pd.concat([matches[list(MATCH_COLUMNS)].reset_index(drop=True), *parts], axis=1)
    logger.info("feast.historical", extra={"service": service, "matches": len(result), "columns": result.shape[1]})
    return result


class OnlineTeamFeatures:
    """The serving path's reader: the team view's features are resolved from the registry once, so each lookup
    is a single online-store read (resolving them per call cost about 1.4 ms, more than the read itself)."""

    def __init__(self, store: FeatureStore) -> None:
        view = store.get_feature_view(TEAM_VIEW, allow_registry_cache=True)
        self._store = store
        self._features = list(view.features)
        self._refs = [f"{TEAM_VIEW}:{feature.name}" for feature in self._features]

    def lookup(self, teams: Sequence[str]) -> dict[str, list[Any]]:
        """Feature name -> one value per team, in the order asked (None where the store holds nothing)."""
        rows = [{TEAM_KEY: team} for team in teams]
        return dict(self._store.get_online_features(features=self._refs, entity_rows=rows).to_dict())

    def frame(self, teams: Sequence[str]) -> pd.DataFrame:
        """The same as a frame indexed by team; numbers with a gap become float with NaN."""
        values = self.lookup(teams)
        columns = {f.name: _online_column(values[f.name], f.dtype == String) for f in self._features}
        return pd.DataFrame(columns, index=pd.Index(list(teams), name=TEAM_KEY))


def online_team_features(
    settings: Settings, teams: Sequence[str], *, store: FeatureStore | None = None
) -> pd.DataFrame:
    """Each team's latest materialized row of `team_form_ratings`, indexed by team, in the order asked.

    A team the online store does not hold gets a row of NaN (an integer column with a gap becomes float). For many
    lookups, keep an `OnlineTeamFeatures` instead."""
    with _using(settings, store) as feature_store:
        return OnlineTeamFeatures(feature_store).frame(teams)


def _online_column(values: list[object], text: bool) -> npt.NDArray[Any]:
    # Feast returns a missing value (and a stored NaN) as None: numbers become float with NaN, as pandas would.
    if text:
        return np.array(values, dtype=object)
    return np.array(values, dtype=np.float64) if None in values else np.array(values)


def teardown(settings: Settings) -> None:
    """Remove the project's online data and its registry entries (the offline parquet files stay)."""
    with open_store(settings) as store:
        store.teardown()  # type: ignore[no-untyped-call]  # Feast leaves it unannotated
    logger.info("feast.teardown", extra={"project": settings.feast_project})
