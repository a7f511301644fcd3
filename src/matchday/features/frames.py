"""The column contracts of the frames every feature function takes.

A *match frame* has one row per played match, sorted by `match_date` then `match_id`:
    match_id int, competition str, season int, match_date datetime64[ns] (midnight),
    home_team str, away_team str, home_goals int, away_goals int,
    and, where the source records them (NaN otherwise), float columns
    home_shots, away_shots, home_shots_on_target, away_shots_on_target.
A *quote frame* has one row per price: match_id int, bookmaker str, market str ('1x2', 'over_under',
'asian_handicap'), selection str ('home', 'draw', 'away', 'over', 'under'), phase str ('opening', 'closing'),
line float (NaN for 1X2), price float.
Feature functions return a frame indexed by `match_id` in the match frame's order.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from matchday.domain import Fixture, Match

__all__ = [
    "MATCH_COLUMNS",
    "QUOTE_COLUMNS",
    "STAT_COLUMNS",
    "frames_from_fixtures",
    "frames_from_matches",
    "match_days",
    "validate_match_frame",
]

MATCH_COLUMNS = (
    "match_id",
    "competition",
    "season",
    "match_date",
    "home_team",
    "away_team",
    "home_goals",
    "away_goals",
)
STAT_COLUMNS = ("home_shots", "away_shots", "home_shots_on_target", "away_shots_on_target")
QUOTE_COLUMNS = ("match_id", "bookmaker", "market", "selection", "phase", "line", "price")


def validate_match_frame(matches: pd.DataFrame) -> None:
    """Raise ValueError naming what is wrong: a missing column, or rows out of time order."""
    missing = [column for column in MATCH_COLUMNS if column not in matches.columns]
    if missing:
        raise ValueError(f"match frame lacks column(s) {', '.join(missing)}")
    order = matches[["match_date", "match_id"]].to_records(index=False).tolist()
    if order != sorted(order):
        raise ValueError("match frame must be sorted by match_date, then match_id")


def match_days(matches: pd.DataFrame) -> list[pd.DataFrame]:
    """The frame split into consecutive match days, in time order."""
    return [day for _, day in matches.groupby("match_date", sort=True)]


def frames_from_fixtures(fixtures: Sequence[Fixture], first_id: int = -1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match and quote frames of upcoming fixtures, with ids counting down from `first_id` (negative by default,
    so they never collide with stored matches); goals are absent until played."""
    ordered = sorted(fixtures, key=lambda f: (f.match_date, f.competition, f.home_team))
    ids = [first_id - position for position in range(len(ordered))]
    frame = pd.DataFrame(
        {
            "match_id": ids,
            "competition": [f.competition for f in ordered],
            "season": [f.season for f in ordered],
            "match_date": [pd.Timestamp(f.match_date) for f in ordered],
            "kickoff_at": [pd.Timestamp(f.kickoff_at) if f.kickoff_at else pd.NaT for f in ordered],
            "home_team": [f.home_team for f in ordered],
            "away_team": [f.away_team for f in ordered],
        }
    )
    quotes = pd.DataFrame(
        [
            (match_id, q.bookmaker, q.market.value, q.selection.value, q.phase.value, q.line, q.price)
            for match_id, f in zip(ids, ordered, strict=True)
            for q in f.quotes
        ],
        columns=list(QUOTE_COLUMNS),
    )
    quotes["line"] = quotes["line"].astype("float64")
    return frame, quotes


def frames_from_matches(matches: Sequence[Match]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match and quote frames from parsed matches (ids by time order), for work that needs no store."""
    ordered = sorted(matches, key=lambda m: (m.match_date, m.competition, m.home_team))
    rows = [
        {
            "match_id": match_id,
            "competition": m.competition,
            "season": m.season,
            "match_date": pd.Timestamp(m.match_date),
            "kickoff_at": pd.Timestamp(m.kickoff_at) if m.kickoff_at else pd.NaT,
            "home_team": m.home_team,
            "away_team": m.away_team,
            "home_goals": m.home_goals,
            "away_goals": m.away_goals,
            "home_shots": m.stats.home_shots,
            "away_shots": m.stats.away_shots,
            "home_shots_on_target": m.stats.home_shots_on_target,
            "away_shots_on_target": m.stats.away_shots_on_target,
        }
        for match_id, m in enumerate(ordered)
    ]
    frame = pd.DataFrame(rows)
    for column in STAT_COLUMNS:
        frame[column] = frame[column].astype("float64")
    quotes = pd.DataFrame(
        [
            (match_id, q.bookmaker, q.market.value, q.selection.value, q.phase.value, q.line, q.price)
            for match_id, m in enumerate(ordered)
            for q in m.quotes
        ],
        columns=list(QUOTE_COLUMNS),
    )
    quotes["line"] = quotes["line"].astype("float64")
    return frame, quotes
