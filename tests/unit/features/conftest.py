"""Fixtures shared by the feature tests: a simulated league with known strengths, and real E0 seasons."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matchday.features.frames import MATCH_COLUMNS
from matchday.ingest.football_data import parse_season_file

SIM_TEAMS = 10
SIM_SEASONS = (2019, 2020, 2021)
E0_FILES = ("1920.csv", "2021.csv", "2122.csv", "2223.csv")  # seasons 2019-20 to 2022-23


def simulate_league(
    seed: int = 20240601, teams: int = SIM_TEAMS, seasons: tuple[int, ...] = SIM_SEASONS
) -> tuple[pd.DataFrame, pd.Series]:
    """A double round robin per season (one round a week, circle method) with Poisson goals from fixed strengths:
    log mean goals = 0.2 + 0.25 (home) + own strength - opponent's. Returns the match frame and the strengths."""
    rng = np.random.default_rng(seed)
    names = [f"T{i:02d}" for i in range(teams)]
    strength = pd.Series(rng.permutation(np.linspace(-0.6, 0.6, teams)), index=names, name="strength")
    rows = []
    for season in seasons:
        order = list(rng.permutation(teams))
        rounds = []
        for _ in range(teams - 1):
            rounds.append([(order[i], order[teams - 1 - i]) for i in range(teams // 2)])
            order = [order[0], order[-1], *order[1:-1]]  # rotate every team but the first
        rounds += [[(away, home) for home, away in pairs] for pairs in rounds]
        for week, pairs in enumerate(rounds):
            day = pd.Timestamp(season, 8, 8) + pd.Timedelta(weeks=week)
            for h, a in pairs:
                home, away = names[h], names[a]
                edge = strength[home] - strength[away]
                goals = rng.poisson([np.exp(0.45 + edge), np.exp(0.2 - edge)])
                rows.append(["SIM", season, day, home, away, int(goals[0]), int(goals[1])])
    matches = pd.DataFrame(rows, columns=MATCH_COLUMNS[1:]).sort_values("match_date", kind="stable")
    matches.insert(0, "match_id", np.arange(len(matches)))
    return matches.reset_index(drop=True), strength


@pytest.fixture(scope="session")
def simulated_league() -> tuple[pd.DataFrame, pd.Series]:
    return simulate_league()


@pytest.fixture(scope="session")
def league_simulator() -> Callable[..., tuple[pd.DataFrame, pd.Series]]:
    """`simulate_league` itself, for a test that needs another seed or size."""
    return simulate_league


@pytest.fixture(scope="session")
def e0_matches(football_data_dir: Path) -> pd.DataFrame:
    """E0 2019-20 to 2022-23 as a match frame: sorted by date (file order within a day), match_id a running index."""
    rows = []
    for name in E0_FILES:
        path = football_data_dir / "E0" / name
        if not path.is_file():
            pytest.skip(f"{path} not found")
        for _, m in parse_season_file(path).matches:
            rows.append([m.competition, m.season, m.match_date, m.home_team, m.away_team, m.home_goals, m.away_goals])
    matches = pd.DataFrame(rows, columns=MATCH_COLUMNS[1:])
    matches["match_date"] = pd.to_datetime(matches["match_date"])
    matches = matches.sort_values("match_date", kind="stable").reset_index(drop=True)
    matches.insert(0, "match_id", np.arange(len(matches)))
    return matches
