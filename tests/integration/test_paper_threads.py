"""The paper jobs on APScheduler's real worker thread (R35), late triggers caught up from the ledger (R36), and a
store locked by another process at the pre-open (issue 11 items 1, 2 and 6).

The real BackgroundScheduler runs the runner's jobs on its own thread while the test moves the emulator's and the
runner's clocks; nothing is called on the main thread but the start-up and the checks.
"""

from __future__ import annotations

import logging
import sqlite3
import time as walltime
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from clock import NEW_YORK, SystemClock
from datastore.store import Store
from emulator.faults import FaultRule
from runner.compose import open_session
from runner.paper import JOB_THREAD, PaperRunner, data_refresh
from runner.status import collect_status
from tests.integration.test_paper_support import KEYS, Rig, rig
from tests.servers.ports import wait_for

WEDNESDAY, THURSDAY = date(2024, 7, 10), date(2024, 7, 11)


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NEW_YORK)


def _rows(r: Rig, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(r.folder / "paper" / "paper.sqlite")  # another connection on this thread: the journal as `status` reads it
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _ledger(r: Rig) -> dict[tuple[str, str], str]:
    return {(str(j), str(d)): str(o) for j, d, o in _rows(r, "SELECT job, trading_day, outcome FROM job_ledger")}


@contextmanager
def _running(runner: PaperRunner) -> Iterator[BackgroundScheduler]:
    sched = runner.build_scheduler(BackgroundScheduler)
    runner.scheduler = sched
    sched.start()
    try:
        yield sched
    finally:
        sched.shutdown(wait=True)
        runner.join()


def test_decision_pre_open_reconcile_and_expiry_run_on_the_scheduler_thread(pack_store: Store, tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 31)) as r, r.session(mode="paper") as (s, _):
        runner = PaperRunner(s.deps, tick=timedelta(seconds=0.1), reconcile_every=timedelta(seconds=0.1))
        with _running(runner):
            wait_for(lambda: ("decision", "2024-07-10") in _ledger(r), 30.0, "the 16:30 decision", poll=0.05)
            r.exchange.partial_fills["IWM"] = 7  # the open fills 7 shares: the order stays open in the session
            r.move(_at(THURSDAY, 8, 46))
            wait_for(lambda: ("pre_open", "2024-07-11") in _ledger(r), 30.0, "the 08:45 pre-open", poll=0.05)
            r.move(_at(THURSDAY, 9, 35))
            wait_for(lambda: bool(_rows(r, "SELECT 1 FROM fills WHERE symbol='IWM'")), 30.0, "the intraday reconcile to journal the open's fill", poll=0.05)
            r.move(_at(THURSDAY, 11, 31))
            wait_for(lambda: ("expiry", "2024-07-11") in _ledger(r), 30.0, "the 11:30 expiry job", poll=0.05)
        health = s.deps.health
        ledger = _ledger(r)
        posted = list(r.exchange.post_log)
    assert health.jobs_failed == 0 and health.last_error is None, health.last_error
    assert health.jobs_run == 3 and health.extra["failing"] == {}
    assert health.extra["intraday_reconciles"] >= 1
    assert ledger[("pre_open", "2024-07-11")].startswith("sent ") and posted
    assert [(p.client_order_id, p.outcome) for p in posted] == [(p.client_order_id, "created") for p in posted]
    fills = _rows(r, "SELECT qty FROM fills WHERE symbol='IWM'")
    assert sum(float(str(q)) for (q,) in fills) == 7
    job_lines = [rec for rec in caplog.records if rec.name == "runner.jobs"]
    assert job_lines and {rec.threadName.rsplit("_", 1)[0] for rec in job_lines} == {JOB_THREAD}


def test_a_job_failing_on_the_worker_thread_is_counted_retried_and_shown(pack_store: Store, tmp_path: Path) -> None:
    """The heartbeat must not look healthy while the jobs fail: the broker refuses every call at the decision."""
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 20)) as r, r.session(mode="paper") as (s, _):
        runner = PaperRunner(s.deps, tick=timedelta(seconds=0.1))
        with _running(runner):
            wait_for(runner.heartbeat_path.exists, 30.0, "the first heartbeat", poll=0.05)
            r.server.faults.add(FaultRule("*", "unauthorized", times=None))  # every call now answers 401
            r.move(_at(WEDNESDAY, 16, 31))
            wait_for(lambda: s.deps.health.jobs_failed >= 1, 30.0, "the decision to fail", poll=0.05)
            walltime.sleep(0.5)
            attempts_soon = s.deps.health.jobs_failed
            seen = collect_status(r.cfg, KEYS, r.clock, offline=True, state_dir=s.deps.state_dir)  # `main.py status`
            r.server.faults.clear()
            r.move(_at(WEDNESDAY, 16, 34))  # past the retry delay: tried again, and this time it works
            wait_for(lambda: ("decision", "2024-07-10") in _ledger(r), 30.0, "the retried decision", poll=0.05)
        health = s.deps.health
    assert attempts_soon == 1  # not retried every tick: once per RETRY_FAILED_AFTER
    assert seen.health.state == "fresh" and seen.health.failing == ("decision 2024-07-10: 1 attempts",)
    assert "failing (retried while still due): decision 2024-07-10: 1 attempts" in seen.attention
    assert health.last_error is not None and "decision 2024-07-10" in health.last_error
    assert health.extra["failing"] == {}  # cleared once it ran
    events = _rows(r, "SELECT kind FROM events WHERE kind='job_failed'")
    assert len(events) == 1


def test_a_trigger_dropped_as_too_late_still_sends_the_orders_before_the_cutoff(pack_store: Store, tmp_path: Path) -> None:
    """R36: stopped at 08:40, awake at 09:20; APScheduler drops the 08:45 run as too late; the ledger runs it."""
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 31)) as r:
        with r.session(mode="paper") as (_, runner):
            runner.wake()  # Wednesday's decision, stored for Thursday's open
        r.move(_at(THURSDAY, 8, 40))
        with r.session(mode="paper") as (s, _):
            runner = PaperRunner(s.deps, tick=timedelta(hours=1))  # only the missed-trigger catch-up can run it in time
            with _running(runner) as sched:
                wait_for(runner.heartbeat_path.exists, 30.0, "the first tick", poll=0.05)
                r.move(_at(THURSDAY, 9, 20))  # the process was stopped across 08:45
                sched.modify_job("pre_open", next_run_time=SystemClock().now() - timedelta(minutes=35))  # what the scheduler sees on waking
                wait_for(lambda: ("pre_open", "2024-07-11") in _ledger(r), 30.0, "the caught-up pre-open", poll=0.05)
            late = s.deps.health.extra.get("late_triggers")
        posted = list(r.exchange.post_log)
        ledger = _ledger(r)
    assert late == 1
    assert ledger[("pre_open", "2024-07-11")].startswith("sent ") and "(decision 2024-07-10)" in ledger[("pre_open", "2024-07-11")]
    assert posted and {p.outcome for p in posted} == {"created"}
    assert all(datetime.fromisoformat(p.at.replace("Z", "+00:00")) < _at(THURSDAY, 9, 28) for p in posted)


def test_a_store_locked_by_another_process_at_the_pre_open_does_not_cost_the_orders(pack_store: Store, tmp_path: Path) -> None:
    """Another connection holds the store's write lock across the 08:45 pre-open (the store waits 5 s): the refresh
    fails, is reported, and the stored intents still go out."""
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 31)) as r:
        with r.session(mode="paper") as (_, runner):
            runner.wake()
        r.move(_at(THURSDAY, 8, 45))
        session = open_session(r.cfg, KEYS, r.clock, mode="paper", dry_run=False, state_dir=tmp_path / "paper",
                               refresh=data_refresh(r.cfg, r.clock))
        other = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the write lock, as `data sync` in another process holds it
            PaperRunner(session.deps).wake()
            health = session.deps.health
        finally:
            other.execute("ROLLBACK")
            other.close()
            session.close()
        posted = list(r.exchange.post_log)
        ledger = _ledger(r)
    outcome = ledger[("pre_open", "2024-07-11")]
    assert outcome.startswith("sent ") and "refresh failed: OperationalError" in outcome, outcome
    assert posted and {p.outcome for p in posted} == {"created"}
    assert health.last_error is not None and "database is locked" in health.last_error
    assert health.jobs_failed == 0
    assert _rows(r, "SELECT message FROM events WHERE kind='refresh_failed'")
