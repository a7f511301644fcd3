"""Download football-data.co.uk season and fixture CSVs into a local cache.

The site is a free service that is occasionally slow or rate-limited, and its
season files change only while a season is running. So every download retries
transient failures with backoff, revalidates with ETag / Last-Modified instead
of re-fetching unchanged files, checks that the body really is a football-data
CSV (error pages are often served with status 200), and replaces the cached
file atomically so readers never see a half-written file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

__all__ = [
    "DownloadError",
    "DownloadResult",
    "FootballDataDownloader",
    "season_code",
]

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
# A server asking for a longer pause than this is better retried by the next run.
MAX_RETRY_AFTER_S = 120.0
_BOM = b"\xef\xbb\xbf"
# League codes go into URLs and cache paths; refusing anything else stops "../x".
_LEAGUE_RE = re.compile(r"[A-Za-z0-9]{1,8}")
_SEASON_HEADER = (b"Div", b"Date")
_FIXTURES_HEADER = (b"Date", b"HomeTeam")


class DownloadError(RuntimeError):
    """A file could not be downloaded; the message names the URL and the cause."""


@dataclass(frozen=True)
class DownloadResult:
    url: str
    path: Path
    from_cache: bool  # True when the server answered 304 and the cached file was kept
    attempts: int


def season_code(start_year: int) -> str:
    """Return football-data's season folder name: 2019 -> "1920", 1999 -> "9900"."""
    # Two-digit years repeat after a century: 2099 would collide with 1999.
    if not 1993 <= start_year <= 2098:
        raise ValueError(f"season start year must be in 1993..2098, got {start_year!r}")
    return f"{start_year % 100:02d}{(start_year + 1) % 100:02d}"


def _user_agent() -> str:
    try:
        return f"matchday/{version('matchday')}"
    except PackageNotFoundError:
        return "matchday/dev"


def _looks_like_csv(body: bytes, required: tuple[bytes, ...]) -> bool:
    # Only the header is checked, as bytes: older files are latin-1, not UTF-8.
    first_line = body.removeprefix(_BOM).split(b"\n", 1)[0]
    fields = {field.strip(b' \t\r"') for field in first_line.split(b",")}
    return all(name in fields for name in required)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, so os.replace is an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class FootballDataDownloader:
    """Fetch football-data.co.uk files into `cache_dir`, mirroring the site's paths."""

    def __init__(
        self,
        base_url: str,
        cache_dir: Path,
        *,
        retries: int = 4,
        backoff_s: float = 0.5,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 1:
            raise ValueError(f"retries is the number of attempts and must be >= 1, got {retries}")
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._owns_client = client is None  # never close a client the caller lent us
        self._client = client if client is not None else httpx.Client()
        self._headers = {"User-Agent": _user_agent()}

    def season(self, league: str, start_year: int) -> DownloadResult:
        """Download one league season, e.g. ("E0", 2019) -> mmz4281/1920/E0.csv."""
        if not _LEAGUE_RE.fullmatch(league):
            raise ValueError(f"league code must be alphanumeric like 'E0', got {league!r}")
        rel = f"mmz4281/{season_code(start_year)}/{league}.csv"
        return self._fetch(rel, _SEASON_HEADER)

    def fixtures(self) -> DownloadResult:
        """Download the upcoming fixtures with current odds (fixtures.csv)."""
        return self._fetch("fixtures.csv", _FIXTURES_HEADER)

    def seasons(
        self,
        leagues: Sequence[str],
        start_year: int,
        end_year: int,
        on_done: Callable[[DownloadResult], None] | None = None,
    ) -> list[DownloadResult]:
        """Download every league for every season start year in [start_year, end_year].

        Stops at the first failure (earlier files stay cached); `on_done` lets a
        caller report progress as each file lands.
        """
        if end_year < start_year:
            raise ValueError(f"end_year {end_year} is before start_year {start_year}")
        # Validate the whole range up front rather than failing halfway through.
        for year in (start_year, end_year):
            season_code(year)
        results: list[DownloadResult] = []
        for league in leagues:
            for year in range(start_year, end_year + 1):
                result = self.season(league, year)
                results.append(result)
                if on_done is not None:
                    on_done(result)
        return results

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _fetch(self, rel: str, required: tuple[bytes, ...]) -> DownloadResult:
        url = f"{self.base_url}/{rel}"
        path = self.cache_dir / rel
        meta_path = path.with_name(path.name + ".meta.json")
        headers = {**self._headers, **self._conditional_headers(path, meta_path)}
        last_error = ""
        for attempt in range(1, self.retries + 1):
            delay = self._backoff(attempt)
            try:
                response = self._client.get(url, headers=headers, timeout=self.timeout_s, follow_redirects=True)
            except httpx.TransportError as exc:  # connection refused, reset, timeout
                last_error = f"{type(exc).__name__}: {exc}"
            except httpx.HTTPError as exc:
                # Not a transport failure (e.g. too many redirects): retrying won't help.
                raise DownloadError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc
            else:
                status = response.status_code
                if status == 304:
                    if not path.exists():
                        raise DownloadError(f"GET {url}: 304 Not Modified but {path} is missing")
                    log.info("download.not_modified", extra={"url": url, "status": status})
                    return DownloadResult(url, path, from_cache=True, attempts=attempt)
                if status == 200:
                    self._store(url, response, path, meta_path, required)
                    return DownloadResult(url, path, from_cache=False, attempts=attempt)
                last_error = f"HTTP {status} {response.reason_phrase}".rstrip()
                if status != 429 and status < 500:
                    raise DownloadError(f"GET {url} failed: {last_error}")
                if status == 429:
                    delay = self._retry_after(response, default=delay)
            if attempt < self.retries:
                log.warning(
                    "download.retry",
                    extra={
                        "url": url,
                        "attempt": attempt,
                        "error": last_error,
                        "delay_s": delay,
                    },
                )
                self._sleep(delay)
        raise DownloadError(f"GET {url} failed after {self.retries} attempts: {last_error}")

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))

    @staticmethod
    def _retry_after(response: httpx.Response, default: float) -> float:
        # Only the numeric form is honoured; an HTTP-date falls back to backoff.
        try:
            seconds = float(response.headers.get("Retry-After", ""))
        except ValueError:
            return default
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)

    @staticmethod
    def _conditional_headers(path: Path, meta_path: Path) -> dict[str, str]:
        # Validators are only useful while the file they describe is still there.
        if not path.exists():
            return {}
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        headers: dict[str, str] = {}
        if isinstance(meta, dict):
            if isinstance(meta.get("etag"), str):
                headers["If-None-Match"] = meta["etag"]
            if isinstance(meta.get("last_modified"), str):
                headers["If-Modified-Since"] = meta["last_modified"]
        return headers

    @staticmethod
    def _store(
        url: str,
        response: httpx.Response,
        path: Path,
        meta_path: Path,
        required: tuple[bytes, ...],
    ) -> None:
        body = response.content
        if not _looks_like_csv(body, required):
            head = body[:60].decode("latin-1")
            raise DownloadError(f"GET {url}: response is not a football-data CSV (starts {head!r})")
        _write_atomic(path, body)
        meta = {
            "url": url,
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
        }
        # Always rewrite the sidecar: stale validators must not outlive their body.
        _write_atomic(meta_path, json.dumps(meta, indent=2).encode("utf-8"))
        log.info(
            "download.fetched",
            extra={"url": url, "status": response.status_code, "bytes": len(body)},
        )
