"""Transport, bad input, gates and guards (R11, R13-R19, R28, R33, R34), through the real alpaca-py client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from broker.alpaca.clients import build_clients
from broker.alpaca.safety import EndpointGuard, SanityLimits
from broker.contract import Halt, Retry, SkipCycle
from clock import monotonic, new_york
from config.secrets import Secrets
from emulator import FaultRule
from emulator.records import DailyBar
from journal.journal import Journal
from strategies.intents import OrderIntent
from tests.servers.alpaca_rig import KEY_ID, SECRET_KEY, Rig, alpaca_config, make_rig, moo, put_buy


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, read_timeout=0.5)
    yield r
    r.close()


def test_a_silent_server_times_out_and_the_next_call_runs(rig: Rig) -> None:
    """R14: the server accepts and never answers: the call fails within the read timeouts, the next one works."""
    rig.fault("positions", "hang", seconds=5, times=3)
    started = monotonic()
    with pytest.raises(Retry, match="timed out"):
        rig.broker.positions()
    assert monotonic() - started < 5
    assert rig.broker.positions() == {}


def test_429_waits_for_the_reset_then_succeeds(rig: Rig) -> None:
    """R15: a 429 pauses the shared limiter until X-Ratelimit-Reset; the retried call then goes through."""
    rig.fault("account", "rate_limit", seconds=1)
    started = monotonic()
    assert rig.broker.account().status == "ACTIVE"
    assert monotonic() - started >= 0.9 and rig.clients.limiter.waited_seconds >= 0.9


@pytest.mark.parametrize("kind", ["html_502", "empty_500", "malformed_json", "gateway_504"])
def test_bad_answers_are_transient_and_change_nothing(rig: Rig, kind: str) -> None:
    """R16: 502 HTML, 500 empty, 200 truncated JSON: Retry (no crash), and the journal is unchanged."""
    before = len(rig.journal.query("SELECT * FROM events"))
    rig.faults.replace([FaultRule("*", kind, times=None)])
    for call in (rig.broker.account, rig.broker.positions, rig.broker.open_orders, rig.reconciler.run):
        with pytest.raises(Retry):
            call()
    assert len(rig.journal.query("SELECT * FROM events")) == before


@pytest.mark.parametrize("kind", ["unknown_enum", "drop_fields"])
def test_unknown_enums_and_missing_fields_do_not_crash(rig: Rig, kind: str) -> None:
    """R17: every read endpoint answering with unknown enum values or only the minimal fields: no crash."""
    rig.broker.submit(moo(qty=2))
    rig.advance(new_york("2026-03-03", "10:00"))
    rig.faults.replace([FaultRule("*", kind, times=None)])
    if kind == "unknown_enum":
        with pytest.raises(Halt, match="ACTIVE_unlisted"):  # an account status nobody knows is not ACTIVE
            rig.broker.submit(OrderIntent(decision_day=date(2026, 3, 3), symbol="IWM", asset_class="equity", side="buy", qty=1,
                                          kind="limit_day", reason="enum", limit_price=300.0))
    assert rig.broker.positions()["IWM"].qty == 2
    assert len(rig.broker.open_orders()) == 0
    rig.broker.reads.market_clock()
    try:  # a fill without symbol or qty cannot be booked: the page is refused (Retry), never half-read
        rig.broker.reads.activities(rig.clock.now() - timedelta(days=2))
    except Retry:
        assert kind == "drop_fields"
    rig.faults.clear()
    assert rig.reconciler.run().positions == {"IWM": 2}


def test_account_without_the_dropped_pdt_fields_parses(rig: Rig) -> None:
    """R13: fields the API dropped in 2026 (pattern-day-trader) are simply absent."""
    rig.exchange.flags.drop = ["pattern_day_trader", "daytrade_count", "daytrading_buying_power", "options_buying_power"]
    assert rig.broker.account().options_buying_power is None
    assert rig.broker.submit(moo(qty=1)).status == "accepted"


@pytest.mark.parametrize(("flags", "error"), [
    ({"status": "ACCOUNT_CLOSED"}, Halt), ({"trading_blocked": True}, Halt), ({"account_blocked": True}, Halt),
    ({"trade_suspended_by_user": True}, Halt),
])
def test_account_gates_stop_orders(rig: Rig, flags: dict[str, object], error: type[Exception]) -> None:
    """R13: status ACTIVE and no blocks, before any order."""
    for key, value in flags.items():
        setattr(rig.exchange.flags, key, value)
    with pytest.raises(error):
        rig.broker.submit(moo())
    assert rig.exchange.post_log == []


def test_puts_need_options_level_2_and_buying_power(rig: Rig) -> None:
    """R13: options level >= 2 for puts; enough buying power for any buy."""
    rig.advance(new_york("2026-03-03", "10:00"))
    symbol = next(iter(rig.exchange.contracts))
    rig.exchange.flags.options_trading_level = 1
    with pytest.raises(SkipCycle, match="options level"):
        rig.broker.submit(put_buy(symbol, qty=1, limit=1.0))
    with pytest.raises(SkipCycle, match="buying power"):
        rig.broker.submit(OrderIntent(decision_day=date(2026, 3, 3), symbol="IWM", asset_class="equity", side="buy", qty=100_000,
                                      kind="limit_day", reason="too big", limit_price=250.0))
    assert rig.exchange.post_log == []


@pytest.mark.parametrize(("day", "hhmm", "kind", "allowed"), [
    ("2026-03-03", "10:00", "market_on_open", False), ("2026-03-03", "19:05", "market_on_open", True),
    ("2026-03-03", "15:50", "limit_day", False), ("2026-03-03", "15:30", "limit_day", True),
    ("2026-03-03", "16:30", "limit_day", False), ("2026-03-07", "11:00", "limit_day", False),
    ("2026-11-27", "12:50", "limit_day", False), ("2026-11-27", "12:30", "limit_day", True),
])
def test_order_windows(tmp_path: Path, day: str, hhmm: str, kind: str, allowed: bool) -> None:
    """R11: no day orders after the close or in its last 15 minutes (13:00 on half days); OPG only 19:00-09:28 ET."""
    rig = make_rig(tmp_path, start=new_york(day, hhmm))
    try:
        intent = OrderIntent(decision_day=date.fromisoformat(day), symbol="IWM", asset_class="equity", side="buy", qty=1, kind=kind,  # type: ignore[arg-type]
                             reason="window", limit_price=None if kind == "market_on_open" else 300.0)
        if allowed:
            assert rig.broker.submit(intent).status in ("accepted", "filled")
        else:
            with pytest.raises(SkipCycle):
                rig.broker.submit(intent)
            assert rig.exchange.post_log == []
    finally:
        rig.close()


def test_sanity_stops(tmp_path: Path) -> None:
    """R18: the kill file stops orders; no reference price means no order; an equity jump beyond the bound halts."""
    kill = tmp_path / "KILL"
    rig = make_rig(tmp_path, kill_file=kill, limits=SanityLimits(max_equity_jump=0.10))
    try:
        kill.touch()
        with pytest.raises(Halt, match="kill switch"):
            rig.broker.submit(moo())
        kill.unlink()
        rig.exchange.bars["QQQ"] = [DailyBar("2026-03-02", 0.0, 0.0, 0.0, 0.0, 0.0)]
        with pytest.raises(Halt, match="reference price"):
            rig.broker.submit(moo(symbol="QQQ"))
        rig.broker.account()
        rig.exchange.cash *= 1.5
        with pytest.raises(Halt, match="equity moved"):
            rig.broker.account()
        assert rig.exchange.post_log == []
    finally:
        rig.close()


def test_clock_skew_stops_trading(rig: Rig) -> None:
    """R19: local clock 60 s off Alpaca's /v2/clock: no trading."""
    rig.clock.advance(timedelta(seconds=60))
    with pytest.raises(SkipCycle, match="clock"):
        rig.reconciler.run()


def test_calendar_times_are_localised_to_new_york(rig: Rig) -> None:
    """R28: Alpaca's naive 'HH:MM' are New York times: the half day after Thanksgiving closes 13:00 ET = 18:00 UTC."""
    (session,) = rig.broker.reads.sessions(date(2026, 11, 27), date(2026, 11, 27))
    assert session.close == new_york("2026-11-27", "13:00") and session.close.hour == 18


def test_live_guard_on_the_url_in_use(rig: Rig, tmp_path: Path) -> None:
    """R33: APCA_API_BASE_URL pointing at live beats paper=True in the SDK: refused without both opt-ins, and the URL
    is checked again on every submit."""
    live = Secrets.from_env({"APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET_KEY, "APCA_API_BASE_URL": "https://api.alpaca.markets"})
    with pytest.raises(Halt, match="only the paper endpoint or loopback"):
        build_clients(alpaca_config(rig.server.url), live, guard=EndpointGuard(), wall=rig.clock)
    with pytest.raises(Halt):
        build_clients(alpaca_config(rig.server.url), live, guard=EndpointGuard(live=True, allow_live=False), wall=rig.clock)
    rig.clients.trading._base_url = "https://api.alpaca.markets"  # something swapped the URL after start-up
    with pytest.raises(Halt):
        rig.broker.submit(moo())
    assert rig.exchange.post_log == []


def test_a_journal_refuses_another_account(rig: Rig, tmp_path: Path) -> None:
    """R34: the database records account and endpoint; another account on it is refused; state files are private."""
    rig.broker.connect()
    other = Journal(tmp_path / "state" / "journal.sqlite")
    other.close()
    rig.journal.close()
    rig.journal = Journal(tmp_path / "state" / "journal.sqlite")
    rig.broker.journal = rig.journal
    rig.exchange.account_number = "PA0SOMEONEELSE"
    with pytest.raises(Halt, match="belongs to account"):
        rig.broker.connect()
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "state" / "journal.sqlite").stat().st_mode & 0o777 == 0o600
