"""Canonical team names. A source's spelling maps to one team through the alias table; a spelling never seen
before becomes a new team and is reported (with look-alikes already stored), never merged by guesswork:
Burnley and Barnsley are 0.8 similar and different clubs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NewTeam", "look_alikes"]


@dataclass(frozen=True, slots=True)
class NewTeam:
    source: str
    name: str
    look_alikes: tuple[str, ...]  # existing teams it might be an alias of; a person decides

    def describe(self) -> str:
        hint = f" (looks like: {', '.join(self.look_alikes)})" if self.look_alikes else ""
        return f"{self.name}{hint}"


def look_alikes(name: str, existing: Iterable[str], cutoff: float = 0.8) -> tuple[str, ...]:
    return tuple(difflib.get_close_matches(name, [e for e in existing if e != name], n=3, cutoff=cutoff))
