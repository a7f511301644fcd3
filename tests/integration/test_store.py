"""The match store on real SQLite and PostgreSQL: idempotent, atomic per file, safe under concurrency."""

from __future__ import annotations

import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select, text

from matchday.ingest.football_data import parse_season_file
from matchday.ingest.service import discover_sources, ingest_file, ingest_files
from matchday.ingest.store import repository
from matchday.ingest.store.database import make_engine, migrate
from matchday.ingest.store.frames import load_match_frame, load_quote_frame
from matchday.ingest.store.models import (
    Base,
    IngestRunRow,
    MatchRow,
    OddsQuoteRow,
    QuarantineRow,
    TeamAliasRow,
    TeamRow,
)
from matchday.ingest.store.queries import quarantine_groups, store_status
from matchday.ingest.store.repository import MatchStore

pytestmark = pytest.mark.integration

DATA_TABLES = (MatchRow, OddsQuoteRow, TeamRow, TeamAliasRow, QuarantineRow)


@pytest.fixture
def stores() -> Iterator[Callable[[str], MatchStore]]:
    """Open migrated stores; their engines are disposed before the test database is dropped."""
    engines: list[Engine] = []

    def open_store(url: str) -> MatchStore:
        engine = make_engine(url)
        engines.append(engine)
        migrate(engine)
        return MatchStore(engine)

    yield open_store
    for engine in engines:
        engine.dispose()


def _store(url: str) -> MatchStore:
    """For worker processes, which exit (and so close their connections) when done."""
    engine = make_engine(url)
    migrate(engine)
    return MatchStore(engine)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.__tablename__: int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in DATA_TABLES
        }


def _season_files(data_dir: Path, *names: str) -> list[Path]:
    return [data_dir / "football-data" / name for name in names]


def test_ingest_stores_every_match_and_quote_of_the_file(
    database_url: str, data_dir: Path, stores: Callable[[str], MatchStore]
) -> None:
    store = stores(database_url)
    path = data_dir / "football-data" / "E0" / "2223.csv"
    parsed = parse_season_file(path)
    report = ingest_file(store, path)
    assert report.status == "loaded"
    assert report.matches_added == len(parsed.matches) == 380
    assert report.quotes_added == sum(len(m.quotes) for _, m in parsed.matches)
    with store.engine.connect() as connection:
        arsenal_away = connection.execute(
            select(MatchRow.home_goals, MatchRow.away_goals, MatchRow.result, MatchRow.kickoff_at)
            .join(TeamRow, TeamRow.id == MatchRow.home_team_id)
            .where(TeamRow.name == "Crystal Palace", MatchRow.match_date == parsed.matches[0][1].match_date)
        ).one()
        closing_pinnacle = connection.scalar(
            select(func.count())
            .select_from(OddsQuoteRow)
            .where(OddsQuoteRow.bookmaker == "pinnacle", OddsQuoteRow.phase == "closing", OddsQuoteRow.market == "1x2")
        )
    assert tuple(arsenal_away[:3]) == (0, 2, "A")
    assert str(arsenal_away[3]) == "2022-08-05 19:00:00"  # 20:00 UK summer time, stored in UTC
    assert closing_pinnacle == 380 * 3


def test_reingesting_adds_nothing_and_changes_nothing(
    database_url: str, data_dir: Path, stores: Callable[[str], MatchStore]
) -> None:
    store = stores(database_url)
    paths = _season_files(data_dir, "E0/2122.csv", "E0/2223.csv", "D1/2223.csv")
    first = ingest_files(store, paths)
    assert first.total("matches_added") == 380 + 380 + 306
    before = _counts(store.engine)
    with store.engine.connect() as connection:
        prices_before = connection.execute(select(func.sum(OddsQuoteRow.price))).scalar_one()

    second = ingest_files(store, paths)
    assert {f.status for f in second.files} == {"unchanged"}
    forced = ingest_files(store, paths, force=True)  # re-parse and re-write: the keys make it a no-op
    assert forced.total("matches_added") == 0
    assert forced.total("quotes_added") == 0
    assert forced.total("matches_existing") == 380 + 380 + 306
    assert _counts(store.engine) == before
    with store.engine.connect() as connection:
        assert connection.execute(select(func.sum(OddsQuoteRow.price))).scalar_one() == pytest.approx(prices_before)


def test_a_failure_half_way_through_a_file_leaves_the_store_as_it_was(
    database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, stores: Callable[[str], MatchStore]
) -> None:
    store = stores(database_url)
    ingest_file(store, data_dir / "football-data" / "E0" / "2122.csv")
    before = _counts(store.engine)
    real_write_quotes = repository._FileWriter._write_quotes

    def write_quotes_then_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        real_write_quotes(*args, **kwargs)  # teams, matches and quotes of the file are written by now
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(repository._FileWriter, "_write_quotes", write_quotes_then_fail)
    report = ingest_file(store, data_dir / "football-data" / "E0" / "2223.csv")

    assert report.status == "failed"
    assert report.error is not None and "disk full (injected)" in report.error
    assert _counts(store.engine) == before
    with store.engine.connect() as connection:
        runs = connection.execute(select(IngestRunRow.status, IngestRunRow.error).order_by(IngestRunRow.id)).all()
    assert [status for status, _ in runs] == ["succeeded", "failed"]
    assert "disk full" in (runs[1][1] or "")

    monkeypatch.undo()
    retried = ingest_file(store, data_dir / "football-data" / "E0" / "2223.csv")
    assert (retried.status, retried.matches_added) == ("loaded", 380)


def _ingest_in_process(url: str, paths: list[str]) -> None:
    store = _store(url)
    report = ingest_files(store, [Path(p) for p in paths], force=True)
    assert not report.failed, [f.error for f in report.failed]


def test_concurrent_ingests_of_the_same_files_create_no_duplicates(
    database_url: str, data_dir: Path, stores: Callable[[str], MatchStore]
) -> None:
    paths = [str(p) for p in _season_files(data_dir, "I1/2122.csv", "I1/2223.csv", "I2/2223.csv")]
    stores(database_url)  # migrate once up front; concurrent migration is covered by migrate()'s lock
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_ingest_in_process, args=(database_url, paths)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]

    store = stores(database_url)
    expected = sum(len(parse_season_file(Path(p)).matches) for p in paths)
    counts = _counts(store.engine)
    assert counts["matches"] == expected
    with store.engine.connect() as connection:
        duplicate_quotes = connection.execute(
            text(
                "SELECT count(*) FROM (SELECT match_id, bookmaker, market, selection, phase FROM odds_quotes "
                "GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1) d"
            )
        ).scalar_one()
        duplicate_teams = connection.execute(
            text("SELECT count(*) FROM (SELECT name FROM teams GROUP BY name, kind HAVING count(*) > 1) d")
        ).scalar_one()
    assert (duplicate_quotes, duplicate_teams) == (0, 0)
    assert counts["odds_quotes"] == sum(len(m.quotes) for p in paths for _, m in parse_season_file(Path(p)).matches)


def test_bad_files_fail_clearly_and_lose_nothing(
    database_url: str, data_dir: Path, tmp_path: Path, stores: Callable[[str], MatchStore]
) -> None:
    store = stores(database_url)
    ingest_file(store, data_dir / "football-data" / "E0" / "2122.csv")
    before = _counts(store.engine)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b,c\n1,2,3\n")

    reports = ingest_files(store, [empty, binary, unknown, tmp_path / "missing.csv"])

    assert [r.status for r in reports.files] == ["failed"] * 4
    errors = [r.error or "" for r in reports.files]
    assert "empty file" in errors[0]
    assert "binary file" in errors[1] or "not a football-data" in errors[1]
    assert "not a football-data season file" in errors[2]
    assert "cannot read" in errors[3]
    assert all(str(r.path) in (r.error or "") for r in reports.files)
    assert _counts(store.engine) == before


def test_a_truncated_file_loads_its_good_rows_and_quarantines_the_cut_one(
    database_url: str, data_dir: Path, tmp_path: Path, stores: Callable[[str], MatchStore]
) -> None:
    source = (data_dir / "football-data" / "E0" / "2223.csv").read_bytes()
    cut = source[: len(source) - 400]  # the end of the last full row, and half of another
    truncated = tmp_path / "E0-truncated.csv"
    truncated.write_bytes(cut)
    store = stores(database_url)

    report = ingest_file(store, truncated)

    complete_rows = cut.count(b"\n") - 1
    assert report.status == "loaded"
    assert report.matches_added + report.rows_quarantined == complete_rows + 1
    assert report.rows_quarantined == 1
    groups = quarantine_groups(store.engine)
    assert [g.scope for g in groups if g.scope == "row"] == ["row"]


def test_shuffled_columns_load_the_same_data(
    database_url: str, data_dir: Path, tmp_path: Path, stores: Callable[[str], MatchStore]
) -> None:
    original = data_dir / "football-data" / "SP1" / "2021.csv"
    lines = original.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    order = list(reversed(range(len(header))))
    shuffled = tmp_path / "SP1-shuffled.csv"
    shuffled.write_text(
        "\n".join(",".join(line.split(",")[i] for i in order) for line in lines if line.count(",") >= len(order) - 1)
        + "\n",
        encoding="utf-8",
    )
    store = stores(database_url)
    first = ingest_file(store, shuffled)
    second = ingest_file(store, original)
    assert first.matches_added == 380
    assert (second.matches_added, second.quotes_added, second.matches_existing) == (0, 0, 380)


def test_migrations_and_models_agree(database_url: str, stores: Callable[[str], MatchStore]) -> None:
    engine = stores(database_url).engine
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_status_counts_match_the_tables(database_url: str, data_dir: Path, stores: Callable[[str], MatchStore]) -> None:
    store = stores(database_url)
    ingest_files(store, _season_files(data_dir, "F1/1920.csv", "F1/2021.csv"))
    status = store_status(store.engine)
    by_season = {(s.competition, s.season): s for s in status.seasons}
    assert set(by_season) == {("F1", "2019-20"), ("F1", "2020-21")}
    assert by_season[("F1", "2019-20")].matches == 279  # the season stopped for COVID-19
    assert by_season[("F1", "2020-21")].matches == 380
    with store.engine.connect() as connection:
        quotes = connection.scalar(select(func.count()).select_from(OddsQuoteRow))
    assert sum(s.quotes for s in status.seasons) == quotes


def test_migration_is_safe_to_run_from_two_processes_on_a_fresh_database(postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_migrate_in_process, args=(postgres_url,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]


def _migrate_in_process(url: str) -> None:
    migrate(make_engine(url))


@pytest.mark.slow
def test_the_whole_data_folder_into_postgresql(
    postgres_url: str, data_dir: Path, tmp_path: Path, stores: Callable[[str], MatchStore]
) -> None:
    """The issue's acceptance check: every league and season present, a second ingest adds nothing, and the
    quarantine holds only the rows and values that really are bad."""
    store = stores(postgres_url)
    sources = discover_sources(data_dir)
    report = ingest_files(store, sources, workers=2)
    assert not report.failed
    status = store_status(store.engine)
    files = [p for p in sources if p.parent.parent.name == "football-data"]
    assert len([s for s in status.seasons if s.competition != "INT"]) == len(files)
    for season in status.seasons:
        if season.competition in {"E0", "I1", "SP1"}:
            assert season.matches == 380, season
        if season.competition == "D1":
            assert season.matches == 306, season
    assert sum(s.quotes for s in status.seasons) > 1_000_000
    again = ingest_files(store, sources)
    assert again.total("matches_added") == again.total("quotes_added") == 0
    groups = {(g.scope, g.reason): g.count for g in quarantine_groups(store.engine)}
    assert groups == {
        ("value", "implausible 1X2 overround"): 20,
        ("value", "price must be a decimal price above 1.0"): 3,
        ("row", "duplicate match"): 1,
    }
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_frames_read_back_what_was_stored(
    database_url: str, data_dir: Path, stores: Callable[[str], MatchStore]
) -> None:
    store = stores(database_url)
    paths = _season_files(data_dir, "E0/2122.csv", "E0/2223.csv", "D1/2223.csv")
    ingest_files(store, paths)
    matches = load_match_frame(store.engine, competitions=["E0"], seasons=[2022])
    assert len(matches) == 380
    assert matches["match_date"].is_monotonic_increasing
    first = matches.iloc[0]
    assert (first.home_team, first.away_team, first.home_goals, first.away_goals) == ("Crystal Palace", "Arsenal", 0, 2)
    assert (first.home_shots, first.away_shots) == (10.0, 10.0)
    assert len(load_match_frame(store.engine)) == 380 + 380 + 306
    quotes = load_quote_frame(store.engine, matches["match_id"].tolist())
    parsed = parse_season_file(paths[1])
    assert len(quotes) == sum(len(m.quotes) for _, m in parsed.matches)
    assert set(quotes["match_id"]) == set(matches["match_id"])


def test_parallel_workers_store_exactly_what_one_worker_does(
    postgres_url: str, data_dir: Path, stores: Callable[[str], MatchStore]
) -> None:
    store = stores(postgres_url)
    paths = _season_files(data_dir, "SP1/2021.csv", "SP1/2122.csv", "SP1/2223.csv", "F1/2223.csv")
    seen: list[Path] = []

    report = ingest_files(store, paths, workers=2, on_file=lambda f: seen.append(f.path))

    assert [f.path for f in report.files] == paths  # reports in the order asked, whatever order they finished
    assert sorted(seen) == sorted(paths)
    assert [f.status for f in report.files] == ["loaded"] * 4
    expected = [parse_season_file(p) for p in paths]
    assert report.total("matches_added") == sum(len(p.matches) for p in expected)
    assert report.total("quotes_added") == sum(len(m.quotes) for p in expected for _, m in p.matches)
    assert _counts(store.engine)["matches"] == report.total("matches_added")
    again = ingest_files(store, paths, workers=2)
    assert {f.status for f in again.files} == {"unchanged"}
