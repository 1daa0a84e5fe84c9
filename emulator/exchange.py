"""The emulator's exchange: orders, fills at the next open, day orders expiring at the close, option expiry.

Time only moves when told (`advance_to`), or follows the wall clock when the emulator runs for a manual paper
session (`follow_clock`). Every change of state is written to the state file (when one is given) before the
HTTP answer leaves, so the emulator's truth survives a client (or emulator) restart.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from clock import NEW_YORK, Clock, ensure_utc
from emulator.market import Calendar, Session
from emulator.records import (
    MULTIPLIER,
    AccountFlags,
    Activity,
    Contract,
    DailyBar,
    EmuOrder,
    EmuPosition,
    OccSymbol,
    PostRecord,
    Quote,
    iso,
    parse_iso,
)

log = logging.getLogger(__name__)


class OrderError(Exception):
    """An order the exchange refuses: HTTP status, Alpaca error code, message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Exchange:
    """All emulator state behind one lock."""

    def __init__(self, calendar: Calendar, *, start: datetime, cash: float = 100_000.0, path: Path | None = None,
                 account_number: str = "PA0EMULATOR", follow_clock: Clock | None = None) -> None:
        self.calendar = calendar
        self.lock = threading.RLock()
        self.path = path
        self.follow_clock = follow_clock
        self.account_number = account_number
        self.account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, account_number))
        self.now = ensure_utc(start)
        self.cash = cash
        self.last_equity = cash
        self.orders: dict[str, EmuOrder] = {}
        self.by_client_id: dict[str, str] = {}
        self.positions: dict[str, EmuPosition] = {}
        self.activities: list[Activity] = []
        self.bars: dict[str, list[DailyBar]] = {}
        self.quotes: dict[str, Quote] = {}
        self.contracts: dict[str, Contract] = {}
        self.partial_fills: dict[str, int] = {}
        self.flags = AccountFlags()
        self.post_log: list[PostRecord] = []

    # -- persistence ----------------------------------------------------------------------------------------------

    def save(self) -> None:
        if self.path is None:
            return
        state = {
            "now": iso(self.now), "cash": self.cash, "last_equity": self.last_equity,
            "orders": [asdict(o) for o in self.orders.values()], "positions": [asdict(p) for p in self.positions.values()],
            "activities": [asdict(a) for a in self.activities], "contracts": [asdict(c) for c in self.contracts.values()],
            "bars": {s: [asdict(b) for b in bars] for s, bars in self.bars.items()},
            "quotes": {s: asdict(q) for s, q in self.quotes.items()}, "partial_fills": self.partial_fills,
            "flags": asdict(self.flags), "post_log": [asdict(p) for p in self.post_log],
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)

    def load(self) -> bool:
        """Read the state file if there is one; returns whether it did."""
        if self.path is None or not self.path.exists():
            return False
        state = json.loads(self.path.read_text())
        self.now, self.cash, self.last_equity = parse_iso(state["now"]), state["cash"], state["last_equity"]
        self.orders = {o["id"]: EmuOrder(**o) for o in state["orders"]}
        self.by_client_id = {o.client_order_id: o.id for o in self.orders.values()}
        self.positions = {p["symbol"]: EmuPosition(**p) for p in state["positions"]}
        self.activities = [Activity(**a) for a in state["activities"]]
        self.contracts = {c["symbol"]: Contract(**c) for c in state["contracts"]}
        self.bars = {s: [DailyBar(**b) for b in bars] for s, bars in state["bars"].items()}
        self.quotes = {s: Quote(**q) for s, q in state["quotes"].items()}
        self.partial_fills = dict(state["partial_fills"])
        self.flags = AccountFlags(**state["flags"])
        self.post_log = [PostRecord(**p) for p in state["post_log"]]
        return True

    # -- time -----------------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Catch up with the wall clock when following one; a manual emulator only moves in `advance_to`."""
        if self.follow_clock is not None:
            self.advance_to(self.follow_clock.now())

    def advance_to(self, instant: datetime) -> None:
        """Process every open and close up to `instant` in order, then set the time (never backwards)."""
        instant = ensure_utc(instant)
        with self.lock:
            while True:
                nxt_open, nxt_close = self.calendar.next_open(self.now), self.calendar.next_close(self.now)
                events = [(s.open, 0, s) for s in (nxt_open,) if s and s.open <= instant]
                events += [(s.close, 1, s) for s in (nxt_close,) if s and s.close <= instant]
                if not events:
                    break
                at, kind, session = min(events, key=lambda e: (e[0], e[1]))
                self.now = at
                if kind == 0:
                    self._at_open(session)
                else:
                    self._at_close(session)
            self.now = max(self.now, instant)
            self.save()

    def session_now(self) -> Session | None:
        return self.calendar.open_at(self.now)

    # -- prices ---------------------------------------------------------------------------------------------------

    def bar(self, symbol: str, day: date) -> DailyBar | None:
        for b in self.bars.get(symbol, []):
            if b.day == day.isoformat():
                return b
        return None

    def last_close(self, symbol: str, before: date) -> float | None:
        closes = [b.close for b in self.bars.get(symbol, []) if b.day < before.isoformat()]
        return closes[-1] if closes else None

    def mark(self, symbol: str) -> float | None:
        """The current price: the quote mid, else today's open (in session) or close (after), else the last close."""
        if symbol in self.quotes:
            return self.quotes[symbol].mid
        today = self.now.astimezone(NEW_YORK).date()
        bar, session = self.bar(symbol, today), self.calendar.session(today)
        if bar is not None and session is not None and self.now >= session.open:
            return bar.close if self.now >= session.close else bar.open
        return self.last_close(symbol, today)

    def equity(self) -> float:
        value = self.cash
        for p in self.positions.values():
            mark = self.mark(p.symbol)
            value += p.qty * (mark if mark is not None else p.avg_entry_price) * MULTIPLIER[p.asset_class]
        return value

    # -- orders ---------------------------------------------------------------------------------------------------

    def submit(self, body: dict[str, Any], *, reject: bool = False) -> EmuOrder:
        """Accept a new order (or refuse it with OrderError); `reject` stores it as rejected (reject-then-error)."""
        with self.lock:
            cid = str(body.get("client_order_id") or uuid.uuid4())
            if cid in self.by_client_id:
                self.post_log.append(PostRecord(cid, "duplicate", iso(self.now)))
                self.save()
                raise OrderError(422, 40010001, "client_order_id must be unique")
            try:
                order = self._validate(body, cid)
            except OrderError:
                self.post_log.append(PostRecord(cid, "rejected", iso(self.now)))
                self.save()
                raise
            if reject:
                order.status = "rejected"
            self.orders[order.id] = order
            self.by_client_id[cid] = order.id
            self.post_log.append(PostRecord(cid, "created", iso(self.now)))
            if not reject and self.session_now() is not None and order.time_in_force != "opg":
                order.status = "new"
                self._try_fill(order, self.mark(order.symbol))
            self.save()
            return order

    def _validate(self, body: dict[str, Any], cid: str) -> EmuOrder:
        symbol = str(body.get("symbol", ""))
        try:
            qty_f = float(body.get("qty", 0))
        except (TypeError, ValueError):
            raise OrderError(422, 40010001, "qty must be a number") from None
        side, otype, tif = body.get("side"), body.get("type"), body.get("time_in_force")
        if qty_f <= 0 or qty_f != int(qty_f):
            raise OrderError(422, 40010001, "qty must be a positive whole number")
        if side not in ("buy", "sell") or otype not in ("market", "limit") or tif not in ("day", "opg", "gtc"):
            raise OrderError(422, 40010001, "invalid side, type or time_in_force")
        limit = float(body["limit_price"]) if body.get("limit_price") is not None else None
        if otype == "limit" and (limit is None or limit <= 0):
            raise OrderError(422, 40010001, "limit orders need a positive limit_price")
        asset_class = "us_option" if OccSymbol.parse(symbol) else "us_equity"
        if asset_class == "us_option":
            if symbol not in self.contracts:
                raise OrderError(422, 40010001, f"asset {symbol} not found")
            if tif != "day":
                raise OrderError(422, 40010001, "options orders must be day orders")
        elif symbol not in self.bars and symbol not in self.quotes:
            raise OrderError(422, 40010001, f"asset {symbol} not found")
        if tif == "opg" and self._opg_closed():
            raise OrderError(422, 40010001, "opg orders are accepted only from 19:00 to 09:28 ET")
        qty = int(qty_f)
        price = limit if limit is not None else self.mark(symbol)
        if side == "buy" and price is not None and qty * price * MULTIPLIER[asset_class] > self.cash + 1e-9:
            raise OrderError(403, 40310000, "insufficient buying power")
        if side == "sell":
            held = self.positions[symbol].qty if symbol in self.positions else 0
            selling = sum(o.qty - o.filled_qty for o in self.orders.values() if o.is_open and o.symbol == symbol and o.side == "sell")
            if held - selling < qty:
                raise OrderError(403, 40310000, f"insufficient qty available for order (requested: {qty}, available: {held - selling})")
        stamp = iso(self.now)
        return EmuOrder(
            id=str(uuid.uuid4()), client_order_id=cid, symbol=symbol, asset_class=asset_class, side=side, qty=qty, type=otype,
            time_in_force=tif, limit_price=limit, status="accepted", created_at=stamp, updated_at=stamp,
            fill_cap=self.partial_fills.get(symbol),
        )

    def _opg_closed(self) -> bool:
        local = self.now.astimezone(NEW_YORK)
        if self.calendar.session(local.date()) is None:
            return False
        return (9, 28) <= (local.hour, local.minute) < (19, 0)

    def cancel(self, order_id: str) -> EmuOrder:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise OrderError(404, 40410000, "order not found")
            if not order.is_open:
                raise OrderError(422, 42210000, f"order is already in \"{order.status}\" state")
            order.status, order.canceled_at = "canceled", iso(self.now)
            order.updated_at = order.canceled_at
            self.save()
            return order

    def add_external_order(self, body: dict[str, Any]) -> EmuOrder:
        """An order placed outside the bot (another tool, a human, a previous run): no faults, no post log."""
        with self.lock:
            log_len = len(self.post_log)
            order = self.submit(body)
            del self.post_log[log_len:]
            self.save()
            return order

    # -- matching -------------------------------------------------------------------------------------------------

    def _at_open(self, session: Session) -> None:
        for order in sorted((o for o in self.orders.values() if o.is_open), key=lambda o: o.created_at):
            order.status = "new" if order.status == "accepted" else order.status
            bar = self.bar(order.symbol, session.day)
            price = bar.open if bar is not None else self.mark(order.symbol)
            self._try_fill(order, price)

    def _try_fill(self, order: EmuOrder, price: float | None) -> None:
        if price is None or price <= 0:
            return
        quote = self.quotes.get(order.symbol)
        if order.type == "limit" and order.limit_price is not None:
            if order.side == "buy":
                if order.limit_price < price:
                    return
                price = min(order.limit_price, quote.ask) if quote else price
            else:
                if order.limit_price > price:
                    return
                price = max(order.limit_price, quote.bid) if quote else price
        cap = order.qty if order.fill_cap is None else min(order.fill_cap, order.qty)
        qty = cap - order.filled_qty
        if qty > 0:
            self._fill(order, qty, round(price, 4))

    def _fill(self, order: EmuOrder, qty: int, price: float) -> None:
        stamp = iso(self.now)
        prior = order.filled_qty * (order.filled_avg_price or 0.0)
        order.filled_qty += qty
        order.filled_avg_price = round((prior + qty * price) / order.filled_qty, 6)
        order.status = "filled" if order.filled_qty == order.qty else "partially_filled"
        order.updated_at = stamp
        order.filled_at = stamp if order.status == "filled" else None
        signed = qty if order.side == "buy" else -qty
        self._move_position(order.symbol, order.asset_class, signed, price)
        self.activities.append(Activity(
            id=f"{self.now:%Y%m%d%H%M%S%f}::{uuid.uuid4()}", activity_type="FILL", at=stamp, symbol=order.symbol, qty=qty,
            price=price, side=order.side, order_id=order.id, cum_qty=order.filled_qty, leaves_qty=order.qty - order.filled_qty,
            order_status=order.status,
        ))

    def _move_position(self, symbol: str, asset_class: str, signed: int, price: float) -> None:
        self.cash -= signed * price * MULTIPLIER[asset_class]
        pos = self.positions.get(symbol)
        if pos is None:
            self.positions[symbol] = EmuPosition(symbol, asset_class, signed, price)
            return
        new_qty = pos.qty + signed
        if new_qty == 0:
            del self.positions[symbol]
            return
        if (pos.qty > 0) == (signed > 0):
            pos.avg_entry_price = (pos.qty * pos.avg_entry_price + signed * price) / new_qty
        elif (pos.qty > 0) != (new_qty > 0):
            pos.avg_entry_price = price
        pos.qty = new_qty

    def _at_close(self, session: Session) -> None:
        stamp = iso(self.now)
        for order in self.orders.values():
            if order.is_open and order.time_in_force in ("day", "opg"):
                order.status, order.expired_at, order.updated_at = "expired", stamp, stamp
        for symbol, pos in list(self.positions.items()):
            occ = OccSymbol.parse(symbol)
            if occ is None or occ.expiry != session.day:
                continue
            bar = self.bar(occ.root, session.day)
            spot = bar.close if bar is not None else self.mark(occ.root)
            itm = spot is not None and (spot < occ.strike if occ.kind == "put" else spot > occ.strike)
            del self.positions[symbol]
            kind = "OPEXC" if itm and pos.qty > 0 else ("OPASN" if itm else "OPEXP")
            self.activities.append(Activity(
                id=f"{self.now:%Y%m%d%H%M%S%f}::{uuid.uuid4()}", activity_type=kind, at=stamp, symbol=symbol, qty=pos.qty,
                price=occ.strike if itm else 0.0, description=f"{kind} {symbol} spot {spot}",
            ))
            if itm:
                shares = 100 * pos.qty * (-1 if occ.kind == "put" else 1)
                self._move_position(occ.root, "us_equity", shares, occ.strike)
        self.last_equity = self.equity()
