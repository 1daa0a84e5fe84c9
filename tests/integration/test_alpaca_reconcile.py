"""Reconciliation makes the journal agree with Alpaca (R07, R08, R12), through the real alpaca-py client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from broker.contract import Halt, Retry
from clock import new_york
from emulator import FaultRule
from emulator.records import EmuPosition
from emulator.seed import seed_put_chain
from tests.servers.alpaca_rig import Rig, make_rig, moo, put_buy


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, read_timeout=1.0)
    yield r
    r.close()


def outside(rig: Rig) -> list[str]:
    return [str(r["message"]) for r in rig.journal.query("SELECT message FROM events WHERE kind='outside_event' ORDER BY seq")]


def test_order_filled_while_the_bot_was_down(tmp_path: Path) -> None:
    """R07: submitted, process gone, filled at the open; a new process reconciles the fill from the same state."""
    rig = make_rig(tmp_path)
    intent = moo(qty=7)
    rig.broker.submit(intent)
    rig.journal.close()
    exchange, server = rig.exchange, rig.server
    exchange.advance_to(new_york("2026-03-03", "11:00"))
    server.stop()
    restarted = make_rig(tmp_path, start=exchange.now, exchange=exchange)
    try:
        report = restarted.reconciler.run()
        assert restarted.journal.order_state(intent.client_order_id)["status"] == "filled"  # type: ignore[index]
        assert report.fills_added == 1 and report.positions == {"IWM": 7} and report.adjustments == {}
    finally:
        restarted.close()


def test_unknown_order_is_adopted_as_external(rig: Rig) -> None:
    """R07: an order the bot never placed is recorded as an outside event, and its fill moves the journal's book."""
    rig.exchange.add_external_order({"symbol": "SPY", "qty": "2", "side": "buy", "type": "market", "time_in_force": "opg",
                                     "client_order_id": "manual-by-a-human"})
    report = rig.reconciler.run()
    assert report.external_orders == ["manual-by-a-human"]
    rig.advance(new_york("2026-03-03", "10:00"))
    report = rig.reconciler.run()
    assert report.external_orders == [] and report.adjustments == {}
    assert rig.reconciler.local_positions() == {"SPY": 2} == report.positions
    assert any(m.startswith("external fill buy 2.0 SPY") for m in outside(rig))


@pytest.mark.parametrize(("strike", "kind", "book"), [(200, "OPEXP", {"IWM": 100}), (300, "OPEXC", {"IWM": -100 * 2 + 100})])
def test_put_expired_or_exercised_is_an_outside_event(tmp_path: Path, strike: int, kind: str, book: dict[str, float]) -> None:
    """R07/R12: an expiry or exercise is recorded once, as an outside event with its position changes; no sell is sent."""
    rig = make_rig(tmp_path)
    try:
        ex = rig.exchange
        symbol = "IWM260320P" + f"{strike * 1000:08d}"
        if symbol not in ex.contracts:
            seed_put_chain(ex, "IWM", as_of=rig.clock.now().date(), spot=250.0, expirations=[date(2026, 3, 20)], strikes=[float(strike)])
        rig.broker.submit(moo(qty=100))
        rig.advance(new_york("2026-03-03", "10:00"))
        rig.broker.submit(put_buy(symbol, qty=2, limit=ex.quotes[symbol].ask))
        rig.reconciler.run()
        posts_before = len(ex.post_log)
        rig.advance(new_york("2026-03-23", "09:00"))
        report = rig.reconciler.run()
        assert any(m.startswith(f"{kind} 2.0 {symbol}") for m in report.outside_events)
        assert report.positions == book == rig.reconciler.local_positions()
        assert report.adjustments == {} and len(ex.post_log) == posts_before
        assert rig.reconciler.run().outside_events == []  # recorded once
    finally:
        rig.close()


def test_api_down_at_start_up_means_no_trading_until_it_answers(rig: Rig) -> None:
    """R07: every call fails: reconcile raises Retry (the runner trades nothing); once Alpaca answers it goes through."""
    rig.faults.replace([FaultRule("*", "reset", times=None)])
    with pytest.raises(Retry):
        rig.reconciler.run()
    assert rig.exchange.orders == {}
    rig.faults.clear()
    assert rig.reconciler.run().positions == {}


def test_reconcile_is_idempotent(rig: Rig) -> None:
    """R08: reconciling again (every few minutes, after a reconnect) adds nothing new."""
    rig.broker.submit(moo(qty=4))
    rig.advance(new_york("2026-03-03", "10:00"))
    rig.reconciler.run()
    counts = [len(rig.journal.query(f"SELECT * FROM {t}")) for t in ("order_events", "fills", "intents")]
    for minutes in (5, 10):
        rig.advance(new_york("2026-03-03", "10:00") + timedelta(minutes=minutes))
        rig.reconciler.run()
    assert [len(rig.journal.query(f"SELECT * FROM {t}")) for t in ("order_events", "fills", "intents")] == counts


def test_intent_that_never_reached_alpaca_is_closed_as_not_sent(rig: Rig) -> None:
    """R07: PENDING_SUBMIT, repeated 404s and older than the grace period: closed as not_sent, never silently resent."""
    intent = moo(qty=3)
    rig.journal.record_intent("paper-test", intent, at=rig.clock.now())
    assert rig.reconciler.run().not_sent == []  # still young: the submit path may be sending it
    rig.advance(rig.clock.now() + timedelta(minutes=11))
    assert rig.reconciler.run().not_sent == [intent.client_order_id]
    assert rig.broker.submit(intent).status == "not_sent" and rig.exchange.post_log == []


def test_an_order_alpaca_forgot_halts_trading(rig: Rig) -> None:
    """R07: an order Alpaca accepted but no longer knows cannot be explained: Halt with a clear message."""
    intent = moo(qty=3)
    rig.broker.submit(intent)
    rig.exchange.orders.clear()
    rig.exchange.by_client_id.clear()
    with pytest.raises(Halt, match="no longer knows it"):
        rig.reconciler.run()


def test_unexplained_position_is_repaired_to_alpacas(rig: Rig) -> None:
    """R07: the broker is the truth: a position the journal cannot explain is adopted with an adjustment event."""
    rig.exchange.positions["SPY"] = EmuPosition("SPY", "us_equity", 5, 600.0)
    report = rig.reconciler.run()
    assert report.adjustments == {"SPY": 5} and rig.reconciler.local_positions() == {"SPY": 5}
    assert rig.reconciler.run().adjustments == {}


def test_a_filled_order_whose_fills_never_came_is_repaired_from_its_filled_qty(rig: Rig) -> None:
    """An order Alpaca reports filled whose fill activities never arrive: after the grace the missing quantity is booked
    from the order's filled_qty and average price as a journaled repair, and a fill activity arriving later is not
    counted twice. Before the repair the journal's position would have stayed short of Alpaca's for good."""
    intent = moo(qty=9)
    rig.broker.submit(intent)
    rig.advance(new_york("2026-03-03", "10:00"))
    lost = [a for a in rig.exchange.activities if a.activity_type == "FILL"]
    rig.exchange.activities[:] = [a for a in rig.exchange.activities if a.activity_type != "FILL"]
    first = rig.reconciler.run()
    assert rig.journal.order_state(intent.client_order_id)["status"] == "filled"  # type: ignore[index]
    assert first.fill_repairs == [] and first.adjustments == {}  # within the grace: the fills may still come
    assert rig.reconciler.local_positions() == {}
    rig.advance(new_york("2026-03-03", "10:20"))
    second = rig.reconciler.run()
    assert second.fill_repairs == [intent.client_order_id] and second.adjustments == {}
    assert rig.reconciler.local_positions() == {"IWM": 9} == second.positions
    [fill] = rig.journal.query("SELECT qty, price, synthetic FROM fills")
    order = rig.exchange.orders[next(iter(rig.exchange.orders))]
    assert (fill["qty"], fill["synthetic"]) == (9, 1) and fill["price"] == pytest.approx(order.filled_avg_price)
    [repair] = rig.journal.query("SELECT message FROM events WHERE kind='fill_repair'")
    assert repair["message"].startswith(f"fill_repair {intent.client_order_id} buy 9 IWM")
    rig.exchange.activities.extend(lost)  # the lost fill shows up after all
    for _ in range(2):
        late = rig.reconciler.run()
        assert late.fills_added == 0 and late.adjustments == {} and late.fill_repairs == []
    assert rig.reconciler.local_positions() == {"IWM": 9}
    assert len(rig.journal.query("SELECT 1 FROM events WHERE kind='late_fill'")) == 1
