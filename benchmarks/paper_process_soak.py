"""Paper process soak: the real `main.py paper` process on a libfaketime clock across consecutive trading days.

    .venv/bin/python benchmarks/paper_process_soak.py                      # 22 sessions from 2024-07-01
    .venv/bin/python benchmarks/paper_process_soak.py --days 30 --restart-every 10

Unlike `paper_soak.py` (the runner driven in-process on a manual clock), this runs what a user runs: `main.py
emulator` serving the pack's IWM and SPY bars and `main.py paper` on APScheduler's real worker thread, both under
Debian's libfaketime reading one clock file (tests/servers/faketime.py), restarted every `--restart-every` sessions.
Each session the clock is moved a few seconds before 08:45, to 09:35 (the intraday reconcile), before 11:30 and
before 16:30, and the journal is watched until each daily job is in the run ledger. The pack is imported into a
store in a temporary directory. Per session it prints the ledger's jobs run / failed / missed, the scheduler's late
triggers, the decisions and the orders so far, and the trader's RSS after the decision. Exits 1 if any job failed
or was missed. Needs Debian's `faketime` (apt-get install faketime).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.loader import load_config, pack_dir
from datastore.pack_import import import_pack
from datastore.store import Store
from runner.calendar import xnys_sessions
from runner.guards import read_heartbeat
from tests.servers.faketime import FakeWall, libfaketime, new_york
from tests.servers.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
IMPORTED_AT = datetime(2026, 8, 22, tzinfo=UTC)
KEYS = {"APCA_API_KEY_ID": "PKBENCHPROC00001", "APCA_API_SECRET_KEY": "paper-process-soak-secret-not-real"}



def _wait(predicate: Callable[[], bool], what: str, proc: subprocess.Popen[bytes] | None, seconds: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the paper trader exited ({proc.returncode}) waiting for {what}")
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Soak:
    def __init__(self, folder: Path, wall: FakeWall, port: int) -> None:
        self.folder, self.wall, self.port = folder, wall, port
        url = f"http://127.0.0.1:{port}"
        self.sets = [a for s in (f'alpaca.trading_url="{url}"', f'alpaca.data_url="{url}"', f'data.store_dir="{folder}"',
                                 "alpaca.requests_per_minute=10000", "paper.tick_seconds=1") for a in ("--set", s)]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "FRED_", "FAKETIME", "LD_PRELOAD"))} | KEYS
        self.paper: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def journal(self) -> Path:
        return self.folder / "paper" / "paper.sqlite"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if not self.journal.exists():
            return []
        db = sqlite3.connect(f"{self.journal.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def done(self, job: str, day: date) -> Callable[[], bool]:
        return lambda: bool(self.rows(f"SELECT 1 FROM job_ledger WHERE job='{job}' AND trading_day='{day.isoformat()}'"))

    def start(self) -> None:
        self.starts += 1
        out = (self.folder / f"paper{self.starts}.out").open("w")
        self.paper = subprocess.Popen([sys.executable, "main.py", "--log-level", "INFO", *self.sets, "paper"], cwd=ROOT,
                                      env=self.wall.env(self.env), stdout=out, stderr=subprocess.STDOUT)

        def running() -> bool:
            beat = read_heartbeat(self.folder / "paper" / "status.json")
            return beat is not None and beat["extra"].get("scheduler") == "running"

        _wait(running, "the scheduler to start", self.paper)

    def stop(self) -> None:
        if self.paper is not None:
            self.paper.send_signal(signal.SIGTERM)
            if self.paper.wait(timeout=60) != 0:
                raise SystemExit(f"the paper trader exited {self.paper.returncode} on SIGTERM")
            self.paper = None

    def orders(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_emulator/state", timeout=30) as answer:
            state: dict[str, Any] = json.loads(answer.read())
        return len(state["orders"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="2024-07-01", help="first session (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=22, help="consecutive trading sessions")
    parser.add_argument("--restart-every", type=int, default=5, help="restart the paper process after this many sessions")
    args = parser.parse_args(argv)
    lib = libfaketime()
    if lib is None:
        print("libfaketime not found: apt-get install faketime", file=sys.stderr)
        return 2
    first = date.fromisoformat(args.start)
    sessions = [s.day for s in xnys_sessions(first, first + timedelta(days=args.days * 2 + 10))][: args.days]
    with tempfile.TemporaryDirectory(prefix="cutcycle-process-soak-") as tmp:
        folder = Path(tmp)
        cfg = load_config(None, [f'data.store_dir="{folder}"']).config
        began = time.monotonic()
        store = Store(folder / "store.sqlite")
        import_pack(store, cfg, pack_dir(cfg, os.environ), IMPORTED_AT)
        store.close()
        print(f"pack imported in {time.monotonic() - began:.1f} s; {len(sessions)} sessions {sessions[0]} .. {sessions[-1]}")
        wall = FakeWall(folder, lib)
        wall.set(new_york(sessions[0], 8, 40))
        port = free_port()
        soak = Soak(folder, wall, port)
        window = [(sessions[0] - timedelta(days=1)).isoformat(), (sessions[-1] + timedelta(days=5)).isoformat()]
        emulator_out = (folder / "emulator.out").open("w")
        emulator = subprocess.Popen([sys.executable, "main.py", "emulator", "--", "--port", str(port), "--store", str(folder / "store.sqlite"),
                                     "--window", *window], cwd=ROOT, env=wall.env(soak.env), stdout=emulator_out, stderr=subprocess.STDOUT)
        try:
            _wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, "the emulator", None)
            return _run(soak, sessions, args.restart_every, began)
        finally:
            if soak.paper is not None and soak.paper.poll() is None:
                soak.paper.kill()
            emulator.terminate()
            emulator.wait(timeout=30)
            emulator_out.close()


def _run(soak: Soak, sessions: list[date], restart_every: int, began: float) -> int:
    print(f"{'session':<11} {'run':>3} {'fail':>4} {'miss':>4} {'late':>4} {'decisions':>9} {'orders':>6} {'rss MB':>7} {'wall s':>6}")
    soak.start()
    bad = 0
    loop_began = time.monotonic()
    for n, day in enumerate(sessions):
        started = time.monotonic()
        if n and n % restart_every == 0:
            soak.stop()
            soak.wall.set(new_york(day, 8, 40))
            soak.start()
        for hh, mm, job in ((8, 44, "pre_open"), (9, 35, None), (11, 29, "expiry"), (16, 29, "decision")):
            soak.wall.set(new_york(day, hh, mm, 58 if job else 0))
            if job is None:
                time.sleep(2.0)  # the intraday reconcile fires at once after the jump when orders are open
                continue
            _wait(soak.done(job, day), f"{job} {day}", soak.paper)
        ledger = soak.rows(f"SELECT outcome FROM job_ledger WHERE trading_day='{day.isoformat()}'")
        run = sum(1 for (o,) in ledger if o != "missed")
        missed = sum(1 for (o,) in ledger if o == "missed")
        failed = len(soak.rows(f"SELECT 1 FROM events WHERE kind='job_failed' AND message LIKE '% {day.isoformat()}:%'"))
        beat = read_heartbeat(soak.folder / "paper" / "status.json") or {}
        late = int(beat.get("extra", {}).get("late_triggers", 0))
        decisions = soak.rows("SELECT COUNT(*) FROM decisions")[0][0]
        assert soak.paper is not None
        rss = _rss_mb(soak.paper.pid)
        bad += failed + missed
        print(f"{day.isoformat():<11} {run:>3} {failed:>4} {missed:>4} {late:>4} {decisions:>9} {soak.orders():>6} {rss:>7.1f} "
              f"{time.monotonic() - started:>6.1f}")
    soak.stop()
    total_failed = len(soak.rows("SELECT 1 FROM events WHERE kind='job_failed'"))
    ledger = soak.rows("SELECT outcome FROM job_ledger")
    print(f"{len(sessions)} sessions, {soak.starts} process starts: {sum(1 for (o,) in ledger if o != 'missed')} jobs run, "
          f"{total_failed} failed, {sum(1 for (o,) in ledger if o == 'missed')} missed; "
          f"{soak.rows('SELECT COUNT(*) FROM decisions')[0][0]} decisions, {soak.rows('SELECT COUNT(*) FROM intents')[0][0]} intents; "
          f"{time.monotonic() - loop_began:.0f} s for the sessions, {time.monotonic() - began:.0f} s in all")
    return 1 if bad or total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
