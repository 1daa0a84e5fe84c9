"""Wiring a paper session from the config and the environment: lock -> keys -> journal -> broker -> reconcile.

The order matters: a second copy stops at the lock and missing keys stop at the key check, both before any
network call (R06, R32). `open_session` returns a `Session` whose `close()` releases everything it opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from backtest.inputs import decision_series
from backtest.run import PROJECT_ROOT, code_version, config_hash
from broker.alpaca.adapter import AlpacaBroker
from broker.alpaca.clients import build_clients
from broker.alpaca.reconcile import Reconciler
from broker.alpaca.safety import EndpointGuard, KillSwitch
from clock import Clock
from config.loader import resolve_path, store_dir
from config.schema import AppConfig
from config.secrets import Secrets
from datastore.pit import PitData
from datastore.store import Store
from journal.journal import Journal
from runner.calendar import Session as TradingSession
from runner.calendar import TradingCalendar
from runner.guards import Health, InstanceLock
from runner.jobs import PaperDeps
from signals.build import build_snapshot, session_as_of, snapshot_history
from signals.fomc import CalendarMeeting, load_schedule
from signals.params import SignalParams
from signals.snapshot import Snapshot
from strategies.params import StrategyParams

log = logging.getLogger(__name__)


class MissingKeys(Exception):
    """Alpaca keys are not in the environment: stop before any network call."""


def paper_state_dir(cfg: AppConfig) -> Path:
    return store_dir(cfg) / "paper"


def simulation_state_dir(cfg: AppConfig, run_id: str) -> Path:
    """Each simulation has its own state: its ledger and emulator account never mix with the paper trader's (R34)."""
    return store_dir(cfg) / "simulations" / run_id


class StoreSnapshots:
    """Snapshots from the local store, point in time; `reload()` after a data refresh."""

    def __init__(self, store: Store, cfg: AppConfig, params: SignalParams, schedule: list[CalendarMeeting]) -> None:
        self.store, self.cfg, self.params, self.schedule = store, cfg, params, schedule
        self.pit = self._load()
        self._cache: dict[date, Snapshot] = {}

    def _load(self) -> PitData:
        # The same series and symbols a backtest loads (backtest.inputs.load_inputs): same inputs, same decisions.
        series = [s for s in decision_series(self.cfg) if s in self.store.series_ids()]
        return PitData.load(self.store, series, self.store.symbols())

    def reload(self) -> None:
        self.pit = self._load()
        self._cache.clear()

    def prefetch(self, days: list[date]) -> None:
        """Compute a window's snapshots in one pass (a simulation): equal to `build_snapshot` day by day."""
        self._cache.update({s.day: s for s in snapshot_history(self.pit, days, self.params, self.schedule)})

    def __call__(self, day: date) -> Snapshot:
        if day in self._cache:
            return self._cache[day]
        return build_snapshot(self.pit, session_as_of(day, self.params), day, self.params, self.schedule)


@dataclass
class PaperSession:
    deps: PaperDeps
    broker: AlpacaBroker
    store: Store
    snapshots: StoreSnapshots
    lock: InstanceLock
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception as exc:  # closing must not hide the reason we are closing
                log.warning("close: %s", exc)


def check_keys(secrets: Secrets) -> None:
    missing = secrets.missing_alpaca()
    if missing:
        raise MissingKeys(f"missing {', '.join(missing)} in the environment: set the Alpaca paper keys (they are read from the environment only)")


def open_session(
    cfg: AppConfig, env: Mapping[str, str], clock: Clock, *, mode: str, dry_run: bool, strategy: StrategyParams | None = None,
    refresh: Callable[[Store, Secrets], None] | None = None, state_dir: Path | None = None, run_id: str | None = None,
) -> PaperSession:
    """Lock, check keys, open the journal and the store, connect to the broker (bind + clock check), start a run."""
    state = state_dir or paper_state_dir(cfg)
    lock = InstanceLock(state)
    lock.acquire()
    closers: list[Callable[[], None]] = [lock.release]
    try:
        secrets = Secrets.from_env(env)
        check_keys(secrets)
        journal = Journal(state / "paper.sqlite")
        closers.append(journal.close)
        store = Store(store_dir(cfg) / "store.sqlite")
        closers.append(store.close)
        strategy = strategy or StrategyParams()
        now = clock.now()
        run_id = run_id or f"{mode}-{now:%Y%m%dT%H%M%S}"
        guard = EndpointGuard(live=cfg.alpaca.live, allow_live=secrets.allow_live)
        clients = build_clients(cfg.alpaca, secrets, guard=guard, wall=clock)
        broker = AlpacaBroker(clients, journal, run_id=run_id, clock=clock, guard=guard, sleep=clock.sleep, kill_switch=KillSwitch(state / "KILL"))
        broker.connect()
        effective = {"strategy": strategy.model_dump(), "signals": cfg.signals.model_dump(), "mode": mode, "dry_run": dry_run}
        kind = "paper" if mode == "paper" else "simulation"
        journal.start_run(run_id, kind=kind, label=f"{mode}{' --dry-run' if dry_run else ''}", created_at=now, config=effective,
                          config_hash=config_hash(effective), data_versions=store.versions(), code_version=code_version(PROJECT_ROOT))
        closers.append(lambda: journal.finish_run(run_id, finished_at=clock.now(), status="stopped"))
        snapshots = StoreSnapshots(store, cfg, cfg.signals, list(load_schedule(resolve_path(cfg.data.fomc_schedule_file))))
        reads = broker.reads

        def sessions(start: date, end: date) -> list[TradingSession]:
            return [TradingSession(s.day, s.open, s.close) for s in reads.sessions(start, end)]

        def chain(day: date, _spot: float) -> list[tuple[str, float, date]]:
            h = strategy.hedge
            found = reads.put_contracts(strategy.symbol, expires_from=day + timedelta(days=h.min_dte), expires_to=day + timedelta(days=h.max_dte))
            return [(c.symbol, c.strike, c.expiration) for c in found if c.tradable]

        def option_mark(symbol: str) -> float | None:
            bid, ask = reads.option_quote(symbol)
            return None if bid is None or ask is None else (bid + ask) / 2

        def do_refresh() -> None:
            if refresh is not None:
                refresh(store, secrets)
                snapshots.reload()

        deps = PaperDeps(
            journal=journal, broker=broker, reconcile=Reconciler(broker).run, calendar=TradingCalendar(sessions, clock=clock), snapshot=snapshots,
            strategy=strategy, clock=clock, state_dir=state, run_id=run_id, chain=chain, option_mark=option_mark,
            refresh=do_refresh if refresh is not None else None, dry_run=dry_run,
            health=Health(started_at=now.isoformat(), mode="dry-run" if dry_run else mode),
        )
        return PaperSession(deps, broker, store, snapshots, lock, closers)
    except BaseException:
        for closer in reversed(closers):
            closer()
        raise
