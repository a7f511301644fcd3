"""SQLAlchemy 2 typed models of the match store. The Alembic migrations are the schema's source of truth and
`tests` check that these models and the migrations agree."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKeyRow",
    "Base",
    "CanaryEventRow",
    "CanaryRow",
    "CompetitionRow",
    "DriftCheckRow",
    "IngestRunRow",
    "MatchRow",
    "OddsQuoteRow",
    "PipelineRunRow",
    "QuarantineRow",
    "RetrainTriggerRow",
    "SeasonRow",
    "ServedPredictionRow",
    "TeamAliasRow",
    "TeamRow",
]

# Explicit constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CompetitionRow(Base):
    __tablename__ = "competitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    country: Mapped[str] = mapped_column(String(64))
    tier: Mapped[int | None] = mapped_column(SmallInteger)


class SeasonRow(Base):
    __tablename__ = "seasons"
    __table_args__ = (UniqueConstraint("competition_id", "start_year"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    start_year: Mapped[int] = mapped_column(SmallInteger)
    label: Mapped[str] = mapped_column(String(16))


class TeamRow(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("name", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))  # canonical name
    kind: Mapped[str] = mapped_column(String(16))  # club | national


class TeamAliasRow(Base):
    """How a source spells a team. A new spelling gets its own team until someone maps it: never merged by guess."""

    __tablename__ = "team_aliases"
    __table_args__ = (UniqueConstraint("source", "alias"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    alias: Mapped[str] = mapped_column(String(128))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class IngestRunRow(Base):
    __tablename__ = "ingest_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    matches_added: Mapped[int] = mapped_column(Integer, default=0)
    quotes_added: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    values_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class MatchRow(Base):
    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("competition_id", "match_date", "home_team_id", "away_team_id"),
        # The feature builder walks each team's matches in time order.
        Index("ix_matches_home_team_date", "home_team_id", "match_date"),
        Index("ix_matches_away_team_date", "away_team_id", "match_date"),
        Index("ix_matches_season", "season_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    season_id: Mapped[int] = mapped_column(ForeignKey("seasons.id"))
    match_date: Mapped[date] = mapped_column(Date, index=True)
    kickoff_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC; None when only the date is known
    home_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    away_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    home_goals: Mapped[int] = mapped_column(SmallInteger)
    away_goals: Mapped[int] = mapped_column(SmallInteger)
    result: Mapped[str] = mapped_column(String(1))
    home_goals_ht: Mapped[int | None] = mapped_column(SmallInteger)
    away_goals_ht: Mapped[int | None] = mapped_column(SmallInteger)
    home_shots: Mapped[int | None] = mapped_column(SmallInteger)
    away_shots: Mapped[int | None] = mapped_column(SmallInteger)
    home_shots_on_target: Mapped[int | None] = mapped_column(SmallInteger)
    away_shots_on_target: Mapped[int | None] = mapped_column(SmallInteger)
    home_corners: Mapped[int | None] = mapped_column(SmallInteger)
    away_corners: Mapped[int | None] = mapped_column(SmallInteger)
    home_fouls: Mapped[int | None] = mapped_column(SmallInteger)
    away_fouls: Mapped[int | None] = mapped_column(SmallInteger)
    home_yellow: Mapped[int | None] = mapped_column(SmallInteger)
    away_yellow: Mapped[int | None] = mapped_column(SmallInteger)
    home_red: Mapped[int | None] = mapped_column(SmallInteger)
    away_red: Mapped[int | None] = mapped_column(SmallInteger)
    referee: Mapped[str | None] = mapped_column(String(64))
    neutral: Mapped[bool] = mapped_column(Boolean, default=False)
    tournament: Mapped[str | None] = mapped_column(String(128))
    ingest_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"))


class OddsQuoteRow(Base):
    """A price. Its natural key is its primary key: a surrogate id would cost a second index on the largest
    table (1.8 million rows for the shared data) and nothing refers to a quote by id."""

    __tablename__ = "odds_quotes"
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), primary_key=True)
    bookmaker: Mapped[str] = mapped_column(String(32), primary_key=True)
    market: Mapped[str] = mapped_column(String(16), primary_key=True)
    selection: Mapped[str] = mapped_column(String(8), primary_key=True)
    phase: Mapped[str] = mapped_column(String(8), primary_key=True)
    line: Mapped[float | None] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)


class QuarantineRow(Base):
    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source_hash", "line", "scope", "field"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ingest_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"))
    source: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(8))  # row | value
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the source row as JSON


# Serving: the tables the inference service writes (migration 0002). Same database as the match store, so one
# PostgreSQL serves the whole platform in prod and one SQLite file locally.


class ApiKeyRow(Base):
    """A client's API key for the prediction routes: only its SHA-256 is stored (keys are 256-bit random tokens,
    so a fast hash is enough); `prefix` is the key's first characters, shown to people to tell keys apart."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)  # None: the service's default
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class CanaryRow(Base):
    """A canary rollout of `challenger_version` against `champion_version`; its state survives a restart."""

    __tablename__ = "canaries"
    __table_args__ = (Index("ix_canaries_model_status", "model_name", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    champion_version: Mapped[str] = mapped_column(String(32))
    challenger_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # running | paused | promoted | rolled_back | aborted
    step_index: Mapped[int] = mapped_column(Integer)
    share: Mapped[float] = mapped_column(Float)  # the challenger's share of traffic, 0..1
    started_at: Mapped[datetime] = mapped_column(DateTime)
    step_started_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)


class CanaryEventRow(Base):
    """What happened to a canary and why (started, stepped, paused, resumed, promoted, rolled back, aborted)."""

    __tablename__ = "canary_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    canary_id: Mapped[int] = mapped_column(ForeignKey("canaries.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(16))
    share: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text)  # JSON: the step's measured figures or the operator's reason


class ServedPredictionRow(Base):
    """One served prediction, written in batches off the request path; the drift monitor reads it."""

    __tablename__ = "served_predictions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    served_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str] = mapped_column(String(16))  # champion | challenger
    competition: Mapped[str] = mapped_column(String(16))
    home_team: Mapped[str] = mapped_column(String(128))
    away_team: Mapped[str] = mapped_column(String(128))
    kickoff: Mapped[datetime | None] = mapped_column(DateTime)
    features: Mapped[str] = mapped_column(Text)  # JSON object: the model's input row, NaN as null
    prob_home: Mapped[float] = mapped_column(Float)
    prob_draw: Mapped[float] = mapped_column(Float)
    prob_away: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)


class DriftCheckRow(Base):
    """One drift check of a served version over a window: its verdict, figures and where its report is."""

    __tablename__ = "drift_checks"
    __table_args__ = (Index("ix_drift_checks_model_checked", "model_name", "checked_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime] = mapped_column(DateTime)
    window_end: Mapped[datetime] = mapped_column(DateTime)
    verdict: Mapped[str] = mapped_column(String(16))  # drift | ok | insufficient
    current_rows: Mapped[int] = mapped_column(Integer)
    feature_share: Mapped[float] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(Text)  # JSON: the DriftResult and the served quality
    report_path: Mapped[str | None] = mapped_column(Text)


class RetrainTriggerRow(Base):
    """A retraining the drift monitor started (or held back by the cooldown), and how it was launched."""

    __tablename__ = "retrain_triggers"
    __table_args__ = (Index("ix_retrain_triggers_model_at", "model_name", "triggered_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drift_check_id: Mapped[int] = mapped_column(ForeignKey("drift_checks.id"))
    triggered_at: Mapped[datetime] = mapped_column(DateTime)
    model_name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # launched | cooldown | failed
    launcher: Mapped[str] = mapped_column(String(32))  # local | kfp | pipeline | none
    detail: Mapped[str] = mapped_column(Text)  # the run id, the process id and log, or why it was held back


class PipelineRunRow(Base):
    """A training or monitoring pipeline run started by `matchday pipeline run` or submitted to a cluster."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_pipeline_started", "pipeline", "started_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(32))  # training | monitoring
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed | submitted
    detail: Mapped[str] = mapped_column(Text)
