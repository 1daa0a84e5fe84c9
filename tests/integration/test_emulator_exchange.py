"""The emulator behaves like Alpaca where the bot depends on it, spoken to through the real alpaca-py clients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import ContractType, OrderSide, TimeInForce
from alpaca.trading.requests import GetCalendarRequest, GetOptionContractsRequest, LimitOrderRequest, MarketOrderRequest

from clock import new_york
from emulator import EmulatorServer
from tests.servers.alpaca_rig import KEY_ID, SECRET_KEY, START, make_exchange


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[EmulatorServer]:
    server = EmulatorServer(make_exchange(START, path=tmp_path / "emu.json"), key_id=KEY_ID, secret_key=SECRET_KEY).start()
    yield server
    server.stop()


def client(server: EmulatorServer) -> TradingClient:
    return TradingClient(KEY_ID, SECRET_KEY, url_override=server.url)


def test_market_on_open_fills_at_the_next_open_and_persists(emu: EmulatorServer, tmp_path: Path) -> None:
    tc = client(emu)
    order = tc.submit_order(MarketOrderRequest(symbol="IWM", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, client_order_id="a1"))
    assert order.status.value == "accepted"  # type: ignore[union-attr]
    emu.exchange.advance_to(new_york("2026-03-03", "09:29"))
    assert emu.exchange.positions == {}
    emu.exchange.advance_to(new_york("2026-03-03", "09:31"))
    filled = tc.get_order_by_client_id("a1")
    assert filled.status.value == "filled" and float(filled.filled_qty) == 10  # type: ignore[union-attr,arg-type]
    assert float(filled.filled_avg_price) == emu.exchange.bar("IWM", date(2026, 3, 3)).open  # type: ignore[union-attr,arg-type]
    # A restarted emulator reads the same state back from its file.
    again = make_exchange(START, path=tmp_path / "emu.json")
    assert again.positions["IWM"].qty == 10 and again.by_client_id.keys() == {"a1"}


def test_duplicate_client_order_id_is_422_40010001(emu: EmulatorServer) -> None:
    tc = client(emu)
    req = MarketOrderRequest(symbol="IWM", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, client_order_id="dup")
    tc.submit_order(req)
    with pytest.raises(APIError) as info:
        tc.submit_order(req)
    assert info.value.status_code == 422 and info.value.code == 40010001


def test_day_orders_expire_at_the_close_and_partial_fills_stay(emu: EmulatorServer) -> None:
    ex = emu.exchange
    symbol = next(s for s in ex.contracts if s.startswith("IWM260417P00240"))
    ex.advance_to(new_york("2026-03-03", "10:00"))
    ex.partial_fills[symbol] = 3
    tc = client(emu)
    ask = ex.quotes[symbol].ask
    tc.submit_order(LimitOrderRequest(symbol=symbol, qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=ask,
                                      client_order_id="p1"))
    assert tc.get_order_by_client_id("p1").status.value == "partially_filled"  # type: ignore[union-attr]
    ex.advance_to(new_york("2026-03-03", "16:01"))
    done = tc.get_order_by_client_id("p1")
    assert done.status.value == "expired" and float(done.filled_qty) == 3  # type: ignore[union-attr,arg-type]
    assert ex.positions[symbol].qty == 3


def test_opg_window_and_option_rules(emu: EmulatorServer) -> None:
    emu.exchange.advance_to(new_york("2026-03-03", "10:00"))
    tc = client(emu)
    with pytest.raises(APIError) as info:
        tc.submit_order(MarketOrderRequest(symbol="IWM", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, client_order_id="late"))
    assert info.value.status_code == 422


def test_calendar_has_early_closes_and_the_clock_follows_manual_time(emu: EmulatorServer) -> None:
    tc = client(emu)
    days = tc.get_calendar(GetCalendarRequest(start=date(2026, 11, 25), end=date(2026, 11, 30)))
    closes = {d.date: d.close.strftime("%H:%M") for d in days}  # type: ignore[union-attr]
    assert closes[date(2026, 11, 27)] == "13:00" and closes[date(2026, 11, 25)] == "16:00"
    assert date(2026, 11, 26) not in closes  # Thanksgiving
    clock = tc.get_clock()
    assert clock.timestamp == START and not clock.is_open  # type: ignore[union-attr]


def test_option_contracts_page_and_default_to_the_coming_weekend(emu: EmulatorServer) -> None:
    tc = client(emu)
    default = tc.get_option_contracts(GetOptionContractsRequest(underlying_symbols=["IWM"]))
    assert default.option_contracts == []  # type: ignore[union-attr]  # nothing expires by Saturday 2026-03-07
    seen, token = [], None
    while True:
        page = tc.get_option_contracts(GetOptionContractsRequest(underlying_symbols=["IWM"], type=ContractType.PUT,
                                                                 expiration_date_lte=date(2026, 6, 30), limit=10, page_token=token))
        seen += [c.symbol for c in page.option_contracts]  # type: ignore[union-attr]
        token = page.next_page_token  # type: ignore[union-attr]
        if not token:
            break
    assert len(seen) == len(set(seen)) == len(emu.exchange.contracts)


def test_bars_only_show_closed_sessions(emu: EmulatorServer) -> None:
    data = StockHistoricalDataClient(KEY_ID, SECRET_KEY, url_override=emu.url)
    req = StockBarsRequest(symbol_or_symbols=["IWM"], timeframe=TimeFrame.Day, start=datetime(2026, 2, 20, tzinfo=UTC), feed="iex")  # type: ignore[arg-type]
    last = data.get_stock_bars(req).data["IWM"][-1]  # type: ignore[union-attr]
    assert last.timestamp.date() == date(2026, 3, 2)
    emu.exchange.advance_to(new_york("2026-03-03", "12:00"))
    assert data.get_stock_bars(req).data["IWM"][-1].timestamp.date() == date(2026, 3, 2)  # type: ignore[union-attr]


def test_wrong_keys_are_401_and_control_api_reports_state(emu: EmulatorServer) -> None:
    with pytest.raises(APIError) as info:
        TradingClient("PKWRONG", "nope", url_override=emu.url).get_account()
    assert info.value.status_code == 401
    state = requests.post(f"{emu.url}/_emulator/time", json={"now": "2026-03-03T15:00:00Z"}, timeout=5).json()
    assert state["now"] == "2026-03-03T15:00:00.000000Z"
    flags = requests.post(f"{emu.url}/_emulator/account", json={"trading_blocked": True}, timeout=5)
    assert flags.status_code == 200 and client(emu).get_account().trading_blocked is True  # type: ignore[union-attr]
