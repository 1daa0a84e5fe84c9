"""Indicator kernels: pure array functions over one series, oldest first.

Every kernel returns an array as long as its input whose element i depends only on elements 0..i, computed by
the same arithmetic whatever the array's length (cumulative sums, exact min/max, element-wise ratios). So the
value at an observation is the same whether the kernel ran on the history known at that instant or on a longer
one: `snapshot_history` relies on this to compute each kernel once, and a test checks it against `build_snapshot`.
`pos` is the observation's position on its own calendar: months (year*12+month) for monthly series, days else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from signals.params import IndicatorParams

Kernel = Callable[[np.ndarray, np.ndarray, IndicatorParams], np.ndarray]


def level(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    return x.astype(float)


def _back_index(pos: np.ndarray, lag: int) -> np.ndarray:
    """For each i, the index of the newest observation at least `lag` positions older (-1 if none)."""
    return np.searchsorted(pos, pos - lag, side="right") - 1


def annualised(months: int) -> Kernel:
    """Annualised change over `months` (percent); a missing base month uses the one before it, over the true span."""

    def kernel(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
        j = _back_index(pos, months)
        out = np.full(len(x), np.nan)
        ok = (j >= 0) & ((pos - pos[np.maximum(j, 0)]) <= months + 2)
        span = (pos - pos[np.maximum(j, 0)]).astype(float)
        ratio = x / x[np.maximum(j, 0)]
        out[ok] = (np.power(ratio[ok], 12.0 / span[ok]) - 1.0) * 100.0
        return out

    return kernel


def difference(lag: int) -> Kernel:
    """Change against the newest observation at least `lag` positions older (months for monthly series)."""

    def kernel(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
        j = _back_index(pos, lag)
        out = np.full(len(x), np.nan)
        ok = (j >= 0) & ((pos - pos[np.maximum(j, 0)]) <= lag + 1)
        out[ok] = (x[ok] - x[j[ok]]) / (pos[ok] - pos[j[ok]]) * lag
        return out

    return kernel


def change(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    """Change over `change_days` calendar days (against the newest value at least that old)."""
    j = _back_index(pos, p.change_days)
    out = np.full(len(x), np.nan)
    ok = j >= 0
    out[ok] = x[ok] - x[j[ok]]
    return out


def zscore(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    """(x - trailing mean) / trailing std over the last `zscore_observations` observations (cumulative sums)."""
    n = p.zscore_observations
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - n, 0)
    count = (idx - lo).astype(float)
    mean = (c1[idx] - c1[lo]) / count
    var = np.maximum((c2[idx] - c2[lo]) / count - mean * mean, 0.0)
    out = np.full(len(x), np.nan)
    ok = (count >= p.zscore_min_observations) & (var > 0)
    out[ok] = (x[ok] - mean[ok]) / np.sqrt(var[ok])
    return out


def _window_mean(pos: np.ndarray, x: np.ndarray, span: int) -> np.ndarray:
    """Mean of the observations within the last `span` positions (inclusive of the current one)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    j = np.searchsorted(pos, pos - span, side="right")
    idx = np.arange(1, len(x) + 1)
    return np.asarray((c[idx] - c[j]) / (idx - j), dtype=float)


def sahm(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    """Sahm rule: 3-month average unemployment minus its low over the prior 12 months (monthly positions)."""
    m3 = _window_mean(pos, x, 3)
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        lo = np.searchsorted(pos, pos[i] - 12, side="left")
        if lo < i and pos[i] - pos[0] >= 12:
            out[i] = m3[i] - m3[lo:i].min()
    return out


def rise_from_low_12m(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    """Unemployment now minus its lowest level over the last 12 months (monthly positions)."""
    out = np.full(len(x), np.nan)
    for i in range(len(x)):
        lo = np.searchsorted(pos, pos[i] - 12, side="left")
        if pos[i] - pos[0] >= 12:
            out[i] = x[i] - x[lo : i + 1].min()
    return out


def claims_average(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    n = p.claims_average_weeks
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - n, 0)
    out = np.asarray((c[idx] - c[lo]) / (idx - lo), dtype=float)
    out[idx < n] = np.nan
    return out


def claims_rise(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    """The claims average over its low of the last `claims_low_weeks` weeks, minus one."""
    avg = pd.Series(claims_average(pos, x, p))
    low = avg.rolling(p.claims_low_weeks, min_periods=p.claims_low_weeks).min().to_numpy()
    return np.asarray(avg.to_numpy() / low - 1.0, dtype=float)


def uninverted(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
    """1.0 when the curve is positive now but was inverted (<= inversion_depth) within the lookback, else 0.0."""
    s = pd.Series(x, index=pd.to_datetime(pos, unit="D"))
    low = s.rolling(f"{p.inversion_lookback_days}D", min_periods=1).min().to_numpy()
    return np.asarray((x > 0) & (low <= p.inversion_depth), dtype=float)


def trailing_max(sessions_of: Callable[[IndicatorParams], int]) -> Kernel:
    def kernel(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
        return np.asarray(pd.Series(x).rolling(sessions_of(p), min_periods=1).max().to_numpy(), dtype=float)

    return kernel


def drawdown(sessions_of: Callable[[IndicatorParams], int]) -> Kernel:
    def kernel(pos: np.ndarray, x: np.ndarray, p: IndicatorParams) -> np.ndarray:
        return np.asarray(x / trailing_max(sessions_of)(pos, x, p) - 1.0, dtype=float)

    return kernel
