"""The alert feed on a paper session against the emulator (real journal, real Apprise to a local webhook): the kill
switch, an order placed outside the bot, data past its release schedule, and nothing told twice (issue 15)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from clock import NEW_YORK
from config.secrets import Secrets
from datastore.store import Store
from runner.notify import build_notifier
from runner.paper import alert_feed
from tests.integration.test_paper_support import rig
from tests.servers.notify_sinks import WebhookSink, wait_until


def test_the_kill_switch_an_outside_order_and_stale_data_are_told_once(pack_store: Store, tmp_path: Path) -> None:
    wednesday = date(2024, 7, 10)
    sink = WebhookSink()
    try:
        with rig(pack_store, tmp_path, wednesday, date(2024, 7, 12), at=datetime.combine(wednesday, time(12, 0), tzinfo=NEW_YORK)) as r, \
                r.session(mode="paper") as (s, runner):
            notifier = build_notifier(Secrets.from_env({"CUTCYCLE_NOTIFY_URLS": sink.url()}), r.cfg.notify)
            runner.alerts = alert_feed(s.deps, runner, notifier, r.cfg)
            s.deps.kill_file.touch()
            r.exchange.add_external_order({"symbol": "IWM", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
                                           "client_order_id": "by-hand-1"})
            runner.wake()  # the expiry job's reconciliation finds the order placed by hand
            runner.wake()  # nothing new: nothing told
            runner.alerts.stale_data(datetime(2026, 11, 30, tzinfo=UTC))
            runner.alerts.stale_data(datetime(2026, 11, 30, tzinfo=UTC))  # the same stale set: told once
            s.deps.kill_file.unlink()
            at = r.clock.now()  # a failing job and its recovery, as runner.jobs journals them
            s.deps.journal.record_event(s.deps.run_id, at=at, kind="job_failed", message="decision 2024-07-10: StaleClose: no bar yet")
            s.deps.journal.record_event(s.deps.run_id, at=at, kind="job_recovered", message="decision 2024-07-10: ran after 3 failed attempt(s)")
            runner.alerts.poll()
            assert wait_until(lambda: len(sink.received) >= 7, 10)
            notifier.close()
        titles = [m["title"] for m in sink.received]
        bodies = "\n".join(m["message"] for m in sink.received)
    finally:
        sink.stop()
    assert titles.count("cutcycle: kill switch engaged") == 1 and titles.count("cutcycle: kill switch released") == 1
    assert titles.count("cutcycle: outside event") >= 1 and "by-hand-1" in bodies
    assert len([t for t in titles if t.endswith("dataset(s) stale")]) == 1 and "SAHMREALTIME" in bodies
    others = [t for t in titles if t != "cutcycle: outside event"]  # the order and its fill are two outside events
    assert len(others) == len(set(others))
    assert "cutcycle: job failed: decision 2024-07-10" in titles and "cutcycle: job recovered: decision" in titles
    assert "ran after 3 failed attempt(s)" in bodies
