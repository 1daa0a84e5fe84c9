"""`main.py doctor` against the Alpaca emulator on 127.0.0.1 and a copy of the pack's store: a healthy set-up, then
each failing check on its own (issue 15)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import pytest

import main
from clock import ManualClock, new_york
from datastore.store import Store
from emulator import EmulatorServer, Exchange
from emulator.market import Calendar
from tests.integration.test_paper_support import copy_store
from tests.servers.alpaca_rig import KEY_ID, SECRET_KEY
from tests.servers.notify_sinks import WebhookSink
from tests.servers.ports import free_port

HEALTHY_AT = new_york("2025-11-18", "10:00")  # every decision input of the pack within its release schedule
FRED_KEY = "fredkeyfortests0000000000000001"


@dataclass
class Setup:
    tmp: Path
    server: EmulatorServer
    sink: WebhookSink
    env: dict[str, str] = field(default_factory=dict)
    sets: list[str] = field(default_factory=list)
    clock: ManualClock = field(default_factory=lambda: ManualClock(HEALTHY_AT))
    args: list[str] = field(default_factory=list)



@pytest.fixture
def setup(pack_store: Store, tmp_path: Path) -> Iterator[Setup]:
    copy_store(pack_store, tmp_path)
    exchange = Exchange(Calendar(date(2025, 10, 1), date(2026, 6, 30)), start=HEALTHY_AT)
    server = EmulatorServer(exchange, key_id=KEY_ID, secret_key=SECRET_KEY).start()
    sink = WebhookSink()
    env = {"APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET_KEY, "FRED_API_KEY": FRED_KEY,
           "CUTCYCLE_NOTIFY_URLS": sink.url("doctor-hook")}
    sets = [f'alpaca.trading_url="{server.url}"', f'alpaca.data_url="{server.url}"', f'data.store_dir="{tmp_path}"']
    yield Setup(tmp_path, server, sink, env, sets)
    server.stop()
    sink.stop()


def doctor(setup: Setup, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, dict[str, str]]]:
    code = main.main([a for s in setup.sets for a in ("--set", s)] + ["doctor", "--json", *setup.args], env=setup.env, clock=setup.clock)
    out = capsys.readouterr().out
    for secret in (KEY_ID, SECRET_KEY, FRED_KEY, "doctor-hook"):
        assert secret not in out
    report = json.loads(out)
    assert report["ready"] is (code == 0)
    return code, {c["name"]: c for c in report["checks"]}


def test_a_healthy_setup_is_ready_and_the_test_message_arrives(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.args = ["--test-notify"]
    code, checks = doctor(setup, capsys)
    assert code == 0, checks
    assert {n: c["status"] for n, c in checks.items()} == {
        "keys": "ok", "endpoint": "ok", "account": "ok", "options": "ok", "clock": "ok", "data": "ok", "fomc": "ok", "disk": "ok",
        "journal": "ok", "notify #1": "ok"}
    assert [m["title"] for m in setup.sink.received] == ["cutcycle: test message"]
    main.main([a for s in setup.sets for a in ("--set", s)] + ["doctor"], env=setup.env, clock=setup.clock)
    assert capsys.readouterr().out.rstrip().endswith("ready to trade")


def _journal(setup: Setup, rows: dict[str, str], garbage: bool = False) -> None:
    folder = setup.tmp / "paper"
    folder.mkdir()
    if garbage:
        (folder / "paper.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x17" * 4096)
        return
    with sqlite3.connect(folder / "paper.sqlite") as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())


def _schedule(setup: Setup) -> None:
    path = setup.tmp / "fomc.toml"
    path.write_text("meetings = [\n  { start = 2025-12-09, end = 2025-12-10 },\n  { start = 2026-01-27, end = 2026-01-28 },\n]\n")
    setup.sets.append(f'data.fomc_schedule_file="{path}"')


def _later(setup: Setup) -> None:
    at = new_york("2026-03-02", "10:00")  # SAHMREALTIME's next release was due in November 2025
    setup.server.exchange.advance_to(at)
    setup.clock.set(at)


CASES: dict[str, tuple[str, Callable[[Setup], object]]] = {
    "no keys": ("keys", lambda s: [s.env.pop(k) for k in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")]),
    "no FRED key": ("keys", lambda s: s.env.pop("FRED_API_KEY")),
    "a live endpoint": ("endpoint", lambda s: s.env.update(APCA_API_BASE_URL="https://api.alpaca.markets")),
    "an endpoint that refuses": ("endpoint", lambda s: s.env.update(APCA_API_BASE_URL=f"http://127.0.0.1:{free_port()}")),
    "rejected keys": ("endpoint", lambda s: s.env.update(APCA_API_SECRET_KEY="not-the-secret-000000000000")),
    "a closed account": ("account", lambda s: setattr(s.server.exchange, "flags", replace(s.server.exchange.flags, status="ACCOUNT_CLOSED"))),
    "a blocked account": ("account", lambda s: setattr(s.server.exchange, "flags", replace(s.server.exchange.flags, trading_blocked=True))),
    "options level 1": ("options", lambda s: setattr(s.server.exchange, "flags", replace(s.server.exchange.flags, options_trading_level=1))),
    "a clock two minutes off": ("clock", lambda s: s.clock.advance(timedelta(minutes=2))),
    "stale decision inputs": ("data", _later),
    "no store": ("data", lambda s: (s.tmp / "store.sqlite").unlink()),
    "two future FOMC meetings": ("fomc", _schedule),
    "too little disk": ("disk", lambda s: s.args.extend(["--min-free-mb", str(10**9)])),
    "a damaged journal": ("journal", lambda s: _journal(s, {}, garbage=True)),
    "a journal from a newer version": ("journal", lambda s: _journal(s, {"schema_version": "99"})),
    "a journal of another account": ("journal", lambda s: _journal(s, {"schema_version": "1", "account": "PA0SOMEONEELSE"})),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_failing_check_is_caught_with_what_to_do(case: str, setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    name, breaks = CASES[case]
    breaks(setup)
    code, checks = doctor(setup, capsys)
    assert code == 1
    assert checks[name]["status"] == "fail" and checks[name]["verdict"] and checks[name]["action"], checks[name]


def test_a_notification_destination_that_refuses_is_a_warning_not_a_failure(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    setup.env["CUTCYCLE_NOTIFY_URLS"] = f"json://127.0.0.1:{free_port()}/x"
    setup.args = ["--test-notify"]
    code, checks = doctor(setup, capsys)
    assert code == 0 and checks["notify #1"]["status"] == "warn"
