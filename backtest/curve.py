"""A run's daily equity with the risk-free return of each day, scored over any set of its sessions.

Validation scores folds out of one continuous run per variant: the bot would have been running, so a fold's
return on its first session runs from the close before it (the book it inherited), not from cash.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from backtest import metrics
from backtest.run import BacktestResult

Ranges = Sequence[tuple[int, int]]  # half-open ranges of session positions


@dataclass(frozen=True, slots=True)
class Curve:
    days: tuple[date, ...]
    equity: tuple[float, ...]
    rf: tuple[float, ...]  # day i's risk-free return (what cash earned from close i-1 to close i)

    @classmethod
    def of(cls, result: BacktestResult) -> Curve:
        days, equity = zip(*result.equity_curve, strict=True)
        return cls(tuple(days), tuple(equity), tuple(result.rf))

    @classmethod
    def buy_and_hold(cls, days: Sequence[date], closes: Sequence[float], rf: Sequence[float]) -> Curve:
        return cls(tuple(days), tuple(float(c) for c in closes), tuple(rf))

    def returns(self) -> np.ndarray:
        """Day i's return from close i-1 to close i (0 on the first day)."""
        eq = np.asarray(self.equity, dtype=float)
        out = np.zeros(len(eq))
        out[1:] = eq[1:] / eq[:-1] - 1.0
        return out

    def excess(self) -> np.ndarray:
        """Daily returns over the bill rate (the first day, which has no return, dropped)."""
        return np.asarray(self.returns() - np.asarray(self.rf, dtype=float), dtype=float)[1:]

    def score(self, ranges: Ranges) -> metrics.Metrics:
        """The metrics over the sessions in `ranges`, one stitched curve when they are not contiguous
        (CAGR then counts sessions, 252 a year, so the gap between the ranges is not counted as time)."""
        spans = [(a, b) for a, b in ranges if a < b]
        if len(spans) == 1:
            a, b = spans[0]
            a = max(a - 1, 0)  # measure from the close before the first session
            return metrics.performance(self.days[a:b], self.equity[a:b], self.rf[a:b])
        r, rf = self.returns(), np.asarray(self.rf, dtype=float)
        picked = np.concatenate([np.arange(max(a, 1), b) for a, b in spans])
        equity = np.concatenate([[1.0], np.cumprod(1.0 + r[picked])]) * self.equity[0]
        days = [self.days[max(spans[0][0] - 1, 0)], *(self.days[i] for i in picked)]
        m = metrics.performance(days, equity.tolist(), [0.0, *rf[picked].tolist()])
        years = len(picked) / metrics.SESSIONS
        cagr = float((equity[-1] / equity[0]) ** (1.0 / years) - 1.0) if years > 0 and equity[-1] > 0 else float("nan")
        calmar = cagr / -m.max_drawdown if m.max_drawdown < 0 else float("nan")
        return dataclasses.replace(m, cagr=cagr, calmar=calmar if math.isfinite(calmar) else float("nan"))
