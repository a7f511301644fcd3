"""Ingest source files into the match store: discover, parse, validate, quarantine, write, report."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from matchday.ingest.football_data import parse_season_file
from matchday.ingest.international import parse_international_file
from matchday.ingest.parsed import ParsedFile, SourceKind
from matchday.ingest.source_file import SourceFileError, file_sha256, read_header
from matchday.ingest.store.database import make_engine
from matchday.ingest.store.repository import MatchStore
from matchday.ingest.teams import NewTeam

__all__ = [
    "FileReport",
    "IngestReport",
    "detect_kind",
    "discover_sources",
    "expand_paths",
    "ingest_file",
    "ingest_files",
    "parse_source",
]

log = logging.getLogger(__name__)
_PARSERS: dict[SourceKind, Callable[[Path], ParsedFile]] = {
    SourceKind.FOOTBALL_DATA: parse_season_file,
    SourceKind.INTERNATIONAL: parse_international_file,
}


@dataclass(slots=True)
class FileReport:
    path: Path
    status: str  # loaded | unchanged | failed
    kind: SourceKind | None = None
    rows_read: int = 0
    matches_added: int = 0
    matches_existing: int = 0
    quotes_added: int = 0
    rows_quarantined: int = 0
    values_quarantined: int = 0
    new_teams: list[NewTeam] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class IngestReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "failed"]

    def total(self, attribute: str) -> int:
        return sum(int(getattr(f, attribute)) for f in self.files)


def detect_kind(path: Path) -> SourceKind:
    """Tell a football-data season file from an international results file by its header."""
    columns = set(read_header(path))
    if {"Div", "FTHG"} <= columns:
        return SourceKind.FOOTBALL_DATA
    if {"home_score", "tournament"} <= columns:
        return SourceKind.INTERNATIONAL
    if {"Div", "HomeTeam"} <= columns:
        raise SourceFileError(f"{path}: a fixtures file has no results to store; see `matchday data fixtures`")
    raise SourceFileError(f"{path}: not a football-data season file nor an international results file")


def discover_sources(data_dir: Path) -> list[Path]:
    """Every season file under `football-data/` and the international results file, in a stable order."""
    seasons = sorted((data_dir / "football-data").glob("*/*.csv"))
    international = data_dir / "international" / "results.csv"
    return seasons + ([international] if international.is_file() else [])


def parse_source(path: Path) -> ParsedFile:
    """Parse any supported source file, whatever its kind."""
    return _PARSERS[detect_kind(path)](path)


def ingest_file(store: MatchStore, path: Path, *, force: bool = False) -> FileReport:
    """Ingest one file atomically. A file whose bytes were ingested before is skipped unless `force`."""
    return _ingest(store, path, force, lambda: parse_source(path))


def _ingest(store: MatchStore, path: Path, force: bool, parse: Callable[[], ParsedFile]) -> FileReport:
    started = time.perf_counter()
    report = FileReport(path=path, status="failed")
    sha256 = ""
    try:
        sha256 = file_sha256(path)
        if not force and store.succeeded_run_for(sha256) is not None:
            report.status = "unchanged"
            report.seconds = time.perf_counter() - started
            return report
        parsed = parse()
    except SourceFileError as exc:
        report.error = str(exc)
        store.record_failure(str(path), sha256, "unknown", report.error)
        log.warning("ingest.file.failed", extra={"path": str(path), "error": report.error})
        return report
    report.kind, report.rows_read = parsed.kind, parsed.rows_read
    try:
        written = store.write(parsed)
    except Exception as exc:  # the transaction rolled back: record why and keep going with the next file
        report.error = f"{type(exc).__name__}: {exc}"
        store.record_failure(str(path), parsed.sha256, parsed.kind.value, report.error)
        log.exception("ingest.file.failed", extra={"path": str(path)})
        return report
    report.status = "loaded"
    report.matches_added, report.matches_existing = written.matches_added, written.matches_existing
    report.quotes_added, report.new_teams = written.quotes_added, written.new_teams
    report.rows_quarantined, report.values_quarantined = parsed.rejected_rows, parsed.dropped_values
    report.seconds = time.perf_counter() - started
    log.debug(  # the ingest_runs table and the CLI summary carry the same; failures are warnings
        "ingest.file.loaded",
        extra={
            "path": str(path),
            "matches_added": report.matches_added,
            "quotes_added": report.quotes_added,
            "quarantined": report.rows_quarantined + report.values_quarantined,
            "seconds": round(report.seconds, 3),
        },
    )
    return report


def ingest_files(
    store: MatchStore,
    paths: Sequence[Path],
    *,
    force: bool = False,
    on_file: Callable[[FileReport], None] | None = None,
    workers: int = 1,
) -> IngestReport:
    """Ingest files, one transaction each; reports come back in the order of `paths`.

    With `workers` > 1, files are parsed and written by that many processes at once. That is safe (natural keys
    and sorted inserts, see the repository) and pays on PostgreSQL, whose server does its share of the work in
    its own processes; SQLite admits one writer at a time, so there it only adds start-up cost.
    """
    if workers <= 1 or len(paths) <= 1:
        reports = []
        for path in paths:
            reports.append(ingest_file(store, path, force=force))
            if on_file is not None:
                on_file(reports[-1])
        return IngestReport(files=reports)
    url = store.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # no forked copies of the parent's connection pool
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_open_worker_store, initargs=(url,)) as pool:
        futures = {pool.submit(_ingest_in_worker, path, force): index for index, path in enumerate(paths)}
        reports_by_index: dict[int, FileReport] = {}
        for future in as_completed(futures):
            reports_by_index[futures[future]] = future.result()
            if on_file is not None:
                on_file(reports_by_index[futures[future]])
    return IngestReport(files=[reports_by_index[index] for index in range(len(paths))])


_worker_store: MatchStore | None = None


def _open_worker_store(url: str) -> None:
    global _worker_store  # noqa: PLW0603 - one store per worker process, opened once by the pool's initializer
    _worker_store = MatchStore(make_engine(url))


def _ingest_in_worker(path: Path, force: bool) -> FileReport:
    if _worker_store is None:
        raise RuntimeError("worker store not opened")
    return ingest_file(_worker_store, path, force=force)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders as every source file found under them."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = discover_sources(path) or sorted(path.rglob("*.csv"))
            expanded.extend(found)
        else:
            expanded.append(path)
    return expanded
