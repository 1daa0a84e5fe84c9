"""Macro and market indicators, point-in-time.

`IndicatorBook.build(pit, cutoff, params)` computes every indicator kernel (signals/kernels.py) once over what was
known at `cutoff`; `readings(as_of)` then answers, for any `as_of <= cutoff`, from the observations available at
`as_of` only. A reading is stale when its newest observation became known longer ago than the frequency's limit;
a stale or missing reading has value None (the regime reports it and says which fallback applied).
NBER recession dates are never an input here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from clock import ensure_utc
from datastore.pit import PitData
from signals import kernels as k
from signals.params import IndicatorParams
from signals.snapshot import Reading

Frequency = Literal["daily", "weekly", "monthly"]


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    name: str
    source: str  # FRED series id, or "bars:<SYMBOL>" (close prices)
    frequency: Frequency
    kernel: k.Kernel
    description: str


def _drawdown_sessions(p: IndicatorParams) -> int:
    return p.drawdown_sessions


def _vix_sessions(p: IndicatorParams) -> int:
    return p.vix_peak_sessions


SPECS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec("core_pce_3m_ann", "PCEPILFE", "monthly", k.annualised(3), "core PCE inflation, 3-month annualised, %"),
    IndicatorSpec("core_pce_6m_ann", "PCEPILFE", "monthly", k.annualised(6), "core PCE inflation, 6-month annualised, %"),
    IndicatorSpec("core_pce_12m", "PCEPILFE", "monthly", k.annualised(12), "core PCE inflation, 12-month, %"),
    IndicatorSpec("core_cpi_3m_ann", "CPILFESL", "monthly", k.annualised(3), "core CPI inflation, 3-month annualised, %"),
    IndicatorSpec("core_cpi_6m_ann", "CPILFESL", "monthly", k.annualised(6), "core CPI inflation, 6-month annualised, %"),
    IndicatorSpec("core_cpi_12m", "CPILFESL", "monthly", k.annualised(12), "core CPI inflation, 12-month, %"),
    IndicatorSpec("unemployment", "UNRATE", "monthly", k.level, "unemployment rate, %"),
    IndicatorSpec("unemployment_3m_change", "UNRATE", "monthly", k.difference(3), "unemployment rate, 3-month change, pp"),
    IndicatorSpec("payrolls_3m_change", "PAYEMS", "monthly", k.difference(3), "nonfarm payrolls, 3-month change, thousands"),
    IndicatorSpec("unemployment_rise_12m", "UNRATE", "monthly", k.rise_from_low_12m, "unemployment minus its 12-month low, pp"),
    IndicatorSpec("sahm_computed", "UNRATE", "monthly", k.sahm, "Sahm rule computed from UNRATE as known, pp"),
    IndicatorSpec("sahm_realtime", "SAHMREALTIME", "monthly", k.level, "FRED's real-time Sahm rule, pp"),
    IndicatorSpec("claims_4w", "ICSA", "weekly", k.claims_average, "initial claims, 4-week average"),
    IndicatorSpec("claims_rise", "ICSA", "weekly", k.claims_rise, "claims 4-week average over its 26-week low, minus 1"),
    IndicatorSpec("baa_spread", "BAA10Y", "daily", k.level, "Moody's Baa minus 10-year Treasury, pp"),
    IndicatorSpec("baa_spread_3m_change", "BAA10Y", "daily", k.change, "Baa-10y spread, 3-month change, pp"),
    IndicatorSpec("baa_spread_z", "BAA10Y", "daily", k.zscore, "Baa-10y spread, 5-year z-score"),
    IndicatorSpec("hy_oas", "BAMLH0A0HYM2", "daily", k.level, "ICE BofA US high-yield OAS, pp"),
    IndicatorSpec("hy_oas_3m_change", "BAMLH0A0HYM2", "daily", k.change, "high-yield OAS, 3-month change, pp"),
    IndicatorSpec("hy_oas_z", "BAMLH0A0HYM2", "daily", k.zscore, "high-yield OAS, 5-year z-score"),
    IndicatorSpec("curve_10y3m", "T10Y3M", "daily", k.level, "10-year minus 3-month Treasury, pp"),
    IndicatorSpec("curve_10y2y", "T10Y2Y", "daily", k.level, "10-year minus 2-year Treasury, pp"),
    IndicatorSpec("curve_uninverted", "T10Y3M", "daily", k.uninverted, "1 when 10y-3m is positive again after an inversion"),
    IndicatorSpec("real_10y", "DFII10", "daily", k.level, "10-year TIPS real yield, %"),
    IndicatorSpec("real_10y_3m_change", "DFII10", "daily", k.change, "10-year TIPS real yield, 3-month change, pp"),
    IndicatorSpec("nfci", "NFCI", "weekly", k.level, "Chicago Fed National Financial Conditions Index"),
    IndicatorSpec("stlfsi", "STLFSI4", "weekly", k.level, "St. Louis Fed Financial Stress Index"),
    IndicatorSpec("vix", "bars:VIX", "daily", k.level, "VIX close (Cboe, from the VIX price bars)"),
    IndicatorSpec("vix_fred", "VIXCLS", "daily", k.level, "VIX close, FRED copy (next morning): fallback for the bars"),
    IndicatorSpec("vix_peak", "bars:VIX", "daily", k.trailing_max(_vix_sessions), "highest VIX close over the peak window"),
    IndicatorSpec("effr", "DFF", "daily", k.level, "effective federal funds rate, %"),
    IndicatorSpec("two_year", "DGS2", "daily", k.level, "2-year Treasury yield, %"),
    IndicatorSpec("bill_3m", "DTB3", "daily", k.level, "3-month Treasury bill (discount basis), %"),
    IndicatorSpec("iwm_close", "bars:IWM", "daily", k.level, "IWM close (dividend-adjusted in the pack)"),
    IndicatorSpec("iwm_high", "bars:IWM", "daily", k.trailing_max(_drawdown_sessions), "highest IWM close over the drawdown window"),
    IndicatorSpec("iwm_drawdown", "bars:IWM", "daily", k.drawdown(_drawdown_sessions), "IWM close over its trailing high, minus 1"),
    IndicatorSpec("spy_close", "bars:SPY", "daily", k.level, "SPY close (dividend-adjusted in the pack)"),
)

SOURCES: tuple[str, ...] = tuple(dict.fromkeys(s.source for s in SPECS))
SERIES_IDS: tuple[str, ...] = tuple(s for s in SOURCES if not s.startswith("bars:"))
SYMBOLS: tuple[str, ...] = tuple(s.split(":", 1)[1] for s in SOURCES if s.startswith("bars:"))


def _positions(periods: np.ndarray, frequency: Frequency) -> np.ndarray:
    if frequency == "monthly":
        return periods.astype("datetime64[M]").astype(np.int64)
    return periods.astype("datetime64[D]").astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Computed:
    """One indicator's kernel output, with the Python objects a Reading needs precomputed."""

    values: list[float | None]  # rounded to 10 decimals; None where the kernel has no value
    periods: list[date]
    available_at: list[datetime]
    available: np.ndarray  # int64 ns UTC, for the binary search

    @classmethod
    def of(cls, periods: np.ndarray, values: np.ndarray, available: np.ndarray) -> _Computed:
        rounded = [None if math.isnan(v) else round(float(v), 10) for v in values.tolist()]
        days = list(periods.astype("datetime64[D]").astype(object))
        instants = list(pd.to_datetime(available, unit="ns", utc=True).to_pydatetime())
        return cls(rounded, days, instants, available)


class IndicatorBook:
    """Every indicator's kernel output over the observations known at a cutoff, answerable at any earlier instant."""

    def __init__(self, computed: dict[str, _Computed], specs: Sequence[IndicatorSpec], params: IndicatorParams) -> None:
        self._computed = computed
        self._specs = {s.name: s for s in specs}
        self._params = params

    @classmethod
    def build(cls, pit: PitData, cutoff: datetime, params: IndicatorParams, specs: Sequence[IndicatorSpec] = SPECS) -> IndicatorBook:
        """Compute kernels from the observations with available_at <= cutoff (missing sources give no readings)."""
        cutoff = ensure_utc(cutoff)
        loaded_series, loaded_symbols = set(pit.series_ids()), set(pit.symbols())
        raw: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for source in dict.fromkeys(s.source for s in specs):
            if source.startswith("bars:"):
                sym = source.split(":", 1)[1]
                if sym in loaded_symbols:
                    bars = pit.bars_as_of(sym, cutoff)
                    raw[source] = (
                        bars.index.to_numpy("datetime64[ns]"),
                        bars["close"].to_numpy(float),
                        bars["available_at"].dt.as_unit("ns").astype("int64").to_numpy(),
                    )
            elif source in loaded_series:
                frame = pit.as_of(source, cutoff).sort_index()
                if not _prefix_ordered(frame):
                    raise ValueError(f"{source}: revised vintages are not supported by IndicatorBook yet (availability out of period order)")
                raw[source] = (
                    frame.index.to_numpy("datetime64[ns]"),
                    frame["value"].to_numpy(float),
                    frame["available_at"].dt.as_unit("ns").astype("int64").to_numpy(),
                )
        computed = {}
        for spec in specs:
            if spec.source in raw:
                periods, values, available = raw[spec.source]
                out = spec.kernel(_positions(periods, spec.frequency), values, params)
                computed[spec.name] = _Computed.of(periods, np.asarray(out, dtype=float), available)
        return cls(computed, specs, params)

    def _stale_ns(self, frequency: Frequency) -> int:
        days = {
            "daily": self._params.stale_days_daily,
            "weekly": self._params.stale_days_weekly,
            "monthly": self._params.stale_days_monthly,
        }[frequency]
        return days * 86_400 * 1_000_000_000

    def readings_at(self, instants: Sequence[datetime]) -> list[dict[str, Reading]]:
        """The readings at each instant: per indicator, its newest observation available by then.

        A value is None when the observation is stale (older, by availability, than its frequency's limit) or the
        kernel has no value there; `last_value` keeps the stale value for documented fallbacks.
        """
        ns = np.array([pd.Timestamp(ensure_utc(t)).value for t in instants], dtype=np.int64)
        if not len(ns):
            return []
        columns: list[list[Reading]] = []
        for name, spec in self._specs.items():
            c = self._computed.get(name)
            if c is None or not len(c.available):
                columns.append([MISSING] * len(ns))
                continue
            idx = np.searchsorted(c.available, ns, side="right") - 1
            stale = ns - c.available[np.maximum(idx, 0)] > self._stale_ns(spec.frequency)
            state = np.where(idx >= 0, 2 * idx + stale, -1)  # the observation used and whether it is stale
            starts = np.flatnonzero(np.concatenate(([True], state[1:] != state[:-1])))
            # one Reading per run of days on the same observation, equally stale: shared by those days
            made = [
                MISSING if i < 0 else Reading(None if old else c.values[i], c.periods[i], c.available_at[i], old, c.values[i])
                for i, old in zip(idx[starts].tolist(), stale[starts].tolist(), strict=True)
            ]
            runs = np.diff(np.concatenate((starts, [len(ns)])))
            columns.append([r for r, n in zip(made, runs.tolist(), strict=True) for _ in range(n)])
        names = list(self._specs)
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]

    def readings(self, as_of: datetime) -> dict[str, Reading]:
        return self.readings_at([as_of])[0]


MISSING = Reading(None, None, None, True)


def _prefix_ordered(frame: pd.DataFrame) -> bool:
    """True when availability rises with the period, so what was known at any instant is a prefix of the history."""
    avail = frame["available_at"].dt.as_unit("ns").astype("int64").to_numpy()
    return bool(np.all(np.diff(avail) >= 0))


def describe(name: str) -> str:
    return next((s.description for s in SPECS if s.name == name), name)


LookupFn = Callable[[str], Reading]
