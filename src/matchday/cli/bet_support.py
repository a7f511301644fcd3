"""The edges of `matchday bet` and benchmarks/betting_backtest.py: match, quote and prediction frames read from
football-data files or the store, the study's table as text or JSON, and the PNG plots of bankroll and CLV."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sqlalchemy import Engine

from matchday.betting.study import Study
from matchday.domain import Match
from matchday.features.frames import frames_from_matches
from matchday.ingest.football_data import parse_season_file
from matchday.ingest.store.frames import load_match_frame, load_quote_frame

__all__ = [
    "TABLE_COLUMNS",
    "frames_from_files",
    "frames_from_store",
    "keyed_predictions",
    "plot_study",
    "read_predictions",
    "table_records",
    "text_table",
]

_MATCH_KEYS = ["competition", "match_date", "home_team", "away_team"]
TABLE_COLUMNS = ("bets", "mean_clv", "yield", "roi", "hit_rate", "max_drawdown", "sharpe")


def frames_from_files(data_dir: Path, leagues: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match and quote frames of every season file of `leagues` under `<data_dir>/football-data/`."""
    parsed: list[Match] = []
    for league in leagues:
        files = sorted((data_dir / "football-data" / league).glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"no season files under {data_dir / 'football-data' / league}")
        parsed.extend(match for path in files for _, match in parse_season_file(path).matches)
    return frames_from_matches(parsed)


def frames_from_store(engine: Engine, leagues: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    matches = load_match_frame(engine, leagues)
    if matches.empty:
        raise ValueError(f"the store holds no matches of {', '.join(leagues)}; run `matchday data ingest` first")
    return matches, load_quote_frame(engine, matches["match_id"].tolist())


def read_predictions(path: Path) -> pd.DataFrame:
    """A walk-forward predictions.csv (`matchday evaluate walk-forward` or benchmarks/walk_forward.py --out)."""
    frame = pd.read_csv(path, parse_dates=["match_date"])
    needed = [*_MATCH_KEYS, "season", "model", "p_home", "p_draw", "p_away"]
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ValueError(f"{path}: lacks column(s) {', '.join(missing)}")
    return frame


def keyed_predictions(predictions: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """The predictions with the match ids of `matches`, joined on competition, day and teams (a predictions file
    may come from another store or from files)."""
    ids = matches[[*_MATCH_KEYS, "match_id"]].assign(match_date=pd.to_datetime(matches["match_date"]))
    joined = predictions.drop(columns=["match_id"], errors="ignore").merge(ids, on=_MATCH_KEYS, how="inner")
    if joined.empty:
        raise ValueError("no prediction matches a stored match (competition, date and teams)")
    return joined


def table_records(table: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-safe rows (NaN as null)."""
    records = table.to_dict(orient="records")
    return [
        {str(k): (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in records
    ]


def _percent(row: pd.Series, name: str) -> str:
    value = float(row.get(name, np.nan))
    low, high = float(row.get(f"{name}_low", np.nan)), float(row.get(f"{name}_high", np.nan))
    if not math.isfinite(value):
        return "-"
    interval = f" ({low * 100:+.1f}, {high * 100:+.1f})" if math.isfinite(low) else ""
    return f"{value * 100:+.2f}{interval}"


def text_table(table: pd.DataFrame, by: Sequence[str] = ()) -> str:
    """A markdown table of the study: bets, mean CLV, yield and ROI (% with 95 % intervals), hit rate, drawdown,
    Sharpe."""
    header = ["strategy", *by, "bets", "mean CLV %", "yield %", "ROI %", "hit rate", "max DD", "Sharpe"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [str(row["strategy"]), *(str(row[c]) for c in by), f"{int(row['bets']):,}"]
        cells += [_percent(row, "mean_clv"), _percent(row, "yield"), _percent(row, "roi")]
        cells += [f"{row.get('hit_rate', np.nan):.3f}", f"{row.get('max_drawdown', np.nan):.2f}"]
        cells += [f"{row.get('sharpe', np.nan):.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_study(study: Study, out_dir: Path, title: str) -> tuple[Path, Path]:
    """bankroll.png (bankroll of each strategy, in units of the starting bankroll; the unit-stake controls as
    cumulative profit per bet staked) and clv.png (running mean CLV of every line), both over the match days."""
    out_dir.mkdir(parents=True, exist_ok=True)
    bankroll_path, clv_path = out_dir / "bankroll.png", out_dir / "clv.png"
    for path, kind in ((bankroll_path, "bankroll"), (clv_path, "clv")):
        figure = Figure(figsize=(12.0, 6.0), dpi=100)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot(1, 1, 1)
        for label, bets in study.ledgers.items():
            if bets.empty:
                continue
            ordered = bets.sort_values("match_date", kind="stable")
            days = pd.to_datetime(ordered["match_date"])
            if kind == "bankroll":
                scale = study.bankroll if not label.startswith("control: every") else float(len(ordered))
                values = 1.0 + ordered["profit"].cumsum() / scale
            else:
                clv = ordered["clv"]
                values = clv.fillna(0).cumsum() / clv.notna().cumsum().replace(0, np.nan) * 100.0
            ax.plot(days, values.to_numpy(), label=label, linewidth=1.0)
        ax.set_ylabel("bankroll / start" if kind == "bankroll" else "running mean CLV %")
        ax.axhline(1.0 if kind == "bankroll" else 0.0, color="grey", linewidth=0.5)
        ax.legend(fontsize=7, loc="best")
        ax.set_title(f"{title}: {'bankroll' if kind == 'bankroll' else 'closing line value'}")
        figure.savefig(path, format="png", metadata={"Software": None})
    return bankroll_path, clv_path
