"""Enumerations shared by every layer. Outcome order is (home, draw, away) everywhere."""

from enum import StrEnum

__all__ = ["Market", "Outcome", "Phase", "Selection", "TeamKind"]


class Outcome(StrEnum):
    HOME = "H"
    DRAW = "D"
    AWAY = "A"

    @classmethod
    def from_score(cls, home_goals: int, away_goals: int) -> "Outcome":
        if home_goals > away_goals:
            return cls.HOME
        if home_goals < away_goals:
            return cls.AWAY
        return cls.DRAW


class Market(StrEnum):
    MATCH_ODDS = "1x2"
    OVER_UNDER = "over_under"
    ASIAN_HANDICAP = "asian_handicap"


class Selection(StrEnum):
    HOME = "home"
    DRAW = "draw"
    AWAY = "away"
    OVER = "over"
    UNDER = "under"


class Phase(StrEnum):
    """When a price was quoted: `opening` is the earlier snapshot, `closing` the one at kickoff."""

    OPENING = "opening"
    CLOSING = "closing"


class TeamKind(StrEnum):
    CLUB = "club"
    NATIONAL = "national"
