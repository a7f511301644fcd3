"""Issue 5's speed goal for Dixon-Coles: the weekly walk-forward of four EPL seasons (2019-20 .. 2022-23) refits the
MAP model before every block on the last three seasons (xi = 0.0018, warm-started from last week's parameters): the
setup of the peer measured in the issue (penaltyblog 1.13), so the timings compare like for like.

The walk-forward is run twice in one process: the first run pays for JAX's compilation (the persistent compilation
cache is off here unless `--cache` is given), the second reuses the compiled solver. Printed: blocks, fits, total
and per-fit seconds (median and 90th percentile of individual fits), the median BFGS iterations, and the RPS next to
Pinnacle's opening prices. Usage: `python benchmarks/dixon_coles_speed.py [--data-dir DIR] [--cache]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from matchday.config import load_settings
from matchday.evaluation.dataset import dataset_from_files
from matchday.evaluation.report import metrics_table
from matchday.evaluation.walk_forward import WalkForwardConfig, walk_forward
from matchday.features.moments import Moment
from matchday.models.dixon_coles import DEFAULT_XI
from matchday.models.dixon_coles_model import DixonColesModel
from matchday.models.jax_cache import enable_compilation_cache
from matchday.models.market import MarketBaseline

REPO_ROOT = Path(__file__).resolve().parents[1]
SEASONS = (2019, 2020, 2021, 2022)


class TimedDixonColes(DixonColesModel):
    """Records the wall time of every fit."""

    def __init__(self) -> None:
        # The peer's setup (penaltyblog: three-year window, xi = 0.0018), so the timings compare like for like.
        super().__init__(xi=DEFAULT_XI, window_days=3 * 365)
        self.seconds: list[float] = []

    def fit(self, history: pd.DataFrame) -> None:
        began = time.perf_counter()
        super().fit(history)
        self.seconds.append(time.perf_counter() - began)


def run(dataset: pd.DataFrame, label: str) -> None:
    model = TimedDixonColes()
    began = time.perf_counter()
    result = walk_forward(
        dataset, [model], WalkForwardConfig(seasons=SEASONS), baselines=[MarketBaseline("pinnacle", Moment.OPEN)]
    )
    total = time.perf_counter() - began
    seconds = np.array(model.seconds)
    table = metrics_table(result.predictions, by=("competition",))
    overall = table[table["competition"] == "all"].set_index("model")
    print(
        f"{label:<6} blocks {result.blocks}, fits {len(seconds)}, walk-forward {total:.2f} s, "
        f"fitting {seconds.sum():.2f} s"
        f" (first fit {seconds[0]:.2f} s; median {np.median(seconds) * 1000:.1f} ms, p90 "
        f"{np.percentile(seconds, 90) * 1000:.1f} ms per fit); n {overall['n'].astype('int64')['dixon_coles']}, RPS "
        f"Dixon-Coles {overall.loc['dixon_coles', 'rps']:.4f}, "
        f"Pinnacle opening {overall.loc['pinnacle_open', 'rps']:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = load_settings().data_dir or REPO_ROOT.parent / "shared" / "data"
    parser.add_argument("--data-dir", type=Path, default=default_dir, help="folder with football-data/")
    parser.add_argument("--cache", action="store_true", help="use the persistent compilation cache in .matchday/")
    args = parser.parse_args()
    if args.cache:
        enable_compilation_cache(REPO_ROOT / ".matchday" / "jax-cache")
    print(
        f"# Dixon-Coles weekly walk-forward, E0 2019-20 .. 2022-23, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()}, {os.cpu_count()} cores, compilation cache {'on' if args.cache else 'off'}"
    )
    dataset, _ = dataset_from_files(args.data_dir, ["E0"], SEASONS[0], SEASONS[-1])
    run(dataset, "cold")
    run(dataset, "warm")


if __name__ == "__main__":
    main()
