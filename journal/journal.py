"""The journal: an append-only SQLite record of runs, decisions, intents, orders, fills, positions and equity.

One class for backtests and paper sessions. SQLite in WAL mode with synchronous=FULL; the file is 0600 in a 0700
directory. A paper database records the account and endpoint it belongs to and refuses another (`bind`).
Writes that belong together (an intent and its first event) commit in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from clock import ensure_utc
from journal.decision_blocks import IN_BLOCKS, Block
from journal.schema import SCHEMA_VERSION, TABLES, append_only_triggers
from sqlite_read import ReadOnlyStorage, connect_read_only, writable_dir
from strategies.intents import OrderIntent


class JournalError(Exception):
    """The journal cannot be used as asked (newer schema, wrong account): stop."""


def open_read_only(path: Path, *, timeout_seconds: float = 5.0) -> sqlite3.Connection:
    """A read-only connection to a journal (no migration, no pragma writes, no chmod): safe while a process writes
    it (WAL); on read-only storage as `sqlite_read` allows. Raises JournalError when the file is not a journal or has a schema newer than this code's."""
    try:
        db = connect_read_only(path, timeout=timeout_seconds)
    except ReadOnlyStorage as exc:
        raise JournalError(f"{path}: {exc}") from None
    db.row_factory = sqlite3.Row
    try:
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.Error as exc:
        db.close()
        text = str(exc)
        if "unable to open" in text or "readonly" in text:  # not the file's content: the file or its directory
            what = ("cannot be opened for reading (check that it and its directory are readable)" if writable_dir(path)
                    else f"cannot be read: cannot write in {path.parent}")
        elif "malformed" in text:
            what = "is damaged (truncated or overwritten)"
        else:
            what = "is not a cutcycle journal"
        raise JournalError(f"{path} {what} ({text})") from None
    if row is None or int(row[0]) > SCHEMA_VERSION:
        db.close()
        found = "no schema version" if row is None else f"schema {row[0]}, newer than this code's {SCHEMA_VERSION}"
        raise JournalError(f"{path}: {found}: upgrade cutcycle")
    return db


def position_book(db: sqlite3.Connection) -> dict[str, float]:
    """The journal's book: our fills plus every outside-event delta (what reconciliation keeps equal to the broker's)."""
    book: dict[str, float] = {}
    for symbol, side, qty in db.execute("SELECT symbol, side, qty FROM fills"):
        book[str(symbol)] = book.get(str(symbol), 0.0) + (float(qty) if side == "buy" else -float(qty))
    for (detail,) in db.execute("SELECT detail_json FROM events WHERE kind='outside_event'"):
        for symbol, delta in json.loads(detail).get("deltas", {}).items():
            book[str(symbol)] = book.get(str(symbol), 0.0) + float(delta)
    return {s: q for s, q in book.items() if abs(q) > 1e-9}


def _iso(instant: datetime) -> str:
    return ensure_utc(instant).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, allow_nan=False)


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    kind: str
    label: str
    parent_id: str | None
    created_at: str
    start_day: str | None
    end_day: str | None
    config_json: str
    config_hash: str
    data_versions_json: str
    code_version: str
    status: str
    finished_at: str | None
    summary_json: str | None


class Journal:
    """Open (or create) a journal file."""

    def __init__(self, path: Path, *, timeout_seconds: float = 30.0, durable: bool = True) -> None:
        """`durable=False` (a backtest's journal, which its inputs can rebuild) commits without waiting for the disk:
        SQLite's `synchronous=NORMAL` in WAL mode survives the process being killed, and a power cut may lose only
        the last commits, never the file (https://www.sqlite.org/pragma.html#pragma_synchronous). The paper
        trader's journal stays `FULL`: an order it sent must be on disk before the next one."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.chmod(0o700)
        self.path = path
        # The paper trader opens it on the main thread and runs its jobs on one worker thread (runner/paper.py): one
        # thread at a time, never two at once.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=timeout_seconds, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._batching = False
        version = self._schema_version()
        if version is not None and version > SCHEMA_VERSION:
            self._db.close()
            raise JournalError(f"{path}: journal schema {version} is newer than this code's {SCHEMA_VERSION}; upgrade cutcycle")
        self._migrate(version)
        path.chmod(0o600)

    def _schema_version(self) -> int | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError:
            return None
        return int(row[0]) if row else None

    def _migrate(self, version: int | None) -> None:
        if version is None:
            self._db.executescript("BEGIN;" + TABLES + append_only_triggers() + f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;")
        elif version < SCHEMA_VERSION:  # 2 adds decision_blocks, 3 an index on events (every statement is IF NOT EXISTS)
            self._db.executescript("BEGIN;" + TABLES + append_only_triggers()
                                   + f"UPDATE meta SET value='{SCHEMA_VERSION}' WHERE key='schema_version';COMMIT;")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; inside a batch they join the batch's transaction."""
        if self._batching:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # SQLite may already have rolled back (disk full); a second ROLLBACK would hide the real error.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def open_batch(self) -> None:
        """Start one outer transaction that the following writes join (a backtest: a commit per write costs more
        than the simulation itself under synchronous=FULL)."""
        if not self._batching:
            self._db.execute("BEGIN IMMEDIATE")
            self._batching = True

    def close_batch(self) -> None:
        """Commit what the batch holds (also after an error: the rows written so far are a readable partial run)."""
        if self._batching:
            self._batching = False
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def checkpoint(self) -> None:
        """Inside a batch: commit what it holds and go on batching. Outside one: nothing to do."""
        if self._batching:
            self.close_batch()
            self.open_batch()

    # -- identity -------------------------------------------------------------------------------------------------

    def bind(self, account: str, endpoint: str) -> None:
        """Tie this database to one broker account and endpoint; refuse a different one afterwards."""
        rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('account', 'endpoint')").fetchall())
        if not rows:
            with self.transaction():
                self._db.execute("INSERT INTO meta VALUES ('account', ?)", (account,))
                self._db.execute("INSERT INTO meta VALUES ('endpoint', ?)", (endpoint,))
            return
        if rows.get("account") != account or rows.get("endpoint") != endpoint:
            raise JournalError(
                f"{self.path} belongs to account {rows.get('account')} at {rows.get('endpoint')}, "
                f"not {account} at {endpoint}: use a separate state directory"
            )

    # -- runs -----------------------------------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        *,
        kind: str,
        label: str,
        created_at: datetime,
        config: Mapping[str, Any],
        config_hash: str,
        data_versions: Mapping[str, Any],
        code_version: str,
        start_day: str | None = None,
        end_day: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO runs (run_id, kind, label, parent_id, created_at, start_day, end_day, config_json, config_hash,"
                " data_versions_json, code_version) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, kind, label, parent_id, _iso(created_at), start_day, end_day, _json(config), config_hash, _json(data_versions), code_version),
            )

    def finish_run(self, run_id: str, *, finished_at: datetime, status: str, summary: Mapping[str, Any] | None = None) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE runs SET status=?, finished_at=?, summary_json=? WHERE run_id=?",
                (status, _iso(finished_at), None if summary is None else _json(summary), run_id),
            )

    def runs(self) -> list[RunInfo]:
        return [RunInfo(*r) for r in self._db.execute("SELECT * FROM runs ORDER BY created_at, run_id")]

    def run(self, run_id: str) -> RunInfo | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return RunInfo(*row) if row else None

    # -- the trade log --------------------------------------------------------------------------------------------

    def record_decision(
        self,
        run_id: str,
        *,
        day: str,
        as_of: datetime,
        regime: str,
        runner_up: str | None,
        phase: str | None,
        reasons: Sequence[Any],
        snapshot: Mapping[str, Any],
        inputs: Mapping[str, Any],
        target: Mapping[str, Any],
    ) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run_id, day, _iso(as_of), regime, runner_up, phase, _json(reasons), _json(snapshot), _json(inputs), _json(target)),
            )

    def record_decision_heads(self, run_id: str, heads: Sequence[tuple[str, datetime, str, str | None, str | None]]) -> None:
        """Decisions whose records are in `decision_blocks`: (day, as_of, regime, runner_up, phase) each."""
        blank = IN_BLOCKS
        with self.transaction():
            self._db.executemany(
                "INSERT INTO decisions VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(run_id, day, _iso(as_of), regime, runner_up, phase, blank, blank, blank, blank) for day, as_of, regime, runner_up, phase in heads],
            )

    def record_decision_blocks(self, run_id: str, blocks: Sequence[Block]) -> None:
        """Blocks of decision records (`journal.decision_blocks.DecisionWriter`): (kind, first day, last day, parts)."""
        with self.transaction():
            self._db.executemany("INSERT INTO decision_blocks VALUES (?,?,?,?,?)", [(run_id, *block) for block in blocks])

    def record_intent(self, run_id: str, intent: OrderIntent, *, at: datetime) -> bool:
        """Store an intent with its PENDING_SUBMIT event before anything is sent. False if it was already stored."""
        cid = intent.client_order_id
        with self.transaction():
            if self._db.execute("SELECT 1 FROM intents WHERE client_order_id=?", (cid,)).fetchone():
                return False
            self._db.execute(
                "INSERT INTO intents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (cid, run_id, intent.decision_day.isoformat(), intent.symbol, intent.asset_class, intent.side, intent.qty, intent.kind,
                 intent.limit_price, intent.leg, intent.attempt, intent.reason, _iso(at)),
            )
            self._insert_event(run_id, cid, None, "pending_submit", 0.0, None, at, {})
        return True

    def _insert_event(
        self, run_id: str, cid: str, broker_id: str | None, status: str, filled_qty: float, avg: float | None, at: datetime, detail: Mapping[str, Any]
    ) -> None:
        self._db.execute(
            "INSERT INTO order_events (run_id, client_order_id, broker_order_id, status, filled_qty, filled_avg_price, at, detail_json)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (run_id, cid, broker_id, status, filled_qty, avg, _iso(at), _json(detail)),
        )

    def record_order_event(
        self,
        run_id: str,
        client_order_id: str,
        *,
        status: str,
        at: datetime,
        broker_order_id: str | None = None,
        filled_qty: float = 0.0,
        filled_avg_price: float | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        with self.transaction():
            self._insert_event(run_id, client_order_id, broker_order_id, status, filled_qty, filled_avg_price, at, detail or {})

    def record_fill(
        self,
        run_id: str,
        *,
        execution_id: str,
        client_order_id: str,
        symbol: str,
        side: str,
        qty: float,
        price: float,
        fees: float,
        at: datetime,
        synthetic: bool = False,
    ) -> bool:
        """Store a fill once; a repeated execution_id is ignored (returns False)."""
        with self.transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?,?)",
                (execution_id, run_id, client_order_id, symbol, side, qty, price, fees, _iso(at), int(synthetic)),
            )
        return cur.rowcount == 1

    def record_day(
        self,
        run_id: str,
        *,
        day: str,
        cash: float,
        shares_value: float,
        options_value: float,
        equity: float,
        interest: float,
        fees: float,
        regime: str | None,
        positions: Sequence[Mapping[str, Any]],
    ) -> None:
        """The end-of-day book: equity row plus one row per open position, in one transaction."""
        self.record_days(run_id, [(day, cash, shares_value, options_value, equity, interest, fees, regime)], [(day, p) for p in positions])

    def record_days(
        self,
        run_id: str,
        books: Sequence[tuple[str, float, float, float, float, float, float, str | None]],
        positions: Sequence[tuple[str, Mapping[str, Any]]],
    ) -> None:
        """End-of-day books, (day, cash, shares_value, options_value, equity, interest, fees, regime) each, and the
        open positions, (day, position) each, in one transaction."""
        with self.transaction():
            self._db.executemany("INSERT INTO equity VALUES (?,?,?,?,?,?,?,?,?)", [(run_id, *book) for book in books])
            self._db.executemany(
                "INSERT INTO positions VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (run_id, day, p["symbol"], p["asset_class"], p["qty"], p.get("avg_price"), p["mark"], p["market_value"], int(bool(p.get("synthetic"))))
                    for day, p in positions
                ],
            )

    def record_event(self, run_id: str, *, at: datetime, kind: str, message: str, detail: Mapping[str, Any] | None = None) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO events (run_id, at, kind, message, detail_json) VALUES (?,?,?,?,?)",
                (run_id, _iso(at), kind, message, _json(detail or {})),
            )

    # -- the run ledger -------------------------------------------------------------------------------------------

    def job_done(self, job: str, trading_day: str) -> bool:
        """Whether a daily job already completed (or was deliberately skipped) for a session."""
        return self._db.execute("SELECT 1 FROM job_ledger WHERE job=? AND trading_day=?", (job, trading_day)).fetchone() is not None

    def mark_job(self, run_id: str, job: str, trading_day: str, *, outcome: str, at: datetime, detail: str = "") -> bool:
        """Record a daily job's completion once; False if it was already recorded (a restart raced it)."""
        with self.transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO job_ledger VALUES (?,?,?,?,?,?)", (job, trading_day, run_id, outcome, _iso(at), detail)
            )
        return cur.rowcount == 1

    # -- reads ----------------------------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read-only access for reports and reconciliation (rows support access by column name)."""
        cur = self._db.cursor()
        cur.row_factory = sqlite3.Row
        return list(cur.execute(sql, params))

    def position_book(self) -> dict[str, float]:
        return position_book(self._db)

    def order_state(self, client_order_id: str) -> sqlite3.Row | None:
        """The latest event of an order."""
        rows = self.query("SELECT * FROM order_events WHERE client_order_id=? ORDER BY seq DESC LIMIT 1", (client_order_id,))
        return rows[0] if rows else None
