"""The 16:30 decision decides on that day's close (a live trader's store is refreshed at 08:45 and again by the
decision job itself), and says so when it cannot (`runner.closes`).

A store copied from the pack with the bars from WEDNESDAY on removed is the store a trader holds after the
Wednesday pre-open refresh; the emulator serves the pack's bars up to its own clock.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from clock import NEW_YORK
from config.secrets import Secrets
from datastore.store import Store
from emulator.faults import FaultRule
from runner.compose import open_session
from runner.notify import build_notifier
from runner.paper import PaperRunner, alert_feed, data_refresh
from tests.integration.test_paper_support import KEYS, Rig, rig
from tests.servers.notify_sinks import WebhookSink, wait_until

TUESDAY, WEDNESDAY, THURSDAY = date(2024, 7, 9), date(2024, 7, 10), date(2024, 7, 11)


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NEW_YORK)


def _close(pack_store: Store, symbol: str, day: date) -> float:
    bars = pack_store.bars(symbol)
    return float(bars.loc[pd.DatetimeIndex(bars.index).date == day, "close"].iloc[0])


def _store_as_of_the_pre_open(r: Rig, day: date) -> None:
    db = sqlite3.connect(r.folder / "store.sqlite")
    with db:
        db.execute("DELETE FROM bars WHERE day >= ?", (day.isoformat(),))
    db.close()


def _journal(r: Rig, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(r.folder / "paper" / "paper.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _decision(r: Rig, day: date) -> dict[str, object]:
    rows = _journal(r, f"SELECT inputs_json FROM decisions WHERE day='{day.isoformat()}'")
    assert len(rows) == 1, rows
    doc: dict[str, object] = json.loads(str(rows[0][0]))
    return doc


def test_the_1630_decision_prices_the_days_close(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 31)) as r:
        _store_as_of_the_pre_open(r, WEDNESDAY)
        session = open_session(r.cfg, KEYS, r.clock, mode="paper", dry_run=False, state_dir=tmp_path / "paper",
                               refresh=data_refresh(r.cfg, r.clock))
        try:  # a snapshot computed before the refresh (a prefetch) must not be served after it
            session.snapshots.prefetch([x.day for x in session.deps.calendar.sessions(date(2024, 7, 1), WEDNESDAY)])
            assert session.snapshots(WEDNESDAY).market.iwm_close == _close(pack_store, "IWM", TUESDAY)
            PaperRunner(session.deps).wake()
            health = session.deps.health
        finally:
            session.close()
        inputs = _decision(r, WEDNESDAY)
    market = inputs["market"]
    assert isinstance(market, dict)
    assert market["iwm_close"] == _close(pack_store, "IWM", WEDNESDAY) != _close(pack_store, "IWM", TUESDAY)
    assert market["spy_close"] == _close(pack_store, "SPY", WEDNESDAY)
    assert health.jobs_failed == 0, health.last_error


def _ledger(r: Rig) -> dict[tuple[str, str], str]:
    return {(str(j), str(d)): str(o) for j, d, o in _journal(r, "SELECT job, trading_day, outcome FROM job_ledger")}


def test_a_failing_refresh_waits_for_the_close_and_a_late_bar_still_gives_the_days_close(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 31)) as r:
        _store_as_of_the_pre_open(r, WEDNESDAY)
        session = open_session(r.cfg, KEYS, r.clock, mode="paper", dry_run=False, state_dir=tmp_path / "paper",
                               refresh=data_refresh(r.cfg, r.clock))
        try:
            runner = PaperRunner(session.deps)
            r.server.faults.add(FaultRule("stocks.bars", "empty_500", times=None))  # Alpaca's bars are down
            runner.wake()
            r.move(_at(WEDNESDAY, 16, 34))  # past RETRY_FAILED_AFTER: tried again, still no bar: the same error again
            runner.wake()
            waiting = _ledger(r), session.deps.health.last_error, dict(session.deps.health.extra["failing"])
            beat = json.loads(runner.heartbeat_path.read_text())
            r.server.faults.clear()
            r.move(_at(WEDNESDAY, 16, 37))  # past RETRY_FAILED_AFTER again: refreshed, the bars are back
            runner.wake()
            health = session.deps.health
        finally:
            session.close()
        inputs = _decision(r, WEDNESDAY)
        failures = _journal(r, "SELECT message FROM events WHERE kind='job_failed'")
        recovered = _journal(r, "SELECT message, detail_json FROM events WHERE kind='job_recovered'")
        stale = _journal(r, "SELECT message FROM events WHERE kind='stale_close'")
    ledger, error, failing = waiting
    assert ("decision", "2024-07-10") not in ledger  # not decided on Tuesday's close
    assert error is not None and "StaleClose" in error and "no 2024-07-10 bar for IWM, SPY" in error
    assert list(failing) == ["decision 2024-07-10"]
    assert "decision 2024-07-10" in beat["extra"]["failing"]  # the heartbeat shows the decision failing while it waits
    assert beat["extra"]["failing"]["decision 2024-07-10"]["attempts"] == 2
    assert len(failures) == 1 and "waiting for it" in str(failures[0][0])  # journaled once, not on each retry with the same error
    assert [(m, json.loads(str(d))["failed_attempts"]) for m, d in recovered] == [("decision 2024-07-10: ran after 2 failed attempt(s)", 2)]
    market, closes = inputs["market"], inputs["closes"]
    assert isinstance(market, dict) and market["iwm_close"] == _close(pack_store, "IWM", WEDNESDAY)
    assert closes == {"session": "2024-07-10", "last_close": {"IWM": "2024-07-10", "SPY": "2024-07-10"}, "missing": [], "stale": False,
                      "refresh_error": None}
    assert health.extra["decision_closes"] == closes and health.extra["failing"] == {}
    assert not stale


def test_when_the_close_never_comes_the_decision_uses_the_last_close_and_says_so(pack_store: Store, tmp_path: Path) -> None:
    """Waiting stops STALE_FALLBACK before the deadline (08:42 the next morning): the decision is made on Tuesday's
    close, journaled as such, and the 08:45 pre-open sends its orders."""
    sink = WebhookSink()
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 31)) as r:
        _store_as_of_the_pre_open(r, WEDNESDAY)
        session = open_session(r.cfg, KEYS, r.clock, mode="paper", dry_run=False, state_dir=tmp_path / "paper",
                               refresh=data_refresh(r.cfg, r.clock))
        try:
            runner = PaperRunner(session.deps)
            notifier = build_notifier(Secrets.from_env({"CUTCYCLE_NOTIFY_URLS": sink.url()}), r.cfg.notify)
            runner.alerts = alert_feed(session.deps, runner, notifier, r.cfg)
            r.server.faults.add(FaultRule("stocks.bars", "empty_500", times=None))
            runner.wake()
            r.move(_at(THURSDAY, 8, 41))
            runner.wake()
            still_waiting = ("decision", "2024-07-10") not in _ledger(r)
            r.move(_at(THURSDAY, 8, 43))
            runner.wake()
            health = session.deps.health
            beat = json.loads(runner.heartbeat_path.read_text())
            r.server.faults.clear()  # the bars are back for the pre-open (its orders are checked against them)
            r.move(_at(THURSDAY, 8, 46))
            runner.wake()
            assert wait_until(lambda: any(m["title"] == "cutcycle: stale close" for m in sink.received), 10)
            notifier.close()
        finally:
            session.close()
            sink.stop()
        inputs = _decision(r, WEDNESDAY)
        ledger = _ledger(r)
        stale = _journal(r, "SELECT message, detail_json FROM events WHERE kind='stale_close'")
        posted = list(r.exchange.post_log)
    assert still_waiting
    told = [m["message"] for m in sink.received if m["title"] == "cutcycle: stale close"]
    assert len(told) == 1 and "decision 2024-07-10 on stale closes" in told[0] and "IWM 2024-07-09" in told[0]
    market, closes = inputs["market"], inputs["closes"]
    assert isinstance(market, dict) and market["iwm_close"] == _close(pack_store, "IWM", TUESDAY)
    assert isinstance(closes, dict) and closes["stale"] is True and closes["missing"] == ["IWM", "SPY"]
    assert closes["last_close"] == {"IWM": "2024-07-09", "SPY": "2024-07-09"}
    assert "on stale closes (no 2024-07-10 bar for IWM, SPY (last closes: IWM 2024-07-09, SPY 2024-07-09))" in ledger[("decision", "2024-07-10")]
    assert len(stale) == 1 and "IWM 2024-07-09" in str(stale[0][0]) and json.loads(str(stale[0][1]))["stale"] is True
    assert beat["extra"]["decision_closes"]["stale"] is True and beat["extra"]["decision_closes"]["missing"] == ["IWM", "SPY"]
    assert health.extra["failing"] == {}
    assert ledger[("pre_open", "2024-07-11")].startswith("sent ") and posted


def test_a_store_locked_at_the_decision_is_waited_out(pack_store: Store, tmp_path: Path) -> None:
    """Another process holds the store's write lock at 16:30 (`data sync`): the refresh raises, the decision waits,
    and the next try decides on the day's close."""
    with rig(pack_store, tmp_path, WEDNESDAY, date(2024, 7, 12), at=_at(WEDNESDAY, 16, 31)) as r:
        _store_as_of_the_pre_open(r, WEDNESDAY)
        session = open_session(r.cfg, KEYS, r.clock, mode="paper", dry_run=False, state_dir=tmp_path / "paper",
                               refresh=data_refresh(r.cfg, r.clock))
        other = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)
        try:
            runner = PaperRunner(session.deps)
            other.execute("BEGIN IMMEDIATE")
            runner.wake()
            other.execute("ROLLBACK")
            error, waited = session.deps.health.last_error, ("decision", "2024-07-10") not in _ledger(r)
            r.move(_at(WEDNESDAY, 16, 34))
            runner.wake()
        finally:
            other.close()
            session.close()
        inputs = _decision(r, WEDNESDAY)
    assert waited and error is not None and "refresh failed: OperationalError: database is locked" in error, error
    market = inputs["market"]
    assert isinstance(market, dict) and market["iwm_close"] == _close(pack_store, "IWM", WEDNESDAY)
