"""Each fault knob does what it says, seen through plain requests and the real alpaca-py client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from emulator import EmulatorServer, FaultRule
from tests.servers.alpaca_rig import KEY_ID, SECRET_KEY, make_exchange

HEADERS = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET_KEY}


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    server = EmulatorServer(make_exchange(), key_id=KEY_ID, secret_key=SECRET_KEY).start()
    yield server
    server.stop()


def get(emu: EmulatorServer, path: str, timeout: float = 3.0) -> requests.Response:
    return requests.get(f"{emu.url}{path}", headers=HEADERS, timeout=timeout)


@pytest.mark.parametrize(("kind", "status", "ctype"), [("html_502", 502, "text/html"), ("empty_500", 500, "application/json"),
                                                       ("gateway_504", 504, "text/html"), ("unauthorized", 401, "application/json")])
def test_status_faults(emu: EmulatorServer, kind: str, status: int, ctype: str) -> None:
    emu.faults.add(FaultRule("account", kind))
    first = get(emu, "/v2/account")
    assert first.status_code == status and first.headers["Content-Type"] == ctype
    if kind == "empty_500":
        assert first.content == b""
    assert get(emu, "/v2/account").status_code == 200  # times=1 by default


def test_rate_limit_sends_reset(emu: EmulatorServer) -> None:
    emu.faults.add(FaultRule("clock", "rate_limit", seconds=2))
    answer = get(emu, "/v2/clock")
    assert answer.status_code == 429
    assert int(answer.headers["X-Ratelimit-Reset"]) >= emu.exchange.now.timestamp() + 2


def test_hang_and_reset(emu: EmulatorServer) -> None:
    emu.faults.add(FaultRule("positions", "hang", seconds=3))
    with pytest.raises(requests.Timeout):
        get(emu, "/v2/positions", timeout=0.3)
    emu.faults.add(FaultRule("positions", "reset"))
    with pytest.raises(requests.ConnectionError):
        get(emu, "/v2/positions")


def test_body_faults(emu: EmulatorServer) -> None:
    emu.faults.add(FaultRule("account", "malformed_json"))
    with pytest.raises(ValueError):
        json.loads(get(emu, "/v2/account").text)
    emu.faults.add(FaultRule("account", "unknown_enum"))
    assert get(emu, "/v2/account").json()["status"] == "ACTIVE_unlisted"
    emu.faults.add(FaultRule("account", "drop_fields"))
    assert set(get(emu, "/v2/account").json()) == {"id", "account_number", "status"}


def test_commit_then_504_commits_and_alpaca_py_reposts_into_a_422(emu: EmulatorServer) -> None:
    """STACK-FACTS: the bare SDK re-POSTs on 504 (3 s later); the order exists, so the re-POST meets a 422."""
    emu.faults.add(FaultRule("orders.submit", "commit_then_504"))
    tc = TradingClient(KEY_ID, SECRET_KEY, url_override=emu.url)
    req = MarketOrderRequest(symbol="IWM", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, client_order_id="sdk-repost")
    with pytest.raises(APIError) as info:
        tc.submit_order(req)
    assert info.value.status_code == 422
    assert [r.outcome for r in emu.exchange.post_log] == ["created", "duplicate"]
    assert len(emu.exchange.orders) == 1


def test_random_plan_fires_at_the_given_rate(emu: EmulatorServer) -> None:
    emu.faults.replace([FaultRule("*", "random", times=None, rate=0.2, kinds=["empty_500", "html_502"])], seed=3)
    codes = [get(emu, "/v2/clock").status_code for _ in range(100)]
    assert 10 <= sum(c != 200 for c in codes) <= 30
