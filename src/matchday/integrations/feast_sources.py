"""The feature table reshaped into Feast's two offline sources, and Feast's column names mapped back to the table's.

`team_features.parquet` is long: one row per team per match, keyed by `team` and `event_timestamp` (the kickoff,
UTC), holding that team's own pre-match features with the side taken out of the name:

    team feature    home team's column      away team's column
    elo             elo_home                elo_away
    pi_home         pi_home_home            pi_away_home        (the team's home pi-rating)
    pi_away         pi_home_away            pi_away_away        (the team's away pi-rating)
    <x>             home_<x>                away_<x>            (form_*, venue_form_*, rest_days, matches_<W>d)

`venue_form_*` is the team's form at the venue of that match (home form for the home side, away form for the away
side), as in the table. `match_features.parquet` holds one row per match keyed by `match_id` and
`event_timestamp`: every other feature (`elo_diff`, `elo_expected_home`, `pi_expected_gd`, `h2h_*`, `open_*`,
`close_*`). Rows carry features known *before* kickoff, so the row stamped at a kickoff is the one a point-in-time
join at that kickoff must return. Pure pandas: no Feast import here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pandas as pd

from matchday.config import Settings
from matchday.features.table import KEY_COLUMNS

__all__ = [
    "MATCH_KEY",
    "MATCH_SOURCE",
    "TEAM_KEY",
    "TEAM_SOURCE",
    "TIMESTAMP",
    "Side",
    "SourceFiles",
    "TeamFeature",
    "match_feature_names",
    "match_frame",
    "source_dir",
    "table_column",
    "team_feature_map",
    "team_frame",
    "write_sources",
]

logger = logging.getLogger(__name__)

TEAM_KEY = "team"
MATCH_KEY = "match_id"
TIMESTAMP = "event_timestamp"
TEAM_SOURCE = "team_features.parquet"
MATCH_SOURCE = "match_features.parquet"
# Columns whose side is not a prefix: Elo and pi-ratings name the side in the middle or at the end.
_SPECIAL = {
    "elo": ("elo_home", "elo_away"),
    "pi_home": ("pi_home_home", "pi_away_home"),
    "pi_away": ("pi_home_away", "pi_away_away"),
}


class Side(StrEnum):
    HOME = "home"
    AWAY = "away"


@dataclass(frozen=True, slots=True)
class TeamFeature:
    """A team's feature (`name` in the team source) and the table columns it comes from for either side."""

    name: str
    home: str
    away: str

    def column(self, side: Side) -> str:
        return self.home if side is Side.HOME else self.away


@dataclass(frozen=True, slots=True)
class SourceFiles:
    team: Path
    match: Path
    team_rows: int
    match_rows: int


def source_dir(settings: Settings) -> Path:
    """Where the offline sources live by default: `<state_dir>/features`, absolute so the registry is cwd-proof."""
    return (settings.state_dir / "features").resolve()


def table_column(feature: str, side: Side) -> str:
    """The table's column for a team feature seen from `side` (`elo`, away -> `elo_away`)."""
    if feature in _SPECIAL:
        return _SPECIAL[feature][0 if side is Side.HOME else 1]
    return f"{side}_{feature}"


def team_feature_map(columns: Iterable[str]) -> tuple[TeamFeature, ...]:
    """The team features of a table with these columns, in table order; ValueError if a side lacks its mirror."""
    present = list(columns)
    known = set(present)
    names = [name for name, (home, _) in _SPECIAL.items() if home in known]
    names += [column.removeprefix("home_") for column in present if column.startswith("home_")]
    features = [TeamFeature(n, table_column(n, Side.HOME), table_column(n, Side.AWAY)) for n in names if n != "team"]
    mapped = {column for feature in features for column in (feature.home, feature.away)}
    lonely = sorted({f.home for f in features if f.away not in known} | (_side_columns(present) - mapped))
    if lonely:
        raise ValueError(f"team feature column(s) without the other side's column: {', '.join(lonely)}")
    order = {column: i for i, column in enumerate(present)}
    return tuple(sorted(features, key=lambda feature: order[feature.home]))


def _side_columns(columns: Iterable[str]) -> set[str]:
    special = {column for pair in _SPECIAL.values() for column in pair}
    return {
        column
        for column in columns
        if column not in KEY_COLUMNS and (column.startswith(("home_", "away_")) or column in special)
    }


def match_feature_names(columns: Sequence[str]) -> list[str]:
    """The match-level features: everything that is neither a key nor a team feature, in table order."""
    team = {column for feature in team_feature_map(columns) for column in (feature.home, feature.away)}
    return [column for column in columns if column not in KEY_COLUMNS and column not in team]


def _event_timestamp(kickoff: pd.Series) -> pd.Series:
    # The table's kickoff is UTC without a zone; Feast compares zone-aware UTC timestamps.
    stamps = pd.to_datetime(kickoff)
    return stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")


def team_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The long team source: one row per team per match, sorted by time then team."""
    features = team_feature_map(table.columns)
    sides = []
    for side in Side:
        part = table[[f"{side}_team", "kickoff", *(feature.column(side) for feature in features)]]
        renames = {f"{side}_team": TEAM_KEY, "kickoff": TIMESTAMP} | {f.column(side): f.name for f in features}
        sides.append(part.rename(columns=renames))
    frame = pd.concat(sides, ignore_index=True)
    frame[TIMESTAMP] = _event_timestamp(frame[TIMESTAMP])
    duplicated = frame.duplicated([TEAM_KEY, TIMESTAMP], keep=False)
    if duplicated.any():
        first = frame.loc[duplicated].iloc[0]
        raise ValueError(f"team {first[TEAM_KEY]!r} has two matches at {first[TIMESTAMP]}: a join could pick either")
    return frame.sort_values([TIMESTAMP, TEAM_KEY], kind="stable").reset_index(drop=True)


def match_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The match source: `match_id`, `event_timestamp` and the match-level features, sorted by time."""
    if not table["match_id"].is_unique:
        raise ValueError("feature table has duplicate match_id values")
    frame = table[["match_id", "kickoff", *match_feature_names(list(table.columns))]]
    frame = frame.rename(columns={"kickoff": TIMESTAMP})
    frame[TIMESTAMP] = _event_timestamp(frame[TIMESTAMP])
    return frame.sort_values([TIMESTAMP, MATCH_KEY], kind="stable").reset_index(drop=True)


def write_sources(table: pd.DataFrame, folder: Path) -> SourceFiles:
    """Write both sources into `folder` (each file replaced whole, so a reader never sees half of one)."""
    missing = [column for column in ("match_id", "kickoff", "home_team", "away_team") if column not in table.columns]
    if missing:
        raise ValueError(f"not a feature table: no {', '.join(missing)} column")
    teams, matches = team_frame(table), match_frame(table)  # both checked before either file is written
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / TEAM_SOURCE, folder / MATCH_SOURCE)
    for frame, path in zip((teams, matches), paths, strict=True):
        partial = path.with_suffix(".parquet.partial")
        frame.to_parquet(partial, index=False)
        partial.replace(path)
    logger.info(
        "feast.sources.written", extra={"folder": str(folder), "team_rows": len(teams), "match_rows": len(matches)}
    )
    return SourceFiles(*paths, len(teams), len(matches))
