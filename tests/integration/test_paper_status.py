"""`main.py status`: a real paper session against the emulator, then the status read beside it (no mocks)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from broker.contract import TERMINAL
from clock import NEW_YORK, ManualClock
from config.loader import load_config
from datastore.store import Store
from emulator.exchange import Exchange
from journal.journal import Journal
from main import main
from runner.compose import PaperSession, open_session
from runner.paper import PaperRunner
from runner.status import collect_status, probe_lock, render_status
from tests.integration.test_paper_support import KEYS, Rig, rig, rig_config

DAY = date(2024, 7, 9)  # a Tuesday: decide after its close
NEXT = date(2024, 7, 10)  # send at its pre-open, fill at its open


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NEW_YORK)


def _utc(day: date, hh: int, mm: int) -> str:
    return _at(day, hh, mm).astimezone(UTC).isoformat()


@contextmanager
def sent(pack_store: Store, folder: Path) -> Iterator[tuple[Rig, PaperSession, PaperRunner]]:
    """A paper session that decided on DAY at 16:31 and sent the intents at NEXT's pre-open (08:46); still open."""
    with rig(pack_store, folder, DAY, date(2024, 7, 12), at=_at(DAY, 16, 31)) as r, r.session(mode="paper") as (s, runner):
        runner.wake()
        r.move(_at(NEXT, 8, 46))
        runner.wake()
        yield r, s, runner


def _working(ex: Exchange) -> set[tuple[str, str, str, float, str]]:
    return {(o.client_order_id, o.symbol, o.side, float(o.qty), o.status) for o in ex.orders.values() if o.status not in TERMINAL}


def test_status_shows_the_decision_the_brokers_book_the_schedule_and_health(pack_store: Store, tmp_path: Path) -> None:
    with sent(pack_store, tmp_path) as (r, s, _):
        status = collect_status(r.cfg, KEYS, r.clock)

        row = s.deps.journal.query("SELECT * FROM decisions WHERE day=?", (DAY.isoformat(),))[0]
        d = status.decision
        assert d is not None
        assert (d.day, d.run_id, d.regime, d.runner_up, d.phase) == (DAY.isoformat(), s.deps.run_id, row["regime"], row["runner_up"], row["phase"])
        assert d.reasons == tuple(json.loads(row["reasons_json"])) and d.reasons
        target = json.loads(row["target_json"])
        assert d.weights == target["weights"] and d.puts == target["puts"]
        assert [i.client_order_id for i in d.intents] == [i["client_order_id"] for i in target["intents"]]
        assert d.intents, "the first decision buys IWM"
        assert d.for_open == _utc(NEXT, 9, 30)
        assert d.pre_open is not None and d.pre_open.startswith(f"sent {len(d.intents)}/{len(d.intents)}")
        by_cid = {o.client_order_id: o for o in r.exchange.orders.values()}
        for intent in d.intents:
            assert intent.state == "accepted"
            assert intent.broker_order_id == by_cid[intent.client_order_id].id

        h = status.holdings
        assert h.source == "broker" and h.as_of == _utc(NEXT, 8, 46)
        assert h.account is not None and h.account.account_number == r.exchange.account_number and h.account.cash == r.exchange.cash
        assert {(o.client_order_id, o.symbol, o.side, o.qty, o.status) for o in h.open_orders} == _working(r.exchange)
        assert len(h.open_orders) == len(d.intents) and all(o.ours for o in h.open_orders)
        assert h.positions == () and r.exchange.positions == {}

        assert [(j.job, j.at) for j in status.schedule.next_jobs] == [
            ("expiry", _utc(NEXT, 11, 30)), ("decision", _utc(NEXT, 16, 30)), ("pre_open", _utc(date(2024, 7, 11), 8, 45)),
            ("expiry", _utc(date(2024, 7, 11), 11, 30)),
        ]
        ledger = {x.job: (x.trading_day, x.outcome, x.run_id) for x in status.schedule.ledger}
        assert ledger == {str(x["job"]): (x["trading_day"], x["outcome"], x["run_id"]) for x in s.deps.journal.query("SELECT * FROM job_ledger")}
        assert set(ledger) == {"decision", "pre_open"} and status.schedule.not_run == ()

        hb = status.health
        assert (hb.state, hb.mode, hb.run_id, hb.age_seconds) == ("fresh", "paper", s.deps.run_id, 0.0)
        assert hb.last_heartbeat == _utc(NEXT, 8, 46) and hb.started_at == _utc(DAY, 16, 31)
        assert (hb.jobs_run, hb.jobs_failed, hb.jobs_missed) == (s.deps.health.jobs_run, 0, 0) == (2, 0, 0)
        assert hb.last_error is None and hb.halted is None and not hb.kill_switch
        assert status.process.running and status.process.pid == os.getpid()
        assert status.run is not None and status.run.run_id == s.deps.run_id and status.run.status == "running"
        assert status.data.found and status.data.datasets > 10 and status.data.stale == ()
        assert status.attention == ()

        text = render_status(status)
        assert f"regime   {row['regime']} (runner-up {row['runner_up']}), phase {row['phase']}" in text
        assert "next jobs  expiry 2024-07-10 11:30 ET; decision 2024-07-10 16:30 ET; pre_open 2024-07-11 08:45 ET" in text
        assert f"running (pid {os.getpid()} holds the lock)" in text and "heartbeat  fresh" in text

        # The open fills the market-on-open order: the broker's book moves; the heartbeat is now old while the lock is held.
        r.move(_at(NEXT, 10, 0))
        later = collect_status(r.cfg, KEYS, r.clock)
        assert {p.symbol: p.qty for p in later.holdings.positions} == {p.symbol: float(p.qty) for p in r.exchange.positions.values()}
        assert {p.symbol for p in later.holdings.positions} == {"IWM"}
        assert later.holdings.open_orders == () and _working(r.exchange) == set()
        assert later.health.state == "stale" and later.health.age_seconds == 74 * 60
        assert any(a.startswith("heartbeat stale while the lock is held") for a in later.attention)


def test_without_keys_or_offline_the_book_comes_from_the_journal_and_says_so(pack_store: Store, tmp_path: Path) -> None:
    with sent(pack_store, tmp_path) as (r, s, _):
        no_keys = collect_status(r.cfg, {}, r.clock)
        h = no_keys.holdings
        assert h.source == "journal" and h.account is None
        assert h.note.startswith("no Alpaca keys in the environment") and "from the journal" in h.note
        assert {(o.client_order_id, o.symbol, o.side, o.qty, o.status) for o in h.open_orders} == _working(r.exchange)
        assert h.positions == ()
        assert "positions and open orders: journal as of 2024-07-10 08:46 ET" in render_status(no_keys)

        # After the open: the journal only knows the fill once a reconciliation has pulled it in.
        r.move(_at(NEXT, 10, 0))
        s.deps.reconcile()
        offline = collect_status(r.cfg, KEYS, r.clock, offline=True)
        h = offline.holdings
        assert h.source == "journal" and h.note.startswith("--offline")
        assert h.as_of == s.deps.journal.query("SELECT at FROM events WHERE kind='reconcile' ORDER BY seq DESC LIMIT 1")[0]["at"]
        assert {p.symbol: p.qty for p in h.positions} == {p.symbol: float(p.qty) for p in r.exchange.positions.values()} != {}
        assert h.open_orders == ()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(("url", "expected"), [
    ("https://broker.example.com", "Halt: refusing endpoint"),  # the endpoint guard stops it before any request
    ("closed-port", "Retry: GET account: connection failed"),
])
def test_a_broker_that_cannot_be_asked_falls_back_to_the_journal(pack_store: Store, tmp_path: Path, url: str, expected: str) -> None:
    with sent(pack_store, tmp_path) as (r, _s, _):
        target = f"http://127.0.0.1:{_closed_port()}" if url == "closed-port" else url
        cfg = rig_config(target, tmp_path)
        status = collect_status(cfg, KEYS, r.clock)
        assert status.holdings.source == "journal"
        assert status.holdings.note.startswith(f"the broker did not answer ({expected}")
        assert any(a.startswith(f"broker not answering ({expected}") for a in status.attention)
        assert {o.client_order_id for o in status.holdings.open_orders} == {o.client_order_id for o in r.exchange.orders.values()}


def test_an_empty_state_dir_gives_a_clear_message_and_creates_nothing(tmp_path: Path) -> None:
    cfg = load_config(None, [f'data.store_dir="{tmp_path / "store"}"']).config
    status = collect_status(cfg, {}, ManualClock(_at(NEXT, 8, 46)))
    state = tmp_path / "store" / "paper"
    assert not status.session_found
    assert status.message == f"no paper session has run in {state}: start one with `main.py paper`"
    assert status.decision is None and status.run is None and status.holdings.source == "none"
    assert status.process.running is False and status.health.state == "missing"
    assert [j.job for j in status.schedule.next_jobs] == ["expiry", "decision", "pre_open", "expiry"]
    assert not status.data.found
    assert status.message in render_status(status)
    assert json.loads(status.to_json())["message"] == status.message
    assert not (tmp_path / "store").exists(), "status must not create the state or the store"


def test_json_is_valid_and_never_carries_a_secret(pack_store: Store, tmp_path: Path) -> None:
    with sent(pack_store, tmp_path) as (r, s, runner):
        # A job error that quoted a key (an SDK message, say) reaches the heartbeat file: status must not repeat it.
        s.deps.health.last_error = f"pre_open 2024-07-10: Halt: rejected {KEYS['APCA_API_KEY_ID']}:{KEYS['APCA_API_SECRET_KEY']}"
        runner.heartbeat()
        status = collect_status(r.cfg, KEYS, r.clock)
        assert status.holdings.source == "broker", "the keys were used"
        out = status.to_json()
        assert json.loads(out) == status.to_dict()
        text = render_status(status)
        for secret in KEYS.values():
            assert secret not in out and secret not in text
        assert status.health.last_error == "pre_open 2024-07-10: Halt: rejected ***:***"
        assert "last error: pre_open 2024-07-10: Halt: rejected ***:***" in status.attention


def test_the_lock_probe_sees_a_running_session_and_never_holds_the_lock(pack_store: Store, tmp_path: Path) -> None:
    state = tmp_path / "paper"
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=_at(DAY, 16, 31)) as r:
        with r.session(mode="paper") as (_s, runner):
            runner.wake()
            assert probe_lock(state).running and probe_lock(state).pid == os.getpid()
            assert collect_status(r.cfg, {}, r.clock).process.running
            (state / "KILL").touch()
            killed = collect_status(r.cfg, {}, r.clock)
            assert killed.health.kill_switch and any(a.startswith("kill switch engaged") for a in killed.attention)
            (state / "KILL").unlink()
        after = collect_status(r.cfg, {}, r.clock)
        assert not after.process.running and after.process.detail == "not running (the lock is free)"
        assert after.health.state == "not running" and after.run is not None and after.run.status == "stopped"
        assert after.attention == ()
        # The probe released what it took: a new session starts (a leaked flock would raise AlreadyRunning).
        r.move(_at(DAY, 16, 40))  # a new run id
        with r.session(mode="paper"):
            assert probe_lock(state).running


def test_a_crashed_session_and_jobs_not_run_are_called_out(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=_at(DAY, 16, 31)) as r:
        session = open_session(r.cfg, KEYS, r.clock, mode="paper", dry_run=False, state_dir=tmp_path / "paper")
        try:
            PaperRunner(session.deps).wake()
            session.lock.release()  # what SIGKILL leaves: the lock gone, the run never finished
            r.move(_at(NEXT, 8, 50))
            status = collect_status(r.cfg, {}, r.clock)
            assert [(n.job, n.trading_day, n.state) for n in status.schedule.not_run] == [("pre_open", NEXT.isoformat(), "due")]
            assert f"run {session.deps.run_id} never finished but no trader holds the lock: it crashed or was killed" in status.attention
            assert f"due and not run (no trader is running): pre_open {NEXT.isoformat()}" in status.attention
            r.move(_at(NEXT, 9, 30))
            late = collect_status(r.cfg, {}, r.clock)
            assert [(n.job, n.trading_day, n.state) for n in late.schedule.not_run] == [("pre_open", NEXT.isoformat(), "missed")]
            assert f"missed: pre_open {NEXT.isoformat()}" in late.attention
        finally:
            session.close()


def test_main_status_json_offline(pack_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sent(pack_store, tmp_path) as (r, s, _):
        decision = s.deps.journal.query("SELECT regime, reasons_json FROM decisions")[0]
        code = main(["--set", f'data.store_dir="{tmp_path}"', "status", "--json", "--offline"], env=dict(KEYS), clock=r.clock)
        out, _ = capsys.readouterr()
    assert code == 0
    payload = json.loads(out)
    assert payload["state_dir"] == str(tmp_path / "paper") and payload["session_found"] is True
    assert payload["process"]["running"] is True and payload["process"]["pid"] == os.getpid()
    assert payload["decision"]["regime"] == decision["regime"] and payload["decision"]["reasons"] == json.loads(decision["reasons_json"])
    assert payload["holdings"]["source"] == "journal" and payload["holdings"]["note"].startswith("--offline")
    assert payload["generated_at"] == _utc(NEXT, 8, 46)
    for secret in KEYS.values():
        assert secret not in out


def test_main_status_text_for_a_fresh_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--set", f'data.store_dir="{tmp_path}"', "status"], env={}, clock=ManualClock(_at(NEXT, 8, 46)))
    out, _ = capsys.readouterr()
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 120  # long lines wrap under their label
    assert f"no paper session has run in {tmp_path / 'paper'}: start one with `main.py paper`" in " ".join(out.split())


def test_a_journal_no_session_ever_ran_in_lists_no_missed_jobs(tmp_path: Path) -> None:
    """A start that failed before its session began leaves a journal without runs: nothing was due, nothing missed."""
    cfg = load_config(None, [f'data.store_dir="{tmp_path / "store"}"']).config
    (tmp_path / "store" / "paper").mkdir(parents=True)
    Journal(tmp_path / "store" / "paper" / "paper.sqlite").close()
    status = collect_status(cfg, {}, ManualClock(_at(NEXT, 8, 46)))
    assert status.schedule.not_run == ()
    assert "missed" not in render_status(status)
