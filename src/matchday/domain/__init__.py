"""Domain types: frozen dataclasses and enums, no I/O."""

from matchday.domain.enums import Market, Outcome, Phase, Selection, TeamKind
from matchday.domain.match import Fixture, Match, MatchStats, OddsQuote, season_label, season_of

__all__ = [
    "Fixture",
    "Market",
    "Match",
    "MatchStats",
    "OddsQuote",
    "Outcome",
    "Phase",
    "Selection",
    "TeamKind",
    "season_label",
    "season_of",
]
