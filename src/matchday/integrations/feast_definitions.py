"""Feast's objects (entities, sources, feature views, feature services) and its RepoConfig, built from Settings.

Schemas are explicit `Field`s, read from the offline sources' parquet footers (the sources are written from the
feature table by `feast_sources`, so the columns follow the table's feature code and its parameters). TTLs:
a team's latest row must reach across real gaps between its matches (a summer break, the 2020 suspension), so
`team_form_ratings` keeps rows for 120 days; a match row is stamped at that match's kickoff, the very time it is
looked up at, so one day is plenty for `match_market`.

Profiles: `local` keeps everything under `<state_dir>/feast` (file registry, SQLite online store); `prod` uses
Redis (`Settings.redis_url`) for the online store and a SQL registry in the PostgreSQL database of
`Settings.database_url`. The offline store is the parquet files in both: the feature table is built in batch and
a file read is all a training job needs (in prod, `state_dir` must be storage the jobs share).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.types import Bool, FeastType, Float32, Float64, Int32, Int64, String

from matchday.config import Profile, Settings
from matchday.features.moments import Moment, assert_moment, features_for
from matchday.integrations.feast_sources import (
    MATCH_KEY,
    MATCH_SOURCE,
    TEAM_KEY,
    TEAM_SOURCE,
    TIMESTAMP,
    Side,
    source_dir,
)

__all__ = [
    "MATCH_TTL",
    "MATCH_VIEW",
    "SERVICES",
    "TEAM_TTL",
    "TEAM_VIEW",
    "FeastObjects",
    "feast_dir",
    "feast_objects",
    "redis_connection_string",
    "registry_url",
    "repo_config",
]

TEAM_VIEW = "team_form_ratings"
MATCH_VIEW = "match_market"
SERVICES = {Moment.OPEN: "open_model", Moment.CLOSE: "close_model"}
TEAM_TTL = timedelta(days=120)
MATCH_TTL = timedelta(days=1)
_REGISTRY_CACHE_SECONDS = 60  # a server sees a new `apply` within a minute without a registry read per request


@dataclass(frozen=True, slots=True)
class FeastObjects:
    team: Entity
    match: Entity
    team_source: FileSource
    match_source: FileSource
    team_view: FeatureView
    match_view: FeatureView
    services: tuple[FeatureService, ...]

    def all(self) -> list[Any]:
        """Everything `FeatureStore.apply` takes, in dependency order."""
        return [
            self.team,
            self.match,
            self.team_source,
            self.match_source,
            self.team_view,
            self.match_view,
            *self.services,
        ]


def _feast_type(column: str, dtype: object) -> FeastType:
    kinds: dict[str, FeastType] = {"f": Float64, "i": Int64, "b": Bool, "O": String}
    kind = getattr(dtype, "kind", "")
    if kind == "f" and getattr(dtype, "itemsize", 8) == 4:
        return Float32
    if kind == "i" and getattr(dtype, "itemsize", 8) == 4:
        return Int32
    if kind in kinds:
        return kinds[kind]
    raise ValueError(f"column {column!r} has type {dtype}, which the Feast schema does not map")


def _schema(path: Path) -> list[Field]:
    """The source's key and feature columns as Feast fields (the timestamp is the view's, not a field)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no Feast source; run `matchday features apply --table FILE` first")
    dtypes = {str(name): dtype for name, dtype in pd.read_parquet(path).dtypes.items()}
    return [Field(name=name, dtype=_feast_type(name, dtype)) for name, dtype in dtypes.items() if name != TIMESTAMP]


def _entities() -> tuple[Entity, Entity]:
    team = Entity(name="team", join_keys=[TEAM_KEY], value_type=ValueType.STRING, description="A club, by name.")
    match = Entity(name="match", join_keys=[MATCH_KEY], value_type=ValueType.INT64, description="A match, by id.")
    return team, match


def _source(name: str, path: Path) -> FileSource:
    return FileSource(name=name, path=str(path), timestamp_field=TIMESTAMP)


def _side(view: FeatureView, names: list[str], side: Side) -> FeatureView:
    # One team view serves both sides of a match: the projection renames it and joins on home_team / away_team.
    projected: FeatureView = view[names].with_name(str(side)).with_join_key_map({TEAM_KEY: f"{side}_team"})
    return projected


def _service(moment: Moment, team_view: FeatureView, match_view: FeatureView) -> FeatureService:
    team = features_for([f.name for f in team_view.features], moment)
    match = features_for([f.name for f in match_view.features], moment)
    assert_moment([*team, *match], moment)  # the rule lives in `moments`; a service can never break it
    return FeatureService(
        name=SERVICES[moment],
        features=[_side(team_view, team, Side.HOME), _side(team_view, team, Side.AWAY), match_view[match]],
        description=f"Features a model predicting at the `{moment}` moment may use.",
        tags={"moment": str(moment)},
    )


def feast_objects(settings: Settings, folder: Path | None = None) -> FeastObjects:
    """Every Feast object, over the sources in `folder` (default `<state_dir>/features`)."""
    folder = (folder or source_dir(settings)).resolve()
    team, match = _entities()
    team_source = _source("team_features", folder / TEAM_SOURCE)
    match_source = _source("match_features", folder / MATCH_SOURCE)
    team_view = FeatureView(
        name=TEAM_VIEW,
        entities=[team],
        ttl=TEAM_TTL,
        schema=_schema(folder / TEAM_SOURCE),
        source=team_source,
        description="A team's own pre-match ratings, form and schedule, one row per match it played.",
    )
    match_view = FeatureView(
        name=MATCH_VIEW,
        entities=[match],
        ttl=MATCH_TTL,
        schema=_schema(folder / MATCH_SOURCE),
        source=match_source,
        description="Match-level features: Elo and pi expectations, head to head, opening and closing prices.",
    )
    services = tuple(_service(moment, team_view, match_view) for moment in Moment)
    return FeastObjects(team, match, team_source, match_source, team_view, match_view, services)


def feast_dir(settings: Settings) -> Path:
    """The local profile's registry and online store live here."""
    return (settings.state_dir / "feast").resolve()


def redis_connection_string(url: str) -> str:
    """A `redis://[user:password@]host[:port][/db]` URL (or `rediss://`) in Feast's `host:port,key=value` form."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise ValueError(f"redis URL {url!r}: scheme must be redis:// or rediss://")
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError(f"redis URL {url!r}: the path must be a database number")
    options = [f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}", f"db={db}"]
    if parts.username:
        options.append(f"username={unquote(parts.username)}")
    if parts.password:
        options.append(f"password={unquote(parts.password)}")
    if parts.scheme == "rediss":
        options.append("ssl=true")
    if any("," in option for option in options[1:]):
        raise ValueError("redis URL: Feast's connection string cannot carry a ',' in a user name or password")
    return ",".join(options)


def registry_url(database_url: str) -> str:
    """The SQLAlchemy URL for Feast's SQL registry: a bare postgresql:// gets the psycopg 3 driver we ship."""
    if database_url.startswith("postgresql://"):
        return "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return database_url


def repo_config(settings: Settings) -> RepoConfig:
    """The Feast configuration of the settings' profile; the project name namespaces registry and online keys."""
    if settings.profile is Profile.PROD:
        registry: dict[str, Any] = {
            "registry_type": "sql",
            "path": registry_url(settings.resolved_database_url),
            "cache_ttl_seconds": _REGISTRY_CACHE_SECONDS,
            "sqlalchemy_config_kwargs": {"echo": False, "pool_pre_ping": True},
        }
        online: dict[str, Any] = {"type": "redis", "connection_string": redis_connection_string(settings.redis_url)}
    else:
        folder = feast_dir(settings)
        registry = {
            "registry_type": "file",
            "path": str(folder / "registry.db"),
            "cache_ttl_seconds": _REGISTRY_CACHE_SECONDS,
        }
        online = {"type": "sqlite", "path": str(folder / "online_store.db")}
    return RepoConfig(
        project=settings.feast_project,
        provider="local",
        registry=registry,
        online_store=online,
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
    )
