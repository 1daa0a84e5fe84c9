"""Everything a backtest or a sweep reads before simulating: parameters from the config, the store, the window,
and the snapshot history (computed once, shared by every run that uses the same signal parameters)."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from backtest.run import MarketData, load_market
from cli.dates import check_window, parse_day
from clock import Clock
from config.loader import pack_dir, store_dir
from config.schema import AppConfig, LabelOnly
from datastore.pack_import import import_pack
from datastore.pit import PitData
from datastore.store import Store
from journal.decision_blocks import SnapshotBlocks
from signals.build import snapshot_history
from signals.params import SignalParams
from signals.snapshot import Snapshot
from strategies.params import BacktestParams


def decision_series(cfg: AppConfig) -> list[str]:
    """Series a decision may read: all but label-only ones (NBER dates are never known in time)."""
    return sorted(s for s, spec in cfg.series.items() if not isinstance(spec.release, LabelOnly))


def open_store(cfg: AppConfig, env: Mapping[str, str], clock: Clock) -> Store:
    """The local store with the data pack imported when it changed (idempotent; validated before anything is written)."""
    store = Store(store_dir(cfg) / "store.sqlite")
    try:
        import_pack(store, cfg, pack_dir(cfg, env), clock.now())
    except BaseException:
        store.close()
        raise
    return store


@dataclass(frozen=True, slots=True)
class Inputs:
    """Market data and point-in-time data, loaded once."""

    market: MarketData
    pit: PitData


@dataclass(frozen=True, slots=True)
class PitSource:
    """The point-in-time data a run reads, named before it is loaded: a snapshot cache hit never loads it."""

    store: Store
    series: tuple[str, ...]
    symbols: tuple[str, ...]

    def names(self) -> list[str]:
        return [*sorted(self.series), *(f"bars:{s}" for s in sorted(self.symbols))]

    def load(self) -> PitData:
        return PitData.load(self.store, self.series, self.symbols)


def pit_source(store: Store, cfg: AppConfig) -> PitSource:
    return PitSource(store, tuple(s for s in decision_series(cfg) if s in store.series_ids()), tuple(store.symbols()))


def load_inputs(store: Store, cfg: AppConfig, symbols: Sequence[str]) -> Inputs:
    return Inputs(load_market(store, list(symbols)), pit_source(store, cfg).load())


def window(market: MarketData, symbol: str, costs: BacktestParams, start: str | None, end: str | None) -> tuple[date, date]:
    """The sessions to run: `--start/--end` over the config's `backtest.start/end`, checked against the traded ETF's
    bars (`cli.dates`: one line naming the argument and the valid range). An empty end is the end of the data; the
    config's end (not an explicit `--end`) is clipped to it."""
    sessions = [ts.date() for ts in market.bars[symbol].index]
    first = parse_day(start, "--start", bounded=False) if start else parse_day(costs.start, "backtest.start", bounded=False)
    if end:
        last, last_arg = parse_day(end, "--end", bounded=False), "--end"
    elif costs.end:
        configured = parse_day(costs.end, "backtest.end", bounded=False)
        last, last_arg = (min(configured, sessions[-1]) if sessions else configured), "backtest.end"
    else:
        last, last_arg = (sessions[-1] if sessions else first), "the end of the data"
    inside = check_window(first, last, sessions, f"{symbol}'s bars", args=("--start" if start else "backtest.start", last_arg))
    return inside[0], inside[-1]


class SnapshotHistory(dict[date, Snapshot]):
    """Snapshots by session day, with their decision-record blocks (`blocks`), packed once for every run on them."""

    def __init__(self, snapshots: Iterable[Snapshot]) -> None:
        super().__init__((s.day, s) for s in snapshots)
        self.blocks = SnapshotBlocks(list(self), self.get)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a history's ~300,000 long-lived objects are built: every full collection
    would walk them all again (a third of the build time). Nothing built here is a cycle to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def history(pit: PitData, days: Sequence[date], params: SignalParams) -> SnapshotHistory:
    """The snapshot after each session's close, from point-in-time data only."""
    with gc_paused():
        return SnapshotHistory(snapshot_history(pit, list(days), params))


def signal_key(params: SignalParams) -> str:
    """Runs whose signal parameters hash alike share one snapshot history."""
    return hashlib.sha256(params.model_dump_json().encode()).hexdigest()[:12]


def journal_dir(cfg: AppConfig) -> Path:
    return store_dir(cfg) / "journals"


def snapshot_cache_dir(cfg: AppConfig) -> Path:
    return store_dir(cfg) / "cache"
