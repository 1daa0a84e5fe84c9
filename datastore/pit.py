"""Point-in-time views: what was known of each series and each price history at an instant.

`PitData` is loaded once from the store and answers `as_of(series, ts)` in memory, so a backtest can ask every day
without touching SQLite. It is the one implementation of the as-of rule: for each period, the latest vintage with
`available_at <= ts`; missing values are never returned (a missing value is not knowledge).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from clock import ensure_utc
from datastore.errors import UnknownSeries
from datastore.pack import Meeting
from datastore.store import Store


def _ns(ts: datetime) -> np.int64:
    return np.int64(pd.Timestamp(ensure_utc(ts)).value)


@dataclass(frozen=True, slots=True)
class PitSeries:
    """One series' observations sorted by available_at (then period)."""

    series: str
    periods: np.ndarray  # datetime64[ns]
    values: np.ndarray  # float64
    available: np.ndarray  # int64 ns since epoch, UTC
    simple: bool  # one vintage per period and available_at ascending with period: as-of is a prefix

    @classmethod
    def from_frame(cls, series: str, frame: pd.DataFrame) -> PitSeries:
        known = frame[frame["value"].notna()].sort_values(["available_at", "period"], kind="stable")
        periods = known["period"].to_numpy(dtype="datetime64[ns]")
        available = known["available_at"].dt.as_unit("ns").astype("int64").to_numpy()
        simple = bool(len(periods) == 0 or (np.all(np.diff(periods.astype("int64")) > 0)))
        return cls(series, periods, known["value"].to_numpy(dtype=float), np.asarray(available, dtype=np.int64), simple)

    def _cut(self, ts: datetime) -> int:
        return int(np.searchsorted(self.available, _ns(ts), side="right"))

    def as_of(self, ts: datetime) -> pd.DataFrame:
        """Indexed by period: value and available_at, as known at `ts`."""
        n = self._cut(ts)
        frame = pd.DataFrame(
            {"value": self.values[:n], "available_at": pd.to_datetime(self.available[:n], unit="ns", utc=True)},
            index=pd.DatetimeIndex(self.periods[:n], name="period"),
        )
        if not self.simple:
            frame = frame[~frame.index.duplicated(keep="last")].sort_index()
        return frame

    def values_as_of(self, ts: datetime) -> pd.Series:
        """The values known at `ts`, indexed by period (the cheap form signals use)."""
        n = self._cut(ts)
        if self.simple:
            return pd.Series(self.values[:n], index=pd.DatetimeIndex(self.periods[:n], name="period"), name=self.series)
        return self.as_of(ts)["value"].rename(self.series)

    def last_available_at(self) -> pd.Timestamp | None:
        return pd.Timestamp(self.available[-1], tz="UTC") if len(self.available) else None


@dataclass(frozen=True, slots=True)
class PitBars:
    """A symbol's daily bars; a bar is known from its session's close."""

    symbol: str
    frame: pd.DataFrame  # index day; open, high, low, close, volume, available_at
    available: np.ndarray  # int64 ns

    @classmethod
    def from_frame(cls, symbol: str, frame: pd.DataFrame) -> PitBars:
        return cls(symbol, frame, frame["available_at"].dt.as_unit("ns").astype("int64").to_numpy())

    def as_of(self, ts: datetime) -> pd.DataFrame:
        return self.frame.iloc[: int(np.searchsorted(self.available, _ns(ts), side="right"))]


class PitData:
    """Everything a decision may read, as of any instant."""

    def __init__(self, series: dict[str, PitSeries], bars: dict[str, PitBars], meetings: list[Meeting]) -> None:
        self._series = series
        self._bars = bars
        self.meetings = meetings

    @classmethod
    def load(cls, store: Store, series: Iterable[str], symbols: Iterable[str]) -> PitData:
        return cls(
            {s: PitSeries.from_frame(s, store.observations(s)) for s in series},
            {sym: PitBars.from_frame(sym, store.bars(sym)) for sym in symbols},
            store.meetings(),
        )

    def series_ids(self) -> list[str]:
        return sorted(self._series)

    def symbols(self) -> list[str]:
        return sorted(self._bars)

    def pit_series(self, series: str) -> PitSeries:
        try:
            return self._series[series]
        except KeyError:
            raise UnknownSeries(f"not loaded (loaded: {self.series_ids()})", series=series) from None

    def as_of(self, series: str, ts: datetime) -> pd.DataFrame:
        return self.pit_series(series).as_of(ts)

    def values_as_of(self, series: str, ts: datetime) -> pd.Series:
        return self.pit_series(series).values_as_of(ts)

    def bars_as_of(self, symbol: str, ts: datetime) -> pd.DataFrame:
        try:
            return self._bars[symbol].as_of(ts)
        except KeyError:
            raise UnknownSeries(f"no bars loaded (loaded: {self.symbols()})", series=symbol) from None

    def truncated(self, ts: datetime) -> PitData:
        """A copy holding only what was known at `ts`: the store as it stood then (for look-ahead tests)."""
        cut_series = {}
        for sid, s in self._series.items():
            keep = s.available <= _ns(ts)
            cut_series[sid] = PitSeries(sid, s.periods[keep], s.values[keep], s.available[keep], s.simple)
        cut_bars = {sym: PitBars.from_frame(sym, b.as_of(ts)) for sym, b in self._bars.items()}
        return PitData(cut_series, cut_bars, self.meetings)
