"""A real HTTP server on 127.0.0.1 that serves football-data.co.uk's paths from the shared data.

Shared by the downloader tests and the command-line tests: `/mmz4281/<YYZZ>/<Div>.csv` is read from
`<root>/<Div>/<YYZZ>.csv`, `/fixtures.csv` from a file the test builds, and a test can script replies
(errors, throttling, HTML pages) that are served before the real files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = [
    "DATA_DIR",
    "FOOTBALL_DATA",
    "RESULT_COLUMNS",
    "STAT_COLUMNS",
    "Reply",
    "Site",
    "serve",
    "write_fixtures_file",
]

DATA_DIR = Path(os.environ.get("MATCHDAY_DATA_DIR") or Path(__file__).resolve().parents[3] / "shared" / "data")
FOOTBALL_DATA = DATA_DIR / "football-data"

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


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Site:
    """State shared with the request handler: scripted replies and a request log."""

    fixtures_file: Path | None = None
    root: Path = FOOTBALL_DATA  # football-data/ of a data folder: <Div>/<YYZZ>.csv
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
            candidate = self.root / parts[2].removesuffix(".csv") / f"{parts[1]}.csv"
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


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    """Serve `site` on a free port of 127.0.0.1 from a thread; sets `site.base_url`; shuts down on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    # A short poll interval keeps shutdown() (and so each test's teardown) fast.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_fixtures_file(path: Path, source: Path | None = None, rows: int = 10) -> Path:
    """An upcoming-fixtures CSV: the first `rows` matches of a real season file, no results or stats."""
    source = source or FOOTBALL_DATA / "E0" / "2223.csv"
    reader = csv.DictReader(io.StringIO(source.read_text(encoding="latin-1")))
    assert reader.fieldnames is not None
    keep = [c for c in reader.fieldnames if c not in RESULT_COLUMNS | STAT_COLUMNS]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keep, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for _, row in zip(range(rows), reader, strict=False):
        writer.writerow(row)
    path.write_text(out.getvalue(), encoding="latin-1")
    return path
