"""Structured logging: JSON and text formats, the run id, and one handler however often it is configured."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime

import pytest

from matchday.config import LogFormat, Settings
from matchday.log import bind_run_id, configure_logging, current_run_id

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging changes the process-wide `matchday` logger and the run id; put both back."""
    logger = logging.getLogger("matchday")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    run_id = current_run_id()
    yield
    logger.handlers, logger.level, logger.propagate = saved[0], saved[1], saved[2]
    bind_run_id(run_id)


def _lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_json_format_writes_one_object_per_record(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format=LogFormat.JSON))
    bind_run_id("abc")
    log = logging.getLogger("matchday.ingest.service")
    log.info("ingest.file.loaded", extra={"path": "E0/0506.csv", "matches_added": 380, "seconds": 0.25})
    log.warning("ingest.file.failed", extra={"path": "broken.csv"})
    lines = _lines(capsys)
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "ingest.file.loaded"
    assert first["level"] == "info"
    assert first["run_id"] == "abc"
    assert first["logger"] == "matchday.ingest.service"
    assert (first["path"], first["matches_added"], first["seconds"]) == ("E0/0506.csv", 380, 0.25)
    assert datetime.fromisoformat(first["ts"]).utcoffset().total_seconds() == 0
    assert set(first) == {"ts", "level", "logger", "event", "run_id", "path", "matches_added", "seconds"}
    assert (second["event"], second["level"], second["path"]) == ("ingest.file.failed", "warning", "broken.csv")


def test_json_format_carries_the_exception(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format=LogFormat.JSON))
    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        logging.getLogger("matchday.ingest").exception("ingest.file.failed", extra={"path": "x.csv"})
    (line,) = _lines(capsys)
    record = json.loads(line)
    assert record["level"] == "error"
    assert "RuntimeError: disk full" in record["exception"]


def test_text_format_has_key_value_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format=LogFormat.TEXT))
    bind_run_id("abc")
    logging.getLogger("matchday.ingest").info("ingest.file.loaded", extra={"path": "E0/0506.csv", "matches_added": 380})
    (line,) = _lines(capsys)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d INFO    \[abc\] ingest\.file\.loaded path=E0/0506\.csv matches_added=380", line
    )


def test_level_filters_records(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_level="warning"))
    log = logging.getLogger("matchday.ingest")
    log.info("quiet")
    log.warning("loud")
    lines = _lines(capsys)
    assert len(lines) == 1
    assert "loud" in lines[0]


def test_configuring_twice_does_not_duplicate_output(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format=LogFormat.TEXT))
    configure_logging(Settings(log_format=LogFormat.JSON))
    logging.getLogger("matchday.cli").info("cli.started")
    lines = _lines(capsys)
    assert len(lines) == 1
    assert json.loads(lines[0])["event"] == "cli.started"  # the second configuration replaced the first
    assert len(logging.getLogger("matchday").handlers) == 1


def test_records_do_not_reach_the_root_logger(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging(Settings())
    with caplog.at_level(logging.INFO):
        logging.getLogger("matchday.x").info("only.once")
    assert caplog.records == []
    assert len(_lines(capsys)) == 1


def test_bind_run_id() -> None:
    assert bind_run_id("abc") == "abc"
    assert current_run_id() == "abc"
    generated = bind_run_id()
    assert re.fullmatch(r"[0-9a-f]{12}", generated)
    assert current_run_id() == generated
    assert bind_run_id() != generated


def test_extra_fields_cannot_overwrite_core_keys(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format=LogFormat.JSON))
    bind_run_id("run-1")
    logging.getLogger("matchday.test").info("real.event", extra={"event": "spoofed", "level": 3, "rows": 7})
    record = json.loads(_lines(capsys)[-1])
    assert (record["event"], record["level"], record["rows"], record["run_id"]) == ("real.event", "info", 7, "run-1")
