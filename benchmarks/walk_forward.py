"""Issue 5's headline figures: walk-forward RPS of the models next to Pinnacle's opening and closing prices.

For each league, the seasons 2019-20 .. 2022-23 (by default) are walked through week by week: every model is refit
on the matches before each block (7 days; the boosters every `--booster-refit-days`), predicts the block, and is
scored beside the market on exactly the same matches, with the paired bootstrap interval of the RPS difference to
Pinnacle's opening prices. Data: the football-data season files under the data folder (2005-06 onwards), read
directly, not from a store. Usage:
`python benchmarks/walk_forward.py [--leagues E0 SP1 I1 D1 F1] [--model stack] [--moment open] [--out DIR]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from matchday.config import load_settings
from matchday.domain import season_label
from matchday.evaluation.dataset import dataset_from_files
from matchday.evaluation.report import format_table, metrics_table, paired_comparisons, write_report
from matchday.evaluation.suites import MODEL_CHOICES, model_suite
from matchday.evaluation.walk_forward import WalkForwardConfig, walk_forward
from matchday.features.moments import Moment
from matchday.models.boosters import BoosterModel
from matchday.models.jax_cache import enable_compilation_cache

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = load_settings().data_dir or REPO_ROOT.parent / "shared" / "data"
    parser.add_argument("--data-dir", type=Path, default=default_dir, help="folder with football-data/")
    parser.add_argument("--leagues", nargs="+", default=["E0", "SP1", "I1", "D1", "F1"])
    parser.add_argument("--first", type=int, default=2019, help="first scored season (start year)")
    parser.add_argument("--last", type=int, default=2022, help="last scored season (start year)")
    parser.add_argument("--model", choices=MODEL_CHOICES, default="stack")
    parser.add_argument("--moment", choices=[m.value for m in Moment], default="open")
    parser.add_argument("--refit-days", type=int, default=7)
    parser.add_argument("--booster-refit-days", type=int, default=28)
    parser.add_argument("--warmup-seasons", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write a report folder per league here")
    args = parser.parse_args()
    enable_compilation_cache(REPO_ROOT / ".matchday" / "jax-cache")
    print(
        f"# walk-forward {args.model} ({args.moment}), {season_label(args.first)} .. {season_label(args.last)}, "
        f"refit every {args.refit_days} days (boosters every {args.booster_refit_days}), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores"
    )
    for league in args.leagues:
        started = time.perf_counter()
        suite = model_suite(args.model, Moment(args.moment))
        warmup = args.warmup_seasons if suite.stack else 0
        dataset, spec = dataset_from_files(args.data_dir, [league], args.first - warmup, args.last)
        config = WalkForwardConfig(
            seasons=tuple(range(args.first, args.last + 1)),
            refit_days=args.refit_days,
            warmup_seasons=args.warmup_seasons,
            model_refit_days={m.name: args.booster_refit_days for m in suite.models if isinstance(m, BoosterModel)},
        )
        loaded = time.perf_counter() - started
        result = walk_forward(dataset, suite.models, config, baselines=suite.baselines, stack=suite.stack)
        walked = time.perf_counter() - started - loaded
        print(f"\n## {league}: {len(dataset)} matches loaded in {loaded:.1f} s; walk-forward {walked:.1f} s")
        print(f"Elo parameters fitted on {', '.join(season_label(s) for s in spec.fitted_on) or 'defaults'}")
        fits = ", ".join(f"{n} {result.fits[n]} fits {result.fit_seconds[n]:.1f} s" for n in result.fits)
        print(f"{result.blocks} blocks; {fits}")
        if result.calibrations:
            print(f"stack calibration chosen per block: {result.calibrations}")
        print(format_table(metrics_table(result.predictions, by=("competition", "season"))))
        print(format_table(paired_comparisons(result.predictions, reference="pinnacle_open")))
        if args.out is not None:
            write_report(
                result.predictions,
                args.out / league,
                f"Walk-forward {args.model} ({args.moment}), {league}",
                {"league": league, "seasons": f"{season_label(args.first)} to {season_label(args.last)}"},
            )


if __name__ == "__main__":
    main()
