"""`main.py paper` as users run it: a real process on the real APScheduler and wall clock, against `main.py emulator`
in another process; SIGTERM stops it cleanly (R24, R26), and nothing secret reaches its output (R32)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import IO

from clock import NEW_YORK
from datastore.store import Store
from runner.guards import InstanceLock, read_heartbeat
from tests.acceptance.test_deploy import image_command
from tests.integration.test_paper_support import KEYS, copy_store
from tests.servers.notify_sinks import WebhookSink
from tests.servers.ports import free_port, listening, wait_for

ROOT = Path(__file__).resolve().parents[2]



def test_main_paper_runs_on_the_real_scheduler_and_stops_cleanly_on_sigterm(pack_store: Store, tmp_path: Path) -> None:
    copy_store(pack_store, tmp_path)  # the pack already imported: the start-up import is a hash check
    port = free_port()
    hook, hung = WebhookSink(), WebhookSink(hang=True)  # notification destinations: one answers, one never does
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "CUTCYCLE_"))} | KEYS | {
        "CUTCYCLE_NOTIFY_URLS": f"{hook.url()} {hung.url()}"}
    logs = tmp_path / "logs"
    logs.mkdir()
    url = f"http://127.0.0.1:{port}"
    sets = [f'alpaca.trading_url="{url}"', f'alpaca.data_url="{url}"', f'data.store_dir="{tmp_path}"', "notify.timeout_seconds=2",
            "notify.stop_flush_seconds=3"]
    try:
        with (logs / "emulator.out").open("w") as emulator_out, (logs / "paper.out").open("w") as paper_out:
            code = _run(port, sets, env, emulator_out, paper_out, tmp_path / "paper" / "status.json")
        _check(code, logs, tmp_path)
        titles = [m["title"] for m in hook.received]
    finally:
        hook.stop()
        hung.stop()
    # The user is told the process started and stopped, once each, whatever the hung destination does.
    assert titles.count("cutcycle: paper trader started (paper)") == 1 and titles.count("cutcycle: paper trader stopped") == 1, titles
    assert hung.hits >= 1


def _run(port: int, sets: list[str], env: dict[str, str], emulator_out: IO[str], paper_out: IO[str], status: Path) -> int:
    emulator = subprocess.Popen([sys.executable, "main.py", "emulator", "--", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=emulator_out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: listening(port), 60, "the emulator to listen")
        # What the container image and the systemd unit start (deploy/), pointed at the emulator and a temporary state
        # directory, with the log at DEBUG so the secret check below sees everything.
        image = image_command()
        argv = [sys.executable, *image[1:-1], "--log-level", "DEBUG", *[a for s in sets for a in ("--set", s)], image[-1]]
        paper = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=paper_out, stderr=subprocess.STDOUT)

        def scheduler_running() -> bool:
            beat = read_heartbeat(status)
            return beat is not None and beat["extra"].get("scheduler") == "running"

        try:
            wait_for(scheduler_running, 120, "the paper trader's scheduler to start")
            paper.send_signal(signal.SIGUSR1)  # a stack dump of every thread for a trader that seems stuck; it keeps running
            wait_for(lambda: "(most recent call first)" in Path(paper_out.name).read_text(), 30, "the stack dump on SIGUSR1")
            assert paper.poll() is None
            paper.send_signal(signal.SIGTERM)
            # The exit waits for queued notifications notify.stop_flush_seconds at most, not for the hung destination.
            code = paper.wait(timeout=30)
        finally:
            if paper.poll() is None:
                paper.kill()
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    return code


def _check(code: int, logs: Path, tmp_path: Path) -> None:
    status = tmp_path / "paper" / "status.json"
    output = (logs / "paper.out").read_text()
    assert code == 0, output
    assert "stopping after the running job" in output  # the SIGTERM handler ran (DEBUG output is checked for secrets below)
    started = next(line for line in output.splitlines() if line.startswith("cutcycle paper trader started"))  # issue 16 item 10
    assert f"state {tmp_path / 'paper'}" in started and "endpoint http://127.0.0.1:" in started and " ET" in started, started
    beat = read_heartbeat(status)
    assert beat is not None and beat["extra"]["scheduler"] == "stopped" and beat["mode"] == "paper"
    walls = sorted({datetime.fromisoformat(j["at"]).astimezone(NEW_YORK).strftime("%H:%M") for j in beat["next_jobs"]})
    assert set(walls) <= {"08:45", "11:30", "16:30"} and walls
    with sqlite3.connect(tmp_path / "paper" / "paper.sqlite") as db:
        runs = db.execute("SELECT kind, status, config_json FROM runs").fetchall()
    assert [(kind, state) for kind, state, _ in runs] == [("paper", "stopped")]
    assert json.loads(runs[0][2])["dry_run"] is False
    with InstanceLock(tmp_path / "paper"):  # the lock went with the process
        pass
    for secret in KEYS.values():
        assert secret not in output and secret not in (logs / "emulator.out").read_text()


def test_a_simulated_session_from_the_command_line_against_the_emulator_process(pack_store: Store, tmp_path: Path) -> None:
    """What the README tells users to do before they trust the bot: `main.py emulator` on the pack's bars, then
    `main.py paper --simulate` against it, then read the session back."""
    store = copy_store(pack_store, tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")} | KEYS
    url = f"http://127.0.0.1:{port}"
    sets = [a for s in (f'alpaca.trading_url="{url}"', f'alpaca.data_url="{url}"', f'data.store_dir="{tmp_path}"') for a in ("--set", s)]
    emulator_argv = [sys.executable, "main.py", "emulator", "--", "--port", str(port), "--start", "2024-09-03T12:00:00-04:00",
                     "--store", str(store), "--window", "2024-09-04", "2024-09-27"]
    with (tmp_path / "emulator.out").open("w") as emulator_out:
        emulator = subprocess.Popen(emulator_argv, cwd=ROOT, env=env, stdout=emulator_out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: listening(port), 60, "the emulator to listen")
            done = subprocess.run([sys.executable, "main.py", *sets, "paper", "--simulate", "2024-09-04", "2024-09-27"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=600, check=False)
            runs = subprocess.run([sys.executable, "main.py", *sets, "runs", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=120, check=False)
            again = subprocess.run([sys.executable, "main.py", *sets, "paper", "--simulate", "2024-09-04", "2024-09-27"], cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=120, check=False)
            status = subprocess.run([sys.executable, "main.py", *sets, "status"], cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=120, check=False)
        finally:
            emulator.terminate()
            emulator.wait(timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "simulated 2024-09-04 .. 2024-09-27" in done.stdout and "0 failed, 0 missed" in done.stdout
    [journal] = (tmp_path / "simulations").glob("simulate-20240904-20240927-*/paper.sqlite")  # its own state, not the paper trader's
    assert not (tmp_path / "paper").exists()
    with sqlite3.connect(journal) as db:
        days = [d for (d,) in db.execute("SELECT day FROM decisions ORDER BY day")]
        regimes = {r for (r,) in db.execute("SELECT regime FROM decisions")}
        sent = db.execute("SELECT COUNT(*) FROM intents").fetchone()[0]
    # The session starts the evening before START: that evening's decision is what START's pre-open acts on.
    assert days[0] == "2024-09-03" and days[-1] == "2024-09-27" and len(days) == 19
    assert "soft_landing" in regimes  # the September 2024 cut: the session bought IWM on the pack's real prices
    assert sent > 0
    assert runs.returncode == 0 and any(r["kind"] == "simulation" for r in json.loads(runs.stdout)), runs.stdout + runs.stderr
    # Issue 16 items 9 and 10: the emulator says where it listens; the session ends with its P&L against IWM and SPY and
    # where it is journaled; `runs` knows its window; a re-run against the emulator whose clock has moved says to restart it.
    assert f"listening on http://127.0.0.1:{port}" in (tmp_path / "emulator.out").read_text()
    assert "P&L " in done.stdout and "buy and hold over the same days: IWM " in done.stdout and str(journal) in done.stdout, done.stdout
    session = next(r for r in json.loads(runs.stdout) if r["kind"] == "simulation")
    assert (session["start"], session["end"]) == ("2024-09-03", "2024-09-27")
    assert status.returncode == 0 and "showing the latest simulated session, simulate-20240904-20240927-" in status.stdout, status.stdout
    assert again.returncode == 2 and "restart the emulator" in again.stderr and "Traceback" not in again.stderr, again.stdout + again.stderr
