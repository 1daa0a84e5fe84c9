"""The paper trader's jobs. Each daily job runs once per session: the journal's run ledger decides (R27).

| job        | when (New York)      | does                                                                          |
|------------|----------------------|-------------------------------------------------------------------------------|
| pre_open   | 08:45, until 09:25   | refresh data, reconcile, submit the intents the last decision stored (OPG)     |
| expiry     | 11:30, until 15:00   | reconcile; sell puts at or inside the roll window (R12), by day limit orders   |
| decision   | 16:30, until next    | reconcile, refresh data for the day's close (`runner.closes`), journal the     |
|            | pre-open cutoff      | day's book, snapshot, `decide`, store the intents for the next open (not sent) |
| reconcile  | every 5 min in the   | reconcile while orders are working (R08)                                      |
|            | session              |                                                                               |

No order leaves while the kill-switch file exists, in `--dry-run`, or when its intent cannot be stored (R23).
A failing job is logged, counted and listed under `failing` in the heartbeat (with its attempts); it is not marked
done, so it is tried again every `RETRY_FAILED_AFTER` while still meaningful. It is journaled as `job_failed` on its
first failure and when the error changes, not on every retry with the same error (a close that is late for hours
would write an event every two minutes), and as `job_recovered` with its attempts when a retry succeeds. A failed pre-open data refresh (FRED down, the
store locked by another process) is reported and the stored intents still go out: they were decided on the data of
the evening before, which is what the backtest does too.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from broker.contract import AccountView, Broker, BrokerError, Halt, PositionView, SkipCycle
from clock import NEW_YORK, Clock, monotonic
from journal.journal import Journal
from journal.records import decision_documents
from runner.calendar import TradingCalendar
from runner.closes import STALE_FALLBACK, Closes, StaleClose, fresh_closes
from runner.decision import Chain, OptionMark, book_from_broker, decide_day, intent_from_json, marks_from_snapshot
from runner.guards import Health, kill_switch_engaged
from runner.schedule import DECISION, RETRY_FAILED_AFTER, DueJob, due_jobs, upcoming
from signals.snapshot import Snapshot
from strategies.book import CONTRACT_SIZE
from strategies.intents import OrderIntent
from strategies.options import must_close
from strategies.params import StrategyParams

log = logging.getLogger(__name__)


@dataclass
class PaperDeps:
    """Everything the jobs use, wired once by the composition root (`runner.compose`)."""

    journal: Journal
    broker: Broker
    reconcile: Callable[[], object]  # one reconciliation pass (Reconciler.run): raises on an unresolvable gap
    calendar: TradingCalendar
    snapshot: Callable[[date], Snapshot]  # what was known after the session's close
    strategy: StrategyParams
    clock: Clock
    state_dir: Path
    run_id: str
    chain: Chain
    option_mark: OptionMark
    refresh: Callable[[], None] | None = None  # data refresh (FRED + bars) and snapshot reload: pre-open and decision
    closes: Callable[[date], Mapping[str, date | None]] | None = None  # the last close per symbol a day's snapshot reads
    dry_run: bool = False
    health: Health = field(default_factory=lambda: Health(started_at="", mode="paper"))

    @property
    def kill_file(self) -> Path:
        return self.state_dir / "KILL"


def first_start(journal: Journal) -> datetime | None:
    """When the first session in this journal started: the ledger's horizon (nothing before it was missed)."""
    rows = journal.query("SELECT MIN(created_at) AS first FROM runs WHERE kind IN ('paper', 'simulation')")
    return datetime.fromisoformat(rows[0]["first"]) if rows and rows[0]["first"] else None


class Jobs:
    def __init__(self, deps: PaperDeps) -> None:
        self.d = deps
        self.since = first_start(deps.journal)
        self._failing: dict[tuple[str, str], tuple[int, datetime, str]] = {}  # (job, day) -> (attempts, last failure, error)

    # -- the ledger loop ------------------------------------------------------------------------------------------

    def run_due(self) -> list[str]:
        """Run every daily job that is due and not in the ledger; record missed ones. Returns 'job:day' run."""
        d = self.d
        now = d.clock.now()
        due, missed = due_jobs(now, d.calendar, d.journal.job_done, since=self.since)
        for item in missed:
            day = item.session.day.isoformat()
            self._failing.pop((item.job.name, day), None)
            if d.journal.mark_job(d.run_id, item.job.name, day, outcome="missed", at=now, detail=f"deadline {item.deadline.isoformat()} passed"):
                d.health.jobs_missed += 1
                log.warning("missed %s for %s: past its deadline %s", item.job.name, day, item.deadline.isoformat())
        ran = []
        for item in due:
            failed = self._failing.get((item.job.name, item.session.day.isoformat()))
            if failed is not None and now < failed[1] + RETRY_FAILED_AFTER:
                continue
            if self.run_one(item):
                ran.append(f"{item.job.name}:{item.session.day.isoformat()}")
        self._publish_failing()
        return ran

    def run_one(self, item: DueJob) -> bool:
        d = self.d
        name, day = item.job.name, item.session.day
        body = {"pre_open": self.pre_open, "expiry": self.expiry, "decision": self.decision}[name]
        key = (name, day.isoformat())
        started = monotonic()
        try:
            outcome = body(day)
            d.journal.mark_job(d.run_id, name, day.isoformat(), outcome=outcome, at=d.clock.now(), detail=f"took {monotonic() - started:.3f} s")
        except Exception as exc:  # counted, journaled, retried; a bug in one job must not stop the others
            d.health.jobs_failed += 1
            d.health.last_error = f"{name} {day}: {type(exc).__name__}: {exc}"
            if isinstance(exc, Halt):
                d.health.halted = str(exc)
            before = self._failing.get(key)
            attempts = before[0] + 1 if before else 1
            self._failing[key] = (attempts, d.clock.now(), d.health.last_error)
            expected = isinstance(exc, BrokerError | sqlite3.Error | OSError | StaleClose)
            if before is None or before[2] != d.health.last_error:
                log.error("job %s for %s failed (attempt %d): %s", name, day, attempts, d.health.last_error, exc_info=not expected)
                self._event("job_failed", d.health.last_error, {"job": name, "day": day.isoformat(), "attempt": attempts})
            else:
                log.warning("job %s for %s failed again (attempt %d, same error)", name, day, attempts)
            return False
        failed = self._failing.pop(key, None)
        if failed is not None:
            log.info("job %s for %s ran after %d failed attempt(s)", name, day, failed[0])
            self._event("job_recovered", f"{name} {day}: ran after {failed[0]} failed attempt(s)",
                        {"job": name, "day": day.isoformat(), "failed_attempts": failed[0]})
        d.health.jobs_run += 1
        return True

    def _publish_failing(self) -> None:
        """The daily jobs failing now, for the heartbeat: a process whose jobs all fail must not look healthy."""
        self.d.health.extra["failing"] = {f"{job} {day}": {"attempts": n, "last": at.isoformat()}
                                          for (job, day), (n, at, _) in sorted(self._failing.items())}

    def _event(self, kind: str, message: str, detail: dict[str, object] | None = None) -> None:
        try:
            self.d.journal.record_event(self.d.run_id, at=self.d.clock.now(), kind=kind, message=message, detail=detail)
        except sqlite3.Error as exc:  # the journal may be the thing that failed (disk full): the log still says it
            log.error("cannot journal %s event: %s", kind, exc)

    def _may_send(self) -> str | None:
        """Why no order may leave now, or None."""
        if self.d.dry_run:
            return "dry run"
        if kill_switch_engaged(self.d.kill_file):
            return f"kill switch {self.d.kill_file}"
        return None

    def _send(self, intents: list[OrderIntent]) -> str:
        blocked = self._may_send()
        if blocked:
            for i in intents:
                log.info("not sending %s: %s", i.client_order_id, blocked)
            if intents:
                self._event("orders_held", f"{len(intents)} intents not sent: {blocked}", {"intents": [i.client_order_id for i in intents]})
            return f"held ({blocked})" if intents else "nothing to send"
        sent = 0
        for intent in intents:
            try:
                self.d.broker.submit(intent)
                sent += 1
            except SkipCycle as exc:
                self._event("order_skipped", str(exc), {"client_order_id": intent.client_order_id})
            except BrokerError as exc:
                if isinstance(exc, Halt):
                    raise
                self._event("order_failed", f"{type(exc).__name__}: {exc}", {"client_order_id": intent.client_order_id})
        return f"sent {sent}/{len(intents)}"

    # -- daily jobs -----------------------------------------------------------------------------------------------

    def pre_open(self, day: date) -> str:
        d = self.d
        refreshed = ""
        if d.refresh is not None:
            try:
                d.refresh()
            except Exception as exc:  # stale data must not cost the orders already decided (FRED down, store locked)
                d.health.last_error = f"pre_open {day} refresh: {type(exc).__name__}: {exc}"
                log.error("pre-open data refresh failed, sending the stored intents anyway: %s", d.health.last_error,
                          exc_info=not isinstance(exc, sqlite3.Error | OSError | BrokerError))
                self._event("refresh_failed", d.health.last_error)
                refreshed = f"; refresh failed: {type(exc).__name__}"
        d.reconcile()
        previous = d.calendar.previous_session(day).day.isoformat()
        rows = d.journal.query("SELECT target_json FROM decisions WHERE day=? ORDER BY rowid DESC LIMIT 1", (previous,))
        if not rows:
            return "no decision to act on" + refreshed
        intents = [intent_from_json(doc) for doc in json.loads(rows[0]["target_json"]).get("intents", [])]
        return self._send([i for i in intents if i.kind == "market_on_open"]) + f" (decision {previous}){refreshed}"

    def expiry(self, day: date) -> str:
        """Sell puts at or inside the roll window by 15:00 ET (R12); the next decision buys the replacement."""
        d = self.d
        d.reconcile()
        positions = d.broker.positions()
        working = {o.symbol for o in d.broker.open_orders()}
        book = book_from_broker(d.broker.account(), positions, [], {}, d.journal, day)
        intents = []
        for pos in book.options:
            if pos.symbol in working or not must_close(pos.expiry, day, d.strategy.hedge.roll_dte):
                continue
            mark = d.option_mark(pos.symbol)
            if mark is None or mark <= 0:
                self._event("expiry_no_quote", f"{pos.symbol}: no quote, cannot close before expiry")
                continue
            limit = max(0.01, round(mark * (1.0 - d.strategy.hedge.limit_slack), 2))
            intents.append(OrderIntent(day, pos.symbol, "option", "sell", pos.qty, "limit_day", "close put in the roll window", limit, leg=9))
        if not intents:
            return "no puts to close"
        return self._send(intents)

    def decision(self, day: date) -> str:
        d = self.d
        # Any run's: a process killed between journaling the decision and the ledger must not decide the day twice.
        if d.journal.query("SELECT 1 FROM decisions WHERE day=?", (day.isoformat(),)):
            return "decision already journaled"
        d.reconcile()
        closes = self._closes(day)  # refreshed first: the day's close, or wait, or say which close (runner.closes)
        snapshot = d.snapshot(day)
        marks = marks_from_snapshot(snapshot, d.strategy)
        account, positions = d.broker.account(), d.broker.positions()
        self._record_book(day, account, positions)
        book = book_from_broker(account, positions, d.broker.open_orders(), marks, d.journal, day)
        made = decide_day(snapshot, book, d.strategy, d.chain, d.option_mark)
        as_of = snapshot.as_of
        snap, inputs = decision_documents(snapshot)
        inputs.update({"marks": marks, "cash": book.cash, "shares": dict(book.shares)})
        if closes is not None:
            inputs["closes"] = closes.doc()
        d.journal.record_decision(
            d.run_id, day=day.isoformat(), as_of=as_of, regime=snapshot.regime.name, runner_up=snapshot.regime.runner_up,
            phase=snapshot.phase.name, reasons=list(made.target.reasons), snapshot=snap, inputs=inputs, target=made.target_json(),
        )
        log.info("as of %s: %s, %d intents for the next open", as_of.isoformat(), snapshot.regime.name, len(made.intents))
        stale = f" on stale closes ({closes.describe()})" if closes is not None and closes.missing else ""
        return f"{snapshot.regime.name}: {len(made.intents)} intents stored{stale}"

    def _closes(self, day: date) -> Closes | None:
        """Refresh the store for the decision and check it holds the day's closes (see `runner.closes`)."""
        d = self.d
        session = d.calendar.session(day)
        if d.closes is None or session is None:
            return None
        give_up = DECISION.deadline(session, d.calendar) - STALE_FALLBACK
        closes = fresh_closes(day, refresh=d.refresh, last_close=d.closes, now=d.clock.now(), give_up_at=give_up)
        d.health.extra["decision_closes"] = closes.doc()
        if closes.refresh_error:
            self._event("refresh_failed", f"decision {day} refresh: {closes.refresh_error}")
        if closes.missing:
            log.warning("deciding %s on stale closes: %s", day, closes.describe())
            self._event("stale_close", f"decision {day} on stale closes: {closes.describe()}", closes.doc())
        return closes

    def _record_book(self, day: date, account: AccountView, positions: Mapping[str, PositionView]) -> None:
        """The end-of-day book as the broker marks it after the close: the session's equity curve (once per day, whatever the run)."""
        d = self.d
        if d.journal.query("SELECT 1 FROM equity WHERE day=?", (day.isoformat(),)):
            return
        previous = d.journal.query("SELECT regime FROM decisions WHERE day < ? ORDER BY day DESC LIMIT 1", (day.isoformat(),))
        rows, values = [], {"equity": 0.0, "option": 0.0}
        for p in positions.values():
            value = p.market_value if p.market_value is not None else 0.0
            values["option" if p.asset_class == "option" else "equity"] += value
            mark = value / (p.qty * (CONTRACT_SIZE if p.asset_class == "option" else 1)) if p.qty else 0.0
            rows.append({"symbol": p.symbol, "asset_class": p.asset_class, "qty": p.qty, "avg_price": p.avg_entry_price, "mark": mark,
                         "market_value": value})
        d.journal.record_day(d.run_id, day=day.isoformat(), cash=account.cash, shares_value=values["equity"], options_value=values["option"],
                             equity=account.equity, interest=0.0, fees=0.0, regime=previous[0]["regime"] if previous else None, positions=rows)

    # -- interval jobs --------------------------------------------------------------------------------------------

    def intraday_reconcile(self) -> None:
        """Every few minutes in the session while orders are working (R08)."""
        d = self.d
        now = d.clock.now()
        session = d.calendar.session(now.astimezone(NEW_YORK).date())
        if session is None or not session.open <= now <= session.close:
            return
        try:
            if d.broker.open_orders():
                d.reconcile()
                d.health.extra["intraday_reconciles"] = int(d.health.extra.get("intraday_reconciles", 0)) + 1
        except (BrokerError, sqlite3.Error, OSError) as exc:  # transient: the next one tries again; counted, not hidden
            d.health.jobs_failed += 1
            d.health.last_error = f"reconcile: {type(exc).__name__}: {exc}"
            if isinstance(exc, Halt):
                d.health.halted = str(exc)
            log.warning("intraday reconcile failed: %s", exc)

    def next_jobs(self, now: datetime) -> list[dict[str, str]]:
        """The next three daily jobs that will run (holidays skipped), for the heartbeat."""
        try:
            return [{"job": name, "at": at.isoformat()} for at, name in upcoming(now, self.d.calendar, 3)]
        except LookupError:
            return []
