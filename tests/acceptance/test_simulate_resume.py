"""A `main.py paper --simulate` killed half way and started again resumes from its run ledger: the same decisions and
orders as a clean run, each client_order_id sent once (it used to start again from START with new quantities and
ids). A used emulator account with nothing to resume is refused with how to start fresh."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from clock import NEW_YORK, ManualClock
from datastore.store import Store
from emulator.server import EmulatorServer
from main import main
from review.runs import open_runs
from tests.acceptance.test_paper_process import ROOT
from tests.integration.test_paper_support import KEYS, rig
from tests.servers.ports import wait_for

START, END = date(2024, 9, 4), date(2024, 9, 27)  # the September 2024 cut: IWM bought in tranches
WINDOW = [START.isoformat(), END.isoformat()]
WALL = datetime(2026, 11, 2, 12, tzinfo=NEW_YORK)


def _sets(folder: Path, server: EmulatorServer) -> list[str]:
    return [f'--set=data.store_dir="{folder}"', f'--set=alpaca.trading_url="{server.url}"', f'--set=alpaca.data_url="{server.url}"']


def _decided(folder: Path) -> int:
    journals = list((folder / "simulations").glob("*/paper.sqlite"))
    if not journals:
        return 0
    try:
        with sqlite3.connect(f"{journals[0].as_uri()}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])
    except sqlite3.Error:
        return 0


def _book(server: EmulatorServer) -> tuple[list[str], dict[str, float]]:
    ex = server.exchange
    return sorted(o.client_order_id for o in ex.orders.values()), {p.symbol: p.qty for p in ex.positions.values()}


def test_a_killed_simulation_resumes_where_it_stopped(pack_store: Store, pack_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")} | KEYS | {"CUTCYCLE_DATA_DIR": str(pack_dir)}
    with rig(pack_store, tmp_path / "clean", START, END) as clean:
        assert main([*_sets(clean.folder, clean.server), "paper", "--simulate", *WINDOW], env=env, clock=ManualClock(WALL)) == 0
        expected_orders, expected_positions = _book(clean.server)
    assert len(expected_orders) >= 3
    with rig(pack_store, tmp_path / "killed", START, END) as r:
        argv = [sys.executable, "main.py", *_sets(r.folder, r.server), "paper", "--simulate", *WINDOW]
        first = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: _decided(r.folder) >= 8, 120, "the simulation to decide 8 days")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        assert _decided(r.folder) < 19, "killed too late to test a resume"
        again = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "resumed simulate-20240904-20240927-" in again.stdout
        orders, positions = _book(r.server)
        accepted = [p.client_order_id for p in r.exchange.post_log if p.outcome == "accepted"]
        [journal] = (r.folder / "simulations").glob("*/paper.sqlite")
        with sqlite3.connect(journal) as db:
            days = [d for (d,) in db.execute("SELECT day FROM decisions ORDER BY day")]
            runs = [s for (s,) in db.execute("SELECT status FROM runs ORDER BY created_at")]
            resumed = [i for (i,) in db.execute("SELECT run_id FROM runs ORDER BY created_at")][-1]
            ledger = db.execute("SELECT job, trading_day, outcome, detail FROM job_ledger ORDER BY trading_day, job").fetchall()
        # one session, one run: the resumed process went on in the killed run, so its replay starts flat on the session's
        # first day as the session did, and parity finds nothing that differs on the same inputs
        code = main([*_sets(r.folder, r.server), "parity", resumed, "--json"], env=env, clock=ManualClock(WALL))
        parity = capsys.readouterr().out
        with sqlite3.connect(journal) as db:
            session = {day: json.loads(target)["memory"] for day, target in db.execute("SELECT day, target_json FROM decisions WHERE run_id=?", (resumed,))}
            resumed_events = db.execute("SELECT COUNT(*) FROM events WHERE run_id=? AND kind='resumed'", (resumed,)).fetchone()[0]
        [replay_journal] = (r.folder / "journals").glob(f"replay-{resumed}-*.sqlite")
        with open_runs([replay_journal]) as source:
            replayed = {row["day"]: json.loads(row["target_json"])["memory"] for row in source.decisions(source.runs()[0])}
    assert orders == expected_orders and positions == expected_positions, (orders, expected_orders, ledger, again.stdout)
    assert len(accepted) == len(set(accepted))
    assert len(days) == len(set(days)) == 19 and runs == ["stopped"] and resumed_events == 1  # the killed run went on
    assert code == 0 and "logic or config differs" not in parity and "began holding" not in parity, parity[:3000]
    assert any(session.values()) and replayed == session  # the tranche dates the playbook remembers, day by day


def test_a_used_emulator_with_nothing_to_resume_is_refused(pack_store: Store, pack_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    env = KEYS | {"CUTCYCLE_DATA_DIR": str(pack_dir)}
    with rig(pack_store, tmp_path, START, END) as r:
        r.exchange.advance_to(datetime(2024, 9, 10, 12, tzinfo=NEW_YORK))  # the emulator already ran past START
        capsys.readouterr()
        assert main([*_sets(r.folder, r.server), "paper", "--simulate", *WINDOW], env=env, clock=ManualClock(WALL)) == 2
        assert r.exchange.post_log == []
    captured = capsys.readouterr()
    out = captured.err  # errors go to stderr
    assert "is not a fresh account (its clock is at 2024-09-10 12:00 ET" in out and "restart `main.py emulator`" in out
