"""Domain types: frozen dataclasses and enums, no I/O."""

from matchday.domain.enums import Market, Outcome, Phase, Selection, TeamKind
from matchday.domain.match import Fixture, Match, MatchStats, OddsQuote, season_label, season_of
from matchday.domain.score_grid import ScoreGrid

__all__ = [
    "Fixture",
    "Market",
    "Match",
    "MatchStats",
    "OddsQuote",
    "Outcome",
    "Phase",
    "ScoreGrid",
    "Selection",
    "TeamKind",
    "season_label",
    "season_of",
]
