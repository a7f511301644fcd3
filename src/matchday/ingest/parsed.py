"""What parsing a source file yields: good matches with their source lines, and issues for quarantine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from matchday.domain import Fixture, Match, TeamKind

__all__ = ["IssueScope", "ParsedFile", "RowIssue", "SourceKind"]


class SourceKind(StrEnum):
    FOOTBALL_DATA = "football-data"
    FOOTBALL_DATA_FIXTURES = "football-data-fixtures"
    INTERNATIONAL = "international"

    @property
    def team_kind(self) -> TeamKind:
        return TeamKind.NATIONAL if self is SourceKind.INTERNATIONAL else TeamKind.CLUB


class IssueScope(StrEnum):
    ROW = "row"  # the whole row was rejected
    VALUE = "value"  # one value (a price, a statistic) was dropped; the match itself loaded


@dataclass(frozen=True, slots=True)
class RowIssue:
    line: int
    scope: IssueScope
    field: str
    value: str
    reason: str
    raw: dict[str, str]


@dataclass(slots=True)
class ParsedFile:
    path: Path
    sha256: str
    kind: SourceKind
    rows_read: int
    matches: list[tuple[int, Match]] = field(default_factory=list)
    fixtures: list[tuple[int, Fixture]] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({issue.line for issue in self.issues if issue.scope is IssueScope.ROW})

    @property
    def dropped_values(self) -> int:
        return sum(1 for issue in self.issues if issue.scope is IssueScope.VALUE)
