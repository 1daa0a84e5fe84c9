"""Finding runs in journal files and reading their trade log.

A `RunSource` opens one or more journal files (or every journal in a directory) read-only, so reviewing never
changes a journal, and finds a run by its id (or an unambiguous prefix of it) in whichever file holds it. The
readers return plain frames and rows; nothing here knows about backtests or paper sessions.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from journal.decision_blocks import blocks_detail, daily_signals, decision_rows
from journal.journal import JournalError, RunInfo, open_read_only
from review.metrics import Metrics, bill_returns, metrics

JOURNAL_SUFFIXES = (".sqlite", ".sqlite3", ".db", ".journal")


class ReviewError(Exception):
    """The review cannot be done as asked (unknown run, no decision that day, no journal): fix the arguments."""


@dataclass(frozen=True, slots=True)
class RunRef:
    """A run and the journal file holding it."""

    info: RunInfo
    path: Path

    @property
    def run_id(self) -> str:
        return self.info.run_id

    def config(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.info.config_json)
        return value

    def summary(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.info.summary_json) if self.info.summary_json else {}
        return value


def find_journals(paths: Sequence[Path]) -> list[Path]:
    """The journal files named by `paths`: files as given, directories searched recursively for journal suffixes."""
    return list(_find_journals(paths))


def _find_journals(paths: Sequence[Path]) -> dict[Path, bool]:
    """Each journal file named by `paths`, and whether it was named itself (True) or found in a directory (False)."""
    found: dict[Path, bool] = {}
    for path in paths:
        if path.is_dir():
            for p in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in JOURNAL_SUFFIXES):
                found.setdefault(p.resolve(), False)
        elif path.is_file():
            found[path.resolve()] = True
        else:
            raise ReviewError(f"no journal at {path}")
    if not found:
        raise ReviewError(f"no journal files under {', '.join(str(p) for p in paths)} (looked for {', '.join(JOURNAL_SUFFIXES)})")
    return found


def _open_checked(path: Path) -> tuple[sqlite3.Connection, list[RunInfo]]:
    """A read-only connection to a journal that passed SQLite's quick check (a truncated or damaged file fails here,
    not in the middle of a listing) and the runs it holds. Raises JournalError naming the file and the fault."""
    db = open_read_only(path)
    try:
        problems = [str(r[0]) for r in db.execute("PRAGMA quick_check(1)")]
        if problems != ["ok"]:
            raise JournalError(f"{path} is damaged ({'; '.join(problems)})")
        infos = [RunInfo(*tuple(row)) for row in db.execute("SELECT * FROM runs")]
    except sqlite3.DatabaseError as exc:
        db.close()
        raise JournalError(f"{path} is damaged ({exc})") from None
    except JournalError:
        db.close()
        raise
    return db, infos


_SHM_DMS_BYTE = 128  # SQLite (unix VFS) holds a read lock on this byte of `<journal>-shm` while a connection has it open


def journal_in_use(path: Path) -> bool:
    """Whether another process has this WAL journal open: SQLite holds a read lock on the dead-man-switch byte of its
    `-shm` file for as long as a connection is open; a killed process's lock goes with it. Asked with F_GETLK, which
    takes no lock and ignores this process's own."""
    shm = path.with_name(path.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return False  # no shared memory: no connection in WAL mode has it open
    try:
        probe = struct.pack("@hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS_BYTE, 1, 0)
        held = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
        kind: int = struct.unpack("@hhqqi4x", held)[0]
        return kind != fcntl.F_UNLCK
    finally:
        os.close(fd)


def _stderr_warning(line: str) -> None:
    sys.stderr.write(f"warning: {line}\n")
    sys.stderr.flush()


class RunSource:
    """Read-only access to the runs of several journal files. Close it (or use `open_runs`).

    A journal found in a directory that cannot be read (not a journal, damaged, a newer schema) is skipped with one
    warning naming it and what to do, so one bad file does not hide every other run; a file named on its own is an
    error. Asking for a run that is not found also names the skipped files, as it may be in one of them."""

    def __init__(self, paths: Sequence[Path], *, warn: Callable[[str], None] = _stderr_warning) -> None:
        self._dbs: dict[Path, sqlite3.Connection] = {}
        self._signals: dict[tuple[Path, str], dict[str, tuple[dict[str, Any], str]]] = {}  # a source lives for one command
        self._runs: list[RunRef] = []
        self.skipped: dict[Path, str] = {}
        try:
            for path, named in _find_journals(paths).items():
                try:
                    db, infos = _open_checked(path)
                except JournalError as exc:
                    if named:
                        raise ReviewError(str(exc)) from None
                    self.skipped[path] = str(exc)
                    warn(f"skipped {exc}; move it out of {path.parent} to silence this (`main.py runs prune` cannot read it either)")
                    continue
                self._dbs[path] = db
                self._runs += [RunRef(info, path) for info in infos]
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()

    def runs(self) -> list[RunRef]:
        """Every run in every file, oldest first."""
        return sorted(self._runs, key=lambda r: (r.info.created_at, r.run_id))

    def run(self, run_id: str) -> RunRef:
        """The run with this id, or the only run whose id starts with it."""
        refs = self.runs()
        exact = [r for r in refs if r.run_id == run_id]
        matches = exact or [r for r in refs if r.run_id.startswith(run_id)]
        if not matches:
            unread = f"; {len(self.skipped)} journal file(s) could not be read and may hold it: " + "; ".join(self.skipped.values()) if self.skipped else ""
            raise ReviewError(f"no run {run_id!r} in {len(self._dbs)} journal file(s); `main.py runs` lists them{unread}")
        if len(matches) > 1:
            where = ", ".join(f"{r.run_id} ({r.path.name})" for r in matches[:6])
            raise ReviewError(f"run id {run_id!r} is ambiguous: {where}")
        return matches[0]

    def query(self, ref: RunRef, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Rows from the journal holding `ref` (read-only)."""
        return list(self._dbs[ref.path].execute(sql, params))

    # -- the trade log, per run --------------------------------------------------------------------------------

    def equity(self, ref: RunRef) -> pd.DataFrame:
        """The end-of-day book, indexed by day: cash, shares_value, options_value, equity, interest, fees, regime."""
        sql = "SELECT day, cash, shares_value, options_value, equity, interest, fees, regime FROM equity WHERE run_id=? ORDER BY day"
        rows = self.query(ref, sql, (ref.run_id,))
        frame = pd.DataFrame([tuple(r) for r in rows], columns=["day", "cash", "shares_value", "options_value", "equity", "interest", "fees", "regime"])
        frame["day"] = pd.to_datetime(frame["day"])
        for col in ("cash", "shares_value", "options_value", "equity", "interest", "fees"):
            frame[col] = frame[col].astype(float)
        return frame.set_index("day")

    def window(self, ref: RunRef) -> tuple[str | None, str | None]:
        """The days the run covers, which its metrics are over: a finished backtest's window as recorded when it
        started; else (a paper or simulated session, which runs open-ended, or a backtest that did not finish: it
        was interrupted, failed, or is still running) its first and last equity or decision day, so a partial run's
        metrics are never labelled with the whole window it was asked for."""
        if ref.info.start_day and ref.info.end_day and ref.info.status == "finished":
            return ref.info.start_day, ref.info.end_day
        found = self.query(ref, "SELECT MIN(d), MAX(d) FROM (SELECT day AS d FROM equity WHERE run_id=? UNION ALL SELECT day FROM decisions WHERE run_id=?)",
                           (ref.run_id, ref.run_id))
        first, last = (found[0][0], found[0][1]) if found else (None, None)
        return first or ref.info.start_day, last or ref.info.end_day

    def status(self, ref: RunRef) -> str:
        """The run's status as journaled (running, finished, failed, interrupted, stopped), except that a run still
        marked `running` whose journal no process has open is `abandoned`: its process was killed (SIGKILL, a crash,
        a power cut) before it could record how it ended."""
        if ref.info.status == "running" and not journal_in_use(ref.path):
            return "abandoned"
        return ref.info.status

    def bill_rates(self, ref: RunRef) -> pd.Series:
        """The 3-month bill rate (percent) known after each session's close, by day (NaN where none was known): every
        day the run decided, a compact sweep member's unstored days included (`journal.decision_blocks.daily_signals`),
        so the metrics are over the same bill rate the run itself earned."""
        known = self._daily_signals(ref)
        rates = [float("nan") if m.get("bill_rate") is None else float(m["bill_rate"]) for m, _ in known.values()]
        return pd.Series(rates, index=pd.to_datetime(list(known)), dtype=float)

    def compact(self, ref: RunRef) -> bool:
        """A sweep member journaled compactly (without --full-journal): decisions stored only on the days its target
        changed or it sent orders, no end-of-day positions."""
        return blocks_detail(self._dbs[ref.path], ref.run_id) == "compact"

    def regime_calls(self, ref: RunRef) -> list[tuple[str, str]]:
        """(day, regime called after its close) for every day the run decided, in day order: from its decisions, or,
        for a compact sweep member (which stores only the days its target changed), from its snapshot blocks."""
        decided = {str(r["day"]) for r in self.query(ref, "SELECT day FROM decisions WHERE run_id=?", (ref.run_id,))}
        days = set(pd.DatetimeIndex(self.equity(ref).index).strftime("%Y-%m-%d")) | decided
        return [(day, regime) for day, (_, regime) in self._daily_signals(ref).items() if day in days]

    def _daily_signals(self, ref: RunRef) -> dict[str, tuple[dict[str, Any], str]]:
        """`daily_signals` of the run, decoded once per source (the metrics and the scorecard both read it)."""
        key = (ref.path, ref.run_id)
        if key not in self._signals:
            self._signals[key] = daily_signals(self._dbs[ref.path], ref.run_id)
        return self._signals[key]

    def measure(self, ref: RunRef, curve: pd.Series | None = None) -> Metrics:
        """The run's metrics (or those of `curve`, e.g. a benchmark over the run's days) over the bill rate its
        decisions saw: the one definition `backtest` and `sweep` use."""
        equity = self.equity(ref)["equity"] if curve is None else curve
        return metrics(equity, bill_returns(self.bill_rates(ref), pd.DatetimeIndex(equity.index)))

    def decisions(self, ref: RunRef) -> list[sqlite3.Row]:
        """Every decision of the run in day order, its full record rebuilt (`journal.decision_blocks`)."""
        return decision_rows(self._dbs[ref.path], ref.run_id)

    def decision(self, ref: RunRef, day: str) -> sqlite3.Row | None:
        rows = decision_rows(self._dbs[ref.path], ref.run_id, day)
        return rows[0] if rows else None

    def intents(self, ref: RunRef, decision_day: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM intents WHERE run_id=?" + (" AND decision_day=?" if decision_day else "") + " ORDER BY decision_day, symbol, leg, attempt"
        return self.query(ref, sql, (ref.run_id, decision_day) if decision_day else (ref.run_id,))

    def order_events(self, ref: RunRef, client_order_id: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM order_events WHERE run_id=?" + (" AND client_order_id=?" if client_order_id else "") + " ORDER BY seq"
        return self.query(ref, sql, (ref.run_id, client_order_id) if client_order_id else (ref.run_id,))

    def fills(self, ref: RunRef) -> list[sqlite3.Row]:
        """Fills joined with their intent's decision day, asset class, leg and reason, in execution order."""
        return self.query(
            ref,
            "SELECT f.*, i.decision_day, i.asset_class, i.leg, i.reason, i.kind AS order_kind, i.limit_price FROM fills f"
            " JOIN intents i ON i.client_order_id = f.client_order_id WHERE f.run_id=? ORDER BY f.at, f.execution_id",
            (ref.run_id,),
        )

    def positions(self, ref: RunRef) -> list[sqlite3.Row]:
        return self.query(ref, "SELECT * FROM positions WHERE run_id=? ORDER BY day, symbol", (ref.run_id,))

    def events(self, ref: RunRef, kind: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM events WHERE run_id=?" + (" AND kind=?" if kind else "") + " ORDER BY at, seq"
        return self.query(ref, sql, (ref.run_id, kind) if kind else (ref.run_id,))


@contextmanager
def open_runs(paths: Sequence[Path]) -> Iterator[RunSource]:
    """A `RunSource` closed on exit."""
    source = RunSource(paths)
    try:
        yield source
    finally:
        source.close()


def config_summary(config: dict[str, Any], limit: int = 4) -> str:
    """A one-line summary of a run's config: its label-like keys and a few strategy scalars."""
    parts: list[str] = []
    for key in ("variant", "name", "strategy"):
        value = config.get(key)
        if isinstance(value, str | int | float):
            parts.append(f"{key}={value}")
    strategy = config.get("strategy")
    if isinstance(strategy, dict):
        scalars = [(k, v) for k, v in sorted(strategy.items()) if isinstance(v, int | float | str | bool)]
        parts += [f"{k}={v}" for k, v in scalars[:limit]]
    return ", ".join(parts)
