"""Notifications from the real `main.py paper` process against the emulator process, to a local JSON webhook and a
local SMTP server, with a destination that hangs and one that refuses (issue 15).

The session is `main.py paper --simulate ... --notify` on the pack's September 2024 bars: the same runner, jobs and
alert feed as the scheduled trader (`PaperRunner.run_jobs`), on a clock that jumps from job to job, so a fill, a regime
change and the daily summaries happen within seconds. One job is made to fail through the emulator's fault API."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from datastore.store import Store
from tests.acceptance.test_paper_process import ROOT
from tests.integration.test_paper_support import KEYS, copy_store
from tests.servers.notify_sinks import SmtpSink, WebhookSink, text_of, wait_until
from tests.servers.ports import free_port, listening, wait_for

TOKEN = "tok9f8e7d6c5b4a3"  # stands for the token a real webhook URL carries
SEND_TIMEOUT = 2.0


def _control(port: int, what: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_emulator/{what}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def test_a_session_tells_each_fill_regime_change_failed_job_and_daily_summary_once(pack_store: Store, tmp_path: Path) -> None:
    store = copy_store(pack_store, tmp_path)
    port, refused = free_port(), free_port()
    hook, hung, smtp = WebhookSink(), WebhookSink(hang=True), SmtpSink()
    urls = [hook.url(TOKEN), f"mail={smtp.url()}", f"hung={hung.url()}", f"json://127.0.0.1:{refused}/x"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "CUTCYCLE_"))} | KEYS | {"CUTCYCLE_NOTIFY_URLS": " ".join(urls)}
    url = f"http://127.0.0.1:{port}"
    sets = [f'alpaca.trading_url="{url}"', f'alpaca.data_url="{url}"', f'data.store_dir="{tmp_path}"',
            f"notify.timeout_seconds={SEND_TIMEOUT}", "notify.pause_after_failures=100",  # the hung destination is never paused
            "notify.stop_flush_seconds=15", 'notify.routes.mail=["fills", "regime", "failure"]']  # Apprise paces e-mail (~5 s apart)
    argv = [sys.executable, "main.py", "--log-level", "INFO", *[a for s in sets for a in ("--set", s)],
            "paper", "--simulate", "2024-09-16", "2024-09-18", "--notify"]
    emulator_argv = [sys.executable, "main.py", "emulator", "--", "--port", str(port), "--start", "2024-09-13T12:00:00-04:00",
                     "--store", str(store), "--window", "2024-09-16", "2024-09-18"]
    try:
        with (tmp_path / "emulator.out").open("w") as emulator_out:
            emulator = subprocess.Popen(emulator_argv, cwd=ROOT, env=env, stdout=emulator_out, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: listening(port), 60, "the emulator to listen")
                # The first reconcile's activity reads fail all three attempts: that evening's decision job fails once.
                _control(port, "faults", {"rules": [{"endpoint": "activities", "kind": "empty_500", "times": 3}]})
                started = time.monotonic()
                done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
                took = time.monotonic() - started
            finally:
                emulator.terminate()
                emulator.wait(timeout=30)
        [journal] = (tmp_path / "simulations").glob("simulate-*/paper.sqlite")
        with sqlite3.connect(journal) as db:
            decisions = db.execute("SELECT day, regime, phase FROM decisions ORDER BY day").fetchall()
            fills = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
            ledger = db.execute("SELECT job, trading_day, detail FROM job_ledger").fetchall()
            failed = db.execute("SELECT COUNT(*) FROM events WHERE kind='job_failed'").fetchone()[0]
        output = done.stdout + done.stderr
        (tmp_path / "paper.out").write_text(output)
        assert wait_until(lambda: len(smtp.messages) >= 3, 10), (len(smtp.messages), len(hook.received), output[-3000:])
        webhook = [(m["title"], m["message"]) for m in hook.received]
        mails = [text_of(m) for m in smtp.messages]
        (tmp_path / "received.json").write_text(json.dumps({"webhook": webhook, "mail": mails}, indent=1))
    finally:
        hook.stop()
        hung.stop()
        smtp.stop()

    # The failed job was Friday's decision, due at the first wake; by the next wake its deadline had passed.
    assert "1 failed, 1 missed" in done.stdout, output
    assert failed == 1
    changes = sum(1 for a, b in itertools.pairwise(decisions) if a[1:] != b[1:])
    assert fills > 0 and changes > 0, (fills, decisions)

    def titled(prefix: str) -> list[str]:
        return [t for t, _ in webhook if t.startswith(prefix)]

    assert len(titled("cutcycle: filled")) == fills
    assert len(titled("cutcycle: regime") + titled("cutcycle: phase")) == changes
    assert len(titled("cutcycle: job failed")) == 1
    assert len(titled("cutcycle: missed decision")) == 1
    summaries = titled("cutcycle daily summary")
    assert sorted(summaries) == sorted(set(summaries)) and len(summaries) == len(decisions)
    assert {t.split()[3].rstrip(":") for t in summaries} == {d for d, _, _ in decisions}
    assert titled("cutcycle: 1 order(s) sent") or titled("cutcycle: 2 order(s) sent")  # unnamed destinations get every event
    [summary] = [body for t, body in webhook if t.startswith(f"cutcycle daily summary {decisions[-1][0]}")]
    assert "Equity:" in summary and "IWM " in summary and "SPY " in summary and "Next jobs: pre_open" in summary

    # The e-mail destination receives only its routed events, each once.
    subjects = [m.splitlines()[0] for m in mails]
    assert len([s for s in subjects if s.startswith("cutcycle: filled")]) == fills
    assert not [s for s in subjects if s.startswith("cutcycle daily summary")]
    assert len([s for s in subjects if s.startswith("cutcycle: job failed")]) == 1
    assert not [s for s in subjects if "order(s) sent" in s]

    # No secret anywhere: the Alpaca keys, the webhook's token, the destinations' URLs.
    for secret in (*KEYS.values(), TOKEN, smtp.url(), hung.url()):
        assert secret not in output
        assert not [m for m in mails if secret in m] and not [w for w in webhook if secret in w[0] + w[1]]

    # The hung destination held each send for its full timeout, yet nothing waited for it: every job's wall time in the
    # ledger is under one send timeout, and the session (before the bounded flush at exit) took less than the sends
    # the hung destination was given would have taken one after the other.
    durations = [float(d.removeprefix("took ").removesuffix(" s")) for _, _, d in ledger if d.startswith("took ")]
    assert max(durations) < SEND_TIMEOUT, ledger
    session = float(done.stdout.rsplit("took ", 1)[1].split()[0])
    assert hung.hits >= 2 and session < len(webhook) * SEND_TIMEOUT, (session, hung.hits, len(webhook))
    assert took < session + 15 + 45  # start-up, then the exit waits at most notify.stop_flush_seconds for the hung destination
