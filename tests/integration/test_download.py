"""FootballDataDownloader against a real local HTTP server over the shared data."""

from __future__ import annotations

import csv
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from matchday.ingest.download import (
    DownloadError,
    DownloadResult,
    FootballDataDownloader,
    season_code,
)

from .football_data_server import (
    DATA_DIR,
    FOOTBALL_DATA,
    RESULT_COLUMNS,
    STAT_COLUMNS,
    Reply,
    Site,
    serve,
    write_fixtures_file,
)

pytestmark = pytest.mark.integration

if not (FOOTBALL_DATA / "E0" / "1920.csv").is_file():
    pytest.skip(
        f"shared football-data files not found in {DATA_DIR}; set MATCHDAY_DATA_DIR",
        allow_module_level=True,
    )

HTML = b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>"


@pytest.fixture
def fixtures_file(tmp_path: Path) -> Path:
    """Upcoming-fixtures CSV: first 10 E0 2022-23 matches, no results or stats."""
    return write_fixtures_file(tmp_path / "served-fixtures.csv")


@pytest.fixture
def site(fixtures_file: Path) -> Iterator[Site]:
    with serve(Site(fixtures_file=fixtures_file)) as state:
        yield state


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
