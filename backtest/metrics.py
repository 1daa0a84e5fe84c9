"""Performance metrics from a daily equity curve: pure functions, fractions not percent.

Returns are close to close. The risk-free return of each day is what cash earned that day (the 3-month bill
rate known at the previous close, simple interest over the calendar days), so Sharpe and Sortino are over the
bill rate. Annualisation uses 252 sessions; CAGR uses calendar time (365.25 days a year).

Annualised figures need a minimum sample; below it they are NaN (shown `-`, null in JSON): volatility, Sharpe and
Sortino need `MIN_RETURNS` daily returns (about a trading month: fewer give a standard deviation of a handful of
days), CAGR, Calmar and turnover per year need `MIN_CALENDAR_DAYS` between the first and last day (they are scaled
by calendar time; a shorter span multiplies a few days' result by more than twelve). Two sessions annualised
extrapolate one day's move ~250-fold: a backtest of 2026-06-08 .. 2026-06-09 showed Sortino
-15.87, Calmar -193.77 and a buy-and-hold turnover of 364.67 a year, numbers that say nothing about the strategy.
Total return and max drawdown are not extrapolated and are always shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

SESSIONS = 252
MIN_RETURNS = 20  # daily returns volatility, Sharpe and Sortino need (see the module docstring)
MIN_CALENDAR_DAYS = 28  # calendar days CAGR, Calmar and turnover per year need


@dataclass(frozen=True, slots=True)
class Drawdown:
    depth: float  # <= 0
    peak: date | None
    trough: date | None
    recovered: date | None  # first close back at the peak, None if never


@dataclass(frozen=True, slots=True)
class RegimeSlice:
    days: int
    total_return: float  # compounded over the days spent in the regime
    share_of_log_return: float  # this regime's part of the whole run's log return


@dataclass(frozen=True, slots=True)
class Metrics:
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_peak: str | None
    max_drawdown_trough: str | None
    max_drawdown_recovered: str | None
    calmar: float
    exposure: float  # mean share of equity held in the traded ETF
    turnover: float  # traded notional / mean equity, per year
    hedge_cost: float = 0.0  # put premium and fees paid (dollars)
    hedge_payoff: float = 0.0  # put sale proceeds and settlements (dollars)
    by_regime: dict[str, RegimeSlice] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def max_drawdown(days: Sequence[date], equity: np.ndarray) -> Drawdown:
    """The deepest fall from a running high, with the dates of the high, the low and the recovery."""
    if len(equity) == 0:
        return Drawdown(0.0, None, None, None)
    peaks = np.maximum.accumulate(equity)
    dd = equity / peaks - 1.0
    trough = int(np.argmin(dd))
    if dd[trough] >= 0:
        return Drawdown(0.0, None, None, None)
    peak = int(np.argmax(equity[: trough + 1]))
    after = np.nonzero(equity[trough:] >= equity[peak])[0]
    recovered = days[trough + int(after[0])] if len(after) else None
    return Drawdown(float(dd[trough]), days[peak], days[trough], recovered)


def performance(
    days: Sequence[date],
    equity: Sequence[float],
    rf: Sequence[float],
    *,
    exposure: Sequence[float] | None = None,
    traded: Sequence[float] | None = None,
    regimes: Sequence[str | None] | None = None,
    hedge_cost: float = 0.0,
    hedge_payoff: float = 0.0,
) -> Metrics:
    """Metrics of one equity curve. `rf[i]` is day i's risk-free return; `exposure[i]` the ETF share of equity."""
    eq = np.asarray(equity, dtype=float)
    if len(eq) < 2:
        raise ValueError("need at least two days of equity")
    r = eq[1:] / eq[:-1] - 1.0
    excess = r - np.asarray(rf, dtype=float)[1:]
    total = float(eq[-1] / eq[0] - 1.0)
    years = (days[-1] - days[0]).days / 365.25
    cagr = float((eq[-1] / eq[0]) ** (1.0 / years) - 1.0) if years > 0 and eq[-1] > 0 else float("nan")
    vol = float(np.std(r, ddof=1) * math.sqrt(SESSIONS)) if len(r) > 1 else float("nan")
    sd = float(np.std(excess, ddof=1)) if len(r) > 1 else float("nan")
    sharpe = _ratio(float(np.mean(excess)) * math.sqrt(SESSIONS), sd)
    downside = float(math.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    sortino = _ratio(float(np.mean(excess)) * math.sqrt(SESSIONS), downside)
    dd = max_drawdown(days, eq)
    calmar = _ratio(cagr, -dd.depth)
    expo = float(np.mean(np.asarray(exposure, dtype=float))) if exposure is not None else 1.0
    turnover = _ratio(float(np.sum(np.asarray(traded, dtype=float))) / float(np.mean(eq)), years) if traded is not None else 0.0
    if len(r) < MIN_RETURNS:  # too few to annualise (see the module docstring)
        vol = sharpe = sortino = float("nan")
    if (days[-1] - days[0]).days < MIN_CALENDAR_DAYS:
        cagr = calmar = float("nan")
        turnover = float("nan") if traded is not None else 0.0
    return Metrics(
        total,
        cagr,
        vol,
        sharpe,
        sortino,
        dd.depth,
        None if dd.peak is None else dd.peak.isoformat(),
        None if dd.trough is None else dd.trough.isoformat(),
        None if dd.recovered is None else dd.recovered.isoformat(),
        calmar,
        expo,
        turnover,
        hedge_cost,
        hedge_payoff,
        by_regime(r, regimes[1:]) if regimes is not None else {},
    )


def by_regime(returns: np.ndarray, regimes: Sequence[str | None]) -> dict[str, RegimeSlice]:
    """Daily returns grouped by the regime in force that day (decided at the previous close)."""
    logs = np.log1p(returns)
    whole = float(np.sum(logs))
    out: dict[str, RegimeSlice] = {}
    names = np.asarray([r or "none" for r in regimes])
    for name in sorted(set(names.tolist())):
        mask = names == name
        part = float(np.sum(logs[mask]))
        out[name] = RegimeSlice(int(mask.sum()), float(math.expm1(part)), _ratio(part, abs(whole)) if whole != 0 else float("nan"))
    return out


def buy_and_hold(days: Sequence[date], closes: Sequence[float], rf: Sequence[float], initial: float) -> Metrics:
    """A benchmark over the same sessions: all in at the first close, held, no costs (dividends are in the prices)."""
    c = np.asarray(closes, dtype=float)
    equity = initial * c / c[0]
    traded = np.zeros(len(c))
    traded[0] = initial
    return performance(days, equity.tolist(), rf, exposure=[1.0] * len(c), traded=traded.tolist())


def table(rows: dict[str, Metrics]) -> str:
    """A readable comparison table: one column per curve."""
    spec = [
        ("total return", "total_return", "{:.1%}"),
        ("CAGR", "cagr", "{:.2%}"),
        ("volatility", "volatility", "{:.1%}"),
        ("Sharpe (over bills)", "sharpe", "{:.2f}"),
        ("Sortino (over bills)", "sortino", "{:.2f}"),
        ("max drawdown", "max_drawdown", "{:.1%}"),
        ("  peak", "max_drawdown_peak", "{}"),
        ("  trough", "max_drawdown_trough", "{}"),
        ("  recovered", "max_drawdown_recovered", "{}"),
        ("Calmar", "calmar", "{:.2f}"),
        ("exposure", "exposure", "{:.0%}"),
        ("turnover / year", "turnover", "{:.2f}"),
        ("hedge cost $", "hedge_cost", "{:,.0f}"),
        ("hedge payoff $", "hedge_payoff", "{:,.0f}"),
    ]
    names = list(rows)
    width = max(12, *(len(n) for n in names))
    lines = [f"{'':<22}" + "".join(f"{n:>{width + 2}}" for n in names)]
    for label, key, fmt in spec:
        cells = []
        for n in names:
            v = getattr(rows[n], key)
            cells.append("-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v))
        lines.append(f"{label:<22}" + "".join(f"{c:>{width + 2}}" for c in cells))
    return "\n".join(lines)


def regime_table(m: Metrics) -> str:
    lines = [f"{'regime':<16}{'days':>7}{'return':>10}{'share of log return':>22}"]
    for name, s in m.by_regime.items():
        share = "-" if not math.isfinite(s.share_of_log_return) else f"{s.share_of_log_return:.0%}"
        lines.append(f"{name:<16}{s.days:>7}{s.total_return:>10.1%}{share:>22}")
    return "\n".join(lines)
