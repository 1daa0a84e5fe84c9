"""SIGKILL while submitting and reconciling, and a 20% fault soak: nothing sent twice, nothing lost (R01-R03, R21).

The emulator runs in this process; the bot (`tests.servers.broker_worker`) runs in its own process and is killed
on a randomly chosen line of its log (so kills land between commit and POST, during the POST, after the answer
and before it is stored, and inside reconciliation), plus a random few milliseconds. After the kills a clean run,
the next open and a final reconcile must leave:

- at most one emulator order per client_order_id and per intent, and no POST of an id that already existed;
- every emulator order's intent in the journal (stored before the POST);
- no journal row lost between runs, and `PRAGMA integrity_check` ok;
- the journal's positions equal to the emulator's, with no adjustment needed, and each order's state equal.

Scaled to run in a couple of minutes; `benchmarks/broker_soak.py` runs the long version.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clock import monotonic, new_york
from emulator import EmulatorServer, FaultRule
from emulator.faults import SOAK_KINDS
from journal.journal import Journal
from tests.servers.alpaca_rig import KEY_ID, SECRET_KEY, make_exchange
from tests.servers.broker_worker import workload

ROOT = Path(__file__).resolve().parents[2]
INTENTS = 60  # the workload grows by 2 intents a run up to this, so every early run has orders to send
KILLS = 50
pytestmark = pytest.mark.slow


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    server = EmulatorServer(make_exchange(), key_id=KEY_ID, secret_key=SECRET_KEY).start()
    yield server
    server.stop()


def start_worker(emu: EmulatorServer, state: Path, read_timeout: float = 2.0, intents: int = INTENTS) -> subprocess.Popen[bytes]:
    env = {**os.environ, "APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET_KEY, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.servers.broker_worker", "--url", emu.url, "--state", str(state), "--intents", str(intents),
           "--read-timeout", str(read_timeout)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run_until(proc: subprocess.Popen[bytes], kill_at_line: int | None, rng: random.Random, deadline: float = 60.0,
              kill_on: bytes | None = None, jitter: float = 0.015) -> tuple[str, int]:
    """Read the worker's log; SIGKILL it on line `kill_at_line`, or when `kill_on` first appears, plus 0-`jitter` s.
    Returns ('killed'|'done'|'exited', lines)."""
    assert proc.stdout is not None
    lines, started, buffer = 0, monotonic(), b""
    try:
        while monotonic() - started < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                proc.wait(timeout=10)
                return ("done" if b"DONE" in buffer else "exited"), lines
            buffer += chunk
            lines += chunk.count(b"\n")
            if (kill_at_line is not None and lines >= kill_at_line) or (kill_on is not None and kill_on in buffer):
                select.select([], [], [], rng.random() * jitter)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                return "killed", lines
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"worker stuck; last output:\n{buffer[-2000:].decode(errors='replace')}")
    finally:
        proc.stdout.close()


def snapshot(db: Path) -> dict[str, set[tuple[object, ...]]]:
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            "intents": set(con.execute("SELECT client_order_id FROM intents")),
            "order_events": set(con.execute("SELECT seq, client_order_id, status FROM order_events")),
            "fills": set(con.execute("SELECT execution_id FROM fills")),
        }
    finally:
        con.close()


def kill_stages(db: Path, emu: EmulatorServer) -> list[str]:
    """Where the kill caught an order: committed but not yet POSTed, or POSTed but the answer not yet stored."""
    if not db.exists():
        return ["before any intent"]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        pending = {str(r[0]) for r in con.execute(
            "SELECT client_order_id FROM order_events e WHERE seq = (SELECT MAX(seq) FROM order_events WHERE client_order_id = e.client_order_id)"
            " AND status = 'pending_submit'")}
    finally:
        con.close()
    with emu.exchange.lock:
        sent = set(emu.exchange.by_client_id)
    out = ["after commit, before POST"] * len(pending - sent) + ["after POST, before storing the answer"] * len(pending & sent)
    return out or ["elsewhere"]


def drive(emu: EmulatorServer, state: Path, *, kills: int, rng: random.Random, read_timeout: float = 2.0,
          stages: dict[str, int] | None = None) -> int:
    """Kill the worker `kills` times, checking after each that no committed row disappeared; then run it to the end."""
    db = state / "journal.sqlite"
    before, done_kills, clean_runs, runs = snapshot(db), 0, 0, 0
    span = 5 * INTENTS + 10  # log lines of a full run; later runs are shorter
    while done_kills < kills or clean_runs == 0:
        runs += 1
        intents = min(4 + 2 * runs, INTENTS) if done_kills < kills else INTENTS
        target = rng.randint(1, span) if done_kills < kills else None
        # Every other early run dies inside an order's round trip: on its last POST, 0-100 ms into the slow answer.
        inside_post = done_kills < kills and intents < INTENTS and runs % 2 == 0
        proc = start_worker(emu, state, read_timeout, intents)
        if inside_post:
            newest = workload(intents)[-1].client_order_id.encode()
            outcome, lines = run_until(proc, None, rng, kill_on=b"posting " + newest, jitter=0.1)
        else:
            outcome, lines = run_until(proc, target, rng)
        if outcome != "killed":
            span = max(lines, 5)
        if outcome == "killed" and stages is not None:
            for stage in kill_stages(db, emu):
                stages[stage] = stages.get(stage, 0) + 1
        if outcome != "killed":
            span = max(lines, 5)
        done_kills += outcome == "killed"
        clean_runs += outcome == "done" and intents == INTENTS
        after = snapshot(db)
        for table, rows in before.items():
            lost = rows - after.get(table, set())
            assert not lost, f"journal rows lost from {table} after a kill: {sorted(lost)[:5]}"
        before = after
        assert runs < kills * 3 + 10, f"the worker never finishes a run (last: {outcome})"
    return done_kills


def check_books(emu: EmulatorServer, state: Path) -> None:
    """The assertions shared by the crash test and the soak."""
    ex = emu.exchange
    intents = {i.client_order_id for i in workload(INTENTS)}
    assert not [p for p in ex.post_log if p.outcome == "duplicate"], "a client_order_id was POSTed after it existed"
    cids = [o.client_order_id for o in ex.orders.values()]
    assert sorted(cids) == sorted(intents), "exactly one emulator order per intent"
    per_intent = {cid.rsplit("-", 2)[0] for cid in cids}
    assert len(per_intent) == len(cids), "two orders for one intent"
    journal = Journal(state / "journal.sqlite")
    try:
        assert journal.query("PRAGMA integrity_check")[0][0] == "ok"
        stored = {str(r[0]) for r in journal.query("SELECT client_order_id FROM intents")}
        assert set(cids) <= stored, "an order reached Alpaca without its intent stored first"
        for order in ex.orders.values():
            row = journal.order_state(order.client_order_id)
            assert row is not None and row["status"] == order.status and row["filled_qty"] == order.filled_qty
        assert not journal.query("SELECT 1 FROM events WHERE kind='outside_event'"), "the journal needed outside repairs"
        book: dict[str, float] = {}
        for r in journal.query("SELECT symbol, side, qty FROM fills"):
            book[str(r["symbol"])] = book.get(str(r["symbol"]), 0.0) + (r["qty"] if r["side"] == "buy" else -r["qty"])
        assert book == {s: float(p.qty) for s, p in ex.positions.items()}
    finally:
        journal.close()


def settle(emu: EmulatorServer, state: Path, rng: random.Random) -> None:
    """The next open fills everything; one more clean run reconciles the fills."""
    emu.faults.clear()
    emu.exchange.advance_to(new_york("2026-03-03", "09:35"))
    assert run_until(start_worker(emu, state), None, rng)[0] in ("done", "exited")  # MOO window closed: intents are 'not now'


def test_sigkill_while_submitting_and_reconciling(emu: EmulatorServer, tmp_path: Path) -> None:
    rng = random.Random(20260302)
    # Slow POSTs, before or after the commit, so kills land inside the order's round trip as well as elsewhere.
    emu.faults.add(FaultRule("orders.submit", "random", times=None, seconds=0.05, kinds=["latency", "commit_then_latency"]))
    stages: dict[str, int] = {}
    kills = drive(emu, tmp_path / "state", kills=KILLS, rng=rng, stages=stages)
    assert kills >= KILLS
    # Kills landed after the intent was committed (before or during the POST) and after the answer (before storing it).
    assert stages.get("after commit, before POST", 0) >= 1 and stages.get("after POST, before storing the answer", 0) >= 1, stages
    settle(emu, tmp_path / "state", rng)
    check_books(emu, tmp_path / "state")


def test_fault_soak_at_20_percent(emu: EmulatorServer, tmp_path: Path) -> None:
    rng = random.Random(7)
    emu.faults.replace([FaultRule("*", "random", times=None, rate=0.2, seconds=0.2, kinds=[*SOAK_KINDS, "hang"])], seed=11)
    drive(emu, tmp_path / "state", kills=10, rng=rng, read_timeout=0.5)
    fired = dict(emu.faults.fired)
    assert sum(fired.values()) >= 50 and len(fired) >= 10, fired
    settle(emu, tmp_path / "state", rng)
    check_books(emu, tmp_path / "state")
