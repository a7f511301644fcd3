"""FootballDataDownloader against a real local HTTP server over the shared data."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from matchday.ingest.download import (
    DownloadError,
    DownloadResult,
    FootballDataDownloader,
    season_code,
)

pytestmark = pytest.mark.integration

DATA_DIR = Path(os.environ.get("MATCHDAY_DATA_DIR") or Path(__file__).resolve().parents[3] / "shared" / "data")
FOOTBALL_DATA = DATA_DIR / "football-data"

if not (FOOTBALL_DATA / "E0" / "1920.csv").is_file():
    pytest.skip(
        f"shared football-data files not found in {DATA_DIR}; set MATCHDAY_DATA_DIR",
        allow_module_level=True,
    )

RESULT_COLUMNS = {"FTHG", "FTAG", "FTR", "HTHG", "HTAG", "HTR"}
STAT_COLUMNS = {
    "HS",
    "AS",
    "HST",
    "AST",
    "HF",
    "AF",
    "HC",
    "AC",
    "HY",
    "AY",
    "HR",
    "AR",
}
HTML = b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Site:
    """State shared with the request handler: scripted replies and a request log."""

    fixtures_file: Path
    script: list[Reply] = field(default_factory=list)  # served first, in order
    always: Reply | None = None  # served for every request once the script is used up
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    conditional_hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def file_for(self, path: str) -> Path | None:
        if path == "/fixtures.csv":
            return self.fixtures_file
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "mmz4281" and parts[2].endswith(".csv"):
            candidate = FOOTBALL_DATA / parts[2].removesuffix(".csv") / f"{parts[1]}.csv"
            if candidate.is_file():
                return candidate
        return None


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server dispatches to
            with site.lock:
                site.requests.append((self.path, dict(self.headers.items())))
                scripted = site.script.pop(0) if site.script else site.always
            if scripted is not None:
                self._reply(scripted)
                return
            file = site.file_for(self.path)
            if file is None:
                self._reply(Reply(404, b"not found"))
                return
            body = file.read_bytes()
            etag = f'"{hashlib.sha256(body).hexdigest()}"'
            if self.headers.get("If-None-Match") == etag:
                with site.lock:
                    site.conditional_hits += 1
                self._reply(Reply(304, headers={"ETag": etag}))
                return
            self._reply(Reply(200, body, {"ETag": etag, "Content-Type": "text/csv"}))

        def _reply(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status != 304:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.status != 304:
                self.wfile.write(reply.body)

        def log_message(self, *args: object) -> None:
            pass  # keep pytest output clean

    return Handler


@pytest.fixture
def fixtures_file(tmp_path: Path) -> Path:
    """Upcoming-fixtures CSV: first 10 E0 2022-23 matches, no results or stats."""
    text = (FOOTBALL_DATA / "E0" / "2223.csv").read_text(encoding="latin-1")
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames is not None
    keep = [c for c in reader.fieldnames if c not in RESULT_COLUMNS | STAT_COLUMNS]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keep, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for _, row in zip(range(10), reader, strict=False):
        writer.writerow(row)
    path = tmp_path / "served-fixtures.csv"
    path.write_text(out.getvalue(), encoding="latin-1")
    return path


@pytest.fixture
def site(fixtures_file: Path) -> Iterator[Site]:
    state = Site(fixtures_file=fixtures_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    # A short poll interval keeps shutdown() (and so each test's teardown) fast.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def downloader(site: Site, cache: Path, sleeps: list[float]) -> Iterator[FootballDataDownloader]:
    with FootballDataDownloader(site.base_url, cache, sleep=sleeps.append) as dl:
        yield dl


def _files(root: Path) -> set[str]:
    if not root.exists():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_season_download_is_byte_identical(site: Site, cache: Path) -> None:
    # Trailing slash on the base URL must not produce "//mmz4281".
    with FootballDataDownloader(site.base_url + "/", cache) as dl:
        result = dl.season("E0", 2019)

    assert result == DownloadResult(
        url=f"{site.base_url}/mmz4281/1920/E0.csv",
        path=cache / "mmz4281" / "1920" / "E0.csv",
        from_cache=False,
        attempts=1,
    )
    assert result.path.read_bytes() == (FOOTBALL_DATA / "E0" / "1920.csv").read_bytes()
    assert _files(cache) == {"mmz4281/1920/E0.csv", "mmz4281/1920/E0.csv.meta.json"}
    [(path, headers)] = site.requests
    assert path == "/mmz4281/1920/E0.csv"
    assert headers["User-Agent"].startswith("matchday/")


@pytest.mark.parametrize(
    ("year", "code"),
    [(2019, "1920"), (1999, "9900"), (2005, "0506"), (1993, "9394"), (2098, "9899")],
)
def test_season_code(year: int, code: str) -> None:
    assert season_code(year) == code


@pytest.mark.parametrize("year", [1992, 2099, 19])
def test_season_code_rejects_out_of_range(year: int) -> None:
    with pytest.raises(ValueError, match=str(year)):
        season_code(year)


def test_second_download_is_conditional_and_keeps_file(site: Site, downloader: FootballDataDownloader) -> None:
    first = downloader.season("E0", 2019)
    before = first.path.stat()
    assert "If-None-Match" not in site.requests[0][1]

    second = downloader.season("E0", 2019)

    assert second.from_cache is True
    assert second.attempts == 1
    assert site.conditional_hits == 1
    sent = site.requests[1][1]
    served = f'"{hashlib.sha256(first.path.read_bytes()).hexdigest()}"'
    assert sent["If-None-Match"] == served
    after = second.path.stat()
    # Same inode and mtime: the 304 did not rewrite the cached file.
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert second.path.read_bytes() == (FOOTBALL_DATA / "E0" / "1920.csv").read_bytes()


def test_retries_5xx_with_exponential_backoff(
    site: Site, downloader: FootballDataDownloader, sleeps: list[float]
) -> None:
    site.script = [Reply(503, b"busy"), Reply(503, b"busy")]

    result = downloader.season("D1", 2015)

    assert result.attempts == 3
    assert result.from_cache is False
    assert sleeps == [0.5, 1.0]
    assert len(site.requests) == 3
    assert result.path.read_bytes() == (FOOTBALL_DATA / "D1" / "1516.csv").read_bytes()


def test_gives_up_after_retries_and_keeps_cached_file(site: Site, cache: Path, sleeps: list[float]) -> None:
    with FootballDataDownloader(site.base_url, cache, retries=3, sleep=sleeps.append) as dl:
        good = dl.season("E0", 2019)
        good_bytes = good.path.read_bytes()
        meta = (good.path.parent / "E0.csv.meta.json").read_bytes()
        site.always = Reply(503, b"down for maintenance")

        with pytest.raises(DownloadError) as info:
            dl.season("E0", 2019)

    message = str(info.value)
    assert good.url in message
    assert "3 attempts" in message
    assert "503" in message
    assert len(site.requests) == 1 + 3
    assert sleeps == [0.5, 1.0]
    assert good.path.read_bytes() == good_bytes
    assert (good.path.parent / "E0.csv.meta.json").read_bytes() == meta
    assert _files(cache) == {"mmz4281/1920/E0.csv", "mmz4281/1920/E0.csv.meta.json"}


def test_connection_refused_is_retried_then_reported(cache: Path, sleeps: list[float]) -> None:
    with socket.socket() as sock:  # grab a free port, then close it so nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        FootballDataDownloader(f"http://127.0.0.1:{port}", cache, retries=2, sleep=sleeps.append) as dl,
        pytest.raises(DownloadError, match="after 2 attempts: ConnectError"),
    ):
        dl.fixtures()
    assert sleeps == [0.5]
    assert _files(cache) == set()


def test_404_fails_immediately(
    site: Site, downloader: FootballDataDownloader, sleeps: list[float], cache: Path
) -> None:
    with pytest.raises(DownloadError) as info:
        downloader.season("E0", 2030)  # 3031 is not in the data folder

    assert f"{site.base_url}/mmz4281/3031/E0.csv" in str(info.value)
    assert "404" in str(info.value)
    assert len(site.requests) == 1
    assert sleeps == []
    assert _files(cache) == set()


def test_429_honours_retry_after(site: Site, downloader: FootballDataDownloader, sleeps: list[float]) -> None:
    site.script = [Reply(429, b"slow down", {"Retry-After": "2"})]

    result = downloader.season("I1", 2010)

    assert sleeps == [2.0]
    assert result.attempts == 2
    assert result.path.read_bytes() == (FOOTBALL_DATA / "I1" / "1011.csv").read_bytes()


def test_html_body_is_rejected_and_not_cached(site: Site, downloader: FootballDataDownloader, cache: Path) -> None:
    site.always = Reply(200, HTML, {"Content-Type": "text/html"})

    with pytest.raises(DownloadError, match="not a football-data CSV"):
        downloader.season("SP1", 2012)

    assert len(site.requests) == 1  # a bad body is not retried
    assert _files(cache) == set()


def test_html_body_does_not_replace_good_cache(site: Site, downloader: FootballDataDownloader) -> None:
    good = downloader.season("F1", 2018)
    site.always = Reply(200, HTML)

    with pytest.raises(DownloadError, match="not a football-data CSV"):
        downloader.season("F1", 2018)

    assert good.path.read_bytes() == (FOOTBALL_DATA / "F1" / "1819.csv").read_bytes()
    assert sorted(p.name for p in good.path.parent.iterdir()) == [
        "F1.csv",
        "F1.csv.meta.json",
    ]


def test_seasons_covers_every_league_and_year(site: Site, downloader: FootballDataDownloader) -> None:
    done: list[DownloadResult] = []

    results = downloader.seasons(["E0", "D1"], 2020, 2021, on_done=done.append)

    assert len(results) == 4
    assert done == results
    assert {r.url.removeprefix(site.base_url) for r in results} == {
        "/mmz4281/2021/E0.csv",
        "/mmz4281/2122/E0.csv",
        "/mmz4281/2021/D1.csv",
        "/mmz4281/2122/D1.csv",
    }
    for r in results:
        league, code = r.path.stem, r.path.parent.name
        assert r.path.read_bytes() == (FOOTBALL_DATA / league / f"{code}.csv").read_bytes()


def test_fixtures_download_parses_as_csv(downloader: FootballDataDownloader, fixtures_file: Path, cache: Path) -> None:
    result = downloader.fixtures()

    assert result.path == cache / "fixtures.csv"
    assert result.path.read_bytes() == fixtures_file.read_bytes()
    with result.path.open(encoding="latin-1", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames is not None
    assert {"Date", "HomeTeam", "AwayTeam", "B365H"} <= set(reader.fieldnames)
    assert not (RESULT_COLUMNS | STAT_COLUMNS) & set(reader.fieldnames)
    assert len(rows) == 10
    assert all(row["HomeTeam"] and row["AwayTeam"] for row in rows)
