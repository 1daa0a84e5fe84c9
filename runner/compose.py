"""Wiring a paper session from the config and the environment: lock -> keys -> journal -> broker -> reconcile.

The order matters: a second copy stops at the lock and missing keys stop at the key check, both before any
network call (R06, R32). `open_session` returns a `Session` whose `close()` releases everything it opened.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from backtest.inputs import decision_series
from backtest.run import PROJECT_ROOT, code_version, config_hash
from broker.alpaca.adapter import AlpacaBroker
from broker.alpaca.clients import build_clients
from broker.alpaca.reconcile import Reconciler
from broker.alpaca.safety import EndpointGuard, KillSwitch
from clock import Clock
from config.loader import ConfigError, resolve_path, store_dir
from config.schema import AppConfig
from config.secrets import Secrets
from datastore.pit import PitData
from datastore.store import Store
from journal.journal import Journal, JournalError
from runner.calendar import Session as TradingSession
from runner.calendar import TradingCalendar
from runner.guards import Health, InstanceLock, StateRefused, refuse_lost_journal
from runner.jobs import PaperDeps
from runner.schedule import DAILY_JOBS
from signals.build import build_snapshot, session_as_of, snapshot_history
from signals.fomc import CalendarMeeting, load_schedule
from signals.params import SignalParams
from signals.snapshot import Snapshot

log = logging.getLogger(__name__)


class MissingKeys(Exception):
    """Alpaca keys are not in the environment: stop before any network call."""


def paper_state_dir(cfg: AppConfig) -> Path:
    return store_dir(cfg) / "paper"


def simulation_state_dir(cfg: AppConfig, run_id: str) -> Path:
    """Each simulation has its own state: its ledger and emulator account never mix with the paper trader's (R34).
    `simulations/` itself is 0700 like every state directory."""
    root = store_dir(cfg) / "simulations"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    root.chmod(0o700)
    return root / run_id


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
        """After a data refresh: the store as it is now, and no snapshot computed before it."""
        self._cache.clear()
        self.pit = self._load()

    def last_close(self, symbol: str, day: date) -> date | None:
        """The session of `symbol`'s last bar that `day`'s snapshot reads (None: no bar known then)."""
        bars = self.pit.bars_as_of(symbol, session_as_of(day, self.params)) if symbol in self.pit.symbols() else None
        return None if bars is None or bars.empty else bars.index[-1].date()

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


def check_decision_time(cfg: AppConfig) -> None:
    """The paper decision job fires at 16:30 New York time: a snapshot stamped later would claim data it cannot have."""
    job = next(j for j in DAILY_JOBS if j.name == "decision")
    if cfg.signals.decision_time > f"{job.at:%H:%M}":
        raise ConfigError(f"signals.decision_time = {cfg.signals.decision_time!r} is after the paper decision job ({job.at:%H:%M} New York): "
                          f"a paper or simulated session would decide on data it cannot have yet; set it to {job.at:%H:%M} or earlier")


def effective_config(cfg: AppConfig, trading_url: str, *, mode: str, dry_run: bool) -> dict[str, Any]:
    """What a session journals as its configuration: every section as parsed (defaults, variant file, `--set`), with
    the trading URL the session really uses (APCA_API_BASE_URL wins), its mode and dry-run flag (R38)."""
    doc = cfg.model_dump(mode="json")
    doc["alpaca"]["trading_url"] = trading_url
    doc.update({"mode": mode, "dry_run": dry_run})
    return doc


def fresh_run_id(journal: Journal, base: str) -> str:
    """`base`, or `base-2`, `base-3`... when a run with that id exists (the clock stepped back, or two starts in one second)."""
    run_id, n = base, 1
    while journal.run(run_id) is not None:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def open_journal(state: Path) -> Journal:
    """The state directory's journal; a lost, emptied, corrupt or newer one refuses the start in one line (R37)."""
    path = state / "paper.sqlite"
    refuse_lost_journal(state, path)
    try:
        journal = Journal(path)
    except JournalError as exc:
        raise StateRefused(f"{exc}; refusing to start") from None
    except sqlite3.DatabaseError as exc:
        raise StateRefused(f"{path} cannot be read as a journal ({exc}): refusing to start; restore it from a backup, "
                           f"or move {state} aside to start a new session") from None
    try:  # corrupt pages surface only when read: check every page now (milliseconds for a paper journal)
        problems = [" ".join(str(row[0]).replace("*** in database main ***", "").split()) for row in journal.query("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems != ["ok"]:
        journal.close()
        raise StateRefused(f"{path} is corrupt ({'; '.join(problems[:2])}): refusing to start; restore it from a backup, "
                           f"or move {state} aside to start a new session")
    return journal


def open_session(
    cfg: AppConfig, env: Mapping[str, str], clock: Clock, *, mode: str, dry_run: bool,
    refresh: Callable[[Store, Secrets], None] | None = None, state_dir: Path | None = None, run_id: str | None = None,
    resume: bool = False, follower_id: str | None = None,
) -> PaperSession:
    """Lock, check keys, open the journal and the store, connect to the broker (bind + clock check), start a run.

    `resume` (a simulation killed half way, started again): `run_id` is the interrupted run, which goes on (one
    session, one run: its run ledger says which jobs are done) when its effective config is the same; with a
    different config the interrupted run is closed as `interrupted` and a new run (`follower_id`, or a fresh id)
    starts with it as its parent.
    Every setting comes from `cfg` (the one parsed config: defaults, `--config` variant, `--set`), as for a backtest."""
    check_decision_time(cfg)
    state = state_dir or paper_state_dir(cfg)
    lock = InstanceLock(state)
    lock.acquire()
    closers: list[Callable[[], None]] = [lock.release]
    try:
        secrets = Secrets.from_env(env)
        check_keys(secrets)
        journal = open_journal(state)
        closers.append(journal.close)
        store = Store(store_dir(cfg) / "store.sqlite")
        closers.append(store.close)
        strategy = cfg.strategy
        now = clock.now()
        guard = EndpointGuard(live=cfg.alpaca.live, allow_live=secrets.allow_live)
        clients = build_clients(cfg.alpaca, secrets, guard=guard, wall=clock)
        effective = effective_config(cfg, clients.trading_url, mode=mode, dry_run=dry_run)
        interrupted = journal.run(run_id) if resume and run_id else None
        goes_on = interrupted is not None and interrupted.status == "running" and interrupted.config_hash == config_hash(effective)
        given = run_id if goes_on or interrupted is None else None  # a resumed run that cannot go on is followed by a new one
        session_run = given or fresh_run_id(journal, follower_id or f"{mode}-{now:%Y%m%dT%H%M%S}")
        parent = None if goes_on or interrupted is None else interrupted.run_id
        broker = AlpacaBroker(clients, journal, run_id=session_run, clock=clock, guard=guard, sleep=clock.sleep, kill_switch=KillSwitch(state / "KILL"))
        broker.connect()
        if goes_on:
            journal.record_event(session_run, at=now, kind="resumed", message=f"resumed at {now.isoformat()}: the process had stopped without closing the run")
        else:
            if interrupted is not None and interrupted.status == "running":  # its config differs: a new run follows it
                journal.finish_run(interrupted.run_id, finished_at=now, status="interrupted")
            kind = "paper" if mode == "paper" else "simulation"
            journal.start_run(session_run, kind=kind, label=f"{mode}{' --dry-run' if dry_run else ''}", created_at=now, config=effective, parent_id=parent,
                              config_hash=config_hash(effective), data_versions=store.versions(), code_version=code_version(PROJECT_ROOT))
        closers.append(lambda: journal.finish_run(session_run, finished_at=clock.now(), status="stopped"))
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
                try:
                    refresh(store, secrets)
                finally:  # a refresh that failed half way may still have written: never serve the older snapshots
                    snapshots.reload()

        def closes(day: date) -> dict[str, date | None]:
            return {symbol: snapshots.last_close(symbol, day) for symbol in cfg.alpaca.symbols}

        deps = PaperDeps(
            journal=journal, broker=broker, reconcile=Reconciler(broker).run, calendar=TradingCalendar(sessions, clock=clock), snapshot=snapshots,
            strategy=strategy, clock=clock, state_dir=state, run_id=session_run, chain=chain, option_mark=option_mark,
            refresh=do_refresh if refresh is not None else None, closes=closes, dry_run=dry_run,
            health=Health(started_at=now.isoformat(), mode="dry-run" if dry_run else mode),
        )
        return PaperSession(deps, broker, store, snapshots, lock, closers)
    except BaseException:
        for closer in reversed(closers):
            closer()
        raise
