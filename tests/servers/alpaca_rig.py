"""A test rig: the Alpaca emulator on 127.0.0.1 plus the real adapter (real alpaca-py clients) and a journal.

`make_rig(tmp_path)` starts everything at a manual time; `rig.advance(...)` moves the emulator and the bot's
clock together. Nothing here patches anything: the adapter talks HTTP to the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from broker.alpaca.adapter import AlpacaBroker, SubmitPolicy
from broker.alpaca.clients import AlpacaClients, build_clients
from broker.alpaca.reads import AlpacaReads, RetryPolicy
from broker.alpaca.reconcile import Reconciler
from broker.alpaca.safety import EndpointGuard, KillSwitch, SanityLimits
from clock import ManualClock, new_york
from config.schema import AlpacaConfig
from config.secrets import Secrets
from emulator import EmulatorServer, Exchange, FaultPlan, FaultRule
from emulator.market import Calendar
from emulator.seed import seed_bars, seed_put_chain
from journal.journal import Journal
from strategies.intents import OrderIntent

KEY_ID = "PKRIGTESTKEY00000001"
SECRET_KEY = "rigtestsecret000000000000000000000000001"
START = new_york("2026-03-02", "20:00")  # a Monday evening: OPG orders are accepted for Tuesday's open
RUN_ID = "paper-test"


@lru_cache(maxsize=1)
def calendar() -> Calendar:
    return Calendar(date(2025, 12, 1), date(2027, 6, 30))


def make_exchange(start: datetime = START, *, path: Path | None = None, cash: float = 100_000.0) -> Exchange:
    ex = Exchange(calendar(), start=start, cash=cash, path=path)
    if ex.load():
        return ex
    seed_bars(ex, "IWM", date(2026, 1, 2), date(2026, 12, 31), first_open=250.0)
    seed_bars(ex, "SPY", date(2026, 1, 2), date(2026, 12, 31), first_open=600.0, seed=11)
    seed_put_chain(ex, "IWM", as_of=start.date(), spot=250.0, expirations=[date(2026, 3, 20), date(2026, 4, 17), date(2026, 5, 15)],
                   strikes=[float(k) for k in range(200, 256, 5)])
    ex.save()
    return ex


def alpaca_config(url: str, *, read_timeout: float = 3.0, per_minute: int = 6000) -> AlpacaConfig:
    return AlpacaConfig(trading_url=url, data_url=url, feed="iex", live=False, connect_timeout_seconds=2.0,
                        read_timeout_seconds=read_timeout, requests_per_minute=per_minute, symbols=["IWM"])


def secrets(key_id: str = KEY_ID, secret_key: str = SECRET_KEY) -> Secrets:
    return Secrets.from_env({"APCA_API_KEY_ID": key_id, "APCA_API_SECRET_KEY": secret_key})


@dataclass
class Rig:
    exchange: Exchange
    server: EmulatorServer
    clients: AlpacaClients
    journal: Journal
    broker: AlpacaBroker
    clock: ManualClock
    reconciler: Reconciler
    slept: list[float] = field(default_factory=list)

    @property
    def faults(self) -> FaultPlan:
        return self.server.faults

    def fault(self, endpoint: str, kind: str, **kw: Any) -> None:
        self.server.faults.add(FaultRule(endpoint=endpoint, kind=kind, **kw))

    def advance(self, instant: datetime) -> None:
        self.exchange.advance_to(instant)
        self.clock.set(instant)

    def close(self) -> None:
        self.server.stop()
        self.journal.close()


def make_rig(tmp_path: Path, *, start: datetime = START, read_timeout: float = 3.0, kill_file: Path | None = None,
             exchange: Exchange | None = None, limits: SanityLimits | None = None, lookup_attempts: int = 3) -> Rig:
    ex = exchange or make_exchange(start)
    server = EmulatorServer(ex, key_id=KEY_ID, secret_key=SECRET_KEY).start()
    clock = ManualClock(ex.now)
    guard = EndpointGuard()
    clients = build_clients(alpaca_config(server.url, read_timeout=read_timeout), secrets(), guard=guard, wall=clock)
    journal = Journal(tmp_path / "state" / "journal.sqlite")
    if journal.run(RUN_ID) is None:
        journal.start_run(RUN_ID, kind="paper", label="test", created_at=clock.now(), config={}, config_hash="-", data_versions={},
                          code_version="test")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    reads = AlpacaReads(clients, sleep=sleep, policy=RetryPolicy(attempts=3, backoff_seconds=0.01))
    broker = AlpacaBroker(clients, journal, run_id=RUN_ID, clock=clock, guard=guard, sleep=sleep, reads=reads,
                          kill_switch=KillSwitch(kill_file), limits=limits,
                          policy=SubmitPolicy(lookup_attempts=lookup_attempts, lookup_backoff_seconds=0.01))
    return Rig(ex, server, clients, journal, broker, clock, Reconciler(broker), slept)


def moo(symbol: str = "IWM", qty: int = 10, side: str = "buy", day: date = date(2026, 3, 2), leg: int = 0, attempt: int = 0) -> OrderIntent:
    return OrderIntent(decision_day=day, symbol=symbol, asset_class="equity", side=side, qty=qty,  # type: ignore[arg-type]
                       kind="market_on_open", reason="test", leg=leg, attempt=attempt)


def put_buy(symbol: str, qty: int = 5, limit: float = 3.0, day: date = date(2026, 3, 3)) -> OrderIntent:
    return OrderIntent(decision_day=day, symbol=symbol, asset_class="option", side="buy", qty=qty, kind="limit_day", reason="hedge",
                       limit_price=limit)


def server_orders(rig: Rig, cid: str) -> list[Any]:
    return [o for o in rig.exchange.orders.values() if o.client_order_id == cid]


def next_open(day: str) -> datetime:
    return new_york(day, "09:30") + timedelta(minutes=1)
