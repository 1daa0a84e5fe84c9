"""R37 with real processes: one `main.py paper` per state directory even when `paper.lock` is deleted while it runs,
and the state it leaves is private (R34: lock file 0600, state directory 0700)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from datastore.store import Store
from runner.guards import read_heartbeat
from tests.acceptance.test_paper_process import ROOT
from tests.integration.test_paper_support import KEYS, copy_store
from tests.servers.ports import free_port, listening, wait_for


def test_deleting_the_lock_file_does_not_let_a_second_trader_start(pack_store: Store, tmp_path: Path) -> None:
    copy_store(pack_store, tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")} | KEYS
    url = f"http://127.0.0.1:{port}"
    sets = [a for s in (f'alpaca.trading_url="{url}"', f'alpaca.data_url="{url}"', f'data.store_dir="{tmp_path}"') for a in ("--set", s)]
    state = tmp_path / "paper"
    with (tmp_path / "emulator.out").open("w") as emulator_out, (tmp_path / "first.out").open("w") as first_out:
        emulator = subprocess.Popen([sys.executable, "main.py", "emulator", "--", "--port", str(port)], cwd=ROOT, env=env,
                                    stdout=emulator_out, stderr=subprocess.STDOUT)
        first: subprocess.Popen[bytes] | None = None
        try:
            wait_for(lambda: listening(port), 60, "the emulator to listen")
            first = subprocess.Popen([sys.executable, "main.py", *sets, "paper"], cwd=ROOT, env=env, stdout=first_out, stderr=subprocess.STDOUT)

            def running() -> bool:
                beat = read_heartbeat(state / "status.json")
                return beat is not None and beat["extra"].get("scheduler") == "running"

            wait_for(running, 120, "the first trader's scheduler to start")
            assert stat.S_IMODE((state / "paper.lock").stat().st_mode) == 0o600
            assert stat.S_IMODE(state.stat().st_mode) == 0o700
            (state / "paper.lock").unlink()
            second = subprocess.run([sys.executable, "main.py", *sets, "paper"], cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=120, check=False)
            assert first.poll() is None, "the first trader must still be running"
            status = subprocess.run([sys.executable, "main.py", *sets, "status", "--offline", "--json"], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=120, check=False)
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=60) == 0
        finally:
            if first is not None and first.poll() is None:
                first.kill()
            emulator.terminate()
            emulator.wait(timeout=30)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "another paper trader" in second.stderr and "Traceback" not in second.stderr
    assert '"running": true' in status.stdout, status.stdout  # status sees the trader through the directory lock
    # The first trader runs on the real wall clock: a scheduled job that fires during the test (16:30 ET on a weekday)
    # fails on the pack's old bars, which is its own business; nothing else may go wrong, and nothing about the lock.
    output = (tmp_path / "first.out").read_text()
    assert "Traceback" not in output
    assert [line for line in output.splitlines() if "ERROR" in line and "runner.jobs: job " not in line] == [], output[-3000:]
