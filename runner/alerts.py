"""What the paper trader tells its user: events read from the journal after each wake, handed to the `Notifier`.

The journal is the record of what happened (fills, decisions, failed and missed jobs, outside events), so the
alerts are read from it rather than threaded through the jobs: `poll()` looks at the rows added since the last poll
(cursors start at the journal's end when the process starts: a restart does not repeat old news) and turns them into
messages. The runner calls it after every wake; the process and scheduler events (start, stop, a job that raised on
the scheduler, the kill switch) are emitted by the runner directly through `AlertFeed.emit`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from clock import NEW_YORK, Clock
from config.schema import AppConfig
from journal.journal import Journal
from runner.notify import Event, Notifier

log = logging.getLogger(__name__)

NextJobs = Callable[[datetime], list[dict[str, str]]]
_CURSORS = {
    "fills": "SELECT COALESCE(MAX(rowid), 0) FROM fills",
    "intents": "SELECT COALESCE(MAX(rowid), 0) FROM intents",
    "events": "SELECT COALESCE(MAX(seq), 0) FROM events",
    "ledger": "SELECT COALESCE(MAX(rowid), 0) FROM job_ledger",
    "decisions": "SELECT COALESCE(MAX(rowid), 0) FROM decisions",
}


def ny(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M ET")


def limit(price: float | None) -> str:
    return "" if price is None else f" limit {price:.2f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.2f}%"


class AlertFeed:
    """Journal rows -> events. Thread-safe: one poll at a time."""

    def __init__(self, notifier: Notifier, journal: Callable[[], Journal], clock: Clock, next_jobs: NextJobs, cfg: AppConfig | None = None,
                 kill_file: Any = None) -> None:
        self.notifier = notifier
        self.journal = journal
        self.clock = clock
        self.next_jobs = next_jobs
        self.cfg = cfg
        self.kill_file = kill_file
        self._lock = threading.Lock()
        self._cursor: dict[str, int] = {}
        self._stale_told: str | None = None
        self._kill = False
        self.failures_told = 0  # job failures told from the journal (the runner tells the ones the journal missed)

    def emit(self, event: Event) -> None:
        self.notifier.emit(event)

    def prime(self) -> None:
        """Start from the journal's end (called once the session is open)."""
        with self._lock:
            j = self.journal()
            self._cursor = {name: int(j.query(sql)[0][0]) for name, sql in _CURSORS.items()}
            self._kill = bool(self.kill_file is not None and self.kill_file.exists())

    def poll(self) -> None:
        """Emit what the journal gained since the last poll. Never raises (a failed read is logged and retried next time)."""
        with self._lock:
            try:
                j = self.journal()
                self._intents(j)
                self._fills(j)
                self._events(j)
                self._ledger(j)
                self._decisions(j)
                self._kill_switch()
            except (sqlite3.Error, OSError, ValueError, KeyError) as exc:
                log.error("alerts: cannot read the journal: %s: %s", type(exc).__name__, exc)

    def _new(self, j: Journal, name: str, sql: str, key: str = "rowid") -> list[sqlite3.Row]:
        rows = j.query(sql.format(key=key), (self._cursor.get(name, 0),))
        if rows:
            self._cursor[name] = max(int(r[key]) for r in rows)
        return rows

    # -- trades ---------------------------------------------------------------------------------------------------

    def _intents(self, j: Journal) -> None:
        rows = self._new(j, "intents", "SELECT rowid, * FROM intents WHERE {key} > ? ORDER BY {key}")
        if not rows:
            return
        lines = [f"{r['side']} {r['qty']} {r['symbol']} ({r['kind']}{limit(r['limit_price'])}) — {r['reason']}" for r in rows]
        days = sorted({str(r["decision_day"]) for r in rows})
        self.emit(Event("orders", f"cutcycle: {len(rows)} order(s) sent", f"Decision of {', '.join(days)}:\n" + "\n".join(lines),
                        key=f"orders:{rows[0]['client_order_id']}"))

    def _fills(self, j: Journal) -> None:
        rows = self._new(j, "fills", "SELECT f.rowid AS rowid, f.*, i.reason AS reason, i.decision_day AS decision_day, "
                                     "(SELECT regime FROM decisions d WHERE d.day = i.decision_day ORDER BY d.rowid DESC LIMIT 1) AS regime "
                                     "FROM fills f LEFT JOIN intents i ON i.client_order_id = f.client_order_id WHERE f.{key} > ? ORDER BY f.{key}")
        for r in rows:
            why = f"{r['reason']} (decision of {r['decision_day']}, regime {r['regime']})" if r["reason"] else "an order of ours"
            self.emit(Event("fills", f"cutcycle: filled {r['side']} {r['qty']:g} {r['symbol']} @ {r['price']:.2f}",
                            f"{r['side']} {r['qty']:g} {r['symbol']} at {r['price']:.2f} on {ny(str(r['at']))}\nwhy: {why}",
                            level="success", key=f"fill:{r['execution_id']}"))

    # -- problems -------------------------------------------------------------------------------------------------

    def _events(self, j: Journal) -> None:
        rows = self._new(j, "events", "SELECT * FROM events WHERE {key} > ? ORDER BY {key}", key="seq")
        for r in rows:
            kind, message = str(r["kind"]), str(r["message"])
            detail = json.loads(r["detail_json"] or "{}")
            if kind == "job_failed":
                job = message.split(":", 1)[0]
                kind_of = "halt" if ": Halt:" in message else "failure"
                self.failures_told += 1
                self.emit(Event(kind_of, f"cutcycle: job failed: {job}", f"{message}\nIt is retried at the next wake while still "
                                "meaningful; `main.py status` shows the ledger.", level="failure", key=f"job_failed:{job}"))
            elif kind == "job_recovered":
                job = message.split(" ", 1)[0]
                self.emit(Event("failure", f"cutcycle: job recovered: {job}", message, level="success", key=f"job_recovered:{message}"))
            elif kind in ("order_failed", "order_skipped", "expiry_no_quote", "stale_close"):
                self.emit(Event("failure", f"cutcycle: {kind.replace('_', ' ')}", message, level="warning", key=f"{kind}:{message}"))
            elif kind == "orders_held":
                level_kind = "halt" if "kill switch" in message else "orders"
                self.emit(Event(level_kind, "cutcycle: orders held", message, level="warning"))
            elif kind == "outside_event":
                what = detail.get("what", "")
                title = "reconciliation gap repaired" if what == "position_adjustment" else "outside event"
                self.emit(Event("reconcile_gap", f"cutcycle: {title}", f"{message}\nThe journal now agrees with Alpaca; check the account if this "
                                "was not you.", level="warning", key=f"outside:{detail.get('key', message)}"))
            elif kind == "halt":
                self.emit(Event("halt", "cutcycle: halted", message, level="failure"))

    def _ledger(self, j: Journal) -> None:
        rows = self._new(j, "ledger", "SELECT rowid, * FROM job_ledger WHERE {key} > ? ORDER BY {key}")
        for r in rows:
            if r["outcome"] == "missed":
                self.emit(Event("missed", f"cutcycle: missed {r['job']} of {r['trading_day']}", f"{r['job']} for {r['trading_day']} did not run "
                                f"before its deadline ({r['detail']}). Was the process down?", level="warning",
                                key=f"missed:{r['job']}:{r['trading_day']}"))

    def _kill_switch(self) -> None:
        if self.kill_file is None:
            return
        engaged = bool(self.kill_file.exists())
        if engaged != self._kill:
            self._kill = engaged
            self.emit(Event("halt", f"cutcycle: kill switch {'engaged' if engaged else 'released'}",
                            f"{self.kill_file} {'exists: no order is sent while it does' if engaged else 'was removed: orders are sent again'}",
                            level="warning" if engaged else "info"))

    def stale_data(self, now: datetime) -> None:
        """Datasets past their release schedule (the store the trader reads); told once per distinct set."""
        if self.cfg is None:
            return
        from runner.status import data_freshness

        fresh = data_freshness(self.cfg, now)
        told = ";".join(f"{s.id}@{s.last}" for s in fresh.stale)
        if not fresh.stale or told == self._stale_told:
            self._stale_told = told or None
            return
        self._stale_told = told
        lines = [f"{s.id} ({s.kind}): last {s.last or 'never'}{f' — {s.note}' if s.note else ''}" for s in fresh.stale]
        self.emit(Event("stale_data", f"cutcycle: {len(fresh.stale)} dataset(s) stale", "Past their release schedule:\n" + "\n".join(lines)
                        + "\nThe pre-open refresh fetches them; `main.py data status` shows each.", level="warning", key=f"stale:{told}"))

    # -- decisions ------------------------------------------------------------------------------------------------

    def _decisions(self, j: Journal) -> None:
        rows = self._new(j, "decisions", "SELECT rowid, run_id, day, regime, runner_up, phase, reasons_json, inputs_json, target_json "
                                         "FROM decisions WHERE {key} > ? ORDER BY {key}")
        for r in rows:
            previous = j.query("SELECT day, regime, phase FROM decisions WHERE day < ? ORDER BY day DESC LIMIT 1", (r["day"],))
            if previous and (previous[0]["regime"] != r["regime"] or previous[0]["phase"] != r["phase"]):
                p = previous[0]
                changed = [f"regime {p['regime']} -> {r['regime']}"] if p["regime"] != r["regime"] else []
                changed += [f"phase {p['phase']} -> {r['phase']}"] if p["phase"] != r["phase"] else []
                reasons = json.loads(r["reasons_json"])
                self.emit(Event("regime", f"cutcycle: {', '.join(changed)}", f"As of the close of {r['day']}: {'; '.join(changed)}.\n"
                                + "\n".join(f"- {x}" for x in reasons), level="warning", key=f"regime:{r['day']}"))
            self.emit(self.summary(j, r))

    def summary(self, j: Journal, r: sqlite3.Row) -> Event:
        """The daily summary after the decision: regime, target, equity and P&L against IWM and SPY since the start, next jobs."""
        day = str(r["day"])
        target = json.loads(r["target_json"])
        weights = ", ".join(f"{s} {w * 100:.0f}%" for s, w in target.get("weights", {}).items()) or "all cash"
        puts = target.get("puts")
        hedge = f"; puts: {puts['contracts']} x {puts.get('symbol') or puts['spec']['underlying']}" if puts else ""
        lines = [f"Regime: {r['regime']} (runner-up {r['runner_up'] or '-'}), phase {r['phase'] or '-'}",
                 f"Target for the next open: {weights}{hedge}{' (hold)' if target.get('hold') else ''}",
                 f"Orders for the next open: {len(target.get('intents', []))}"]
        lines += self._performance(j, day, json.loads(r["inputs_json"]).get("market", {}))
        upcoming = self.next_jobs(self.clock.now())
        if upcoming:
            lines.append("Next jobs: " + ", ".join(f"{x['job']} {ny(x['at'])}" for x in upcoming))
        return Event("summary", f"cutcycle daily summary {day}: {r['regime']}", "\n".join(lines), key=f"summary:{r['run_id']}:{day}")

    def _performance(self, j: Journal, day: str, market: Mapping[str, Any]) -> list[str]:
        first = j.query("SELECT e.day AS day, e.equity AS equity, d.inputs_json AS inputs FROM equity e LEFT JOIN decisions d "
                        "ON d.run_id = e.run_id AND d.day = e.day ORDER BY e.day, e.rowid LIMIT 1")
        now = j.query("SELECT equity FROM equity WHERE day = ? ORDER BY rowid DESC LIMIT 1", (day,))
        if not first or not now:
            return ["Equity: not recorded yet"]
        start = first[0]
        base = json.loads(start["inputs"] or "{}").get("market", {})
        equity = float(now[0]["equity"])

        def change(a: Any, b: Any) -> float | None:
            return None if not a or b is None else float(b) / float(a) - 1.0

        return [f"Equity: {equity:,.2f} (since {start['day']}: {pct(change(start['equity'], equity))}, "
                f"{equity - float(start['equity']):+,.2f})",
                f"Against buying and holding since {start['day']}: IWM {pct(change(base.get('iwm_close'), market.get('iwm_close')))}, "
                f"SPY {pct(change(base.get('spy_close'), market.get('spy_close')))}"]
