"""A simulated league with known Dixon-Coles parameters, shared by the Dixon-Coles MAP and NUTS tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["START", "dc_matrix", "simulate_league"]

START = pd.Timestamp("2020-08-01")


def dc_matrix(lam: float, mu: float, rho: float, max_goals: int = 10) -> np.ndarray:
    """The Dixon-Coles grid written out cell by cell, independently of the module's vectorised code."""
    grid = np.zeros((max_goals + 1, max_goals + 1))
    for x in range(max_goals + 1):
        for y in range(max_goals + 1):
            tau = {(0, 0): 1 - lam * mu * rho, (0, 1): 1 + lam * rho, (1, 0): 1 + mu * rho, (1, 1): 1 - rho}
            p_x = math.exp(-lam) * lam**x / math.factorial(x)
            p_y = math.exp(-mu) * mu**y / math.factorial(y)
            grid[x, y] = tau.get((x, y), 1.0) * p_x * p_y
    grid /= grid.sum()
    return grid


def simulate_league(
    rng: np.random.Generator,
    attack: dict[str, np.ndarray],
    defence: np.ndarray,
    home: float,
    rho: float,
    seasons: int,
) -> pd.DataFrame:
    """Double round-robins, one round a week; `attack[team][season]` lets a team change between seasons."""
    teams = sorted(attack)
    rows = []
    for season in range(seasons):
        pairs = [(h, a) for h in range(len(teams)) for a in range(len(teams)) if h != a]
        rng.shuffle(pairs)
        for n, (h, a) in enumerate(pairs):
            lam = math.exp(home + attack[teams[h]][season] + defence[a])
            mu = math.exp(attack[teams[a]][season] + defence[h])
            cell = rng.choice(121, p=dc_matrix(lam, mu, rho).ravel())
            day = START + pd.Timedelta(days=365 * season + 7 * (n // (len(teams) // 2)))
            rows.append((day, teams[h], teams[a], int(cell // 11), int(cell % 11)))
    frame = pd.DataFrame(rows, columns=["match_date", "home_team", "away_team", "home_goals", "away_goals"])
    frame = frame.sort_values("match_date", kind="stable").reset_index(drop=True)
    frame.insert(0, "match_id", np.arange(len(frame)))
    return frame.assign(competition="SIM", season=2020)
