"""Read the store into the pandas frames the feature code takes (see `matchday.features.frames`)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from matchday.ingest.store.models import CompetitionRow, MatchRow, OddsQuoteRow, SeasonRow, TeamRow

__all__ = ["load_match_frame", "load_quote_frame"]


def load_match_frame(
    engine: Engine, competitions: Sequence[str] | None = None, seasons: Sequence[int] | None = None
) -> pd.DataFrame:
    """Played matches in time order, with canonical team names; optionally only some competitions and seasons."""
    home, away = aliased(TeamRow), aliased(TeamRow)
    query = (
        select(
            MatchRow.id.label("match_id"),
            CompetitionRow.code.label("competition"),
            SeasonRow.start_year.label("season"),
            MatchRow.match_date,
            MatchRow.kickoff_at,
            home.name.label("home_team"),
            away.name.label("away_team"),
            MatchRow.home_goals,
            MatchRow.away_goals,
            MatchRow.home_shots,
            MatchRow.away_shots,
            MatchRow.home_shots_on_target,
            MatchRow.away_shots_on_target,
        )
        .join(CompetitionRow, CompetitionRow.id == MatchRow.competition_id)
        .join(SeasonRow, SeasonRow.id == MatchRow.season_id)
        .join(home, home.id == MatchRow.home_team_id)
        .join(away, away.id == MatchRow.away_team_id)
        .order_by(MatchRow.match_date, MatchRow.id)
    )
    if competitions:
        query = query.where(CompetitionRow.code.in_(list(competitions)))
    if seasons:
        query = query.where(SeasonRow.start_year.in_(list(seasons)))
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(query).all(), columns=list(query.selected_columns.keys()))
    frame["match_date"] = pd.to_datetime(frame["match_date"])
    frame["kickoff_at"] = pd.to_datetime(frame["kickoff_at"])
    for column in ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target"):
        frame[column] = frame[column].astype("float64")
    return frame


def load_quote_frame(
    engine: Engine, match_ids: Sequence[int], *, bookmakers: Sequence[str] | None = None
) -> pd.DataFrame:
    """Every stored price of the given matches (only those of `bookmakers`, when given)."""
    columns = ["match_id", "bookmaker", "market", "selection", "phase", "line", "price"]
    chunks = []
    ids = sorted(set(match_ids))
    with engine.connect() as connection:
        for start in range(0, len(ids), 5_000):  # bounded IN lists: SQLite caps bound parameters
            query = select(*(getattr(OddsQuoteRow, c) for c in columns)).where(
                OddsQuoteRow.match_id.in_(ids[start : start + 5_000])
            )
            if bookmakers is not None:
                query = query.where(OddsQuoteRow.bookmaker.in_(list(bookmakers)))
            chunks.append(pd.DataFrame(connection.execute(query).all(), columns=columns))
    frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns)
    frame["line"] = frame["line"].astype("float64")
    return frame
