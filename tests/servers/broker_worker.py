"""A bot process for the crash and soak tests: reconcile, submit a fixed list of intents, reconcile again.

Run as `python -m tests.servers.broker_worker --url URL --state DIR --intents N`; keys come from the environment.
It logs every step to stdout (the crash test kills it on a chosen line), exits 0 after "DONE", 3 when a broker
error cut the run short (the test simply starts it again).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, datetime
from pathlib import Path

import requests

from broker.alpaca.adapter import AlpacaBroker, SubmitPolicy
from broker.alpaca.clients import build_clients
from broker.alpaca.reads import AlpacaReads, RetryPolicy
from broker.alpaca.reconcile import Reconciler
from broker.alpaca.safety import EndpointGuard
from broker.contract import BrokerError, Halt, SkipCycle
from clock import ManualClock, SystemClock, ensure_utc
from config.schema import AlpacaConfig
from config.secrets import Secrets
from journal.journal import Journal
from strategies.intents import OrderIntent

RUN_ID = "paper-crash"
SYMBOLS = ("IWM", "SPY")


def workload(n: int) -> list[OrderIntent]:
    """The fixed decisions every run re-derives: same intents, same client_order_ids."""
    return [
        OrderIntent(decision_day=date(2026, 3, 2), symbol=SYMBOLS[i % 2], asset_class="equity", side="buy", qty=1 + i % 3,
                    kind="market_on_open", reason=f"crash-test leg {i}", leg=i)
        for i in range(n)
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--intents", type=int, default=30)
    parser.add_argument("--read-timeout", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
    log = logging.getLogger("worker")
    now = requests.get(f"{args.url}/_emulator/state", timeout=5).json()["now"]
    clock = ManualClock(ensure_utc(datetime.fromisoformat(now.replace("Z", "+00:00"))))
    config = AlpacaConfig(trading_url=args.url, data_url=args.url, feed="iex", live=False, connect_timeout_seconds=1.0,
                          read_timeout_seconds=args.read_timeout, requests_per_minute=10_000, symbols=list(SYMBOLS))
    guard = EndpointGuard()
    clients = build_clients(config, Secrets.from_env(os.environ), guard=guard, wall=clock)
    journal = Journal(args.state / "journal.sqlite")
    if journal.run(RUN_ID) is None:
        journal.start_run(RUN_ID, kind="paper", label="crash", created_at=clock.now(), config={}, config_hash="-", data_versions={},
                          code_version="test")
    real_sleep = SystemClock().sleep
    reads = AlpacaReads(clients, sleep=real_sleep, policy=RetryPolicy(attempts=4, backoff_seconds=0.01))
    broker = AlpacaBroker(clients, journal, run_id=RUN_ID, clock=clock, guard=guard, sleep=real_sleep, reads=reads,
                          policy=SubmitPolicy(lookup_attempts=3, lookup_backoff_seconds=0.01))
    reconciler = Reconciler(broker)
    try:
        reconciler.run()
        complete = True
        for intent in workload(args.intents):
            try:
                view = broker.submit(intent)
                log.info("submitted %s %s", intent.client_order_id, view.status)
            except (SkipCycle, BrokerError) as exc:
                if isinstance(exc, Halt):
                    raise
                complete = False
                log.info("not now %s: %s", intent.client_order_id, exc)
        reconciler.run()
    except BrokerError as exc:
        log.info("run cut short: %s", exc)
        return 3
    if not complete:
        return 3
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
