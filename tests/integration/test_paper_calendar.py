"""A closure the broker announces while the paper trader runs (as 2025-01-09 was, on 2024-12-31): the long-running
process reloads its calendar, so the closed day gets no job, no decision and no equity row (issue 11 item 7)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time
from pathlib import Path

from clock import NEW_YORK
from datastore.store import Store
from emulator.market import Session
from tests.integration.test_paper_support import rig

CLOSED = date(2025, 1, 9)


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NEW_YORK)


def test_a_day_closed_after_the_calendar_was_loaded_gets_no_jobs_and_no_rows(pack_store: Store, tmp_path: Path) -> None:
    monday = date(2025, 1, 6)
    with rig(pack_store, tmp_path, monday, date(2025, 1, 13), at=_at(monday, 16, 31)) as r:
        calendar = r.exchange.calendar
        calendar.set_session(CLOSED, Session(CLOSED, _at(CLOSED, 9, 30), _at(CLOSED, 16, 0)))  # before the announcement
        with r.session(mode="paper") as (_, runner):
            runner.wake()  # Monday's decision: the runner's calendar now holds 2025 with the 9th open
            assert runner.deps.calendar.session(CLOSED) is not None
            calendar.set_session(CLOSED, None)  # the exchange closes the 9th
            for at in (_at(date(2025, 1, 8), 16, 31), _at(CLOSED, 8, 46), _at(CLOSED, 11, 31), _at(CLOSED, 16, 31),
                       _at(date(2025, 1, 10), 8, 46)):
                r.move(at)
                runner.wake()
            health = runner.deps.health
        with sqlite3.connect(tmp_path / "paper" / "paper.sqlite") as db:
            ledger = {(j, d): o for j, d, o in db.execute("SELECT job, trading_day, outcome FROM job_ledger")}
            decisions = {d for (d,) in db.execute("SELECT day FROM decisions")}
            equity = {d for (d,) in db.execute("SELECT day FROM equity")}
        posted = list(r.exchange.post_log)
    assert not [k for k in ledger if k[1] == CLOSED.isoformat()]
    assert CLOSED.isoformat() not in decisions and CLOSED.isoformat() not in equity
    assert {"2025-01-06", "2025-01-08"} <= decisions
    assert ledger[("pre_open", "2025-01-10")].endswith("(decision 2025-01-08)")
    assert health.jobs_failed == 0
    assert all(not p.client_order_id.startswith("cc-20250109-") for p in posted)
