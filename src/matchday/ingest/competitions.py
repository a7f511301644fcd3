"""Competitions Matchday knows, by football-data.co.uk division code."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INTERNATIONAL", "KNOWN_DIVISIONS", "Competition", "competition_for"]


@dataclass(frozen=True, slots=True)
class Competition:
    code: str
    name: str
    country: str
    tier: int | None  # 1 = top flight; None for internationals


_DIVISIONS = [
    Competition("E0", "Premier League", "England", 1),
    Competition("E1", "Championship", "England", 2),
    Competition("E2", "League One", "England", 3),
    Competition("E3", "League Two", "England", 4),
    Competition("EC", "National League", "England", 5),
    Competition("SC0", "Premiership", "Scotland", 1),
    Competition("SC1", "Championship", "Scotland", 2),
    Competition("SC2", "League One", "Scotland", 3),
    Competition("SC3", "League Two", "Scotland", 4),
    Competition("D1", "Bundesliga", "Germany", 1),
    Competition("D2", "2. Bundesliga", "Germany", 2),
    Competition("I1", "Serie A", "Italy", 1),
    Competition("I2", "Serie B", "Italy", 2),
    Competition("SP1", "La Liga", "Spain", 1),
    Competition("SP2", "Segunda Division", "Spain", 2),
    Competition("F1", "Ligue 1", "France", 1),
    Competition("F2", "Ligue 2", "France", 2),
    Competition("N1", "Eredivisie", "Netherlands", 1),
    Competition("B1", "Jupiler League", "Belgium", 1),
    Competition("P1", "Primeira Liga", "Portugal", 1),
    Competition("T1", "Super Lig", "Turkey", 1),
    Competition("G1", "Super League", "Greece", 1),
]
KNOWN_DIVISIONS: dict[str, Competition] = {c.code: c for c in _DIVISIONS}
INTERNATIONAL = Competition("INT", "International matches", "World", None)


def competition_for(code: str) -> Competition | None:
    if code == INTERNATIONAL.code:
        return INTERNATIONAL
    return KNOWN_DIVISIONS.get(code)
