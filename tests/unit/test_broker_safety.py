"""Guards and sanity stops as pure functions (R11, R13, R18, R19, R33)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from urllib3.util import parse_url

from broker.alpaca.safety import (
    EndpointGuard,
    KillSwitch,
    SanityLimits,
    check_account_gates,
    check_clock_skew,
    check_fills,
    check_order_window,
    check_positions,
    check_prices,
    connect_target,
)
from broker.contract import AccountView, Halt, OrderView, PositionView, SkipCycle, exposure, later_status
from clock import new_york
from strategies.intents import OrderIntent

MOO = OrderIntent(decision_day=date(2026, 3, 2), symbol="IWM", asset_class="equity", side="buy", qty=10, kind="market_on_open", reason="t")
PUT = OrderIntent(decision_day=date(2026, 3, 3), symbol="IWM260417P00240000", asset_class="option", side="buy", qty=2, kind="limit_day",
                  reason="t", limit_price=4.2)
ACCOUNT = AccountView("PA1", "ACTIVE", 10_000.0, 10_000.0, 10_000.0, 5_000.0, 2, False, False, False)


@pytest.mark.parametrize(("url", "live", "allow", "ok"), [
    ("https://paper-api.alpaca.markets", False, False, True), ("http://127.0.0.1:8765", False, False, True),
    ("http://localhost:1", False, False, True), ("https://api.alpaca.markets", False, False, False),
    ("https://api.alpaca.markets", True, False, False), ("https://api.alpaca.markets", False, True, False),
    ("https://api.alpaca.markets", True, True, True), ("http://paper-api.alpaca.markets", False, False, False),
    ("https://paper-api.alpaca.markets.evil.example", False, False, False),
])
def test_endpoint_guard(url: str, live: bool, allow: bool, ok: bool) -> None:
    guard = EndpointGuard(live=live, allow_live=allow)
    if ok:
        guard.check(url)
    else:
        with pytest.raises(Halt):
            guard.check(url)


# R39: forms two URL parsers read differently, or that hide the host: refused even with the live opt-in.
AMBIGUOUS = [
    "http://api.alpaca.markets\\@127.0.0.1:8765",  # urlsplit: 127.0.0.1; urllib3/requests: api.alpaca.markets
    "http://api.alpaca.markets\\@127.0.0.1:8765/v2/account",
    "http://127.0.0.1:8765@api.alpaca.markets/",  # userinfo that looks like a host
    "http://user:pw@127.0.0.1:8765", "http://127.0.0.1%2F@api.alpaca.markets", "http://127.0.0.1%2e1/",
    "http://127.1:8765", "http://0x7f.0.0.1:8765", "http://2130706433:8765", "http://017.0.0.1:8765", "http://127.0.0.256/",
    "http://localhost.:8765", "http://.localhost:8765", "https://paper-api..alpaca.markets", "https://paper-api.alpaca.markets.",
    "http://127.0.0.1 :8765", "http://127.0.0.1\t:8765", "http://[::ffff:127.0.0.1]:8765", "ftp://127.0.0.1/", "http:///v2",
]


@pytest.mark.parametrize("url", AMBIGUOUS)
def test_urls_two_parsers_may_read_differently_are_refused(url: str) -> None:
    for guard in (EndpointGuard(), EndpointGuard(live=True, allow_live=True)):
        with pytest.raises(Halt, match="refusing endpoint URL"):
            guard.check(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/v2/orders?status=all", "http://[::1]:9/", "http://LOCALHOST:1",
                                 "https://paper-api.alpaca.markets/v2/account", "https://data.alpaca.markets:443/v2/stocks/bars"])
def test_the_guard_reads_the_host_the_http_stack_connects_to(url: str) -> None:
    target = connect_target(url)
    prepared = parse_url(requests.Request("GET", url).prepare().url)  # what requests hands to urllib3's pool
    assert target.host == (prepared.host or "").strip("[]").lower() and target.port == prepared.port
    EndpointGuard().check(url)


def test_kill_switch(tmp_path: Path) -> None:
    KillSwitch(None).check()
    switch = KillSwitch(tmp_path / "KILL")
    switch.check()
    (tmp_path / "KILL").touch()
    with pytest.raises(Halt, match="kill switch"):
        switch.check()


@pytest.mark.parametrize("price", [None, 0.0, -1.0, float("nan"), float("inf")])
def test_no_order_on_a_bad_price(price: float | None) -> None:
    with pytest.raises(Halt):
        check_prices(MOO, price)


def test_broker_numbers_that_cannot_be_true_halt() -> None:
    with pytest.raises(Halt, match="filled_qty"):
        check_fills(OrderView("c", "b", "IWM", "buy", 5.0, 6.0, 1.0, "filled", "filled"))
    with pytest.raises(Halt, match="fractional"):
        check_positions({"X": PositionView("IWM260417P00240000", "option", 1.5, 1.0, 1.0)})


def test_clock_skew() -> None:
    now = new_york("2026-03-03", "10:00")
    check_clock_skew(now, now + timedelta(seconds=29), SanityLimits())
    with pytest.raises(SkipCycle):
        check_clock_skew(now, now - timedelta(seconds=31), SanityLimits())


def test_gates() -> None:
    check_account_gates(ACCOUNT, PUT, 4.2)
    with pytest.raises(SkipCycle, match="buying power"):
        check_account_gates(ACCOUNT, PUT, 40.0)  # 2 x 100 x 40 > 5,000 options buying power
    with pytest.raises(SkipCycle, match="options level"):
        check_account_gates(AccountView("PA1", "ACTIVE", 1.0, 1.0, 1e9, None, None, False, False, False), PUT, 1.0)


def test_half_day_window() -> None:
    limits = SanityLimits()
    open_, close = new_york("2026-11-27", "09:30"), new_york("2026-11-27", "13:00")
    check_order_window(PUT, new_york("2026-11-27", "12:44"), open_, close, limits)
    with pytest.raises(SkipCycle):
        check_order_window(PUT, new_york("2026-11-27", "12:46"), open_, close, limits)
    check_order_window(MOO, new_york("2026-11-27", "09:27"), open_, close, limits)
    check_order_window(MOO, new_york("2026-11-28", "11:00"), None, None, limits)  # Saturday: queues for Monday's open


def test_exposure_counts_open_orders_and_states_only_move_forward() -> None:
    positions = {"IWM": PositionView("IWM", "equity", 10.0, 200.0, 2000.0)}
    orders = [OrderView("a", "1", "IWM", "sell", 4.0, 1.0, 200.0, "partially_filled", "partially_filled"),
              OrderView("b", "2", "SPY", "buy", 3.0, 0.0, None, "accepted", "new"),
              OrderView("c", "3", "SPY", "buy", 3.0, 3.0, 1.0, "filled", "filled")]
    assert exposure(positions, orders) == {"IWM": 7.0, "SPY": 3.0}
    assert later_status("filled", "accepted") == "filled"
    assert later_status("accepted", "unknown") == "accepted"
    assert later_status("partially_filled", "expired") == "expired"
