"""A backtest stopped part way is journaled as such: SIGTERM is handled like Ctrl-C (status `interrupted`, exit
128 + the signal), `runs` labels its metrics with the days it covered, never the window it was asked for; a run
SIGKILL left `running` shows as `abandoned` once no process has its journal open. Real `main.py` processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.loader import PROJECT_ROOT
from review.runs import journal_in_use


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory, pack_dir: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("interrupted") / "state"
    env = {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": os.environ.get("PATH", "/usr/bin")}
    return root, env


def cli(root: Path, *argv: str) -> list[str]:
    return [sys.executable, "main.py", "--set", f'data.store_dir="{root}"', *argv]


def start_and_stop(root: Path, env: dict[str, str], signum: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Start the default backtest, send `signum` once its journal is being written, and wait for the process."""
    journals = root / "journals"
    before = set(journals.glob("*.sqlite")) if journals.exists() else set()
    proc = subprocess.Popen(cli(root, "backtest", "--no-progress"), cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    new: list[Path] = []
    while not new:
        assert proc.poll() is None and time.monotonic() < deadline, "the backtest ended before its journal was seen"
        time.sleep(0.05)
        new = [p for p in journals.glob("*.sqlite") if p not in before] if journals.exists() else []
    time.sleep(0.5)  # into the 26 years of bars (a full run takes seconds)
    assert journal_in_use(new[0]), "a running backtest holds its journal open"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), new[0]


def listed(root: Path, env: dict[str, str], run_id: str) -> dict[str, object]:
    done = subprocess.run(cli(root, "runs", "--json"), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    rows: dict[str, dict[str, object]] = {r["run_id"]: r for r in json.loads(done.stdout)}
    return rows[run_id]


@pytest.mark.parametrize(("signum", "code", "line"), [(signal.SIGTERM, 143, "interrupted (SIGTERM)"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_journals_the_run_interrupted_over_the_days_it_covered(state: tuple[Path, dict[str, str]], signum: int, code: int, line: str) -> None:
    root, env = state
    done, path = start_and_stop(root, env, signum)
    assert done.returncode == code, done.stderr
    assert done.stderr.strip().splitlines()[-1] == line and "Traceback" not in done.stderr, done.stderr
    db = sqlite3.connect(path)
    (run_id, status, start_day, end_day), = db.execute("SELECT run_id, status, start_day, end_day FROM runs")
    last_equity = db.execute("SELECT MAX(day) FROM equity").fetchone()[0]
    db.close()
    assert status == "interrupted" and (start_day, end_day) == ("2000-06-01", "2026-06-09")
    assert last_equity is not None and last_equity < "2026-06-09", last_equity
    row = listed(root, env, run_id)
    assert row["status"] == "interrupted"
    assert (row["start"], row["end"]) == ("2000-06-01", last_equity), row  # the metrics' window is what was covered
    assert not journal_in_use(path)


def test_a_killed_run_left_running_is_shown_abandoned_without_whole_window_metrics(state: tuple[Path, dict[str, str]]) -> None:
    root, env = state
    done, path = start_and_stop(root, env, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    (run_id, status), = db.execute("SELECT run_id, status FROM runs")
    db.close()
    assert status == "running"  # nothing could record the end
    row = listed(root, env, run_id)
    assert row["status"] == "abandoned", row
    assert row["end"] != "2026-06-09" or row["total_return"] is None, row


def test_a_sweep_stopped_by_sigterm_to_its_process_group_ends_in_one_line(state: tuple[Path, dict[str, str]]) -> None:
    """As a service manager stops it (SIGTERM to every process): the forked pool workers die quietly, the parent
    says `interrupted (SIGTERM)` and exits 143 (the workers once printed a KeyboardInterrupt trace each)."""
    root, env = state
    grid = PROJECT_ROOT / "examples" / "grid.toml"
    argv = cli(root, "sweep", str(grid), "--start", "2005-01-03", "--end", "2023-06-30", "--processes", "2", "--no-progress")
    proc = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 90
    while not list(root.glob("journals/sweep-*/member-*.sqlite")):
        assert proc.poll() is None and time.monotonic() < deadline, "the sweep ended before a member started"
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted (SIGTERM)", err
