"""Headline metrics of a journaled equity curve, and buy-and-hold benchmark curves.

One definition of every figure: `backtest.metrics.performance` computes them here exactly as the backtest and the
sweep do, so a run shows the same Sharpe in `backtest`, `sweep`, `runs`, `compare` and the report. Sharpe and
Sortino are of daily returns over the bill rate: each day's risk-free return is the 3-month bill rate known at
the previous decision times the calendar days since the previous close / 365 (what the backtest credits on cash),
taken from the bill rate each journaled decision saw (`bill_returns`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtest.metrics import performance

SHARPE_LABEL = "Sharpe (over bills)"
SORTINO_LABEL = "Sortino (over bills)"


@dataclass(frozen=True, slots=True)
class Metrics:
    """What one equity curve did. Ratios are fractions (0.12 = 12 %); None when undefined (too short, flat)."""

    start: str
    end: str
    days: int
    start_equity: float
    end_equity: float
    total_return: float
    cagr: float | None
    volatility: float | None
    sharpe: float | None  # over the bill rate
    sortino: float | None  # over the bill rate
    max_drawdown: float
    longest_drawdown_days: int
    calmar: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def drawdown(equity: pd.Series) -> pd.Series:
    """Equity over its running peak, minus one (<= 0)."""
    return equity / equity.cummax() - 1.0


def bill_returns(bill_rates: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    """Each day's risk-free return on `index`: the bill rate (percent) known at the previous close (the latest
    decision's on or before it) x the calendar days since that close / 365; 0 on the first day and while no rate is
    known. `bill_rates` is indexed by decision day (NaN where a decision saw none)."""
    rates = bill_rates.dropna().astype(float).sort_index()
    if rates.empty or len(index) < 2:
        return pd.Series(0.0, index=index)
    known = rates.reindex(rates.index.union(index)).ffill().reindex(index).fillna(0.0).to_numpy()
    gaps = pd.Series(index, index=index).diff().dt.days.fillna(0).to_numpy()
    daily = np.zeros(len(index))
    daily[1:] = known[:-1] / 100.0 * gaps[1:] / 365.0
    return pd.Series(daily, index=index)


def metrics(equity: pd.Series, rf: pd.Series | None = None) -> Metrics:
    """Metrics of a curve indexed by day, over the risk-free returns `rf` (same index; none = zero). Raises
    ValueError on an empty or non-positive curve."""
    curve = equity.dropna().astype(float)
    if curve.empty:
        raise ValueError("no equity rows to measure")
    if (curve <= 0).any():
        raise ValueError("equity must stay positive to be measured")
    first, last = float(curve.iloc[0]), float(curve.iloc[-1])
    dd = drawdown(curve)
    cagr = volatility = sharpe = sortino = calmar = None
    if len(curve) >= 2:
        free = (rf if rf is not None else pd.Series(0.0, index=curve.index)).reindex(curve.index).fillna(0.0)
        m = performance([ts.date() for ts in curve.index], curve.tolist(), free.tolist())
        cagr, volatility, sharpe, sortino, calmar = (_finite(v) for v in (m.cagr, m.volatility, m.sharpe, m.sortino, m.calmar))
    return Metrics(
        start=curve.index[0].date().isoformat(), end=curve.index[-1].date().isoformat(), days=len(curve), start_equity=first, end_equity=last,
        total_return=last / first - 1.0, cagr=cagr, volatility=volatility, sharpe=sharpe, sortino=sortino, max_drawdown=float(dd.min()),
        longest_drawdown_days=_longest_underwater(dd), calmar=calmar,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _longest_underwater(dd: pd.Series) -> int:
    """The most sessions in a row spent below a previous peak."""
    longest = current = 0
    for value in dd.to_numpy():
        current = current + 1 if value < 0 else 0
        longest = max(longest, current)
    return longest


def buy_and_hold(closes: pd.Series, index: pd.DatetimeIndex, start_equity: float) -> pd.Series:
    """`start_equity` put into the asset at the first day's close and held: one value per day of `index`.

    Closes are forward-filled onto `index` (a holiday in one market keeps the last close).
    """
    aligned = closes.sort_index().reindex(closes.index.union(index)).ffill().reindex(index)
    if aligned.isna().all():
        raise ValueError("no benchmark closes within the run's days")
    aligned = aligned.bfill()
    return start_equity * aligned / float(aligned.iloc[0])


def benchmark_curves(closes: Mapping[str, pd.Series], equity: pd.Series) -> dict[str, pd.Series]:
    """Buy-and-hold equity of each benchmark over the days of `equity`, starting from its first value."""
    index = pd.DatetimeIndex(equity.index)
    return {symbol: buy_and_hold(series, index, float(equity.iloc[0])) for symbol, series in closes.items() if not series.dropna().empty}


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value * 100:.{digits}f}%"


def fmt_num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:,.{digits}f}"
