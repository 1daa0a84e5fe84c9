"""Orders are never sent twice and never lost (R01-R05, R09, R10, R23), through the real alpaca-py client."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from broker.contract import Halt, exposure
from clock import new_york
from strategies.intents import OrderIntent
from tests.servers.alpaca_rig import Rig, make_rig, moo, put_buy, server_orders


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path, read_timeout=1.0)
    yield r
    r.close()


def events(rig: Rig, cid: str) -> list[str]:
    return [str(r["status"]) for r in rig.journal.query("SELECT status FROM order_events WHERE client_order_id=? ORDER BY seq", (cid,))]


def posts(rig: Rig, cid: str) -> list[str]:
    return [p.outcome for p in rig.exchange.post_log if p.client_order_id == cid]


def test_intent_stored_before_post_then_filled_at_next_open(rig: Rig) -> None:
    """R01: PENDING_SUBMIT is the first event; the order fills at the next open and reconciliation records the fill."""
    intent = moo(qty=10)
    view = rig.broker.submit(intent)
    assert view.status == "accepted" and events(rig, intent.client_order_id) == ["pending_submit", "accepted"]
    rig.advance(new_york("2026-03-03", "09:35"))
    report = rig.reconciler.run()
    assert report.fills_added == 1 and report.positions == {"IWM": 10}
    assert rig.journal.order_state(intent.client_order_id)["status"] == "filled"  # type: ignore[index]
    assert rig.reconciler.local_positions() == {"IWM": 10}


def test_crash_after_commit_before_post_sends_once(rig: Rig) -> None:
    """R01: the intent was committed but the process died before the POST: a restart finds nothing and sends it once."""
    intent = moo()
    rig.journal.record_intent("paper-test", intent, at=rig.clock.now())
    rig.broker.submit(intent)
    assert posts(rig, intent.client_order_id) == ["created"] and len(server_orders(rig, intent.client_order_id)) == 1


def test_crash_after_post_before_response_adopts_without_posting(rig: Rig) -> None:
    """R01: the POST reached Alpaca but the answer was never stored: a restart adopts it by client_order_id."""
    intent = moo()
    rig.journal.record_intent("paper-test", intent, at=rig.clock.now())
    rig.exchange.add_external_order({"symbol": "IWM", "qty": "10", "side": "buy", "type": "market", "time_in_force": "opg",
                                     "client_order_id": intent.client_order_id})
    view = rig.broker.submit(intent)
    assert view.broker_order_id == server_orders(rig, intent.client_order_id)[0].id
    assert posts(rig, intent.client_order_id) == []
    assert events(rig, intent.client_order_id) == ["pending_submit", "accepted"]


@pytest.mark.parametrize(("fault", "server_status"), [
    ("commit_then_504", "accepted"), ("commit_then_500", "accepted"), ("commit_then_reset", "accepted"), ("reject_then_504", "rejected"),
])
def test_unknown_outcome_resolved_by_lookup(rig: Rig, fault: str, server_status: str) -> None:
    """R02: the order is stored but the client sees an error: exactly one server order, local state equal to it."""
    rig.fault("orders.submit", fault)
    intent = moo()
    view = rig.broker.submit(intent)
    (order,) = server_orders(rig, intent.client_order_id)
    assert order.status == server_status and view.status == server_status
    assert posts(rig, intent.client_order_id) == ["created"]
    assert events(rig, intent.client_order_id) == ["pending_submit", "unknown", server_status]


@pytest.mark.parametrize("fault", ["reset", "html_502", "empty_500", "gateway_504", "rate_limit"])
def test_failed_post_is_sent_again_only_after_repeated_404s(rig: Rig, fault: str) -> None:
    """R02: nothing was stored: lookups find nothing (3 times), then the same id is POSTed again, once."""
    rig.fault("orders.submit", fault, seconds=0.2)
    intent = moo()
    view = rig.broker.submit(intent)
    assert view.status == "accepted"
    assert posts(rig, intent.client_order_id) == ["faulted_before_commit", "created"]
    assert len(server_orders(rig, intent.client_order_id)) == 1


def test_post_that_hangs_times_out_and_is_resolved(tmp_path: Path) -> None:
    """R02/R14: a POST that never answers times out (read timeout) and is then resolved by lookup."""
    rig = make_rig(tmp_path, read_timeout=0.3)
    try:
        rig.fault("orders.submit", "hang", seconds=2)
        intent = moo()
        assert rig.broker.submit(intent).status == "accepted"
        assert len(server_orders(rig, intent.client_order_id)) == 1
    finally:
        rig.close()


def test_duplicate_422_is_adopted(rig: Rig) -> None:
    """R03: the order already exists under this id (alpaca-py's own re-POST landed first): the 422 is adopted."""
    intent = moo()
    existing = rig.exchange.add_external_order({"symbol": "IWM", "qty": "10", "side": "buy", "type": "market", "time_in_force": "opg",
                                                "client_order_id": intent.client_order_id})
    view = rig.broker.submit(intent)
    assert view.broker_order_id == existing.id
    assert posts(rig, intent.client_order_id) == ["duplicate"]
    assert len(server_orders(rig, intent.client_order_id)) == 1


def test_the_sdk_never_retries_a_post_behind_our_back(rig: Rig) -> None:
    """R03: the transport answers 504 itself, so alpaca-py's 3x re-POST never happens (one POST, then lookups)."""
    rig.fault("orders.submit", "commit_then_504")
    intent = moo()
    rig.broker.submit(intent)
    assert posts(rig, intent.client_order_id) == ["created"]
    assert not rig.slept or max(rig.slept) < 1  # no 3-second SDK sleeps, only our short backoff


def test_ids_are_short_and_never_reused_after_a_cancel(rig: Rig) -> None:
    """R04: <= 48 chars of [A-Za-z0-9_-]; a canceled intent is not re-sent; a re-entry has a new attempt and id."""
    first = moo()
    rig.broker.submit(first)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,48}", first.client_order_id)
    assert rig.broker.cancel(first.client_order_id).status == "canceled"  # type: ignore[union-attr]
    again = rig.broker.submit(first)
    assert again.status == "canceled" and posts(rig, first.client_order_id) == ["created"]
    reentry = moo(attempt=1)
    assert reentry.client_order_id != first.client_order_id
    assert rig.broker.submit(reentry).status == "accepted"
    assert {o.client_order_id for o in rig.exchange.orders.values()} == {first.client_order_id, reentry.client_order_id}


def test_open_order_from_a_previous_run_counts_toward_the_target(rig: Rig) -> None:
    """R05: target - (position + open orders): an order still working from a previous run leaves nothing to send."""
    previous = moo(qty=10, day=date(2026, 2, 27))
    rig.exchange.add_external_order({"symbol": "IWM", "qty": "10", "side": "buy", "type": "market", "time_in_force": "opg",
                                     "client_order_id": previous.client_order_id})
    held = exposure(rig.broker.positions(), rig.broker.open_orders())
    assert held == {"IWM": 10}
    assert 10 - held["IWM"] == 0


def test_states_only_move_forward_and_fills_deduplicate(rig: Rig) -> None:
    """R09: a stale or scrambled answer never moves an order back; a fill seen twice is stored once."""
    intent = moo()
    rig.broker.submit(intent)
    rig.advance(new_york("2026-03-03", "09:35"))
    rig.reconciler.run()
    assert rig.journal.order_state(intent.client_order_id)["status"] == "filled"  # type: ignore[index]
    rig.fault("orders.by_client_id", "unknown_enum")
    rig.broker.submit(intent)  # terminal: no lookup, no POST
    view = rig.broker.reads.order_by_client_id(intent.client_order_id)
    assert view is not None
    rig.broker.record(view)
    rig.reconciler.run()
    rig.reconciler.run()
    assert rig.journal.order_state(intent.client_order_id)["status"] == "filled"  # type: ignore[index]
    assert len(rig.journal.query("SELECT * FROM fills")) == 1


def test_partial_fill_then_expiry_leaves_three(rig: Rig) -> None:
    """R10: a day order for 5 puts fills 3 and expires at the close; the book holds 3 and the next day starts from 3."""
    symbol = next(s for s in rig.exchange.contracts if s.startswith("IWM260417P00240"))
    rig.exchange.partial_fills[symbol] = 3
    rig.advance(new_york("2026-03-03", "10:00"))
    intent = put_buy(symbol, qty=5, limit=rig.exchange.quotes[symbol].ask)
    assert rig.broker.submit(intent).status == "partially_filled"
    rig.advance(new_york("2026-03-04", "09:00"))
    report = rig.reconciler.run()
    row = rig.journal.order_state(intent.client_order_id)
    assert row["status"] == "expired" and row["filled_qty"] == 3  # type: ignore[index]
    assert report.positions == {symbol: 3} and rig.reconciler.local_positions() == {symbol: 3}
    assert exposure(rig.broker.positions(), rig.broker.open_orders()) == {symbol: 3}


@pytest.mark.parametrize("failure", ["disk_full", "read_only"])
def test_no_order_when_the_intent_cannot_be_stored(rig: Rig, failure: str) -> None:
    """R23: a full disk (SQLite max_page_count reached) or a read-only database: no intent stored, nothing sent."""
    if failure == "read_only":
        rig.journal.query("PRAGMA query_only=1")
    else:
        pages = rig.journal.query("PRAGMA page_count")[0][0]
        rig.journal.query(f"PRAGMA max_page_count={pages + 2}")
        leg = 100
        for size in (2000, 200, 1):  # fill every last page of the intent and event tables
            with pytest.raises(sqlite3.OperationalError):  # "full" is masked by the journal's ROLLBACK (reported)
                for _ in range(10_000):
                    leg += 1
                    filler = OrderIntent(decision_day=date(2026, 1, 2), symbol="SPY", asset_class="equity", side="buy", qty=1,
                                         kind="market_on_open", reason="x" * size, leg=leg)
                    rig.journal.record_intent("paper-test", filler, at=rig.clock.now())
    with pytest.raises(Halt, match="nothing was sent"):
        rig.broker.submit(moo(qty=3, leg=7))
    assert rig.exchange.post_log == []
