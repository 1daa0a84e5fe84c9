"""Headline metrics of an equity curve, and buy-and-hold benchmark curves.

The same functions measure the strategy and its benchmarks, so the metrics table compares like with like.
Returns are daily, annualised with 252 sessions; Sharpe is of daily returns against zero (the strategy's idle
cash earns the bill rate, so its excess over bills would be the stricter measure - the table says which it is).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

SESSIONS_PER_YEAR = 252


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
    sharpe: float | None
    max_drawdown: float
    longest_drawdown_days: int
    calmar: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def drawdown(equity: pd.Series) -> pd.Series:
    """Equity over its running peak, minus one (<= 0)."""
    return equity / equity.cummax() - 1.0


def metrics(equity: pd.Series) -> Metrics:
    """Metrics of a curve indexed by day. Raises ValueError on an empty or non-positive curve."""
    curve = equity.dropna().astype(float)
    if curve.empty:
        raise ValueError("no equity rows to measure")
    if (curve <= 0).any():
        raise ValueError("equity must stay positive to be measured")
    first, last = float(curve.iloc[0]), float(curve.iloc[-1])
    total = last / first - 1.0
    years = (curve.index[-1] - curve.index[0]).days / 365.25
    cagr = (last / first) ** (1.0 / years) - 1.0 if years > 0 else None
    daily = curve.pct_change().dropna()
    vol = float(daily.std(ddof=1)) * math.sqrt(SESSIONS_PER_YEAR) if len(daily) > 1 else None
    mean = float(daily.mean()) * SESSIONS_PER_YEAR if len(daily) else 0.0
    sharpe = mean / vol if vol else None
    dd = drawdown(curve)
    max_dd = float(dd.min())
    return Metrics(
        start=curve.index[0].date().isoformat(),
        end=curve.index[-1].date().isoformat(),
        days=len(curve),
        start_equity=first,
        end_equity=last,
        total_return=total,
        cagr=cagr,
        volatility=vol,
        sharpe=sharpe,
        max_drawdown=max_dd,
        longest_drawdown_days=_longest_underwater(dd),
        calmar=cagr / -max_dd if cagr is not None and max_dd < 0 else None,
    )


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
