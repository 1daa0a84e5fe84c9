"""`main.py status --serve`: the status as a read-only page on 127.0.0.1, opened in headless Chromium, and as JSON,
both refreshed (issue 15)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from datastore.store import Store
from tests.acceptance.test_paper_process import ROOT
from tests.acceptance.test_report_chromium import FLAGS, chromium
from tests.integration.test_paper_support import KEYS, copy_store

__all__ = ["chromium"]  # the fixture


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return str(answer.read().decode())


def test_the_status_page_shows_the_status_in_chromium_and_as_json_and_refreshes(chromium: Path, pack_store: Store, tmp_path: Path) -> None:
    copy_store(pack_store, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "CUTCYCLE_"))} | KEYS
    argv = [sys.executable, "main.py", "--set", f'data.store_dir="{tmp_path}"', "status", "--serve", "--port", "0", "--offline", "--refresh", "1"]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert "status page: http://127.0.0.1:" in line, line
        url = line.split()[2]
        before = json.loads(_get(url + "status.json"))
        assert before["session_found"] is False and before["health"]["kill_switch"] is False
        dom = subprocess.run([str(chromium), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url], capture_output=True,
                             text=True, timeout=120, check=False).stdout
        assert "<h1>cutcycle paper trader</h1>" in dom and 'http-equiv="refresh"' in dom
        assert "no paper session has run in" in dom and "kill switch: off" in dom  # the same text as `main.py status`
        (tmp_path / "paper").mkdir(exist_ok=True)
        (tmp_path / "paper" / "KILL").touch()
        time.sleep(1.2)
        after = json.loads(_get(url + "status.json"))
        assert after["health"]["kill_switch"] is True and after["generated_at"] > before["generated_at"]
        assert "kill switch: ENGAGED" in _get(url)
        for secret in KEYS.values():
            assert secret not in dom
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
