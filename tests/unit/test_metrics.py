"""Metrics on hand-made curves whose answers are known."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from backtest.metrics import MIN_CALENDAR_DAYS, MIN_RETURNS, buy_and_hold, max_drawdown, performance, table

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
    assert m.exposure == 0.5
    assert m.by_regime["b"].days == 2  # returns of days 2 and 3 (regime in force that day)
    assert m.by_regime["a"].total_return == pytest.approx(101 / 100 * 103 / 102 * 104 / 103 - 1)
    assert m.max_drawdown_peak == DAYS[1].isoformat()


def test_annualised_figures() -> None:
    days = [date(2020, 1, 1) + timedelta(days=2 * i) for i in range(MIN_RETURNS + 1)]
    assert (days[-1] - days[0]).days >= MIN_CALENDAR_DAYS
    eq = [100.0 * (1.01 if i % 3 else 0.995) ** i for i in range(MIN_RETURNS + 1)]
    m = performance(days, eq, [0.0] * len(eq), traded=[100.0] + [0.0] * MIN_RETURNS)
    years = 2 * MIN_RETURNS / 365.25
    assert m.cagr == pytest.approx((eq[-1] / eq[0]) ** (1 / years) - 1)
    r = np.diff(eq) / np.array(eq[:-1])
    assert m.volatility == pytest.approx(np.std(r, ddof=1) * math.sqrt(252))
    assert m.sharpe == pytest.approx(np.mean(r) / np.std(r, ddof=1) * math.sqrt(252))
    assert m.turnover == pytest.approx(100.0 / np.mean(eq) / years)


def test_too_few_returns_to_annualise_show_a_dash() -> None:
    """Two sessions (2026-06-08 .. 09 in the newcomer try-out) gave Sortino -15.87 and Calmar -193.77: below
    MIN_RETURNS daily returns and MIN_CALENDAR_DAYS every annualised figure is n/a, shown '-', null in JSON; the rest stays."""
    for n in (2, 6, MIN_RETURNS):  # n sessions = n - 1 returns
        days = [date(2026, 6, 8) + timedelta(days=i) for i in range(n)]
        eq = [100.0 - 0.7 * i for i in range(n)]
        m = buy_and_hold(days, eq, [0.0] * n, 1000.0)
        annualised = (m.cagr, m.volatility, m.sharpe, m.sortino, m.calmar, m.turnover)
        assert all(math.isnan(v) for v in annualised), (n, annualised)
        assert m.total_return == pytest.approx(eq[-1] / eq[0] - 1) and m.max_drawdown < 0
        js = m.to_json()
        assert all(js[k] is None for k in ("cagr", "volatility", "sharpe", "sortino", "calmar", "turnover"))
        rows = {line[:22].strip(): line[22:].strip() for line in table({"IWM": m}).splitlines()[1:]}
        assert rows["Sortino (over bills)"] == rows["Calmar"] == rows["turnover / year"] == "-", rows
        assert rows["total return"] != "-"
    days = [date(2026, 6, 8) + timedelta(days=2 * i) for i in range(MIN_RETURNS + 1)]
    enough = buy_and_hold(days, [100.0 - 0.7 * i for i in range(MIN_RETURNS + 1)], [0.0] * (MIN_RETURNS + 1), 1000.0)
    assert all(math.isfinite(v) for v in (enough.cagr, enough.sharpe, enough.sortino, enough.calmar, enough.turnover))
    year = [date(2020, 1, 1), date(2020, 12, 31)]  # two points a year apart: CAGR is measured, Sharpe is not
    sparse = performance(year, [100.0, 200.0], [0.0, 0.0])
    assert sparse.cagr == pytest.approx(1.0, rel=1e-2) and math.isnan(sparse.sharpe)


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
