"""Metrics on hand-made curves whose answers are known."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from backtest.metrics import buy_and_hold, max_drawdown, performance, table

DAYS = [date(2020, 1, 1) + timedelta(days=i) for i in range(6)]


def test_drawdown_dates_and_recovery() -> None:
    dd = max_drawdown(DAYS, np.array([100.0, 120.0, 90.0, 60.0, 100.0, 130.0]))
    assert dd.depth == pytest.approx(-0.5)
    assert (dd.peak, dd.trough, dd.recovered) == (DAYS[1], DAYS[3], DAYS[5])
    assert max_drawdown(DAYS[:3], np.array([1.0, 2.0, 3.0])).depth == 0.0


def test_performance_basics() -> None:
    eq = [100.0, 101.0, 99.0, 102.0, 103.0, 104.0]
    m = performance(DAYS, eq, [0.0] * 6, exposure=[0.5] * 6, traded=[100.0, 0, 0, 0, 0, 0], regimes=["a", "a", "b", "b", "a", "a"])
    assert m.total_return == pytest.approx(0.04)
    years = 5 / 365.25
    assert m.cagr == pytest.approx(1.04 ** (1 / years) - 1)
    r = np.diff(eq) / np.array(eq[:-1])
    assert m.volatility == pytest.approx(np.std(r, ddof=1) * math.sqrt(252))
    assert m.sharpe == pytest.approx(np.mean(r) / np.std(r, ddof=1) * math.sqrt(252))
    assert m.exposure == 0.5
    assert m.by_regime["b"].days == 2  # returns of days 2 and 3 (regime in force that day)
    assert m.by_regime["a"].total_return == pytest.approx(101 / 100 * 103 / 102 * 104 / 103 - 1)
    assert m.max_drawdown_peak == DAYS[1].isoformat()


def test_sharpe_is_over_the_bill_rate() -> None:
    eq = [100.0 * 1.0001**i for i in range(6)]
    m = performance(DAYS, eq, [0.0001] * 6)
    # A curve that earns exactly the bill rate has no excess return: Sharpe is 0 or undefined, never large.
    assert not (m.sharpe > 1e-3)


def test_buy_and_hold_and_json() -> None:
    m = buy_and_hold(DAYS, [10.0, 11, 12, 11, 13, 14], [0.0] * 6, 1000.0)
    assert m.total_return == pytest.approx(0.4)
    assert m.exposure == 1.0
    js = m.to_json()
    assert {"total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "exposure", "turnover"} <= set(js)
    assert "total return" in table({"x": m})
