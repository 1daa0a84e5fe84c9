"""One backtest: market data from the store, a snapshot history, the bridge, the journal, the metrics.

`load_market` reads bars once; `run_backtest` is the pure-ish task a sweep repeats: it needs only picklable
inputs (market data, snapshots, parameters, a journal path), so a process pool, Dask or Ray can run it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from backtest import metrics
from backtest.record import RunLog
from broker.backtest_bridge import simulate
from clock import Clock
from datastore.store import Store
from journal.decision_blocks import DecisionWriter, SnapshotBlocks
from journal.journal import Journal
from signals.snapshot import Snapshot
from strategies.params import BacktestParams, StrategyParams

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("strategies", "signals", "backtest", "broker", "datastore", "journal")


@dataclass(frozen=True, slots=True)
class MarketData:
    """Daily bars (indexed by day) for the traded ETF, the benchmarks and any defensive asset, plus VIX."""

    bars: Mapping[str, pd.DataFrame]
    vix: pd.DataFrame
    versions: Mapping[str, str]  # dataset id -> content hash, for the journal

    def sessions(self, symbol: str, start: date, end: date) -> list[date]:
        idx = self.bars[symbol].index
        return [d.date() for d in idx[(idx >= pd.Timestamp(start)) & (idx <= pd.Timestamp(end))]]


def load_market(store: Store, symbols: Sequence[str], vix_symbol: str = "VIX") -> MarketData:
    """Bars for `symbols` and VIX from the store, with the content hash of every dataset used."""
    bars = {s: store.bars(s) for s in symbols}
    return MarketData(bars, store.bars(vix_symbol), store.versions())


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Who the run is, for the journal."""

    run_id: str
    label: str
    created_at: datetime
    config: Mapping[str, Any]
    code_version: str
    kind: str = "backtest"
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class BacktestResult:
    run_id: str
    journal: str | None
    start: date
    end: date
    strategy: metrics.Metrics
    benchmarks: dict[str, metrics.Metrics]
    equity_curve: list[tuple[date, float]]
    decisions: list[tuple[date, str, dict[str, Any]]]
    rf: list[float] = field(default_factory=list)  # each day's risk-free return (what cash earned), for fold metrics

    def to_json(self) -> dict[str, Any]:
        """The `--json` shape: run, window, metrics for the strategy and each benchmark, the equity curve."""
        return {
            "run_id": self.run_id,
            "journal": self.journal,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "strategy": self.strategy.to_json(),
            "benchmarks": {k: v.to_json() for k, v in self.benchmarks.items()},
            "equity_curve": [[d.isoformat(), round(e, 6)] for d, e in self.equity_curve],
        }


def code_version(root: Path) -> str:
    """A hash of the Python sources that decide a backtest's result (there may be no git commit to name)."""
    h = hashlib.sha256()
    for folder in CODE_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return f"src-{h.hexdigest()[:12]}"


def config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def run_backtest(
    market: MarketData,
    snapshots: Mapping[date, Snapshot] | Callable[[date], Snapshot | None],
    strategy: StrategyParams,
    costs: BacktestParams,
    *,
    start: date,
    end: date,
    spec: RunSpec,
    journal_path: Path | None,
    progress: Callable[[], None] | None = None,
    clock: Clock | None = None,
    snapshot_detail: Literal["full", "compact"] = "full",
    memory: Mapping[str, date] | None = None,
) -> BacktestResult:
    """Simulate, journal as it goes (when `journal_path` is given) and compute the metrics.

    `snapshot_detail="compact"` (sweep members) journals the metrics, equity, trades and the decisions that changed
    the target or sent orders, each with its regime, phase, reasons and market inputs but not every indicator
    reading; no end-of-day positions.
    `clock` stamps the run's finish (wall time); without one the finish is stamped with `spec.created_at`.
    `memory` is the playbook's memory the first decision reads (a replay of a session that resumed); default none."""
    lookup = snapshots.get if isinstance(snapshots, Mapping) else snapshots
    # backtrader gets the symbols the strategy can trade; benchmarks are computed from the same bars in `_result`
    # (a feed that is never traded would cost backtrader as much per bar as the traded one)
    symbols = [strategy.symbol, *([strategy.crisis.defensive_symbol] if strategy.crisis.defensive_symbol not in ("", strategy.symbol) else [])]
    bars = {s: market.bars[s] for s in symbols}
    journal = Journal(journal_path, durable=False) if journal_path is not None else None
    blocks = getattr(snapshots, "blocks", None)  # a SnapshotHistory packs its records once for every run on it
    if not isinstance(blocks, SnapshotBlocks):
        blocks = SnapshotBlocks(market.sessions(strategy.symbol, start, end), lookup)
    log = RunLog(journal, spec.run_id, writer=DecisionWriter(blocks, snapshot_detail) if journal is not None else None)
    try:
        if journal is not None:
            journal.start_run(
                spec.run_id,
                kind=spec.kind,
                label=spec.label,
                created_at=spec.created_at,
                config=spec.config,
                config_hash=config_hash(spec.config),
                data_versions=market.versions,
                code_version=spec.code_version,
                start_day=start.isoformat(),
                end_day=end.isoformat(),
                parent_id=spec.parent_id,
            )
            journal.open_batch()
        try:
            simulate(bars, market.vix, lookup, strategy, costs, log, start=start, end=end, progress=progress, memory=memory)
        finally:
            if journal is not None:
                log.write_pending()
                journal.close_batch()
        result = _result(log, market, strategy, costs, spec, journal_path)
        if journal is not None:
            summary = {"strategy": result.strategy.to_json(), "benchmarks": {k: v.to_json() for k, v in result.benchmarks.items()}}
            journal.finish_run(spec.run_id, finished_at=clock.now() if clock else spec.created_at, status="finished", summary=summary)
        return result
    except BaseException as exc:  # Ctrl-C or SIGTERM (cli.boundary) is `interrupted`, anything else `failed`
        if journal is not None:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            journal.finish_run(spec.run_id, finished_at=clock.now() if clock else spec.created_at, status=status)
        raise
    finally:
        if journal is not None:
            journal.close()


def _result(log: RunLog, market: MarketData, strategy: StrategyParams, costs: BacktestParams, spec: RunSpec, path: Path | None) -> BacktestResult:
    rows = log.days
    days = [r.day for r in rows]
    rf = [r.rf for r in rows]
    equity = [r.equity for r in rows]
    cost = sum(f.qty * 100 * f.price + f.fees for f in log.fills if f.asset_class == "option" and f.side == "buy")
    payoff = sum(f.qty * 100 * f.price - f.fees for f in log.fills if f.asset_class == "option" and f.side == "sell")
    payoff += sum(cash for _, _, _, cash in log.settlements)
    strat = metrics.performance(
        days,
        equity,
        rf,
        exposure=[r.iwm_value / r.equity if r.equity > 0 else 0.0 for r in rows],
        traded=[r.traded for r in rows],
        regimes=[r.regime for r in rows],
        hedge_cost=cost,
        hedge_payoff=payoff,
    )
    benches = {}
    index = pd.DatetimeIndex(np.array(days, dtype="datetime64[D]"))
    for sym in costs.benchmarks:
        closes = market.bars[sym]["close"].reindex(index)
        series = closes.to_numpy(dtype=float).tolist()
        benches[sym] = metrics.buy_and_hold(days, series, rf, costs.initial_cash)
    return BacktestResult(
        spec.run_id, None if path is None else str(path), days[0], days[-1], strat, benches, list(zip(days, equity, strict=True)), log.decisions, rf
    )
