"""Structured logging, configured once per process, with a run id on every record.

Events are short dotted names (`ingest.file.loaded`) with their fields passed as `extra`; the text format is
for people at a terminal, the JSON format for log shippers.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from matchday.config import LogFormat, Settings

__all__ = ["bind_run_id", "configure_logging", "current_run_id"]

_run_id: ContextVar[str] = ContextVar("matchday_run_id", default="-")
# Attributes every LogRecord has; anything else on a record came from `extra` and is a structured field.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "run_id"}


def bind_run_id(run_id: str | None = None) -> str:
    """Set the run id for this context (a new one when none is given) and return it."""
    value = run_id or uuid.uuid4().hex[:12]
    _run_id.set(value)
    return value


def current_run_id() -> str:
    return _run_id.get()


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    # Private attributes are other libraries' bookkeeping (Ray's record factory adds `_ray_timestamp_ns` to every
    # record once it is imported), not fields a caller passed in `extra`.
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS and not key.startswith("_")}


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _run_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            **_fields(record),  # first, so a field named like a core key cannot overwrite it
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "run_id": getattr(record, "run_id", "-"),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{stamp} {record.levelname:<7} [{getattr(record, 'run_id', '-')}] {record.getMessage()} {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line.rstrip()


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time, so a rich progress bar that redirects it can print
    log lines above the bar instead of being torn by them."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(settings: Settings) -> None:
    """Install one handler on the `matchday` logger; calling it again replaces it rather than stacking."""
    handler = _CurrentStderrHandler()
    handler.setFormatter(JsonFormatter() if settings.log_format is LogFormat.JSON else TextFormatter())
    handler.addFilter(_RunIdFilter())
    logger = logging.getLogger("matchday")
    logger.handlers = [handler]
    logger.setLevel(settings.log_level)
    logger.propagate = False
