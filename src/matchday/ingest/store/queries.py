"""Read-side summaries of the store for `matchday data status` and `matchday data quarantine`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Engine, String, cast, func, select

from matchday.ingest.store.models import (
    CompetitionRow,
    IngestRunRow,
    MatchRow,
    OddsQuoteRow,
    QuarantineRow,
    SeasonRow,
    TeamRow,
)

__all__ = ["QuarantineGroup", "SeasonCount", "StoreStatus", "quarantine_groups", "store_status"]


@dataclass(frozen=True, slots=True)
class SeasonCount:
    competition: str
    season: str
    matches: int
    quotes: int
    first_match: str
    last_match: str


@dataclass(frozen=True, slots=True)
class StoreStatus:
    seasons: list[SeasonCount]
    teams: int
    ingest_runs: int
    failed_runs: int
    quarantined_rows: int
    quarantined_values: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QuarantineGroup:
    scope: str
    reason: str
    count: int
    example: str  # "file:line" of one instance


def store_status(engine: Engine) -> StoreStatus:
    with engine.connect() as connection:
        quotes_per_season = (
            select(MatchRow.season_id, func.count().label("quotes"))
            .join(OddsQuoteRow, OddsQuoteRow.match_id == MatchRow.id)
            .group_by(MatchRow.season_id)
            .subquery()
        )
        rows = connection.execute(
            select(
                CompetitionRow.code,
                SeasonRow.label,
                func.count(MatchRow.id),
                func.coalesce(func.max(quotes_per_season.c.quotes), 0),
                func.min(MatchRow.match_date),
                func.max(MatchRow.match_date),
            )
            .join(SeasonRow, SeasonRow.competition_id == CompetitionRow.id)
            .join(MatchRow, MatchRow.season_id == SeasonRow.id)
            .outerjoin(quotes_per_season, quotes_per_season.c.season_id == SeasonRow.id)
            .group_by(CompetitionRow.code, SeasonRow.label, SeasonRow.start_year)
            .order_by(CompetitionRow.code, SeasonRow.start_year)
        ).all()
        grouped = connection.execute(select(QuarantineRow.scope, func.count()).group_by(QuarantineRow.scope))
        scopes = dict(grouped.all())
        return StoreStatus(
            seasons=[SeasonCount(c, s, int(m), int(q), str(lo), str(hi)) for c, s, m, q, lo, hi in rows],
            teams=int(connection.scalar(select(func.count(TeamRow.id))) or 0),
            ingest_runs=int(connection.scalar(select(func.count(IngestRunRow.id))) or 0),
            failed_runs=int(
                connection.scalar(select(func.count(IngestRunRow.id)).where(IngestRunRow.status == "failed")) or 0
            ),
            quarantined_rows=int(scopes.get("row", 0)),
            quarantined_values=int(scopes.get("value", 0)),
        )


def quarantine_groups(engine: Engine) -> list[QuarantineGroup]:
    """Quarantined rows and values grouped by reason, most frequent first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                QuarantineRow.scope,
                QuarantineRow.reason,
                func.count(),
                func.min(QuarantineRow.source + ":" + cast(QuarantineRow.line, String)),
            )
            .group_by(QuarantineRow.scope, QuarantineRow.reason)
            .order_by(func.count().desc(), QuarantineRow.reason)
        ).all()
    return [QuarantineGroup(scope, reason, int(count), str(example)) for scope, reason, count, example in rows]
