"""Faults at the runner level: missing keys, restarts on one day, disk full, kill switch."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time
from pathlib import Path

import pytest

from clock import NEW_YORK
from datastore.store import Store
from runner.compose import MissingKeys, open_session
from tests.integration.test_paper_support import rig

DAY = date(2024, 7, 9)


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NEW_YORK)


def test_missing_keys_stop_before_any_network_call(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, DAY, DAY) as r:
        with pytest.raises(MissingKeys, match="APCA_API_KEY_ID"):
            open_session(r.cfg, {}, r.clock, mode="paper", dry_run=False, state_dir=tmp_path / "paper")
        assert r.exchange.post_log == []


def test_two_restarts_in_one_day_decide_once(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=_at(DAY, 16, 31)) as r:
        for minute in (31, 40, 50):
            r.move(_at(DAY, 16, minute))
            with r.session(mode="paper") as (s, runner):
                runner.wake()
                decisions = s.deps.journal.query("SELECT day FROM decisions WHERE day=?", (DAY.isoformat(),))
                assert len(decisions) == 1
                assert s.deps.journal.job_done("decision", DAY.isoformat())


def test_disk_full_sends_no_order(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=_at(DAY, 16, 31)) as r, \
            r.session(mode="paper") as (s, runner):
        runner.wake()  # the decision stores intents for the next open
        r.move(_at(date(2024, 7, 10), 8, 46))
        pages = s.deps.journal.query("PRAGMA page_count")[0][0]
        s.deps.journal.query(f"PRAGMA max_page_count={pages}")
        for size in (4000, 400, 1):  # fill the free pages, then the last bytes: the disk is full for the journal
            with pytest.raises(sqlite3.OperationalError):  # "database or disk is full" (masked: see the report)
                for _ in range(5000):
                    s.deps.journal.record_event(s.deps.run_id, at=r.clock.now(), kind="filler", message="x" * size)
        runner.wake()
        assert r.exchange.post_log == []
        assert s.deps.health.jobs_failed >= 1


def test_kill_switch_holds_orders(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=_at(DAY, 16, 31)) as r, \
            r.session(mode="paper") as (s, runner):
        runner.wake()
        s.deps.kill_file.touch()
        r.move(_at(date(2024, 7, 10), 8, 46))
        runner.wake()
        assert r.exchange.post_log == []
        held = s.deps.journal.query("SELECT message FROM events WHERE kind='orders_held'")
        assert held and "kill switch" in held[0]["message"]
