"""Writes a parsed file to the store in one transaction, and records every ingest run.

Every insert skips rows that already exist (by each table's natural key), so re-ingesting a file adds
nothing and two ingests of the same file at once cannot create duplicates; keys are inserted in sorted order
so concurrent writers lock rows in the same order and cannot deadlock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from matchday.domain import Match, season_label
from matchday.ingest.competitions import INTERNATIONAL, competition_for
from matchday.ingest.parsed import ParsedFile, RowIssue
from matchday.ingest.store.bulk import insert_missing, insert_new
from matchday.ingest.store.models import (
    CompetitionRow,
    IngestRunRow,
    MatchRow,
    OddsQuoteRow,
    QuarantineRow,
    SeasonRow,
    TeamAliasRow,
    TeamRow,
)
from matchday.ingest.teams import NewTeam, look_alikes

__all__ = ["MatchStore", "WriteResult"]

_STAT_FIELDS = (
    "home_shots",
    "away_shots",
    "home_shots_on_target",
    "away_shots_on_target",
    "home_corners",
    "away_corners",
    "home_fouls",
    "away_fouls",
    "home_yellow",
    "away_yellow",
    "home_red",
    "away_red",
    "referee",
)
_QUOTE_COLUMNS = ("match_id", "bookmaker", "market", "selection", "phase", "line", "price")
MatchKey = tuple[int, date, int, int]  # competition id, date, home team id, away team id


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(slots=True)
class WriteResult:
    run_id: int
    matches_added: int = 0
    matches_existing: int = 0
    quotes_added: int = 0
    quarantined: int = 0
    new_teams: list[NewTeam] = field(default_factory=list)


class MatchStore:
    """The match store behind an engine whose schema is migrated (see `database.migrate`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        """Close the engine's pooled connections (a CLI command ends; a test drops its database)."""
        self.engine.dispose()

    def succeeded_run_for(self, sha256: str) -> int | None:
        """The id of a successful earlier ingest of exactly these bytes, if any."""
        with self.engine.connect() as connection:
            return connection.scalar(
                select(IngestRunRow.id)
                .where(IngestRunRow.source_hash == sha256, IngestRunRow.status == "succeeded")
                .limit(1)
            )

    def write(self, parsed: ParsedFile) -> WriteResult:
        """Store a parsed file atomically: all of it, or (on any error) nothing."""
        with self.engine.begin() as connection:
            return _FileWriter(connection, parsed).write()

    def record_failure(self, source: str, sha256: str, kind: str, error: str) -> int:
        """Log a failed ingest in its own transaction, after the file's own transaction rolled back."""
        with self.engine.begin() as connection:
            now = _now()
            statement = insert(IngestRunRow).returning(IngestRunRow.id)
            values = {"source": source, "source_hash": sha256, "kind": kind, "status": "failed"}
            row = {**values, "started_at": now, "finished_at": now, "error": error[:2000]}
            return int(connection.execute(statement, row).scalar_one())


class _FileWriter:
    """One file's write, inside the caller's transaction."""

    def __init__(self, connection: Connection, parsed: ParsedFile) -> None:
        self.connection = connection
        self.parsed = parsed
        self.matches = [match for _, match in parsed.matches]
        self.result = WriteResult(run_id=self._start_run())
        self.competition_ids: dict[str, int] = {}
        self.team_ids: dict[str, int] = {}

    def write(self) -> WriteResult:
        if self.matches:
            self.competition_ids = self._competition_ids()
            self.team_ids = self._team_ids()
            match_ids, created = self._write_matches()
            self.result.quotes_added = self._write_quotes(match_ids, created)
        self.result.quarantined = self._write_quarantine()
        self.connection.execute(
            update(IngestRunRow)
            .where(IngestRunRow.id == self.result.run_id)
            .values(
                status="succeeded",
                finished_at=_now(),
                matches_added=self.result.matches_added,
                quotes_added=self.result.quotes_added,
            )
        )
        return self.result

    def _start_run(self) -> int:
        row = {
            "source": str(self.parsed.path),
            "source_hash": self.parsed.sha256,
            "kind": self.parsed.kind.value,
            "status": "running",
            "started_at": _now(),
            "rows_read": self.parsed.rows_read,
            "rows_quarantined": self.parsed.rejected_rows,
            "values_quarantined": self.parsed.dropped_values,
        }
        return int(self.connection.execute(insert(IngestRunRow).returning(IngestRunRow.id), row).scalar_one())

    def _competition_ids(self) -> dict[str, int]:
        codes = sorted({m.competition for m in self.matches})
        rows = []
        for code in codes:
            competition = competition_for(code)
            if competition is None:  # the parsers reject unknown divisions; this guards the invariant
                raise ValueError(f"competition {code!r} is not known")
            rows.append(
                {"code": code, "name": competition.name, "country": competition.country, "tier": competition.tier}
            )
        insert_missing(self.connection, CompetitionRow, rows)
        query = select(CompetitionRow.code, CompetitionRow.id).where(CompetitionRow.code.in_(codes))
        return dict(self.connection.execute(query).all())

    def _team_ids(self) -> dict[str, int]:
        source, kind = self.parsed.kind.value, self.parsed.kind.team_kind.value
        names = sorted({m.home_team for m in self.matches} | {m.away_team for m in self.matches})
        known = self._aliases(source, names)
        missing = [name for name in names if name not in known]
        if not missing:
            return known
        existing = list(self.connection.scalars(select(TeamRow.name).where(TeamRow.kind == kind)))
        # The exact canonical name is the same team (another source, same spelling); anything else is new.
        insert_missing(self.connection, TeamRow, [{"name": n, "kind": kind} for n in missing])
        query = select(TeamRow.name, TeamRow.id).where(TeamRow.kind == kind, TeamRow.name.in_(missing))
        ids = dict(self.connection.execute(query).all())
        aliases = [{"source": source, "alias": n, "team_id": ids[n], "created_at": _now()} for n in missing]
        insert_missing(self.connection, TeamAliasRow, aliases)
        already = set(existing)
        self.result.new_teams.extend(NewTeam(source, n, look_alikes(n, existing)) for n in missing if n not in already)
        return self._aliases(source, names)

    def _aliases(self, source: str, names: list[str]) -> dict[str, int]:
        query = select(TeamAliasRow.alias, TeamAliasRow.team_id).where(
            TeamAliasRow.source == source, TeamAliasRow.alias.in_(names)
        )
        return dict(self.connection.execute(query).all())

    def _match_key(self, match: Match) -> MatchKey:
        return (
            self.competition_ids[match.competition],
            match.match_date,
            self.team_ids[match.home_team],
            self.team_ids[match.away_team],
        )

    def _write_matches(self) -> tuple[dict[MatchKey, int], set[int]]:
        """Insert the file's new matches; the ids of all its matches, and of those this write created."""
        season_ids = self._season_ids()
        rows = sorted(
            (self._match_row(m, season_ids) for m in self.matches),
            key=lambda r: (r["competition_id"], r["match_date"], r["home_team_id"], r["away_team_id"]),
        )
        created = insert_missing(self.connection, MatchRow, rows, returning=["id"])
        self.result.matches_added = len(created)
        self.result.matches_existing = len(rows) - len(created)
        query = select(
            MatchRow.competition_id, MatchRow.match_date, MatchRow.home_team_id, MatchRow.away_team_id, MatchRow.id
        ).where(MatchRow.season_id.in_(sorted({row["season_id"] for row in rows})))
        ids = {(c, d, h, a): match_id for c, d, h, a, match_id in self.connection.execute(query)}
        return ids, {match_id for (match_id,) in created}

    def _season_ids(self) -> dict[tuple[int, int], int]:
        keys = sorted({(self.competition_ids[m.competition], m.season, _season_label(m)) for m in self.matches})
        rows = [{"competition_id": c, "start_year": y, "label": label} for c, y, label in keys]
        insert_missing(self.connection, SeasonRow, rows)
        query = select(SeasonRow.competition_id, SeasonRow.start_year, SeasonRow.id).where(
            SeasonRow.competition_id.in_(sorted({c for c, _, _ in keys}))
        )
        return {(c, y): season_id for c, y, season_id in self.connection.execute(query)}

    def _match_row(self, match: Match, season_ids: dict[tuple[int, int], int]) -> dict[str, Any]:
        competition_id, match_date, home_id, away_id = self._match_key(match)
        return {
            "competition_id": competition_id,
            "season_id": season_ids[(competition_id, match.season)],
            "match_date": match_date,
            "kickoff_at": match.kickoff_at,
            "home_team_id": home_id,
            "away_team_id": away_id,
            "home_goals": match.home_goals,
            "away_goals": match.away_goals,
            "result": match.result.value,
            "home_goals_ht": match.home_goals_ht,
            "away_goals_ht": match.away_goals_ht,
            "neutral": match.neutral,
            "tournament": match.tournament,
            "ingest_run_id": self.result.run_id,
            **{name: getattr(match.stats, name) for name in _STAT_FIELDS},
        }

    def _write_quotes(self, match_ids: dict[MatchKey, int], created: set[int]) -> int:
        rows: list[tuple[Any, ...]] = []
        for match in self.matches:
            if match.quotes:
                match_id = match_ids[self._match_key(match)]
                rows.extend(
                    (match_id, q.bookmaker, q.market.value, q.selection.value, q.phase.value, q.line, q.price)
                    for q in match.quotes
                )
        # Quotes of matches this transaction created cannot exist yet: they skip the conflict check.
        fresh = [row for row in rows if row[0] in created]
        known = [dict(zip(_QUOTE_COLUMNS, row, strict=True)) for row in sorted(r for r in rows if r[0] not in created)]
        return insert_new(self.connection, OddsQuoteRow, _QUOTE_COLUMNS, fresh) + len(
            insert_missing(self.connection, OddsQuoteRow, known)
        )

    def _write_quarantine(self) -> int:
        rows = sorted(
            (_quarantine_row(self.result.run_id, self.parsed, issue) for issue in self.parsed.issues),
            key=lambda r: (r["line"], r["scope"], r["field"]),
        )
        return len(insert_missing(self.connection, QuarantineRow, rows))


def _season_label(match: Match) -> str:
    return str(match.season) if match.competition == INTERNATIONAL.code else season_label(match.season)


def _quarantine_row(run_id: int, parsed: ParsedFile, issue: RowIssue) -> dict[str, Any]:
    return {
        "ingest_run_id": run_id,
        "source": str(parsed.path),
        "source_hash": parsed.sha256,
        "line": issue.line,
        "scope": issue.scope.value,
        "field": issue.field[:64],
        "value": issue.value,
        "reason": issue.reason,
        "raw": json.dumps(issue.raw, ensure_ascii=False),
    }
