"""`main.py status`: what the paper trader is doing, read without disturbing it.

Everything here only reads: the instance lock is probed with a non-blocking shared flock released at once (a trader
starting in that instant would see the lock taken and exit 2, so the probe is kept to microseconds); the heartbeat
file is read as written; the journal is opened with a read-only SQLite URI (WAL lets it read while the trader
writes; the `Journal` class is not used because opening it migrates, chmods and sets pragmas); the broker is asked
only for the account, positions and open orders, behind the endpoint guard, with short timeouts and no retries.
When the broker cannot be asked (no keys, `--offline`, an error) positions and open orders come from the journal
and say so. Secrets are never part of the result: error texts are scrubbed of the key values before they are kept.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from broker.alpaca.clients import build_clients
from broker.alpaca.reads import AlpacaReads, RetryPolicy
from broker.alpaca.safety import EndpointGuard
from broker.contract import TERMINAL, BrokerError
from clock import NEW_YORK, Clock
from config.loader import store_dir
from config.schema import AppConfig
from config.secrets import REDACTED, Secrets
from journal.journal import JournalError, open_read_only, position_book
from review.tables import text_table
from runner.calendar import TradingCalendar
from runner.compose import paper_state_dir
from runner.guards import StateRefused, holder_pid, lock_held, read_heartbeat, refuse_lost_journal
from runner.schedule import DAILY_JOBS, HEARTBEAT_EVERY, due_jobs, upcoming

STALE_HEARTBEAT = 3 * HEARTBEAT_EVERY
BROKER_CONNECT_TIMEOUT_SECONDS = 3.0
BROKER_READ_TIMEOUT_SECONDS = 5.0
NEXT_JOBS = 4
RECENT_EVENTS = 5
_OCC = re.compile(r"^[A-Z]{1,6}\d{6}[CP]\d{8}$")


# -- the result ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    running: bool
    pid: int | None
    lock_path: str
    detail: str


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """The heartbeat file (`<state>/status.json`) judged against the lock: fresh | stale | not running | missing."""

    heartbeat_path: str
    state: str
    mode: str | None
    started_at: str | None
    last_heartbeat: str | None
    age_seconds: float | None
    jobs_run: int
    jobs_failed: int
    jobs_missed: int
    last_error: str | None
    halted: str | None
    kill_switch: bool  # the kill file exists now
    kill_switch_path: str
    run_id: str | None
    failing: tuple[str, ...] = ()  # daily jobs failing now ("decision 2024-07-10: 3 attempts"), from the heartbeat


@dataclass(frozen=True, slots=True)
class RunStatus:
    """The latest run in the journal and the account and endpoint the journal is bound to."""

    run_id: str
    kind: str
    label: str
    created_at: str
    status: str
    finished_at: str | None
    account: str | None
    endpoint: str | None


@dataclass(frozen=True, slots=True)
class IntentStatus:
    client_order_id: str
    symbol: str
    side: str
    qty: int
    kind: str
    limit_price: float | None
    reason: str
    state: str  # the latest order event's status, or "not sent"
    broker_order_id: str | None
    filled_qty: float


@dataclass(frozen=True, slots=True)
class DecisionStatus:
    run_id: str
    day: str
    as_of: str
    regime: str
    runner_up: str | None
    phase: str | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    hold: bool
    weights: dict[str, float]
    puts: dict[str, Any] | None
    for_open: str | None  # the open the intents are for (UTC)
    pre_open: str | None  # that session's pre_open outcome in the ledger; None: not run yet
    intents: tuple[IntentStatus, ...]


@dataclass(frozen=True, slots=True)
class AccountSummary:
    account_number: str
    status: str
    equity: float
    cash: float
    buying_power: float
    trading_blocked: bool


@dataclass(frozen=True, slots=True)
class PositionRow:
    symbol: str
    asset_class: str
    qty: float
    avg_entry_price: float | None
    market_value: float | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    client_order_id: str
    symbol: str
    side: str | None
    qty: float | None
    filled_qty: float | None
    status: str
    submitted_at: str | None
    ours: bool  # the journal holds its intent


@dataclass(frozen=True, slots=True)
class Holdings:
    source: str  # broker | journal | none
    as_of: str | None
    note: str
    account: AccountSummary | None
    positions: tuple[PositionRow, ...]
    open_orders: tuple[OrderRow, ...]


@dataclass(frozen=True, slots=True)
class NextJob:
    job: str
    at: str  # UTC


@dataclass(frozen=True, slots=True)
class LedgerRow:
    job: str
    trading_day: str
    outcome: str
    completed_at: str
    run_id: str
    missed: int  # how many sessions this job was recorded as missed, over the whole journal


@dataclass(frozen=True, slots=True)
class NotRun:
    """A daily job the ledger does not hold: `due` (a running trader runs it now) or `missed` (past its deadline)."""

    job: str
    trading_day: str
    scheduled: str
    deadline: str
    state: str


@dataclass(frozen=True, slots=True)
class ScheduleStatus:
    next_jobs: tuple[NextJob, ...]
    ledger: tuple[LedgerRow, ...]
    not_run: tuple[NotRun, ...]


@dataclass(frozen=True, slots=True)
class StaleDataset:
    id: str
    kind: str
    last: str | None
    note: str


@dataclass(frozen=True, slots=True)
class DataFreshness:
    store_path: str
    found: bool
    note: str
    datasets: int
    stale: tuple[StaleDataset, ...]


@dataclass(frozen=True, slots=True)
class EventRow:
    at: str
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class PaperStatus:
    generated_at: str
    state_dir: str
    session_found: bool
    message: str
    process: ProcessStatus
    health: HealthStatus
    run: RunStatus | None
    decision: DecisionStatus | None
    holdings: Holdings
    schedule: ScheduleStatus
    data: DataFreshness
    events: tuple[EventRow, ...]
    attention: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=False, allow_nan=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document as plain dicts and lists."""
        value: dict[str, Any] = json.loads(self.to_json())
        return value


# -- helpers -------------------------------------------------------------------------------------------------------


Redact = Callable[[str], str]


def redactor(secrets: Secrets) -> Redact:
    values = [s.reveal() for s in (secrets.alpaca_key_id, secrets.alpaca_secret_key, secrets.fred_api_key) if s is not None]

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, REDACTED)
        return text

    return redact


def parse_instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def iso(instant: datetime) -> str:
    return instant.isoformat()


# -- process and health --------------------------------------------------------------------------------------------


def probe_lock(state_dir: Path) -> ProcessStatus:
    """Whether a paper trader holds the state directory's lock (`runner.guards.InstanceLock`): a shared flock, released
    at once. `paper.lock` only names the holder's pid."""
    path = state_dir / "paper.lock"
    if not state_dir.is_dir():
        return ProcessStatus(False, None, str(path), "not running (no state directory: no paper trader has started here)")
    try:
        held = lock_held(state_dir)
    except OSError as exc:
        return ProcessStatus(False, None, str(path), f"unknown: cannot open the state directory ({exc.strerror})")
    if held:
        pid = holder_pid(path)
        return ProcessStatus(True, pid, str(path), f"running (pid {pid if pid is not None else 'unknown'} holds the lock)")
    if not path.exists():
        return ProcessStatus(False, None, str(path), "not running (no lock file: no paper trader has started here)")
    return ProcessStatus(False, None, str(path), "not running (the lock is free)")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any, redact: Redact) -> str | None:
    return redact(str(value)) if value not in (None, "") else None


def read_health(state_dir: Path, now: datetime, running: bool, redact: Redact) -> HealthStatus:
    path, kill = state_dir / "status.json", state_dir / "KILL"
    beat = read_heartbeat(path)
    if beat is None:
        state = "unreadable" if path.exists() else "missing"
        return HealthStatus(str(path), state, None, None, None, None, 0, 0, 0, None, None, kill.exists(), str(kill), None)
    last = parse_instant(str(beat.get("last_heartbeat") or ""))
    age = (now - last).total_seconds() if last is not None else None
    if not running:
        state = "not running"
    elif age is None or age > STALE_HEARTBEAT.total_seconds():
        state = "stale"
    else:
        state = "fresh"
    found = beat.get("extra")
    extra: dict[str, Any] = found if isinstance(found, dict) else {}
    return HealthStatus(
        heartbeat_path=str(path), state=state, mode=_text(beat.get("mode"), redact), started_at=_text(beat.get("started_at"), redact),
        last_heartbeat=last.isoformat() if last is not None else None, age_seconds=age, jobs_run=_int(beat.get("jobs_run")),
        jobs_failed=_int(beat.get("jobs_failed")), jobs_missed=_int(beat.get("jobs_missed")),
        last_error=_text(beat.get("last_error"), redact), halted=_text(beat.get("halted"), redact), kill_switch=kill.exists(),
        kill_switch_path=str(kill), run_id=_text(extra.get("run_id"), redact), failing=_failing(extra.get("failing"), redact),
    )


def _failing(found: Any, redact: Redact) -> tuple[str, ...]:
    if not isinstance(found, dict):
        return ()
    return tuple(redact(f"{key}: {_int(v.get('attempts')) if isinstance(v, dict) else 0} attempts") for key, v in sorted(found.items()))


# -- the journal ---------------------------------------------------------------------------------------------------


def last_run(db: sqlite3.Connection) -> RunStatus | None:
    row = db.execute("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
    if row is None:
        return None
    meta = {str(r["key"]): str(r["value"]) for r in db.execute("SELECT key, value FROM meta WHERE key IN ('account', 'endpoint')")}
    return RunStatus(str(row["run_id"]), str(row["kind"]), str(row["label"]), str(row["created_at"]), str(row["status"]),
                     row["finished_at"], meta.get("account"), meta.get("endpoint"))


def _latest_event(db: sqlite3.Connection, cid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT status, broker_order_id, filled_qty FROM order_events WHERE client_order_id=? ORDER BY seq DESC LIMIT 1", (cid,)
    ).fetchone()
    return row


def last_decision(db: sqlite3.Connection, calendar: TradingCalendar) -> DecisionStatus | None:
    row = db.execute("SELECT * FROM decisions ORDER BY day DESC, as_of DESC, rowid DESC LIMIT 1").fetchone()
    if row is None:
        return None
    target: dict[str, Any] = json.loads(row["target_json"])
    snapshot: dict[str, Any] = json.loads(row["snapshot_json"])
    intents = []
    for doc in target.get("intents", []):
        cid = str(doc["client_order_id"])
        event = _latest_event(db, cid)
        intents.append(IntentStatus(
            client_order_id=cid, symbol=str(doc["symbol"]), side=str(doc["side"]), qty=int(doc["qty"]), kind=str(doc["kind"]),
            limit_price=doc.get("limit_price"), reason=str(doc.get("reason", "")),
            state=str(event["status"]) if event is not None else "not sent",
            broker_order_id=event["broker_order_id"] if event is not None else None,
            filled_qty=float(event["filled_qty"]) if event is not None else 0.0,
        ))
    day = date.fromisoformat(str(row["day"]))
    for_open: str | None = None
    pre_open: str | None = None
    try:
        nxt = calendar.next_session(day)
    except LookupError:
        nxt = None
    if nxt is not None:
        for_open = iso(nxt.open)
        found = db.execute("SELECT outcome FROM job_ledger WHERE job='pre_open' AND trading_day=?", (nxt.day.isoformat(),)).fetchone()
        pre_open = str(found["outcome"]) if found is not None else None
    weights = {str(k): float(v) for k, v in (target.get("weights") or {}).items()}
    puts = target.get("puts")
    return DecisionStatus(
        run_id=str(row["run_id"]), day=str(row["day"]), as_of=str(row["as_of"]), regime=str(row["regime"]), runner_up=row["runner_up"],
        phase=row["phase"], reasons=tuple(str(r) for r in json.loads(row["reasons_json"])),
        warnings=tuple(str(w) for w in snapshot.get("warnings", [])), hold=bool(target.get("hold", False)), weights=weights,
        puts=puts if isinstance(puts, dict) else None, for_open=for_open, pre_open=pre_open, intents=tuple(intents),
    )


def journal_holdings(db: sqlite3.Connection, note: str) -> Holdings:
    """The journal's book (our fills plus outside-event deltas, as reconciliation keeps it) and our unfinished orders."""
    positions = tuple(PositionRow(symbol, "option" if _OCC.match(symbol) else "equity", qty, None, None)
                      for symbol, qty in sorted(position_book(db).items()))
    orders = []
    rows = db.execute(
        "SELECT i.client_order_id AS cid, i.symbol AS symbol, i.side AS side, i.qty AS qty, i.created_at AS created_at, "
        "e.status AS status, e.filled_qty AS filled FROM intents i "
        "JOIN order_events e ON e.seq = (SELECT MAX(seq) FROM order_events WHERE client_order_id = i.client_order_id) ORDER BY e.seq"
    )
    for row in rows:
        if str(row["status"]) in TERMINAL:
            continue
        orders.append(OrderRow(str(row["cid"]), str(row["symbol"]), str(row["side"]), float(row["qty"]), float(row["filled"]),
                               str(row["status"]), str(row["created_at"]), True))
    synced = db.execute("SELECT at FROM events WHERE kind='reconcile' ORDER BY seq DESC LIMIT 1").fetchone()
    as_of = str(synced["at"]) if synced is not None else None
    told = f"{note}; from the journal as of its last reconciliation" if as_of else f"{note}; from the journal (never reconciled)"
    return Holdings("journal", as_of, told, None, positions, tuple(orders))


def ledger(db: sqlite3.Connection) -> tuple[LedgerRow, ...]:
    missed = {str(r["job"]): int(r["n"]) for r in db.execute("SELECT job, COUNT(*) AS n FROM job_ledger WHERE outcome='missed' GROUP BY job")}
    out = []
    for job in DAILY_JOBS:
        row = db.execute("SELECT * FROM job_ledger WHERE job=? ORDER BY trading_day DESC LIMIT 1", (job.name,)).fetchone()
        if row is not None:
            out.append(LedgerRow(job.name, str(row["trading_day"]), str(row["outcome"]), str(row["completed_at"]), str(row["run_id"]),
                                 missed.get(job.name, 0)))
    return tuple(out)


def not_run(db: sqlite3.Connection, now: datetime, calendar: TradingCalendar) -> tuple[NotRun, ...]:
    """What the trader's own ledger loop would see now: jobs due and not done, and missed ones not yet recorded."""
    done = {(str(r["job"]), str(r["trading_day"])) for r in db.execute("SELECT job, trading_day FROM job_ledger")}
    first = db.execute("SELECT MIN(created_at) AS first FROM runs WHERE kind IN ('paper', 'simulation')").fetchone()
    if first is None or not first["first"]:
        return ()  # no session ever started here: no job was due, none was missed
    due, missed = due_jobs(now, calendar, lambda job, day: (job, day) in done, since=parse_instant(str(first["first"])))
    return tuple(
        NotRun(d.job.name, d.session.day.isoformat(), iso(d.scheduled), iso(d.deadline), state)
        for state, items in (("due", due), ("missed", missed)) for d in items
    )


def recent_events(db: sqlite3.Connection, redact: Redact) -> tuple[EventRow, ...]:
    rows = db.execute("SELECT at, kind, message FROM events WHERE kind <> 'reconcile' ORDER BY seq DESC LIMIT ?", (RECENT_EVENTS,))
    return tuple(EventRow(str(r["at"]), str(r["kind"]), redact(str(r["message"]))) for r in rows)


# -- the broker ----------------------------------------------------------------------------------------------------


def broker_holdings(cfg: AppConfig, secrets: Secrets, clock: Clock, ours: set[str]) -> Holdings:
    """Account, positions and open orders from Alpaca: read-only calls, the endpoint guard, short timeouts, one try."""
    alpaca = cfg.alpaca.model_copy(update={
        "connect_timeout_seconds": min(cfg.alpaca.connect_timeout_seconds, BROKER_CONNECT_TIMEOUT_SECONDS),
        "read_timeout_seconds": min(cfg.alpaca.read_timeout_seconds, BROKER_READ_TIMEOUT_SECONDS),
    })
    guard = EndpointGuard(live=cfg.alpaca.live, allow_live=secrets.allow_live)
    clients = build_clients(alpaca, secrets, guard=guard, wall=clock)
    try:
        reads = AlpacaReads(clients, sleep=clock.sleep, policy=RetryPolicy(attempts=1))
        account, _ = reads.account()
        positions = reads.positions()
        orders = reads.open_orders()
    finally:
        for client in (clients.trading, clients.stock_data, clients.option_data):
            client._session.close()
    return Holdings(
        source="broker", as_of=iso(clock.now()), note=f"read from {clients.trading_url}",
        account=AccountSummary(account.account_number, account.status, account.equity, account.cash, account.buying_power,
                               account.trading_blocked or account.account_blocked or account.trade_suspended_by_user),
        positions=tuple(PositionRow(p.symbol, p.asset_class, p.qty, p.avg_entry_price, p.market_value) for _, p in sorted(positions.items())),
        open_orders=tuple(
            OrderRow(o.client_order_id, o.symbol, o.side, o.qty, o.filled_qty, o.status,
                     iso(o.submitted_at) if o.submitted_at is not None else None, o.client_order_id in ours)
            for o in orders
        ),
    )


# -- data ----------------------------------------------------------------------------------------------------------


def data_freshness(cfg: AppConfig, now: datetime) -> DataFreshness:
    """`data status` over the store the trader reads (the data pack is not imported: nothing is written)."""
    from datastore.errors import DataError
    from datastore.status import data_status
    from datastore.store import Store

    path = store_dir(cfg) / "store.sqlite"
    if not path.exists():
        return DataFreshness(str(path), False, "no store yet: run `main.py data sync` (or any command that imports the data pack)", 0, ())
    try:
        store = Store(path)
    except (DataError, sqlite3.Error) as exc:
        return DataFreshness(str(path), False, f"cannot read the store: {exc}", 0, ())
    try:
        rows = data_status(store, cfg, now)
    finally:
        store.close()
    stale = tuple(StaleDataset(r.id, r.kind, r.last, r.note) for r in rows if r.stale)
    note = "every dataset current" if not stale else f"{len(stale)} of {len(rows)} datasets stale"
    return DataFreshness(str(path), True, note, len(rows), stale)


# -- putting it together -------------------------------------------------------------------------------------------


def next_jobs(now: datetime, calendar: TradingCalendar) -> tuple[NextJob, ...]:
    """The next daily-job fire times that fall on trading sessions (the cron also fires on holidays, to no effect)."""
    return tuple(NextJob(name, iso(at.astimezone(UTC))) for at, name in upcoming(now, calendar, NEXT_JOBS))


def _attention(process: ProcessStatus, health: HealthStatus, run: RunStatus | None, holdings: Holdings, schedule: ScheduleStatus,
               data: DataFreshness, broker_error: str | None) -> tuple[str, ...]:
    out: list[str] = []
    if health.halted:
        out.append(f"halted: {health.halted}")
    if health.kill_switch:
        out.append(f"kill switch engaged: {health.kill_switch_path} exists, no order will be sent")
    if process.running and health.state in ("stale", "missing", "unreadable"):
        out.append(f"heartbeat {health.state} while the lock is held (last beat {ny(health.last_heartbeat)}): the trader may be hung")
    if not process.running and run is not None and run.status == "running":
        out.append(f"run {run.run_id} never finished but no trader holds the lock: it crashed or was killed")
    if health.failing and health.state == "fresh":
        out.append("failing (retried while still due): " + "; ".join(health.failing))
    if health.last_error:
        out.append(f"last error: {health.last_error}")
    due = [n for n in schedule.not_run if n.state == "due"]
    if due and not process.running:
        out.append("due and not run (no trader is running): " + ", ".join(f"{n.job} {n.trading_day}" for n in due))
    missed = [n for n in schedule.not_run if n.state == "missed"]
    if missed:
        out.append("missed: " + ", ".join(f"{n.job} {n.trading_day}" for n in missed))
    if broker_error:
        out.append(f"broker not answering ({broker_error}): positions and orders are the journal's")
    if holdings.account is not None and run is not None and run.account and holdings.account.account_number != run.account:
        out.append(f"the keys in the environment belong to account {holdings.account.account_number}, the journal to {run.account}")
    if data.stale:
        out.append(f"{len(data.stale)} datasets stale: " + ", ".join(s.id for s in data.stale))
    return tuple(out)


def collect_status(cfg: AppConfig, env: Mapping[str, str], clock: Clock, *, offline: bool = False, state_dir: Path | None = None,
                   calendar: TradingCalendar | None = None) -> PaperStatus:
    """Everything `main.py status` shows, read now. Never raises for a missing or idle session."""
    now = clock.now()
    state = state_dir or paper_state_dir(cfg)
    secrets = Secrets.from_env(env)
    redact = redactor(secrets)
    cal = calendar or TradingCalendar()  # XNYS, offline: the status must not depend on the broker answering
    process = probe_lock(state)
    health = read_health(state, now, process.running, redact)
    journal_path = state / "paper.sqlite"
    session_found = journal_path.exists()
    message = "" if session_found else f"no paper session has run in {state}: start one with `main.py paper`"
    lost = ""
    try:
        refuse_lost_journal(state, journal_path)
    except StateRefused as exc:  # what `paper` would refuse to start on: the status says so first
        lost = str(exc)
    run: RunStatus | None = None
    decision: DecisionStatus | None = None
    rows: tuple[LedgerRow, ...] = ()
    pending: tuple[NotRun, ...] = ()
    events: tuple[EventRow, ...] = ()
    ours: set[str] = set()
    db: sqlite3.Connection | None = None
    if session_found:
        try:
            db = open_read_only(journal_path)
            run, decision = last_run(db), last_decision(db, cal)
            rows, pending, events = ledger(db), not_run(db, now, cal), recent_events(db, redact)
            ours = {str(r[0]) for r in db.execute("SELECT client_order_id FROM intents")}
        except (JournalError, sqlite3.Error) as exc:
            message = f"cannot read the journal {journal_path}: {exc}"
            if db is not None:
                db.close()
                db = None
    try:
        holdings, broker_error = _holdings(cfg, secrets, clock, offline, ours, db, redact)
    finally:
        if db is not None:
            db.close()
    schedule = ScheduleStatus(next_jobs(now, cal), rows, pending)
    data = data_freshness(cfg, now)
    attention = _attention(process, health, run, holdings, schedule, data, broker_error)
    if lost:
        message = lost
    if message and (session_found or lost):
        attention = (message, *attention)
    return PaperStatus(iso(now), str(state), session_found, message, process, health, run, decision, holdings, schedule, data, events,
                       attention)


def _holdings(cfg: AppConfig, secrets: Secrets, clock: Clock, offline: bool, ours: set[str], db: sqlite3.Connection | None,
              redact: Redact) -> tuple[Holdings, str | None]:
    broker_error: str | None = None
    if offline:
        why = "--offline"
    elif not secrets.has_alpaca():
        why = "no Alpaca keys in the environment"
    else:
        try:
            return broker_holdings(cfg, secrets, clock, ours), None
        except BrokerError as exc:
            broker_error = redact(f"{type(exc).__name__}: {exc}")
            why = f"the broker did not answer ({broker_error})"
    if db is None:
        return Holdings("none", None, f"{why}; no journal to fall back on", None, (), ()), broker_error
    try:
        return journal_holdings(db, why), broker_error
    except sqlite3.Error as exc:
        return Holdings("none", None, f"{why}; cannot read the journal: {exc}", None, (), ()), broker_error


# -- for people ----------------------------------------------------------------------------------------------------


def ny(text: str | None) -> str:
    """An ISO instant as New York wall time, e.g. '2024-07-10 08:46 ET'."""
    instant = parse_instant(text)
    return f"{instant.astimezone(NEW_YORK):%Y-%m-%d %H:%M} ET" if instant is not None else "-"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if abs(s) < 120:
        return f"{s} s"
    if abs(s) < 7200:
        return f"{s // 60} min"
    if abs(s) < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def _qty(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "  ") -> list[str]:
    return [indent + line for line in text_table(headers, rows).splitlines()]


def _puts(puts: dict[str, Any] | None) -> str:
    if not puts:
        return "none"
    spec = puts.get("spec") or {}
    return f"{puts.get('contracts')} x {puts.get('symbol') or spec.get('underlying', '?')} (strike {spec.get('strike')}, ~{spec.get('target_dte')} DTE)"


def render_status(status: PaperStatus) -> str:
    out: list[str] = [f"cutcycle paper status at {ny(status.generated_at)}   state: {status.state_dir}"]
    if status.message:
        out += ["", status.message]
    p, h = status.process, status.health
    out += ["", f"process    {p.detail}"]
    if h.last_heartbeat is None:
        out.append(f"heartbeat  {h.state} ({h.heartbeat_path})")
    else:
        out.append(f"heartbeat  {h.state}: last {ny(h.last_heartbeat)} ({_age(h.age_seconds)} ago); mode {h.mode}, started {ny(h.started_at)}")
        out.append(f"jobs       run {h.jobs_run}, failed {h.jobs_failed}, missed {h.jobs_missed}; last error: {h.last_error or 'none'}")
    out.append(f"halted     {h.halted or 'no'}; kill switch: {'ENGAGED (' + h.kill_switch_path + ')' if h.kill_switch else 'off'}")
    if status.run is not None:
        r = status.run
        ended = f", finished {ny(r.finished_at)}" if r.finished_at else ""
        out.append(f"last run   {r.run_id} ({r.label}) {r.status}{ended}; account {r.account or '?'} at {r.endpoint or '?'}")

    d = status.decision
    if d is not None:
        out += ["", f"last decision  {d.day} (as of {ny(d.as_of)}), run {d.run_id}"]
        out.append(f"  regime   {d.regime} (runner-up {d.runner_up or '-'}), phase {d.phase or '-'}")
        weights = ", ".join(f"{s} {w:.0%}" for s, w in d.weights.items()) or "none"
        out.append(f"  target   {weights}; puts: {_puts(d.puts)}{' (hold)' if d.hold else ''}")
        out.append("  reasons  " + ("\n           ".join(d.reasons) if d.reasons else "-"))
        if d.warnings:
            out.append("  warnings " + "; ".join(d.warnings))
        where = f"for the open of {ny(d.for_open)}" if d.for_open else "for the next open"
        out.append(f"  intents  {len(d.intents)} {where}; pre-open: {d.pre_open or 'not run yet'}")
        if d.intents:
            out += table(["client_order_id", "side", "qty", "symbol", "kind", "limit", "journal state"],
                         [(i.client_order_id, i.side, i.qty, i.symbol, i.kind, i.limit_price or "", i.state) for i in d.intents], "    ")
    elif status.session_found:
        out += ["", "last decision  none yet"]

    hd = status.holdings
    out += ["", f"positions and open orders: {hd.source}" + (f" as of {ny(hd.as_of)}" if hd.as_of else ""), f"  ({hd.note})"]
    if hd.account is not None:
        a = hd.account
        blocked = "  TRADING BLOCKED" if a.trading_blocked else ""
        out.append(f"  account  {a.account_number} {a.status}: equity {_money(a.equity)}, cash {_money(a.cash)}, "
                   f"buying power {_money(a.buying_power)}{blocked}")
    if hd.source != "none":
        if hd.positions:
            out += table(["symbol", "class", "qty", "avg price", "market value"],
                         [(x.symbol, x.asset_class, _qty(x.qty), _money(x.avg_entry_price), _money(x.market_value)) for x in hd.positions])
        else:
            out.append("  positions: none")
        if hd.open_orders:
            out += table(["client_order_id", "symbol", "side", "qty", "filled", "status", "submitted", "ours"],
                         [(o.client_order_id, o.symbol, o.side or "?", _qty(o.qty), _qty(o.filled_qty), o.status, ny(o.submitted_at),
                           "yes" if o.ours else "no") for o in hd.open_orders])
        else:
            out.append("  open orders: none")

    s = status.schedule
    out += ["", "next jobs  " + ("; ".join(f"{j.job} {ny(j.at)}" for j in s.next_jobs) or "none within 9 days")]
    if s.ledger:
        out.append("run ledger")
        out += table(["job", "last day", "outcome", "completed", "missed"],
                     [(x.job, x.trading_day, x.outcome, ny(x.completed_at), x.missed) for x in s.ledger])
    for n in s.not_run:
        out.append(f"  {n.state}: {n.job} for {n.trading_day} (scheduled {ny(n.scheduled)}, deadline {ny(n.deadline)})")

    dt = status.data
    out += ["", f"data       {dt.note}" + (f" ({dt.datasets} datasets in {dt.store_path})" if dt.found else "")]
    for x in dt.stale:
        out.append(f"  stale: {x.id} ({x.kind}, last {x.last or '-'}): {x.note}")

    if status.events:
        out += ["", "recent events"]
        out += [f"  {ny(e.at)}  {e.kind}: {e.message}" for e in status.events]
    out += ["", "attention  " + ("\n           ".join(status.attention) if status.attention else "nothing")]
    return "\n".join(out)
