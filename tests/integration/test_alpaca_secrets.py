"""R32: a DEBUG run with sentinel keys, forced 401s and tracebacks leaves the keys nowhere on disk or in output.

No redaction filter is installed here: the adapter must not leak the keys by itself (the filter is a second line).
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest

from broker.alpaca.adapter import AlpacaBroker
from broker.alpaca.clients import build_clients
from broker.alpaca.reconcile import Reconciler
from broker.alpaca.safety import EndpointGuard
from broker.contract import BrokerError, Halt
from clock import ManualClock
from emulator import EmulatorServer, FaultRule
from journal.journal import Journal
from tests.servers.alpaca_rig import START, alpaca_config, make_exchange, moo, secrets

SENTINEL_KEY = "PKSENTINEL7Q4ZKEYID93"
SENTINEL_SECRET = "sEnTiNeL-SeCrEt-4f7e9a1b2c3d5e6f708192a3"


def test_sentinel_keys_appear_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    ex = make_exchange(START, path=tmp_path / "emulator.json")
    server = EmulatorServer(ex, key_id=SENTINEL_KEY, secret_key=SENTINEL_SECRET).start()
    log_file = state / "bot.log"
    state.mkdir(mode=0o700)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    try:
        clock = ManualClock(ex.now)
        guard = EndpointGuard()
        clients = build_clients(alpaca_config(server.url), secrets(SENTINEL_KEY, SENTINEL_SECRET), guard=guard, wall=clock)
        journal = Journal(state / "journal.sqlite")
        journal.start_run("paper-secrets", kind="paper", label="secrets", created_at=clock.now(), config={}, config_hash="-",
                          data_versions={}, code_version="test")
        broker = AlpacaBroker(clients, journal, run_id="paper-secrets", clock=clock, guard=guard, sleep=lambda s: None)
        Reconciler(broker).run()
        broker.submit(moo(qty=2))
        server.faults.replace([FaultRule("*", "unauthorized", times=None)])
        for call in (broker.account, broker.positions, Reconciler(broker).run, lambda: broker.submit(moo(qty=1, leg=1))):
            try:
                call()
            except BrokerError as exc:
                errors.append(exc)
                logging.getLogger("cutcycle.test").exception("call failed")
                print(traceback.format_exc())
        server.faults.replace([FaultRule("orders.submit", "commit_then_504"), FaultRule("account", "html_502")])
        try:
            broker.account()
        except BrokerError as exc:
            errors.append(exc)
            logging.getLogger("cutcycle.test").exception("call failed")
        journal.record_event("paper-secrets", at=clock.now(), kind="alert", message=f"errors: {[repr(e) for e in errors]}")
        journal.close()
    finally:
        root.removeHandler(handler)
        handler.close()
        server.stop()
    assert any(isinstance(e, Halt) and "401" in str(e) for e in errors)
    out = capsys.readouterr()
    texts = {"log records": caplog.text, "stdout": out.out, "stderr": out.err,
             "exceptions": " ".join(f"{e!r} {e} {e.__cause__!r}" for e in errors), "clients": repr(clients)}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("latin-1")
    assert "401" in texts["log records"] or "401" in texts["stdout"]
    for where, text in texts.items():
        for sentinel in (SENTINEL_KEY, SENTINEL_SECRET):
            assert sentinel not in text, f"{sentinel[:6]}... leaked into {where}"
