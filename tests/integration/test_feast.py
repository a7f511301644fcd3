"""Feast on a real feature table (E0 2022-23, with 2021-22 as history): the local profile (file offline store,
SQLite online store, file registry), the prod profile against the real Redis and a SQL registry on the real
PostgreSQL, the Feast CLI over feature_repo/, and the `matchday features apply / materialize` commands.

The retrieved values are compared with the table itself, so a row Feast drops, a column it renames wrongly or a
point-in-time join that returns a later row fails a test.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis
from feast import RepoConfig
from feast.repo_config import load_repo_config
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from matchday.cli import app
from matchday.cli._common import console, error_console
from matchday.config import Profile, Settings
from matchday.features.frames import frames_from_matches
from matchday.features.moments import Moment, features_for
from matchday.features.table import build_feature_table, feature_columns
from matchday.ingest.football_data import parse_season_file
from matchday.integrations.feast_definitions import SERVICES, repo_config
from matchday.integrations.feast_sources import (
    TEAM_KEY,
    TIMESTAMP,
    Side,
    match_feature_names,
    source_dir,
    table_column,
    team_frame,
)
from matchday.integrations.feast_store import (
    apply,
    historical_features,
    materialize,
    online_team_features,
    open_store,
    teardown,
    write_sources,
)

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("MATCHDAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FEATURE_REPO = Path(__file__).resolve().parents[2] / "feature_repo"
MATCH_COLUMNS = ["match_id", "kickoff", "home_team", "away_team"]
OPEN, CLOSE = SERVICES[Moment.OPEN], SERVICES[Moment.CLOSE]
TEAMS = ["Arsenal", "Man City"]


def _settings(state_dir: Path, **overrides: object) -> Settings:
    # Every value that matters is explicit: an exported MATCHDAY_* variable must not change what a test runs on.
    values: dict[str, object] = {
        "profile": Profile.LOCAL,
        "state_dir": state_dir,
        "database_url": None,
        "redis_url": REDIS_URL,
        "feast_project": "matchday",
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def table(data_dir: Path) -> pd.DataFrame:
    files = [data_dir / "football-data" / "E0" / name for name in ("2122.csv", "2223.csv")]
    frame, quotes = frames_from_matches([match for path in files for _, match in parse_season_file(path).matches])
    return build_feature_table(frame, quotes, seasons=[2022])


@pytest.fixture(scope="module")
def local(table: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A local-profile store with the table applied (not materialized)."""
    settings = _settings(tmp_path_factory.mktemp("feast_local"))
    write_sources(table, source_dir(settings))
    apply(settings)
    return settings


@pytest.fixture(scope="module")
def local_online(local: Settings) -> Settings:
    summary = materialize(local)
    assert [(v.name, v.rows, v.entities) for v in summary.views] == [
        ("team_form_ratings", 760, 20),
        ("match_market", 380, 380),
    ]
    return local


def _last_rows(table: pd.DataFrame, teams: list[str]) -> pd.DataFrame:
    """Each team's last row of the team source, as the online store should serve it."""
    latest = team_frame(table).drop_duplicates(TEAM_KEY, keep="last").set_index(TEAM_KEY)
    return latest.loc[teams].drop(columns=TIMESTAMP)


def test_sources_hold_one_row_per_team_per_match_with_the_side_taken_out(table: pd.DataFrame) -> None:
    teams = team_frame(table)
    assert len(teams) == 760
    assert str(teams[TIMESTAMP].dtype) == "datetime64[ns, UTC]"
    opener = table.iloc[0]  # Crystal Palace v Arsenal, 2022-08-05 19:00 UTC
    arsenal = teams[(teams[TEAM_KEY] == "Arsenal")].iloc[0]
    assert arsenal[TIMESTAMP] == pd.Timestamp("2022-08-05 19:00", tz="UTC")
    assert (arsenal["elo"], arsenal["pi_home"], arsenal["pi_away"]) == (
        opener["elo_away"],
        opener["pi_away_home"],
        opener["pi_away_away"],
    )
    assert arsenal["venue_form_points"] == opener["away_venue_form_points"]
    assert arsenal["matches_14d"] == opener["away_matches_14d"]
    assert not any(column.startswith(("home_", "away_")) for column in teams.columns)


def test_a_side_column_without_its_mirror_is_refused(table: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without the other side's column: home_new_stat"):
        write_sources(table.assign(home_new_stat=1.0), tmp_path)
    with pytest.raises(ValueError, match="without the other side's column: elo_home"):
        write_sources(table.drop(columns="elo_away"), tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_historical_features_return_every_match_with_the_table_values(local: Settings, table: pd.DataFrame) -> None:
    matches = table[MATCH_COLUMNS].sample(frac=1.0, random_state=7)  # the result must follow the input order

    result = historical_features(local, matches, CLOSE)

    assert len(result) == 380
    assert result["match_id"].tolist() == matches["match_id"].tolist()
    assert set(result.columns) == set(MATCH_COLUMNS) | set(feature_columns(table))  # close serves every feature
    expected = table.set_index("match_id").loc[result["match_id"], result.columns[1:]].reset_index()
    pd.testing.assert_frame_equal(result, expected[result.columns])  # exact, dtypes and NaN positions included
    assert result["h2h_home_points"].isna().sum() == 54  # NaN survives the round trip where the table has it


def test_the_open_service_never_serves_a_closing_price(local: Settings, table: pd.DataFrame) -> None:
    with open_store(local) as store:
        served = {
            name: [f.name for p in store.get_feature_service(name).feature_view_projections for f in p.features]
            for name in (OPEN, CLOSE)
        }
    assert not [name for name in served[OPEN] if name.startswith("close_")]
    assert {name for name in served[CLOSE] if name.startswith("close_")} == {
        column for column in feature_columns(table) if column.startswith("close_")
    }

    result = historical_features(local, table[MATCH_COLUMNS], OPEN)

    features = [column for column in result.columns if column not in MATCH_COLUMNS]
    assert sorted(features) == sorted(features_for(feature_columns(table), Moment.OPEN))
    assert not [column for column in features if column.startswith("close_")]
    pd.testing.assert_frame_equal(result[features], table[features])


def _previous_rows(table: pd.DataFrame, side: Side) -> pd.DataFrame:
    """Per match, the `side` team's features from that team's previous match (NaN before its first)."""
    teams = team_frame(table)
    names = [column for column in teams.columns if column not in (TEAM_KEY, TIMESTAMP)]
    previous = teams.groupby(TEAM_KEY)[names].shift(1).assign(team=teams[TEAM_KEY], ts=teams[TIMESTAMP])
    keys = pd.DataFrame({"team": table[f"{side}_team"], "ts": table["kickoff"].dt.tz_localize("UTC")})
    rows = keys.merge(previous, on=["team", "ts"], how="left")[names]
    return rows.rename(columns={name: table_column(name, side) for name in names})


def test_a_minute_before_kickoff_gives_the_previous_match_not_this_one(local: Settings, table: pd.DataFrame) -> None:
    early = table[MATCH_COLUMNS].assign(kickoff=table["kickoff"] - pd.Timedelta(minutes=1))

    result = historical_features(local, early, CLOSE)

    assert len(result) == 380  # Feast drops these rows (keys with rows, none in the TTL); we keep them
    assert (
        result[match_feature_names(list(table.columns))].isna().all(axis=None)
    )  # each match's own row is stamped at its kickoff: not yet
    firsts = 0
    for side in Side:
        expected = _previous_rows(table, side)
        pd.testing.assert_frame_equal(result[expected.columns], expected, check_dtype=False)
        firsts += int(expected.isna().all(axis=1).sum())
    assert firsts == 20  # each team's first match of the season has no earlier row in the source: all NaN


def test_materialize_then_online_lookup_from_sqlite(local_online: Settings, table: pd.DataFrame) -> None:
    online = online_team_features(local_online, TEAMS)

    pd.testing.assert_frame_equal(online, _last_rows(table, TEAMS))
    unknown = online_team_features(local_online, ["Nowhere Rovers"])
    assert unknown.isna().all(axis=None)


@pytest.fixture
def prod(postgres_url: str, tmp_path: Path) -> Iterator[Settings]:
    project = f"matchday_test_{uuid.uuid4().hex[:12]}"
    settings = _settings(
        tmp_path / "state",
        profile=Profile.PROD,
        database_url=postgres_url,
        feast_project=project,
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    try:
        yield settings
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            teardown(settings)
            left = list(client.scan_iter(match=b"*" + project.encode()))
            for key in left:  # teardown should have removed them all; never leave a test's keys behind
                client.delete(key)
            assert not left, f"teardown left {len(left)} Redis keys of {project}"
        finally:
            client.close()


def test_prod_profile_serves_the_same_values_from_redis(
    prod: Settings, local_online: Settings, table: pd.DataFrame
) -> None:
    write_sources(table, source_dir(prod))
    apply(prod)
    summary = materialize(prod)

    assert summary.rows == 760 + 380
    pd.testing.assert_frame_equal(online_team_features(prod, TEAMS), online_team_features(local_online, TEAMS))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert sum(1 for _ in client.scan_iter(match=b"*" + prod.feast_project.encode())) == 20 + 380
    finally:
        client.close()
    engine = create_engine(prod.resolved_database_url)
    try:
        with engine.connect() as connection:
            views = connection.execute(
                text("SELECT feature_view_name FROM feature_views WHERE project_id = :p"), {"p": prod.feast_project}
            ).scalars()
            assert sorted(views) == ["match_market", "team_form_ratings"]
    finally:
        engine.dispose()
    historical = historical_features(prod, table[MATCH_COLUMNS].head(5), OPEN)  # the SQL registry serves training
    assert np.allclose(historical["elo_home"], table["elo_home"].head(5))


def _stores(config: RepoConfig, repo: Path = Path("/")) -> tuple[object, ...]:
    """What a profile is made of; relative file paths are taken from `repo`, as Feast does."""
    registry, online = config.registry, config.online_store
    local = registry.registry_type == "file"
    return (
        config.project,
        registry.registry_type,
        str((repo / registry.path).resolve()) if local else registry.path,
        registry.cache_ttl_seconds,
        online.type,
        str((repo / online.path).resolve()) if local else online.connection_string,
        config.offline_store.type,
        config.entity_key_serialization_version,
    )


def test_repo_config_follows_the_profile_and_feature_repo_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = repo_config(_settings(tmp_path / ".matchday"))
    prod = repo_config(
        _settings(
            tmp_path,
            profile=Profile.PROD,
            database_url="postgresql://feast@db.internal:5432/matchday",
            redis_url="rediss://:s3cret@cache.internal:6380/2",
            mlflow_tracking_uri="http://mlflow.internal:5000",
        )
    )

    feast_dir = tmp_path / ".matchday" / "feast"
    registry, online = str(feast_dir / "registry.db"), str(feast_dir / "online_store.db")
    assert _stores(local) == ("matchday", "file", registry, 60, "sqlite", online, "file", 3)
    registry = "postgresql+psycopg://feast@db.internal:5432/matchday"
    online = "cache.internal:6380,db=2,password=s3cret,ssl=true"
    assert _stores(prod) == ("matchday", "sql", registry, 60, "redis", online, "file", 3)
    # feature_repo/'s yaml files say the same, for the Feast CLI (its paths are relative to feature_repo/)
    repo = tmp_path / "feature_repo"
    shutil.copytree(FEATURE_REPO, repo, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("FEAST_REGISTRY_URL", prod.registry.path)
    monkeypatch.setenv("FEAST_REDIS", prod.online_store.connection_string)
    assert _stores(load_repo_config(repo, repo / "feature_store.yaml"), repo) == _stores(local)
    assert _stores(load_repo_config(repo, repo / "feature_store.prod.yaml")) == _stores(prod)


def test_feast_cli_applies_feature_repo(table: pd.DataFrame, tmp_path: Path) -> None:
    # A copy of feature_repo/ next to its own .matchday, so the yaml's relative paths land in tmp_path.
    shutil.copytree(FEATURE_REPO, tmp_path / "feature_repo", ignore=shutil.ignore_patterns("__pycache__"))
    settings = _settings(tmp_path / ".matchday")
    write_sources(table, source_dir(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MATCHDAY_")} | {"MATCHDAY_STATE_DIR": ".matchday"}
    feast = Path(sys.executable).parent / "feast"

    run = subprocess.run(
        [str(feast), "-c", "feature_repo", "apply"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    assert Path(repo_config(settings).online_store.path).is_file()  # the yaml's online store is matchday's
    with open_store(settings) as store:  # the registry the CLI wrote is the one matchday reads
        assert sorted(s.name for s in store.list_feature_services()) == sorted([OPEN, CLOSE])
        sources = sorted(view.batch_source.path for view in store.list_feature_views())
    assert sources == sorted(str(path) for path in source_dir(settings).glob("*_features.parquet"))


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The minimal parts of test_cli's `cli` fixture: a clean MATCHDAY_* environment, a state dir, a wide console."""
    for name in list(os.environ):
        if name.startswith("MATCHDAY_") and not name.startswith("MATCHDAY_TEST_"):
            monkeypatch.delenv(name)
    state_dir = tmp_path / "state"
    monkeypatch.setenv("MATCHDAY_STATE_DIR", str(state_dir))
    for output in (console, error_console):
        monkeypatch.setattr(output, "width", 200)
    logger = logging.getLogger("matchday")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        yield state_dir
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])


def test_cli_build_apply_materialize(cli_env: Path, data_dir: Path) -> None:
    runner = CliRunner()
    files = [str(data_dir / "football-data" / "E0" / name) for name in ("2122.csv", "2223.csv")]
    assert runner.invoke(app, ["data", "ingest", *files], catch_exceptions=False).exit_code == 0
    out = cli_env / "features" / "table.parquet"
    built = runner.invoke(app, ["features", "build", "--out", str(out), "--league", "E0", "--seasons", "2022"])
    assert built.exit_code == 0, built.output

    applied = runner.invoke(app, ["features", "apply"], catch_exceptions=False)
    materialized = runner.invoke(app, ["features", "materialize"], catch_exceptions=False)

    assert applied.exit_code == 0, applied.output
    assert "760 / 21" in applied.stdout and "380 / 61" in applied.stdout
    assert materialized.exit_code == 0, materialized.output
    assert "1,140" in materialized.stdout and "team_form_ratings" in materialized.stdout
    assert "Materializing" not in materialized.stdout  # Feast's own banner stays out of our output
    online = online_team_features(_settings(cli_env), ["Arsenal"])
    assert online.notna().all(axis=None)


def test_cli_apply_without_a_table_fails_clearly(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["features", "apply"])
    assert result.exit_code == 1
    assert "no feature table" in result.stderr
