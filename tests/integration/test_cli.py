"""The `matchday` command line end to end: real season files, real SQLite and PostgreSQL stores, a real HTTP server.

Every invocation goes through typer's CliRunner with its own MATCHDAY_STATE_DIR under tmp_path, so no test touches
the repository's .matchday/. COLUMNS fixes rich's width, so the summary tables are never truncated.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from matchday.cli import app
from matchday.cli import data as data_commands
from matchday.cli._common import console, error_console
from matchday.config import Settings
from matchday.ingest.football_data import parse_season_file
from matchday.ingest.parsed import ParsedFile
from matchday.ingest.store import MatchStore
from matchday.ingest.store import open_store as open_real_store
from matchday.models.bundle import ModelBundle
from matchday.models.persistence import load_model

from .football_data_server import Site, serve, write_fixtures_file

pytestmark = pytest.mark.integration

WIDTH = 200
NOT_SET = "MATCHDAY_DATA_DIR is not set: ingesting the sample seasons shipped with matchday."
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "src" / "matchday" / "sample_data" / "football-data"


class Cli:
    """Runs `matchday ...` in-process; the environment is the test's (see the `cli` fixture) plus `env`."""

    def __init__(self, state_dir: Path, engines: list[Engine]) -> None:
        self.state_dir = state_dir
        self._engines = engines

    def __call__(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        try:
            # catch_exceptions=False: a crash is a traceback in the test report, not a bare exit code 1.
            return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
        finally:
            # The commands never dispose the store's engine (a process exit closes its connections); in-process,
            # pooled PostgreSQL connections would otherwise be collected later with a ResourceWarning.
            while self._engines:
                self._engines.pop().dispose()

    def status(self, env: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        result = self("data", "status", "--json", env=env)
        assert result.exit_code == 0, result.output
        parsed: dict[str, Any] = json.loads(result.stdout)
        return parsed

    def quarantine(self) -> list[dict[str, Any]]:
        result = self("data", "quarantine", "--json")
        assert result.exit_code == 0, result.output
        parsed: list[dict[str, Any]] = json.loads(result.stdout)
        return parsed


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    # Only the settings a test sets: an exported MATCHDAY_DATA_DIR or DATABASE_URL must not leak in.
    for name in list(os.environ):
        if name.startswith("MATCHDAY_") and not name.startswith("MATCHDAY_TEST_"):
            monkeypatch.delenv(name)
    state_dir = tmp_path / "state"
    monkeypatch.setenv("MATCHDAY_STATE_DIR", str(state_dir))
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    for output in (console, error_console):
        # rich reads COLUMNS at each print, unless COLUMNS was already set when the console was made (at import):
        # then it keeps that width, which is restored (by the property) after the test.
        if output.width != WIDTH:
            monkeypatch.setattr(output, "width", WIDTH)
    assert (console.width, error_console.width) == (WIDTH, WIDTH)
    # Each invocation installs a handler on the `matchday` logger: leave the logger as the test found it.
    logger = logging.getLogger("matchday")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    engines: list[Engine] = []

    def open_store(settings: Settings) -> MatchStore:
        store = open_real_store(settings)
        engines.append(store.engine)
        return store

    monkeypatch.setattr(data_commands, "open_store", open_store)
    try:
        yield Cli(state_dir, engines)
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])


def summary(stdout: str) -> dict[str, list[str]]:
    """The ingest summary table as {file: [status, rows, new, stored, quotes, bad rows, bad values]}."""
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│|]", line)]
        if len(cells) == 10 and cells[0] == cells[-1] == "":
            rows[cells[1]] = cells[2:-1]
    return rows


def quotes(parsed: ParsedFile) -> int:
    return sum(len(match.quotes) for _, match in parsed.matches)


def loaded(parsed: ParsedFile) -> list[str]:
    return [
        "loaded",
        f"{parsed.rows_read:,}",
        f"{len(parsed.matches):,}",
        "0",
        f"{quotes(parsed):,}",
        f"{parsed.rejected_rows:,}",
        f"{parsed.dropped_values:,}",
    ]


UNCHANGED = ["unchanged", "0", "0", "0", "0", "0", "0"]
FAILED = ["failed", "0", "0", "0", "0", "0", "0"]


def seasons(status: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(s["competition"], s["season"], s["matches"], s["quotes"]) for s in status["seasons"]]


def _ingest_twice_then_status(cli: Cli, data_dir: Path) -> dict[str, Any]:
    files = [data_dir / "football-data" / "E0" / name for name in ("2122.csv", "2223.csv")]
    parsed = [parse_season_file(path) for path in files]

    first = cli("data", "ingest", *map(str, files))

    assert first.exit_code == 0, first.output
    assert summary(first.stdout) == {
        "E0/2122.csv": loaded(parsed[0]),
        "E0/2223.csv": loaded(parsed[1]),
        "total": ["", "760", "760", "0", f"{quotes(parsed[0]) + quotes(parsed[1]):,}", "0", "3"],
    }
    status = cli.status()
    assert seasons(status) == [
        ("E0", "2021-22", 380, quotes(parsed[0])),
        ("E0", "2022-23", 380, quotes(parsed[1])),
    ]
    assert (status["ingest_runs"], status["failed_runs"]) == (2, 0)
    assert (status["quarantined_rows"], status["quarantined_values"]) == (0, 3)

    second = cli("data", "ingest", *map(str, files))

    assert second.exit_code == 0, second.output
    assert summary(second.stdout) == {
        "E0/2122.csv": UNCHANGED,
        "E0/2223.csv": UNCHANGED,
        "total": ["", "0", "0", "0", "0", "0", "0"],
    }
    assert cli.status() == status  # a skipped file is not an ingest run
    return status


def test_ingest_two_seasons_then_status_and_reingest(cli: Cli, data_dir: Path) -> None:
    status = _ingest_twice_then_status(cli, data_dir)

    assert status["teams"] == 23
    assert (cli.state_dir / "matchday.db").is_file()  # the default store: SQLite in the state dir


def test_ingest_into_postgresql(cli: Cli, data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_DATABASE_URL", postgres_url)

    status = _ingest_twice_then_status(cli, data_dir)

    assert status["teams"] == 23
    assert not (cli.state_dir / "matchday.db").exists()  # nothing went to the SQLite default


def test_ingest_a_folder_finds_its_season_files(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    (folder / "football-data" / "D1").mkdir(parents=True)
    names = ("2021.csv", "2122.csv", "2223.csv")
    for name in names:
        shutil.copy(data_dir / "football-data" / "D1" / name, folder / "football-data" / "D1" / name)
    parsed = [parse_season_file(folder / "football-data" / "D1" / name) for name in names]

    result = cli("data", "ingest", str(folder))

    assert result.exit_code == 0, result.output
    rows = summary(result.stdout)
    assert {name: row for name, row in rows.items() if name != "total"} == {
        f"D1/{name}": loaded(p) for name, p in zip(names, parsed, strict=True)
    }
    assert rows["total"][:3] == ["", "918", "918"]
    assert seasons(cli.status()) == [
        ("D1", "2020-21", 306, quotes(parsed[0])),
        ("D1", "2021-22", 306, quotes(parsed[1])),
        ("D1", "2022-23", 306, quotes(parsed[2])),
    ]


def test_ingest_without_data_dir_loads_the_shipped_sample(cli: Cli) -> None:
    assert "MATCHDAY_DATA_DIR" not in os.environ
    parsed = [parse_season_file(SAMPLE_DATA / "E0" / name) for name in ("2021.csv", "2122.csv", "2223.csv")]

    result = cli("data", "ingest")

    assert result.exit_code == 0, result.output
    assert NOT_SET in result.stdout
    rows = summary(result.stdout)
    assert rows == {
        "E0/2021.csv": loaded(parsed[0]),
        "E0/2122.csv": loaded(parsed[1]),
        "E0/2223.csv": loaded(parsed[2]),
        "total": ["", "1,140", "1,140", "0", f"{sum(map(quotes, parsed)):,}", "0", "4"],
    }
    assert seasons(cli.status()) == [
        ("E0", "2020-21", 380, quotes(parsed[0])),
        ("E0", "2021-22", 380, quotes(parsed[1])),
        ("E0", "2022-23", 380, quotes(parsed[2])),
    ]


def _contradict_result_and_zero_a_price(source: Path, target: Path) -> None:
    """Line 2 gets an FTR that contradicts its score; line 3's B365H becomes 0.5."""
    rows = list(csv.reader(io.StringIO(source.read_text(encoding="latin-1"))))
    header = rows[0]
    row = rows[1]
    home, away = int(row[header.index("FTHG")]), int(row[header.index("FTAG")])
    truth = "H" if home > away else "A" if away > home else "D"
    row[header.index("FTR")] = "A" if truth != "A" else "H"
    rows[2][header.index("B365H")] = "0.5"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(out.getvalue(), encoding="latin-1")
    pairs = zip(source.read_bytes().split(b"\n"), target.read_bytes().split(b"\n"), strict=True)
    changed = [n for n, (a, b) in enumerate(pairs) if a != b]
    assert changed == [1, 2]  # 0-based: only the two edited rows differ from the real file


def test_quarantine_lists_the_bad_row_and_the_bad_price(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    original = data_dir / "football-data" / "E0" / "2223.csv"
    edited = tmp_path / "E0" / "2223.csv"
    _contradict_result_and_zero_a_price(original, edited)
    real = parse_season_file(original)
    assert real.issues == []  # so every quarantine entry below comes from the two edits
    first_match_quotes = len(real.matches[0][1].quotes)

    result = cli("data", "ingest", str(edited))

    assert result.exit_code == 0, result.output
    assert summary(result.stdout)["E0/2223.csv"] == [
        "loaded",
        "380",
        "379",
        "0",
        f"{quotes(real) - first_match_quotes - 1:,}",
        "1",
        "1",
    ]
    assert cli.quarantine() == [
        {"scope": "value", "reason": "price must be a decimal price above 1.0", "count": 1, "example": f"{edited}:3"},
        {"scope": "row", "reason": "result contradicts the score", "count": 1, "example": f"{edited}:2"},
    ]
    status = cli.status()
    assert (status["quarantined_rows"], status["quarantined_values"]) == (1, 1)
    assert seasons(status) == [("E0", "2022-23", 379, quotes(real) - first_match_quotes - 1)]


def test_binary_and_empty_files_fail_and_leave_the_store_alone(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    good = cli("data", "ingest", str(data_dir / "football-data" / "E0" / "2223.csv"))
    assert good.exit_code == 0, good.output
    before = cli.status()
    binary, empty = tmp_path / "bad" / "binary.csv", tmp_path / "bad" / "empty.csv"
    binary.parent.mkdir()
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    empty.write_bytes(b"")

    result = cli("data", "ingest", str(binary), str(empty))

    assert result.exit_code == 1, result.output
    assert summary(result.stdout) == {"bad/binary.csv": FAILED, "bad/empty.csv": FAILED, "total": ["", *FAILED[1:]]}
    lines = result.stdout.splitlines()
    assert f"failed {binary}: binary file, not a CSV (NUL bytes in the first 4 KiB)" in lines
    assert f"failed {empty}: empty file" in lines
    after = cli.status()
    # The matches, quotes, teams and quarantine are untouched; the two failures are recorded as failed runs.
    assert {k: v for k, v in after.items() if not k.endswith("runs")} == {
        k: v for k, v in before.items() if not k.endswith("runs")
    }
    assert seasons(after) == [("E0", "2022-23", 380, quotes(parse_season_file(data_dir / "football-data/E0/2223.csv")))]
    assert (after["ingest_runs"], after["failed_runs"]) == (before["ingest_runs"] + 2, before["failed_runs"] + 2)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MATCHDAY_LOG_LEVEL", "loud", "invalid configuration: MATCHDAY_LOG_LEVEL='loud'"),
        ("MATCHDAY_DATABSE_URL", "x", "unknown setting(s) MATCHDAY_DATABSE_URL;"),
        # values are printed as text, never read as rich markup
        ("MATCHDAY_LOG_LEVEL", "[/x]", "invalid configuration: MATCHDAY_LOG_LEVEL='[/x]'"),
        ("MATCHDAY_LOG_LEVEL", "[bold]loud", "invalid configuration: MATCHDAY_LOG_LEVEL='[bold]loud'"),
    ],
)
def test_bad_configuration_exits_2_naming_the_variable(cli: Cli, variable: str, value: str, named: str) -> None:
    result = cli("data", "status", env={variable: value})

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {named}")
    assert not cli.state_dir.exists()  # refused before any store was opened


@pytest.fixture
def site(data_dir: Path) -> Iterator[Site]:
    with serve(Site(root=data_dir / "football-data")) as served:
        yield served


def test_download_then_ingest(cli: Cli, site: Site, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_FOOTBALL_DATA_BASE_URL", site.base_url)
    real = {code: data_dir / "football-data" / "E0" / f"{code}.csv" for code in ("2021", "2122")}
    parsed = {code: parse_season_file(path) for code, path in real.items()}

    result = cli("data", "ingest", "--download", "--league", "E0", "--seasons", "2020-2021")

    assert result.exit_code == 0, result.output
    assert [path for path, _ in site.requests] == ["/mmz4281/2021/E0.csv", "/mmz4281/2122/E0.csv"]
    rows = summary(result.stdout)
    assert rows == {
        "2021/E0.csv": loaded(parsed["2021"]),
        "2122/E0.csv": loaded(parsed["2122"]),
        "total": ["", "760", "760", "0", f"{sum(map(quotes, parsed.values())):,}", "0", "4"],
    }
    cache = cli.state_dir / "cache" / "football-data" / "mmz4281"
    for code, path in real.items():
        assert (cache / code / "E0.csv").read_bytes() == path.read_bytes()
    assert seasons(cli.status()) == [
        ("E0", "2020-21", 380, quotes(parsed["2021"])),
        ("E0", "2021-22", 380, quotes(parsed["2122"])),
    ]


def test_download_404_exits_1_naming_the_url(cli: Cli, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHDAY_FOOTBALL_DATA_BASE_URL", site.base_url)

    # 2022-23 is served; the shared data has no 2023-24, so the server answers 404 for it.
    result = cli("data", "ingest", "--download", "--league", "E0", "--seasons", "2022-2023")

    assert result.exit_code == 1, result.output
    url = f"{site.base_url}/mmz4281/2324/E0.csv"
    assert f"error: GET {url} failed: HTTP 404 Not Found" in result.stderr.splitlines()
    assert [path for path, _ in site.requests] == ["/mmz4281/2223/E0.csv", "/mmz4281/2324/E0.csv"]  # no retries
    assert (cli.state_dir / "cache" / "football-data" / "mmz4281" / "2223" / "E0.csv").is_file()
    assert not (cli.state_dir / "matchday.db").exists()  # nothing ingested after a failed download


def test_fixtures_json(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    season = data_dir / "football-data" / "E0" / "2223.csv"
    fixtures = write_fixtures_file(tmp_path / "fixtures.csv", source=season, rows=10)
    with season.open(encoding="latin-1", newline="") as fh:
        real = [row for _, row in zip(range(10), csv.DictReader(fh), strict=False)]
    matches = [match for _, match in parse_season_file(season).matches[:10]]

    result = cli("data", "fixtures", str(fixtures), "--json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = []
    for row, match in zip(real, matches, strict=True):
        local = datetime.strptime(f"{row['Date']} {row['Time']}", "%d/%m/%Y %H:%M").replace(
            tzinfo=ZoneInfo("Europe/London")
        )
        expected.append(
            {
                "league": "E0",
                "date": datetime.strptime(row["Date"], "%d/%m/%Y").date().isoformat(),
                "kickoff_utc": local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None).isoformat(),
                "home": row["HomeTeam"],
                "away": row["AwayTeam"],
                # The same odds columns as the season file: the same quotes as its match.
                "quotes": len(match.quotes),
            }
        )
    assert rows == expected
    assert len(rows) == 10
    assert all(row["quotes"] > 0 for row in rows)
    assert (rows[0]["home"], rows[0]["away"]) == ("Crystal Palace", "Arsenal")


def test_version(cli: Cli) -> None:
    result = cli("--version")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"matchday {version('matchday')}\n"


def test_a_file_name_with_brackets_is_reported_not_read_as_markup(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "d" / "["
    folder.mkdir(parents=True)
    odd = folder / "[x].csv"
    odd.write_bytes(b"")

    result = cli("data", "ingest", str(odd))

    assert result.exit_code == 1, result.output
    assert f"{odd}: empty file" in result.stdout.replace("\n", "")


def test_features_build_writes_the_point_in_time_table(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    files = [data_dir / "football-data" / "E0" / name for name in ("2122.csv", "2223.csv")]
    assert cli("data", "ingest", *map(str, files)).exit_code == 0
    out = tmp_path / "features" / "e0.parquet"

    result = cli("features", "build", "--out", str(out), "--league", "E0", "--seasons", "2022")

    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert len(table) == 380
    assert list(table.columns[:6]) == ["match_id", "kickoff", "home_team", "away_team", "competition", "season"]
    assert set(table["season"]) == {2022}
    # 2022-23 rows see 2021-22's matches (history is kept): only the promoted clubs start with no form
    assert table.iloc[0]["home_form_n"] == 6
    without_form = set(table.loc[table["home_form_n"] == 0, "home_team"]) | set(
        table.loc[table["away_form_n"] == 0, "away_team"]
    )
    assert without_form == {"Fulham", "Bournemouth", "Nott'm Forest"}
    assert "matches" in result.stdout and "380" in result.stdout


def test_features_build_refuses_an_unknown_league(cli: Cli, tmp_path: Path) -> None:
    result = cli("features", "build", "--out", str(tmp_path / "x.parquet"), "--league", "X9")
    assert result.exit_code == 2
    assert "X9" in result.stderr and "unknown league" in result.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_features_build_adds_rows_for_upcoming_fixtures(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    assert cli("data", "ingest", str(data_dir / "football-data" / "E0" / "2122.csv")).exit_code == 0
    fixtures = write_fixtures_file(tmp_path / "fixtures.csv", data_dir / "football-data" / "E0" / "2223.csv")
    out = tmp_path / "table.parquet"

    result = cli("features", "build", "--out", str(out), "--league", "E0", "--fixtures", str(fixtures))

    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    upcoming = table[table["match_id"] < 0]
    assert len(table) == 380 + 10
    assert len(upcoming) == 10
    assert set(upcoming["season"]) == {2022}
    opener = upcoming.iloc[0]
    assert (opener["home_team"], opener["away_team"]) == ("Crystal Palace", "Arsenal")
    assert opener["kickoff"] == pd.Timestamp("2022-08-05 19:00")
    assert opener["home_form_n"] == 6  # the state after 2021-22, the season just played
    assert opener["open_pinnacle_h"] > 0  # the fixture's current prices


def test_features_build_refuses_fixtures_already_played(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    assert cli("data", "ingest", str(data_dir / "football-data" / "E0" / "2223.csv")).exit_code == 0
    fixtures = write_fixtures_file(tmp_path / "fixtures.csv", data_dir / "football-data" / "E0" / "2223.csv")
    result = cli("features", "build", "--out", str(tmp_path / "t.parquet"), "--fixtures", str(fixtures))
    assert result.exit_code == 2
    assert "is not after the last played match" in result.stderr


@pytest.mark.slow
def test_evaluate_walk_forward_stack_json_and_report(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    files = [data_dir / "football-data" / "E0" / f"{name}.csv" for name in ("1920", "2021", "2122", "2223")]
    assert cli("data", "ingest", *map(str, files)).exit_code == 0
    out = tmp_path / "report"

    result = cli(
        "evaluate", "walk-forward", "--league", "E0", "--seasons", "2022-2022", "--model", "stack",
        "--moment", "open", "--warmup-seasons", "1", "--refit-days", "28", "--out", str(out), "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    models = report["models"]
    expected = {"dixon_coles", "xgboost_open", "lightgbm_open", "stack", "pinnacle_open", "pinnacle_close"}
    assert expected <= set(models)
    sizes = {models[name]["n"] for name in models}
    assert sizes == {380}  # every model on exactly the same matches: the whole season
    for name in expected:
        assert 0.15 < models[name]["rps"] < 0.25, (name, models[name])
    assert models["pinnacle_close"]["rps"] < models["pinnacle_open"]["rps"] + 0.002
    assert (out / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "report.md").read_text()
    assert "2022-23" in markdown and "stack" in markdown
    predictions = pd.read_csv(out / "predictions.csv")
    assert set(predictions["season"]) == {2022}


def test_evaluate_walk_forward_dixon_coles_prints_the_table(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    files = [data_dir / "football-data" / "E0" / f"{name}.csv" for name in ("2122", "2223")]
    assert cli("data", "ingest", *map(str, files)).exit_code == 0

    result = cli(
        "evaluate", "walk-forward", "--seasons", "2022", "--model", "dixon_coles", "--out", str(tmp_path / "r")
    )

    assert result.exit_code == 0, result.output
    assert "dixon_coles" in result.stdout and "pinnacle_open" in result.stdout
    assert (tmp_path / "r" / "report.md").is_file()


def test_evaluate_walk_forward_refuses_bad_options(cli: Cli) -> None:
    result = cli("evaluate", "walk-forward", "--seasons", "2022", "--league", "XX")
    assert result.exit_code == 2
    assert "XX" in result.stderr
    result = cli("evaluate", "walk-forward", "--seasons", "2022", "--model", "neural")
    assert result.exit_code == 2
    assert "neural" in result.stderr
    result = cli("evaluate", "walk-forward", "--seasons", "2022")
    assert result.exit_code == 1
    assert "no matches" in result.stderr


# MLflow 3.17's SQL store still uses SQLAlchemy's deprecated noload strategy.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:sqlalchemy.exc.SADeprecationWarning")
def test_train_saves_registers_and_promotes_a_bundle(cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    files = [data_dir / "football-data" / "E0" / f"{name}.csv" for name in ("2122", "2223")]
    assert cli("data", "ingest", *map(str, files)).exit_code == 0
    out = tmp_path / "trained"

    result = cli("train", "--seasons", "2022", "--model", "dixon_coles", "--refit-days", "28", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert "dixon_coles" in result.stdout and "pinnacle_open" in result.stdout
    bundle = load_model(out / "bundle")
    assert isinstance(bundle, ModelBundle) and bundle.output == "dixon_coles"
    probs = bundle.predict(pd.DataFrame({"competition": ["E0"], "home_team": ["Arsenal"], "away_team": ["Chelsea"]}))
    assert probs.shape == (1, 3) and abs(probs.sum() - 1.0) < 1e-9
    assert (out / "report" / "report.md").is_file()
    # No champion yet: Dixon-Coles clearly beats the base rate of 2021-22, so version 1 is promoted directly (a canary
    # needs a champion to roll out against: no deploy request)
    assert "version 1 is the challenger" in result.stdout and "promoted to champion" in result.stdout
    assert not (cli.state_dir / "deploy" / "requests" / "matchday-1x2-v1.json").exists()
