"""The paper trader as it runs for months: the real `main.py paper` and `main.py emulator` processes on a wall clock
moved by libfaketime (both processes read the same clock file, so the emulator's market and the trader agree), across
three trading days with a restart, a half day and a SIGSTOP across the pre-open (R35, R36; issue 11).

Each step moves the faked clock a few seconds before a trigger and waits for the journal to show the job; the trader
ticks every second (`paper.tick_seconds=1`) so a move is seen at once. After each step `status --json`, read on the
same faked clock, must agree with the journal. Needs Debian's `faketime` (`make test` installs it): without it the
test fails, it does not skip.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from datastore.store import Store
from runner.guards import read_heartbeat
from tests.integration.test_paper_support import KEYS, copy_store
from tests.servers.faketime import FakeWall, libfaketime, new_york
from tests.servers.notify_sinks import WebhookSink
from tests.servers.ports import free_port, listening

ROOT = Path(__file__).resolve().parents[2]
MONDAY, TUESDAY, HALF_DAY = date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)  # 2024-07-03 closes at 13:00



@dataclass
class Trader:
    """The two processes, the faked wall and the paths a test reads."""

    wall: FakeWall
    folder: Path
    env: dict[str, str]
    sets: list[str]
    port: int
    logs: Path
    sink: WebhookSink  # CUTCYCLE_NOTIFY_URLS of the trader: what a user's phone would receive
    paper: subprocess.Popen[bytes] | None = None
    _paper_out: IO[str] | None = None

    @property
    def journal(self) -> Path:
        return self.folder / "paper" / "paper.sqlite"

    @property
    def heartbeat(self) -> dict[str, Any] | None:
        return read_heartbeat(self.folder / "paper" / "status.json")

    def output(self) -> str:
        return "".join(p.read_text() for p in sorted(self.logs.glob("paper*.out")))

    def start_paper(self, n: int) -> None:
        self._paper_out = (self.logs / f"paper{n}.out").open("w")
        argv = [sys.executable, "main.py", "--log-level", "INFO", *self.sets, "paper"]
        self.paper = subprocess.Popen(argv, cwd=ROOT, env=self.wall.env(self.env), stdout=self._paper_out, stderr=subprocess.STDOUT)

        def running() -> bool:  # the file a stopped process left says "stopped"
            beat = self.heartbeat
            return beat is not None and beat["extra"].get("scheduler") == "running"

        self.wait(running, "the paper trader's scheduler to start", 90)

    def stop_paper(self) -> None:
        assert self.paper is not None
        self.paper.send_signal(signal.SIGTERM)
        try:
            code = self.paper.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.paper.send_signal(signal.SIGUSR1)  # the process prints every thread's stack (faulthandler)
            time.sleep(2)
            raise AssertionError(f"the paper trader did not stop within 60 s of SIGTERM:\n{self.output()[-6000:]}") from None
        assert code == 0, self.output()
        if self._paper_out is not None:
            self._paper_out.close()
        self.paper = None

    def wait(self, predicate: Callable[[], bool], what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.paper is not None and self.paper.poll() is not None:
                raise AssertionError(f"the paper trader exited ({self.paper.returncode}) waiting for {what}:\n{self.output()[-4000:]}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()[-4000:]}")

    def notified(self, title: str) -> Callable[[], bool]:
        return lambda: any(title in str(m.get("title")) for m in self.sink.received)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"{self.journal.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def ledger(self) -> dict[tuple[str, str], str]:
        if not self.journal.exists():
            return {}
        return {(str(j), str(d)): str(o) for j, d, o in self.rows("SELECT job, trading_day, outcome FROM job_ledger")}

    def has_job(self, job: str, day: date) -> Callable[[], bool]:
        return lambda: (job, day.isoformat()) in self.ledger()

    def emulator(self, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/_emulator/{what}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            found: dict[str, Any] = json.loads(answer.read())
            return found

    def status(self) -> dict[str, Any]:
        done = subprocess.run([sys.executable, "main.py", *self.sets, "status", "--json", "--offline"], cwd=ROOT, env=self.wall.env(self.env),
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    def check_status(self, *, running: bool) -> dict[str, Any]:
        """`status --json` on the faked clock agrees with the journal: run, last decision, ledger, health."""
        st = self.status()
        assert st["process"]["running"] is running
        [(run_id, run_state)] = self.rows("SELECT run_id, status FROM runs ORDER BY created_at DESC LIMIT 1")
        assert st["run"]["run_id"] == run_id and st["run"]["status"] == run_state
        [(last_day,)] = self.rows("SELECT MAX(day) FROM decisions")
        assert st["decision"]["day"] == last_day
        [(target,)] = self.rows(f"SELECT target_json FROM decisions WHERE day='{last_day}' ORDER BY rowid DESC LIMIT 1")
        assert [i["client_order_id"] for i in st["decision"]["intents"]] == [i["client_order_id"] for i in json.loads(target)["intents"]]
        latest = {}
        for job, day, outcome in self.rows("SELECT job, trading_day, outcome FROM job_ledger ORDER BY trading_day"):
            latest[job] = (day, outcome)
        assert {r["job"]: (r["trading_day"], r["outcome"]) for r in st["schedule"]["ledger"]} == latest
        if running:
            assert st["health"]["state"] == "fresh", st["health"]
            assert st["health"]["jobs_failed"] == 0, st["health"]["last_error"]
            assert not st["health"]["failing"]
        return st


@contextmanager
def _trader(pack_store: Store, tmp_path: Path, start: datetime) -> Iterator[Trader]:
    lib = libfaketime()
    if lib is None:
        pytest.fail("libfaketime is not installed: `make test` installs Debian's faketime (apt-get install faketime)")
    store = copy_store(pack_store, tmp_path)
    wall = FakeWall(tmp_path, lib)
    wall.set(start)
    port = free_port()
    sink = WebhookSink()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "FRED_", "FAKETIME", "LD_PRELOAD", "CUTCYCLE_NOTIFY"))} | KEYS
    env["CUTCYCLE_NOTIFY_URLS"] = sink.url()
    url = f"http://127.0.0.1:{port}"
    sets = [a for s in (f'alpaca.trading_url="{url}"', f'alpaca.data_url="{url}"', f'data.store_dir="{tmp_path}"',
                        "alpaca.requests_per_minute=10000", "paper.tick_seconds=1") for a in ("--set", s)]
    logs = tmp_path / "logs"
    logs.mkdir()
    emulator_argv = [sys.executable, "main.py", "emulator", "--", "--port", str(port), "--store", str(store),
                     "--window", (start.date() - timedelta(days=1)).isoformat(), (start.date() + timedelta(days=14)).isoformat()]
    with (logs / "emulator.log").open("w") as emulator_out:
        emulator = subprocess.Popen(emulator_argv, cwd=ROOT, env=wall.env(env), stdout=emulator_out, stderr=subprocess.STDOUT)
        trader = Trader(wall, tmp_path, env, sets, port, logs, sink)
        try:
            trader.wait(lambda: listening(port), "the emulator to listen", 60)
            yield trader
        finally:
            if trader.paper is not None and trader.paper.poll() is None:
                trader.paper.send_signal(signal.SIGCONT)
                trader.paper.kill()
                trader.paper.wait(timeout=30)
            if trader._paper_out is not None:
                trader._paper_out.close()
            emulator.terminate()
            emulator.wait(timeout=30)
            sink.stop()


def _orders(t: Trader) -> list[dict[str, Any]]:
    return list(t.emulator("state")["orders"])


def test_three_days_on_a_faked_clock_with_a_restart_a_half_day_and_a_sigstop_across_the_pre_open(pack_store: Store, tmp_path: Path) -> None:
    with _trader(pack_store, tmp_path, new_york(MONDAY, 16, 20)) as t:
        # Monday 16:30: the decision fires on the scheduler's worker thread and is journaled once.
        t.start_paper(1)
        t.wall.set(new_york(MONDAY, 16, 29, 57))
        t.wait(t.has_job("decision", MONDAY), "Monday's 16:30 decision")
        assert t.ledger()[("decision", MONDAY.isoformat())].endswith("intents stored")
        t.check_status(running=True)

        # A restart overnight; Tuesday 08:45 sends the stored orders, each client_order_id accepted once.
        t.stop_paper()
        t.wall.set(new_york(TUESDAY, 8, 40))
        t.emulator("partial_fills", {"IWM": 7})  # the open fills 7 shares: the order stays open in the session
        t.start_paper(2)
        t.wall.set(new_york(TUESDAY, 8, 44, 57))
        t.wait(t.has_job("pre_open", TUESDAY), "Tuesday's 08:45 pre-open")
        assert t.ledger()[("pre_open", TUESDAY.isoformat())].startswith("sent "), t.ledger()
        sent = _orders(t)
        assert sent and all(o["time_in_force"] == "opg" for o in sent)
        t.check_status(running=True)

        # 09:31: the open fills 7; the intraday reconcile journals the fill of the order still open.
        t.wall.set(new_york(TUESDAY, 9, 31))
        t.wait(lambda: bool(t.rows("SELECT 1 FROM fills WHERE symbol='IWM'")), "the intraday reconcile of the open order")
        assert sum(float(q) for (q,) in t.rows("SELECT qty FROM fills WHERE symbol='IWM'")) == 7
        t.wait(lambda: (b := t.heartbeat) is not None and b["extra"].get("intraday_reconciles", 0) >= 1, "the reconcile in the heartbeat")
        held = t.check_status(running=True)["holdings"]
        assert held["source"] == "journal" and {p["symbol"]: p["qty"] for p in held["positions"]} == {"IWM": 7}
        # the fill reaches the user from the notifier's own thread in the real process (Apprise to a local webhook)
        t.wait(t.notified("cutcycle: filled buy 7 IWM"), "the fill's notification", 30)

        # 11:30 expiry, 16:30 decision.
        t.wall.set(new_york(TUESDAY, 11, 29, 57))
        t.wait(t.has_job("expiry", TUESDAY), "Tuesday's 11:30 expiry job")
        t.wall.set(new_york(TUESDAY, 16, 29, 57))
        t.wait(t.has_job("decision", TUESDAY), "Tuesday's decision")
        t.check_status(running=True)
        t.emulator("partial_fills", {"IWM": 10_000})

        # Wednesday, a half day: stopped at 08:40, the clock jumps to 09:25, resumed: the pre-open still sends.
        t.wall.set(new_york(HALF_DAY, 8, 40))
        t.wait(lambda: (b := t.heartbeat) is not None and datetime.fromisoformat(b["last_heartbeat"]) >= new_york(HALF_DAY, 8, 40), "a tick on the half day")
        assert t.paper is not None
        t.paper.send_signal(signal.SIGSTOP)
        t.wall.set(new_york(HALF_DAY, 9, 25))
        time.sleep(1.5)  # past the one-second clock cache: the first thing the process sees on waking is 09:25
        t.paper.send_signal(signal.SIGCONT)
        t.wait(t.has_job("pre_open", HALF_DAY), "the pre-open caught up after SIGCONT")
        outcome = t.ledger()[("pre_open", HALF_DAY.isoformat())]
        assert outcome.startswith("sent ") and "(decision 2024-07-02)" in outcome, outcome
        thursday = [o for o in _orders(t) if o["client_order_id"].startswith("cc-20240702-")]
        assert thursday and all(datetime.fromisoformat(o["submitted_at"].replace("Z", "+00:00")) < new_york(HALF_DAY, 9, 28) for o in thursday)
        t.check_status(running=True)
        posts = t.emulator("state")["post_log"]
        cids = [p["client_order_id"] for p in posts]
        assert len(cids) == len(set(cids)) and {p["outcome"] for p in posts} == {"created"}, posts  # each accepted once

        # The half day closes at 13:00: expiry by 12:45, the decision at 16:30 on the early close.
        t.wall.set(new_york(HALF_DAY, 11, 29, 57))
        t.wait(t.has_job("expiry", HALF_DAY), "the half day's expiry job")
        t.wall.set(new_york(HALF_DAY, 16, 29, 57))
        t.wait(t.has_job("decision", HALF_DAY), "the half day's decision")
        t.stop_paper()
        st = t.check_status(running=False)

    ledger = t.ledger()
    assert not [k for k, o in ledger.items() if o == "missed"], ledger
    decisions = [d for (d,) in t.rows("SELECT day FROM decisions ORDER BY day")]
    assert decisions == ["2024-07-01", "2024-07-02", "2024-07-03"]  # each once, across the restart
    assert [d for (d,) in t.rows("SELECT day FROM equity ORDER BY day")] == decisions
    runs = t.rows("SELECT kind, status FROM runs ORDER BY created_at")
    assert runs == [("paper", "stopped"), ("paper", "stopped")]
    assert st["decision"]["day"] == "2024-07-03"
    titles = [str(m.get("title")) for m in t.sink.received]
    assert any(x.startswith("cutcycle: paper trader started") for x in titles), titles
    assert not [x for x in titles if "job failed" in x or "missed" in x], titles
    output = t.output()
    assert 'Running job "decision' in output and "ProgrammingError" not in output
    assert "trigger pre_open at 2024-07-03 08:45:00-04:00 came too late for the scheduler" in output  # R36: dropped, caught up
