"""The Alpaca adapter: the `Broker` contract over alpaca-py, with the journal as its durable order ledger.

Submitting an intent (R01-R04):

1. pre-flight: live guard on the URL in use, kill switch, price sanity, the order window, the account gates;
2. the intent and its PENDING_SUBMIT event are committed to the journal *before* anything is sent; if that fails
   (disk full, read-only) nothing is sent (R23);
3. an intent already in the journal is never blindly re-sent: a finished one is returned, an unfinished one is
   looked up by client_order_id first (a crash may have happened after the POST);
4. a timeout, reset, 429 or 5xx on the POST means "outcome unknown": look the id up with backoff; only after
   repeated 404s is the same id POSTed again (at most `max_posts` in all);
5. a 422 "client_order_id must be unique" means the order exists: it is looked up and adopted;
6. every answer is recorded as an order event, and states only move forward (R09).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, OrderRequest

from broker.alpaca import parse, safety
from broker.alpaca.clients import AlpacaClients
from broker.alpaca.errors import DuplicateClientId, translate
from broker.alpaca.reads import AlpacaReads
from broker.contract import TERMINAL, AccountView, Halt, OrderView, PositionView, Rejected, Retry, later_status
from clock import NEW_YORK, Clock
from journal.journal import Journal, JournalError
from strategies.intents import OrderIntent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SubmitPolicy:
    lookup_attempts: int = 4  # 404s in a row before an order counts as never received (R02)
    lookup_backoff_seconds: float = 0.5  # first pause between lookups; doubles
    max_posts: int = 2  # POSTs of one client_order_id per submit call; the second only after repeated 404s


class AlpacaBroker:
    """`Broker` for Alpaca. `run_id` is the journal run the events belong to; `sleep` pauses between lookups."""

    def __init__(self, clients: AlpacaClients, journal: Journal, *, run_id: str, clock: Clock, guard: safety.EndpointGuard,
                 sleep: Callable[[float], None], kill_switch: safety.KillSwitch | None = None, limits: safety.SanityLimits | None = None,
                 policy: SubmitPolicy | None = None, reads: AlpacaReads | None = None) -> None:
        self.clients = clients
        self.journal = journal
        self.run_id = run_id
        self.clock = clock
        self.guard = guard
        self.kill_switch = kill_switch or safety.KillSwitch(None)
        self.limits = limits or safety.SanityLimits()
        self.policy = policy or SubmitPolicy()
        self.reads = reads or AlpacaReads(clients, sleep=sleep)
        self._sleep = sleep
        self._equity_seen: float | None = None
        self._sessions: dict[date, parse.SessionView | None] = {}

    # -- start-up and the book ------------------------------------------------------------------------------------

    def connect(self) -> AccountView:
        """Check the endpoint, bind the journal to this account and endpoint (R34), compare clocks (R19)."""
        self.guard.check(self.clients.trading_url)
        account, _ = self.reads.account()
        try:
            self.journal.bind(account.account_number, self.clients.trading_url)
        except JournalError as exc:
            raise Halt(str(exc)) from exc
        safety.check_clock_skew(self.clock.now(), self.reads.market_clock().timestamp, self.limits)
        return account

    def account(self) -> AccountView:
        account, last_equity = self.reads.account()
        safety.check_equity_jump(self._equity_seen if self._equity_seen is not None else last_equity, account.equity, self.limits)
        self._equity_seen = account.equity
        return account

    def positions(self) -> dict[str, PositionView]:
        positions = self.reads.positions()
        safety.check_positions(positions)
        return positions

    def open_orders(self) -> list[OrderView]:
        return self.reads.open_orders()

    # -- orders ---------------------------------------------------------------------------------------------------

    def submit(self, intent: OrderIntent) -> OrderView:
        cid = intent.client_order_id
        last = self.journal.order_state(cid)
        if last is not None and str(last["status"]) in TERMINAL:
            log.info("intent %s already %s; not sent again", cid, last["status"])
            return self._journal_view(intent, str(last["status"]), last)
        if last is not None and last["broker_order_id"]:
            # Alpaca acknowledged it before: nothing will be sent, so no pre-flight; just read its state back.
            known = self.reads.order_by_client_id(cid)
            if known is None:
                raise Halt(f"{cid} was accepted by Alpaca as order {last['broker_order_id']} but Alpaca no longer knows it")
            return self.record(known)
        self._preflight(intent)
        try:
            fresh = self.journal.record_intent(self.run_id, intent, at=self.clock.now())
        except sqlite3.Error as exc:
            raise Halt(f"cannot store intent {cid} ({exc}); nothing was sent") from exc
        log.info("intent stored %s fresh=%s", cid, fresh)
        if not fresh:
            found = self.resolve(cid)
            if found is not None:
                return self.record(found)
        return self._post(intent)

    def _preflight(self, intent: OrderIntent) -> None:
        self.guard.check(self.clients.trading_url)
        self.kill_switch.check()
        now = self.clock.now()
        today = now.astimezone(NEW_YORK).date()
        session = self._session(today)
        safety.check_order_window(intent, now, session.open if session else None, session.close if session else None, self.limits)
        price = intent.limit_price if intent.kind == "limit_day" else self.reads.stock_price(intent.symbol, today=today)
        safety.check_prices(intent, price)
        assert price is not None  # check_prices stops on None
        safety.check_account_gates(self.account(), intent, price)

    def _session(self, day: date) -> parse.SessionView | None:
        if day not in self._sessions:
            self._sessions[day] = next((s for s in self.reads.sessions(day, day) if s.day == day), None)
        return self._sessions[day]

    def _post(self, intent: OrderIntent) -> OrderView:
        cid = intent.client_order_id
        for post in range(1, self.policy.max_posts + 1):
            self.guard.check(self.clients.trading_url)  # again, right before the order leaves (R33)
            log.info("posting %s (post %d)", cid, post)
            try:
                raw = self.clients.trading.submit_order(order_request(intent))
            except Exception as exc:
                err = translate(exc, what=f"POST order {cid}", client_order_id=cid)
                if isinstance(err, DuplicateClientId):
                    log.warning("%s already exists at Alpaca: adopting it", cid)
                    found = self.resolve(cid, misses=self.policy.lookup_attempts * 2)
                    if found is None:
                        raise Halt(f"Alpaca says {cid} exists but cannot find it: check the account by hand") from exc
                    return self.record(found)
                if isinstance(err, Rejected):
                    self._event(cid, "rejected", detail={"reason": str(err)})
                    raise err from exc
                if not isinstance(err, Retry):
                    raise err from exc
                log.warning("outcome of %s unknown (%s): looking it up", cid, err)
                self._event(cid, "unknown", detail={"reason": str(err)})
                found = self.resolve(cid)
                if found is not None:
                    return self.record(found)
                continue
            view = parse.order(raw)
            log.info("posted %s -> %s", cid, view.raw_status if view else "unreadable")
            if view is None or view.client_order_id != cid:
                found = self.resolve(cid)
                if found is None:
                    raise Retry(f"POST order {cid}: unreadable answer and no order found yet; resolve later")
                view = found
            return self.record(view)
        raise Retry(f"{cid}: not received by Alpaca after {self.policy.max_posts} POSTs; state left for the next attempt")

    def resolve(self, cid: str, *, misses: int | None = None) -> OrderView | None:
        """Look an order up by client_order_id: the order, or None after `misses` 404s in a row (R02)."""
        limit = misses or self.policy.lookup_attempts
        delay, not_found, tries = self.policy.lookup_backoff_seconds, 0, 0
        while True:
            tries += 1
            try:
                found = self.reads.order_by_client_id(cid, attempts=1)
            except Retry as exc:
                if tries >= limit * 3:
                    raise Retry(f"{cid}: outcome still unknown after {tries} lookups ({exc})") from exc
                found, not_found = None, 0
            else:
                if found is not None:
                    return found
                not_found += 1
                if not_found >= limit:
                    log.info("%s: %d lookups in a row found nothing", cid, not_found)
                    return None
            self._sleep(delay)
            delay = min(delay * 2, 8.0)

    def cancel(self, client_order_id: str) -> OrderView | None:
        view = self.reads.order_by_client_id(client_order_id)
        if view is None or not view.is_open or view.broker_order_id is None:
            return None if view is None else self._record_if_ours(view)
        self.guard.check(self.clients.trading_url)
        oid = view.broker_order_id
        try:
            self.clients.trading.cancel_order_by_id(oid)
        except Exception as exc:
            err = translate(exc, what=f"DELETE order {client_order_id}", client_order_id=client_order_id)
            if not isinstance(err, Rejected):  # a 4xx here means "not cancelable any more": read it back
                raise err from exc
        after = self.reads.order_by_client_id(client_order_id)
        return None if after is None else self._record_if_ours(after)

    # -- the ledger -----------------------------------------------------------------------------------------------

    def record(self, view: OrderView) -> OrderView:
        """Store what Alpaca says about one of our orders; states only move forward, the broker's filled_qty wins."""
        safety.check_fills(view)
        last = self.journal.order_state(view.client_order_id)
        old_status = str(last["status"]) if last is not None else "pending_submit"
        old_filled = float(last["filled_qty"]) if last is not None else 0.0
        old_broker = last["broker_order_id"] if last is not None else None
        status = later_status(old_status, view.status)
        filled = max(old_filled, view.filled_qty if view.filled_qty is not None else old_filled)
        broker_id = view.broker_order_id or old_broker
        if status != old_status or filled > old_filled or (broker_id and not old_broker):
            self.journal.record_order_event(
                self.run_id, view.client_order_id, status=status, at=self.clock.now(), broker_order_id=broker_id, filled_qty=filled,
                filled_avg_price=view.filled_avg_price, detail={"alpaca_status": view.raw_status},
            )
            log.info("recorded %s %s filled=%s", view.client_order_id, status, filled)
        return view

    def _record_if_ours(self, view: OrderView) -> OrderView:
        if self.journal.query("SELECT 1 FROM intents WHERE client_order_id=?", (view.client_order_id,)):
            self.record(view)
        return view

    def _event(self, cid: str, status: str, *, detail: dict[str, str]) -> None:
        last = self.journal.order_state(cid)
        old = str(last["status"]) if last is not None else "pending_submit"
        if later_status(old, status) != old:
            self.journal.record_order_event(self.run_id, cid, status=status, at=self.clock.now(), detail=detail)

    def _journal_view(self, intent: OrderIntent, status: str, last: sqlite3.Row | None) -> OrderView:
        return OrderView(
            client_order_id=intent.client_order_id, broker_order_id=last["broker_order_id"] if last is not None else None,
            symbol=intent.symbol, side=intent.side, qty=float(intent.qty), filled_qty=float(last["filled_qty"]) if last is not None else 0.0,
            filled_avg_price=last["filled_avg_price"] if last is not None else None, status=status,  # type: ignore[arg-type]
            raw_status="journal",
        )


def order_request(intent: OrderIntent) -> OrderRequest:
    """Shares: market-on-open (time_in_force opg). Options: day limit orders on the OCC symbol."""
    side = OrderSide.BUY if intent.side == "buy" else OrderSide.SELL
    if intent.kind == "market_on_open":
        return MarketOrderRequest(symbol=intent.symbol, qty=intent.qty, side=side, time_in_force=TimeInForce.OPG,
                                  client_order_id=intent.client_order_id)
    return LimitOrderRequest(symbol=intent.symbol, qty=intent.qty, side=side, time_in_force=TimeInForce.DAY,
                             limit_price=intent.limit_price, client_order_id=intent.client_order_id)
