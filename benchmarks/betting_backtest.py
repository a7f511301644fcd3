"""Issue 9's figures: the stack's walk-forward value bets backtested at the opening prices, judged by closing line
value against Pinnacle's no-vig close, beside the controls (the market average's value bets; one unit on every
1X2 selection at the best opening price, at Pinnacle's opening price, at the market average's).

Reads the walk-forward predictions that `benchmarks/walk_forward.py --model stack --out DIR` writes
(DIR/<league>/predictions.csv); the prices and results come from the football-data season files. Usage:
`python benchmarks/betting_backtest.py --predictions DIR [--leagues E0 D1 I1 SP1 F1] [--min-edge 0.0]
[--out DIR]`: per league a table of every line, overall and per season, and bankroll.png / clv.png.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from machine import machine

from matchday.betting.backtest import parse_strategy
from matchday.betting.study import Study, StudyInputs, run_study, study_table
from matchday.betting.summary import Bootstrap, summarise
from matchday.betting.value import ValueFilter
from matchday.cli.bet_support import (
    frames_from_files,
    keyed_predictions,
    plot_study,
    read_predictions,
    table_records,
    text_table,
)
from matchday.config import load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = load_settings().data_dir or REPO_ROOT.parent / "shared" / "data"
    parser.add_argument("--data-dir", type=Path, default=default_dir, help="folder with football-data/")
    parser.add_argument("--predictions", type=Path, required=True, help="folder with <league>/predictions.csv")
    parser.add_argument("--leagues", nargs="+", default=["E0", "D1", "I1", "SP1", "F1"])
    parser.add_argument("--model", default="stack")
    parser.add_argument("--strategies", nargs="+", default=["flat:0.01", "kelly:0.25"])
    parser.add_argument("--min-edge", type=float, default=0.0)
    parser.add_argument("--named-books-only", action="store_true", help="best price without football-data's Max")
    parser.add_argument("--block-days", type=int, default=1, help="bootstrap block length in bet days")
    parser.add_argument("--out", type=Path, default=None, help="write tables (JSON) and plots per league here")
    return parser.parse_args()


def _league(args: argparse.Namespace, league: str, rules: ValueFilter) -> tuple[pd.DataFrame, Study]:
    started = time.perf_counter()
    matches, quotes = frames_from_files(args.data_dir, [league])
    predictions = keyed_predictions(read_predictions(args.predictions / league / "predictions.csv"), matches)
    inputs = StudyInputs(predictions, matches[["match_id", "home_goals", "away_goals"]], quotes)
    strategies = [parse_strategy(text, rules) for text in args.strategies]
    study = run_study(inputs, args.model, strategies, include_market_max=not args.named_books_only)
    bootstrap = Bootstrap(block_days=args.block_days)
    table = study_table(study, by=("season",), bootstrap=bootstrap)
    seconds = time.perf_counter() - started
    overall = table[table["season"] == "all"]
    print(f"\n## {league}: {predictions['match_id'].nunique()} matches predicted, {seconds:.1f} s\n")
    print(text_table(overall))
    print(f"\nper season, {args.model} lines:\n")
    print(text_table(table[(table["season"] != "all") & table["strategy"].str.startswith(args.model)], by=("season",)))
    if args.out is not None:
        folder = args.out / league
        plot_study(study, folder, f"{league} {args.model}")
        (folder / "table.json").write_text(json.dumps(table_records(table), indent=2, default=str) + "\n")
    return overall.assign(league=league), study


def _pooled(studies: list[Study], bootstrap: Bootstrap) -> pd.DataFrame:
    """Every league's bets of each line together (flat accounting: yield and CLV pool, bankrolls do not)."""
    rows = []
    for label in studies[0].ledgers:
        bets = pd.concat([study.ledgers[label] for study in studies], ignore_index=True)
        table = summarise(bets, studies[0].bankroll, compounding=False, bootstrap=bootstrap)
        rows.append(table.assign(strategy=label))
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    args = _arguments()
    rules = ValueFilter(min_edge=args.min_edge)
    books = "named books only" if args.named_books_only else "named books and football-data's Max"
    print(
        f"# betting backtest of {args.model}, min edge {args.min_edge:.3f}, best opening price over {books}, "
        f"CLV vs Pinnacle's multiplicative no-vig close; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}"
    )
    results = [_league(args, league, rules) for league in args.leagues]
    if len(results) > 1:
        combined = pd.concat([table for table, _ in results], ignore_index=True)
        print("\n## every league, overall lines\n")
        print(text_table(combined.rename(columns={"season": "_"}), by=("league",)))
        print(f"\n## {' + '.join(args.leagues)} pooled (ROI here: profit over one starting bankroll)\n")
        print(text_table(_pooled([study for _, study in results], Bootstrap(block_days=args.block_days))))


if __name__ == "__main__":
    main()
