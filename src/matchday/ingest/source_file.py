"""Reading a CSV source file as it really is: UTF-8 with or without BOM or latin-1, blank trailing rows,
and clear errors for what is not a CSV at all (empty, binary, missing required columns)."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["RawRow", "SourceFile", "SourceFileError", "file_sha256", "read_header", "read_source_file"]


class SourceFileError(ValueError):
    """The whole file is unusable; the message names the file and why."""


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int  # 1-based line in the file, header = line 1
    values: dict[str, str]
    fields: int  # how many fields the row really had; fewer than the header means it was cut short
    unterminated: bool = False  # the file's last line with no newline after it: possibly cut mid-field

    def truncation(self, header: Sequence[str]) -> tuple[str, str] | None:
        """(column, detail) when the row was cut short, else None."""
        if self.fields < len(header):
            return header[self.fields], f"{self.fields} of {len(header)} fields"
        if self.unterminated:
            return header[-1], "no newline at the end of the file: the last value may be cut"
        return None


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    sha256: str
    header: tuple[str, ...]
    rows: tuple[RawRow, ...]  # blank rows already dropped
    blank_rows: int


def _check_text(path: Path, data: bytes) -> None:
    if not data.strip():
        raise SourceFileError(f"{path}: empty file")
    if b"\x00" in data[:4096]:
        raise SourceFileError(f"{path}: binary file, not a CSV (NUL bytes in the first 4 KiB)")


def _decode(path: Path, data: bytes) -> str:
    _check_text(path, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older football-data files are Windows-1252/latin-1; latin-1 never fails, so it is the last resort.
        return data.decode("cp1252", errors="strict") if _is_cp1252(data) else data.decode("latin-1")


def _is_cp1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _rows(text: str, header: Sequence[str]) -> Iterator[RawRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    for values in reader:
        # Pad a short row so parsers can name what is missing; extra unnamed trailing cells are dropped.
        padded = list(values) + [""] * (len(header) - len(values))
        named = {name: padded[i].strip() for i, name in enumerate(header) if name}
        yield RawRow(line=reader.line_num, values=named, fields=len(values))


def file_sha256(path: Path) -> str:
    """The content hash that identifies a source file across ingests, whatever its name."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise SourceFileError(f"{path}: cannot read ({exc.strerror})") from exc


def read_header(path: Path) -> tuple[str, ...]:
    """The column names of a file, with the same empty/binary checks as a full read."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65_536)
    except OSError as exc:
        raise SourceFileError(f"{path}: cannot read ({exc.strerror})") from exc
    _check_text(path, head)
    first_line = head.splitlines()[0].decode("latin-1").lstrip("\ufeff").removeprefix("\xef\xbb\xbf")
    return tuple(name.strip() for name in next(csv.reader([first_line]), []))


def read_source_file(path: Path, required: Sequence[str]) -> SourceFile:
    """Read and decode a CSV file, checking that every `required` column is present."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceFileError(f"{path}: cannot read ({exc.strerror})") from exc
    text = _decode(path, data)
    first_line = text.splitlines()[0] if text else ""
    header = tuple(name.strip() for name in next(csv.reader([first_line]), []))
    missing = [column for column in required if column not in header]
    if missing:
        raise SourceFileError(
            f"{path}: not a recognised file: missing column(s) {', '.join(missing)} "
            f"(header starts {', '.join(header[:6]) or '<nothing>'})"
        )
    rows: list[RawRow] = []
    blank = 0
    try:
        for row in _rows(text, header):
            if any(row.values.values()):
                rows.append(row)
            else:
                blank += 1
    except csv.Error as exc:
        raise SourceFileError(f"{path}: malformed CSV: {exc}") from exc
    if rows and not text.endswith(("\n", "\r")):
        # Every real source file ends with a newline; without one, the last value may be cut (3.8 -> "3.").
        rows[-1] = replace(rows[-1], unterminated=True)
    return SourceFile(
        path=path, sha256=hashlib.sha256(data).hexdigest(), header=header, rows=tuple(rows), blank_rows=blank
    )
