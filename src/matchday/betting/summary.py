"""What a backtest's bets add up to: ROI, yield, hit rate, maximum drawdown, Sharpe ratio, number of bets and
closing line value, per group (league, season), with bootstrap intervals that resample blocks of bet days.

Definitions (per unit of money): yield = profit / turnover (the betting "ROI" per unit staked); ROI = profit /
starting bankroll for flat staking, and the compounded bankroll return prod(1 + r_d) - 1 for Kelly staking, r_d
being a day's profit over the bankroll before it (over the starting bankroll for flat staking, which may go
below zero: flat stakes do not stop at ruin); Sharpe = mean(r_d) / std(r_d) over bet days, not annualised;
maximum drawdown = the largest fall of the bankroll from a running peak, as a fraction of the peak; CLV = price
taken / Pinnacle's no-vig closing price - 1, averaged over the bets that Pinnacle priced at the close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from matchday.betting.errors import BettingInputError, require_columns

__all__ = ["Bootstrap", "bankroll_curve", "summarise"]

FloatArray = npt.NDArray[np.float64]
_NEEDED = ("match_date", "stake", "profit", "returned", "clv")


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """`resamples` draws of bet days in blocks of `block_days` consecutive bet days, `level` two-sided."""

    resamples: int = 2000
    block_days: int = 1
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.resamples < 100:
            raise BettingInputError("resamples", self.resamples, "must be >= 100")
        if self.block_days < 1:
            raise BettingInputError("block_days", self.block_days, "must be >= 1")
        if not 0.5 < self.level < 1.0:
            raise BettingInputError("level", self.level, "must be in (0.5, 1)")


def bankroll_curve(bets: pd.DataFrame, bankroll: float) -> pd.DataFrame:
    """The bankroll at the end of each bet day: match_date, profit, bankroll."""
    daily = bets.groupby("match_date", sort=True)["profit"].sum().reset_index()
    return daily.assign(bankroll=bankroll + daily["profit"].cumsum())


def _daily(bets: pd.DataFrame, bankroll: float) -> pd.DataFrame:
    """Per bet day: stake, profit, the bankroll before it, the CLV sum and count (for means over bets)."""
    frame = bets.assign(clv_sum=bets["clv"].fillna(0.0), clv_n=bets["clv"].notna().astype(float))
    daily = frame.groupby("match_date", sort=True)[["stake", "profit", "returned", "clv_sum", "clv_n"]].sum()
    daily["wins"] = frame.assign(won=frame["returned"] > frame["stake"]).groupby("match_date")["won"].sum()
    daily["bets"] = frame.groupby("match_date").size()
    daily["before"] = bankroll + daily["profit"].cumsum().shift(fill_value=0.0)
    return daily.reset_index()


_ARRAYS = ("stake", "profit", "before", "clv_sum", "clv_n")


def _stats(days: dict[str, FloatArray], bankroll: float, compounding: bool) -> dict[str, float]:
    """Metrics of bet days given as arrays (see `_ARRAYS`)."""
    stake, profit = days["stake"].sum(), days["profit"]
    # compounding stakes scale with the bankroll before each day; flat ones with the starting bankroll
    returns = profit / days["before"] if compounding else profit / bankroll
    roi = float(np.prod(1.0 + returns) - 1.0) if compounding else float(profit.sum() / bankroll)
    clv_n = days["clv_n"].sum()
    spread = returns.std(ddof=1) if len(returns) > 1 else 0.0
    return {
        "yield": float(profit.sum() / stake) if stake > 0 else float("nan"),
        "roi": roi,
        "mean_clv": float(days["clv_sum"].sum() / clv_n) if clv_n else float("nan"),
        "sharpe": float(returns.mean() / spread) if spread > 0 else 0.0,
    }


def _arrays(days: pd.DataFrame) -> dict[str, FloatArray]:
    return {name: days[name].to_numpy(dtype=np.float64) for name in _ARRAYS}


def _max_drawdown(days: pd.DataFrame, bankroll: float) -> float:
    curve = np.concatenate([[bankroll], bankroll + days["profit"].cumsum().to_numpy()])
    peaks = np.maximum.accumulate(curve)
    return float(np.max((peaks - curve) / peaks))


def _intervals(days: pd.DataFrame, bankroll: float, compounding: bool, boot: Bootstrap) -> dict[str, float]:
    rng = np.random.default_rng(boot.seed)
    n = len(days)
    starts = np.arange(max(n - boot.block_days + 1, 1))
    blocks = int(np.ceil(n / boot.block_days))
    draws: dict[str, list[float]] = {"yield": [], "roi": [], "mean_clv": []}
    arrays = _arrays(days)
    for _ in range(boot.resamples):
        chosen = rng.choice(starts, blocks)
        rows = (chosen[:, None] + np.arange(boot.block_days)[None, :]).ravel()[:n] % n
        stats = _stats({name: values[rows] for name, values in arrays.items()}, bankroll, compounding)
        for name, values in draws.items():
            values.append(stats[name])
    tail = (1.0 - boot.level) / 2.0 * 100.0
    out = {}
    for name, values in draws.items():
        low, high = np.nanpercentile(np.asarray(values), [tail, 100.0 - tail])
        out[f"{name}_low"], out[f"{name}_high"] = float(low), float(high)
    return out


def _summary_row(bets: pd.DataFrame, bankroll: float, compounding: bool, boot: Bootstrap) -> dict[str, float]:
    if bets.empty:
        return {"bets": 0.0}
    days = _daily(bets, bankroll)
    row = {"bets": float(len(bets)), "days": float(len(days)), "turnover": float(bets["stake"].sum())}
    row |= {"profit": float(bets["profit"].sum()), "hit_rate": float(days["wins"].sum() / len(bets))}
    row |= _stats(_arrays(days), bankroll, compounding)
    row["max_drawdown"] = _max_drawdown(days, bankroll)
    row["mean_price"] = float(bets["price"].mean())
    return row | _intervals(days, bankroll, compounding, boot)


def summarise(
    bets: pd.DataFrame,
    bankroll: float,
    *,
    compounding: bool,
    by: Sequence[str] = (),
    bootstrap: Bootstrap | None = None,
) -> pd.DataFrame:
    """One row overall and, with `by`, one per group, of the metrics in the module docstring. Per-group ROI and
    drawdown are measured as if each group were bet alone from `bankroll`."""
    require_columns("bets", bets.columns, (*_NEEDED, *by))
    boot = bootstrap or Bootstrap()
    rows = [{**dict.fromkeys(by, "all"), **_summary_row(bets, bankroll, compounding, boot)}]
    if by:
        for keys, group in bets.groupby(list(by), sort=True):
            named = dict(zip(by, keys if isinstance(keys, tuple) else (keys,), strict=True))
            rows.append({**named, **_summary_row(group, bankroll, compounding, boot)})
    return pd.DataFrame(rows)
