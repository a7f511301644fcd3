"""How long a full-Bayesian (NUTS) Dixon-Coles fit takes on a real league, next to the MAP fit of the same data.

Fits `matchday.models.dixon_coles_bayes.fit_nuts` on the E0 matches of 2016-17 .. 2018-19 (1,140 matches, 26
teams), reference date 2019-08-01, default xi. The MAP fit runs first (its first call compiles the solver), then
the first NUTS fit (compiles the NUTS loop; fit_nuts starts its chains at the MAP, whose solver is then compiled),
then warm NUTS fits with other seeds, which reuse the compiled code as every refit of a rolling backtest does.
Prints the sampler settings, the wall time of each fit, the convergence diagnostics (largest split r_hat, smallest
effective sample size, divergent transitions after warmup) and the warm MAP fit time for reference.
Usage: `python benchmarks/dixon_coles_nuts.py [--data-dir DIR] [--chains N] [--warmup N] [--samples N]
[--chain-method vectorized|sequential] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pandas as pd

from matchday.config import load_settings
from matchday.features.frames import frames_from_matches
from matchday.ingest.football_data import parse_season_file
from matchday.models.dixon_coles import fit_map
from matchday.models.dixon_coles_bayes import ChainMethod, DixonColesPosterior, fit_nuts

REPO_ROOT = Path(__file__).resolve().parents[1]
SEASON_FILES = ("1617", "1718", "1819")
REFERENCE = pd.Timestamp("2019-08-01")
SETTINGS = ("num_chains", "num_warmup", "num_samples", "chain_method")


def load_matches(data_dir: Path) -> pd.DataFrame:
    folder = data_dir / "football-data" / "E0"
    paths = [folder / f"{season}.csv" for season in SEASON_FILES]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"missing season file(s): {', '.join(missing)}")
    matches, _ = frames_from_matches([match for path in paths for _, match in parse_season_file(path).matches])
    return matches


def report(label: str, seconds: float, posterior: DixonColesPosterior) -> None:
    print(
        f"{label:<28}{seconds:>8.2f} s   max r_hat {posterior.max_r_hat:.4f}   min ess {posterior.min_ess:7.1f}   "
        f"divergences {posterior.divergences}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = load_settings().data_dir or REPO_ROOT.parent / "shared" / "data"
    parser.add_argument(
        "--data-dir", type=Path, default=default_dir, help="folder with football-data/ (MATCHDAY_DATA_DIR)"
    )
    parser.add_argument("--chains", type=int, default=None, help="chains (default: fit_nuts's)")
    parser.add_argument("--warmup", type=int, default=None, help="warmup steps per chain (default: fit_nuts's)")
    parser.add_argument("--samples", type=int, default=None, help="draws kept per chain (default: fit_nuts's)")
    parser.add_argument("--chain-method", choices=get_args(ChainMethod), default=None, help="default: fit_nuts's")
    parser.add_argument("--repeat", type=int, default=2, help="warm fits after the first (seeds 1..N)")
    args = parser.parse_args()
    given = dict(zip(SETTINGS, (args.chains, args.warmup, args.samples, args.chain_method), strict=True))
    settings = {name: value for name, value in given.items() if value is not None}
    used = {name: inspect.signature(fit_nuts).parameters[name].default for name in SETTINGS} | settings
    print(
        f"# Dixon-Coles NUTS fit, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"{platform.platform()}, load average {os.getloadavg()[0]:.2f}"
    )
    matches = load_matches(args.data_dir)
    n_used = int((matches["match_date"] < REFERENCE).sum())
    print(f"# E0 2016-17 .. 2018-19 from {args.data_dir}: {n_used} matches before {REFERENCE.date()}")
    print(
        f"# chains {used['num_chains']}, chain method {used['chain_method']}, warmup {used['num_warmup']}, "
        f"samples {used['num_samples']} per chain"
    )
    started = time.perf_counter()
    params = fit_map(matches, REFERENCE)
    map_cold = time.perf_counter() - started
    print(f"{'MAP, compile + fit':<28}{map_cold:>8.2f} s")
    started = time.perf_counter()
    posterior = fit_nuts(matches, REFERENCE, seed=0, **settings)
    nuts_cold = time.perf_counter() - started
    report("NUTS, compile + run", nuts_cold, posterior)
    print(f"{'  both: a fresh process':<28}{map_cold + nuts_cold:>8.2f} s   (fit_nuts starts from fit_map's optimum)")
    for seed in range(1, args.repeat + 1):
        started = time.perf_counter()
        posterior = fit_nuts(matches, REFERENCE, seed=seed, **settings)
        report(f"NUTS, warm (seed {seed})", time.perf_counter() - started, posterior)
    started = time.perf_counter()
    params = fit_map(matches, REFERENCE)
    print(f"{'MAP, warm':<28}{time.perf_counter() - started:>8.2f} s")
    mean = posterior.mean_params()
    print(
        f"# last fit: home advantage {mean.home_advantage:.4f} (MAP {params.home_advantage:.4f}), "
        f"rho {mean.rho:.4f} (MAP {params.rho:.4f}); load average now {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
