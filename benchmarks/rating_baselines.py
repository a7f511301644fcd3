"""Issue 4's sanity figure: how far one rating feature gets on the EPL next to the base rate and the market.

For each test season S (2019-20 to 2022-23) an ordered logit (`matchday.models.rating_logit`) is fitted once on
the E0 matches of the `--train-seasons` seasons before S (S-5 .. S-1 by default) with x = `elo_diff` (Elo-only)
and, separately, x = `pi_expected_gd` (pi-only), then predicts every match of S. Beside them, on the same
matches: Pinnacle's closing no-vig probabilities (`close_pinnacle_{h,d,a}`, multiplicative) and the base rate
(home/draw/away frequencies of the same training seasons). Ratings use their default parameters and run over
every E0 season in the data folder (2005-06 on), pre-match only, so each season starts with its history.
Refitting once per season is enough for a sanity figure; weekly walk-forward refits are issue 5's job.
Usage: `python benchmarks/rating_baselines.py [--data-dir DIR] [--train-seasons N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.config import load_settings
from matchday.domain import season_label
from matchday.evaluation.metrics import AWAY, DRAW, HOME, N_OUTCOMES, log_loss, mean_rps
from matchday.features.frames import frames_from_matches
from matchday.features.table import build_feature_table
from matchday.ingest.football_data import parse_season_file
from matchday.models.rating_logit import OrderedLogit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_SEASONS = (2019, 2020, 2021, 2022)
RATINGS = {"Elo-only": "elo_diff", "pi-only": "pi_expected_gd"}
PINNACLE_CLOSE = ["close_pinnacle_h", "close_pinnacle_d", "close_pinnacle_a"]
FORECASTERS = (*RATINGS, "base rate", "Pinnacle closing")


@dataclass
class Scores:
    """Forecasts and results of one forecaster, gathered over seasons for the overall row."""

    probs: list[FloatArray] = field(default_factory=list)
    outcomes: list[IntArray] = field(default_factory=list)

    def add(self, probs: FloatArray, outcomes: IntArray) -> tuple[float, float]:
        self.probs.append(probs)
        self.outcomes.append(outcomes)
        return mean_rps(probs, outcomes), log_loss(probs, outcomes)

    def overall(self) -> tuple[float, float]:
        probs, outcomes = np.concatenate(self.probs), np.concatenate(self.outcomes)
        return mean_rps(probs, outcomes), log_loss(probs, outcomes)


def load_e0_table(data_dir: Path) -> pd.DataFrame:
    """The feature table of every E0 season file, with the result code as column `outcome`."""
    files = sorted((data_dir / "football-data" / "E0").glob("*.csv"))
    if not files:
        raise SystemExit(f"no E0 season files under {data_dir / 'football-data' / 'E0'}")
    matches, quotes = frames_from_matches([match for path in files for _, match in parse_season_file(path).matches])
    table = build_feature_table(matches, quotes)
    goal_diff = (matches["home_goals"] - matches["away_goals"]).to_numpy()
    # The table keeps the match frame's row order; the check guards the join of results by position.
    if not np.array_equal(table["match_id"].to_numpy(), matches["match_id"].to_numpy()):
        raise SystemExit("feature table rows are not in match-frame order")
    table["outcome"] = np.where(goal_diff > 0, HOME, np.where(goal_diff == 0, DRAW, AWAY)).astype(np.int64)
    return table


@dataclass(frozen=True)
class SeasonForecasts:
    """Every forecaster's probabilities for one test season's matches that have Pinnacle closing prices."""

    probs: dict[str, FloatArray]
    outcomes: IntArray
    missing: int  # matches of the season without Pinnacle closing prices, left out of every forecaster


def season_forecasts(table: pd.DataFrame, season: int, train_seasons: int) -> SeasonForecasts:
    """Fit on the `train_seasons` seasons before `season`, forecast `season`; prints the fitted models."""
    train = table[table["season"].between(season - train_seasons, season - 1)]
    test = table[table["season"] == season]
    missing = test[PINNACLE_CLOSE].isna().any(axis=1)
    test = test[~missing]
    outcomes = train["outcome"].to_numpy(dtype=np.int64)
    forecasts: dict[str, FloatArray] = {}
    for name, column in RATINGS.items():
        model = OrderedLogit.fit(train[column].to_numpy(), outcomes)
        print(
            f"  {name:<10} fit on {len(train)} matches: slope {model.slope:.6g}, "
            f"cutpoints {model.cut_away_draw:.4f} < {model.cut_draw_home:.4f}"
        )
        forecasts[name] = model.predict(test[column].to_numpy())
    base_rate = np.bincount(outcomes, minlength=N_OUTCOMES) / len(outcomes)
    print(f"  base rate (home, draw, away) = ({', '.join(f'{p:.4f}' for p in base_rate)})")
    forecasts["base rate"] = np.tile(base_rate, (len(test), 1))
    forecasts["Pinnacle closing"] = test[PINNACLE_CLOSE].to_numpy(dtype=np.float64)
    return SeasonForecasts(forecasts, test["outcome"].to_numpy(dtype=np.int64), int(missing.sum()))


def print_rows(label: str, n: int, rows: dict[str, tuple[float, float]]) -> None:
    print(f"{'season':<10}{'n':>6}  {'forecaster':<18}{'mean RPS':>10}{'log loss':>10}")
    for name, (rps, loss) in rows.items():
        print(f"{label:<10}{n:>6}  {name:<18}{rps:>10.4f}{loss:>10.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = load_settings().data_dir or REPO_ROOT.parent / "shared" / "data"
    parser.add_argument(
        "--data-dir", type=Path, default=default_dir, help="folder with football-data/ (MATCHDAY_DATA_DIR)"
    )
    parser.add_argument("--train-seasons", type=int, default=5, help="seasons before each test season to fit on")
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"# rating baselines (issue 4 sanity figure), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} cores"
    )
    table = load_e0_table(args.data_dir)
    seasons = sorted(table["season"].unique().tolist())
    print(f"# E0 {season_label(seasons[0])} .. {season_label(seasons[-1])}, {len(table)} matches from {args.data_dir}")
    print(f"# ordered logit refit once per test season on seasons S-{args.train_seasons} .. S-1 (not weekly)")
    print("# every forecaster is scored on the same matches: those of the season with Pinnacle closing prices")
    scores = {name: Scores() for name in FORECASTERS}
    total = missing_total = 0
    for season in TEST_SEASONS:
        print(
            f"\n## {season_label(season)}: fit on {season_label(season - args.train_seasons)} .. "
            f"{season_label(season - 1)}"
        )
        result = season_forecasts(table, season, args.train_seasons)
        print(f"  matches without Pinnacle closing prices (left out of every forecaster): {result.missing}")
        rows = {name: scores[name].add(result.probs[name], result.outcomes) for name in FORECASTERS}
        print_rows(season_label(season), len(result.outcomes), rows)
        total, missing_total = total + len(result.outcomes), missing_total + result.missing
    print(
        f"\n## overall {season_label(TEST_SEASONS[0])} .. {season_label(TEST_SEASONS[-1])} "
        f"({missing_total} matches without Pinnacle closing prices left out)"
    )
    print_rows("overall", total, {name: scores[name].overall() for name in FORECASTERS})
    print(f"\n# wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
