"""Reconciliation: make the journal agree with Alpaca, which is the truth (R07-R10, R12).

Run it before any strategy job and every few minutes in the session. One pass:

1. `connect()`: account, journal binding, clock skew. If the API is down this raises Retry: no trading.
2. Every unfinished order of ours is looked up by client_order_id and its state recorded. An intent that never
   reached Alpaca (repeated 404s, older than `unsent_after`) is closed as `not_sent`. An order Alpaca accepted
   earlier but no longer knows is a gap we cannot explain: Halt.
3. Every order created since the last sync: ours are recorded, others are adopted as external (an outside event).
4. Activities since the last sync: fills of our orders go to the fills table (deduplicated by execution id);
   fills of external orders and option expiry / exercise / assignment become outside events with position deltas.
5. Fills that never came: an order Alpaca reports finished (filled, canceled, expired) with a filled_qty the journal's
   fills fall short of, `fill_grace` after it finished, gets the missing quantity as one synthetic fill at the
   order's average price, journaled with a `fill_repair` event; a fill activity for it arriving later is then not
   counted twice. Orders still working keep waiting for their fills.
6. Positions: the journal's book (our fills plus outside deltas) is compared with Alpaca's; a difference that is not
   explained by fills still on their way is repaired with a `position_adjustment` event (and logged loudly).
7. A `reconcile` event stores the sync cursor for the next pass.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from broker.alpaca.adapter import AlpacaBroker
from broker.alpaca.parse import ActivityView
from broker.contract import TERMINAL, Halt, OrderView

log = logging.getLogger(__name__)

OPTION_SHARES = 100
_OCC = re.compile(r"^(?P<root>[A-Z]{1,6})\d{6}(?P<cp>[CP])\d{8}$")


@dataclass
class ReconcileReport:
    at: datetime
    orders_updated: list[str] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)
    external_orders: list[str] = field(default_factory=list)
    fills_added: int = 0
    outside_events: list[str] = field(default_factory=list)
    adjustments: dict[str, float] = field(default_factory=dict)
    positions: dict[str, float] = field(default_factory=dict)
    fill_repairs: list[str] = field(default_factory=list)


class Reconciler:
    def __init__(self, broker: AlpacaBroker, *, lookback: timedelta = timedelta(days=7), overlap: timedelta = timedelta(hours=1),
                 unsent_after: timedelta = timedelta(minutes=10), fill_grace: timedelta = timedelta(minutes=15)) -> None:
        self.broker = broker
        self.journal = broker.journal
        self.lookback, self.overlap, self.unsent_after, self.fill_grace = lookback, overlap, unsent_after, fill_grace

    def run(self) -> ReconcileReport:
        b = self.broker
        now = b.clock.now()
        report = ReconcileReport(at=now)
        b.connect()
        cursor = self._cursor(now)
        self._unfinished(now, report)
        for view in b.reads.orders_since(cursor):
            self._order(view, report)
        owners = self._owners()
        for act in b.reads.activities(cursor):
            self._activity(act, owners, report)
        self._repair_missing_fills(now, report)
        positions = b.positions()
        report.positions = {s: p.qty for s, p in positions.items()}
        self._compare(report.positions, report)
        self.journal.record_event(b.run_id, at=now, kind="reconcile", message="reconciled with Alpaca", detail={
            "synced_until": now.isoformat(), "orders_updated": len(report.orders_updated), "fills_added": report.fills_added,
            "external_orders": report.external_orders, "adjustments": report.adjustments, "fill_repairs": report.fill_repairs,
        })
        log.info("reconciled: %d orders updated, %d fills, %d outside events, adjustments %s", len(report.orders_updated),
                 report.fills_added, len(report.outside_events), report.adjustments or "none")
        return report

    def _cursor(self, now: datetime) -> datetime:
        rows = self.journal.query("SELECT detail_json FROM events WHERE kind='reconcile' ORDER BY seq DESC LIMIT 1")
        if rows:
            last = json.loads(rows[0]["detail_json"]).get("synced_until")
            if last:
                return datetime.fromisoformat(last) - self.overlap
        return now - self.lookback

    def _unfinished(self, now: datetime, report: ReconcileReport) -> None:
        b = self.broker
        rows = self.journal.query(
            "SELECT i.client_order_id AS cid, i.created_at AS created_at, e.status AS status, e.broker_order_id AS broker_id "
            "FROM intents i JOIN order_events e ON e.seq = (SELECT MAX(seq) FROM order_events WHERE client_order_id = i.client_order_id)"
        )
        for row in rows:
            if row["status"] in TERMINAL:
                continue
            cid = str(row["cid"])
            view = b.reads.order_by_client_id(cid)
            if view is not None:
                b.record(view)
                report.orders_updated.append(cid)
                continue
            known_id = row["broker_id"] or self._any_broker_id(cid)
            if known_id:
                raise Halt(f"{cid} was accepted by Alpaca as order {known_id} but Alpaca no longer knows it: check the account by hand")
            created = datetime.fromisoformat(str(row["created_at"]).replace("Z", "+00:00"))
            if now - created < self.unsent_after:
                continue  # the submit path may still be sending it
            if b.resolve(cid) is None:
                self.journal.record_order_event(b.run_id, cid, status="not_sent", at=now, detail={"reason": "never reached Alpaca"})
                report.not_sent.append(cid)
                log.warning("%s never reached Alpaca; closed as not_sent", cid)

    def _any_broker_id(self, cid: str) -> str | None:
        rows = self.journal.query("SELECT broker_order_id FROM order_events WHERE client_order_id=? AND broker_order_id IS NOT NULL", (cid,))
        return str(rows[0][0]) if rows else None

    def _order(self, view: OrderView, report: ReconcileReport) -> None:
        if self.journal.query("SELECT 1 FROM intents WHERE client_order_id=?", (view.client_order_id,)):
            self.broker.record(view)
            report.orders_updated.append(view.client_order_id)
            return
        key = f"order:{view.broker_order_id or view.client_order_id}"
        if self._outside(key, f"external order {view.client_order_id} {view.side} {view.qty} {view.symbol} ({view.raw_status})",
                         {"what": "external_order", "symbol": view.symbol, "side": view.side, "qty": view.qty,
                          "client_order_id": view.client_order_id, "broker_order_id": view.broker_order_id, "deltas": {}}):
            report.external_orders.append(view.client_order_id)

    def _owners(self) -> dict[str, str]:
        rows = self.journal.query("SELECT DISTINCT broker_order_id, client_order_id FROM order_events WHERE broker_order_id IS NOT NULL")
        return {str(r[0]): str(r[1]) for r in rows}

    def _activity(self, act: ActivityView, owners: dict[str, str], report: ReconcileReport) -> None:
        b = self.broker
        at = act.at or b.clock.now()
        if act.kind == "FILL":
            sign = 1 if act.side == "buy" else -1
            cid = owners.get(act.order_id or "")
            if cid is not None and act.side is not None and act.price is not None:
                if self._repaired_already(cid, act):
                    return
                if self.journal.record_fill(b.run_id, execution_id=act.id, client_order_id=cid, symbol=act.symbol, side=act.side,
                                            qty=act.qty, price=act.price, fees=0.0, at=at):
                    report.fills_added += 1
                return
            if act.side is None:
                return  # no direction yet (unknown enum): the next pass will see it again
            self._record_outside(act, f"external fill {act.side} {act.qty} {act.symbol} @ {act.price}", {act.symbol: sign * act.qty}, report)
            return
        deltas: dict[str, float] = {act.symbol: -act.qty}
        occ = _OCC.match(act.symbol)
        if act.kind in ("OPEXC", "OPASN") and occ:
            # Exercising a long put sells the shares; an assigned short put (negative qty) buys them.
            deltas[occ["root"]] = OPTION_SHARES * act.qty * (-1 if occ["cp"] == "P" else 1)
        self._record_outside(act, f"{act.kind} {act.qty} {act.symbol}", deltas, report)

    def _record_outside(self, act: ActivityView, message: str, deltas: dict[str, float], report: ReconcileReport) -> None:
        detail = {"what": act.kind, "activity_id": act.id, "symbol": act.symbol, "qty": act.qty, "price": act.price, "deltas": deltas}
        if self._outside(f"activity:{act.id}", message, detail):
            report.outside_events.append(message)

    def _outside(self, key: str, message: str, detail: dict[str, Any]) -> bool:
        """Record an outside event once per key; False if it was already recorded."""
        if self.journal.query("SELECT 1 FROM events WHERE kind='outside_event' AND json_extract(detail_json, '$.key') = ?", (key,)):
            return False
        self.journal.record_event(self.broker.run_id, at=self.broker.clock.now(), kind="outside_event", message=message,
                                  detail={**detail, "key": key})
        log.warning("outside event: %s", message)
        return True

    def local_positions(self) -> dict[str, float]:
        """The journal's book: our fills plus every outside delta."""
        return self.journal.position_book()

    def _shortfalls(self) -> list[Any]:
        """Orders whose latest state reports more filled than the journal's fills hold: (cid, symbol, side, status,
        filled, avg price, at of that state, qty held in fills, value of those fills)."""
        return self.journal.query(
            "SELECT i.client_order_id AS cid, i.symbol AS symbol, i.side AS side, e.status AS status, e.filled_qty AS filled,"
            " e.filled_avg_price AS avg, e.at AS at,"
            " (SELECT COALESCE(SUM(qty), 0) FROM fills f WHERE f.client_order_id = i.client_order_id) AS got,"
            " (SELECT COALESCE(SUM(qty * price), 0) FROM fills f WHERE f.client_order_id = i.client_order_id) AS got_value "
            "FROM intents i JOIN order_events e ON e.seq = (SELECT MAX(seq) FROM order_events WHERE client_order_id = i.client_order_id) "
            "WHERE e.filled_qty > (SELECT COALESCE(SUM(qty), 0) FROM fills f WHERE f.client_order_id = i.client_order_id) + 1e-9"
        )

    def _repair_missing_fills(self, now: datetime, report: ReconcileReport) -> None:
        """A finished order's fills that have not come `fill_grace` after it finished: book them from its filled_qty."""
        b = self.broker
        for row in self._shortfalls():
            finished = datetime.fromisoformat(str(row["at"]).replace("Z", "+00:00"))
            if row["status"] not in TERMINAL or now - finished < self.fill_grace:
                continue
            cid, filled, got = str(row["cid"]), float(row["filled"]), float(row["got"])
            missing = filled - got
            avg = float(row["avg"]) if row["avg"] is not None else None
            if avg is None or avg <= 0:
                raise Halt(f"{cid} is {row['status']} with {filled:g} filled but Alpaca gives no average price and the journal holds "
                           f"{got:g}: its fills cannot be repaired; check the order by hand")
            price = max((filled * avg - float(row["got_value"])) / missing, 0.0)  # what the missing part must have cost
            self.journal.record_fill(b.run_id, execution_id=f"repair:{cid}", client_order_id=cid, symbol=str(row["symbol"]),
                                     side=str(row["side"]), qty=missing, price=round(price, 6), fees=0.0, at=now, synthetic=True)
            message = f"fill_repair {cid} {row['side']} {missing:g} {row['symbol']} @ {price:.4f}: Alpaca reports it {row['status']} " \
                      f"with {filled:g} filled, its fill activities never came"
            self.journal.record_event(b.run_id, at=now, kind="fill_repair", message=message,
                                      detail={"client_order_id": cid, "qty": missing, "price": price, "filled_qty": filled, "fills_held": got})
            report.fill_repairs.append(cid)
            log.error("%s", message)

    def _repaired_already(self, cid: str, act: ActivityView) -> bool:
        """A late fill activity of an order whose missing fills were repaired: already booked, do not count it twice."""
        if not self.journal.query("SELECT 1 FROM fills WHERE execution_id=?", (f"repair:{cid}",)):
            return False
        if self.journal.query("SELECT 1 FROM fills WHERE execution_id=?", (act.id,)) or self.journal.query(
                "SELECT 1 FROM events WHERE kind='late_fill' AND json_extract(detail_json, '$.execution_id') = ?", (act.id,)):
            return True
        self.journal.record_event(self.broker.run_id, at=self.broker.clock.now(), kind="late_fill",
                                  message=f"fill {act.id} of {cid} arrived after its repair: not counted again",
                                  detail={"client_order_id": cid, "execution_id": act.id, "qty": act.qty, "price": act.price})
        log.warning("fill %s of %s arrived after its repair: not counted again", act.id, cid)
        return True

    def _fills_pending(self) -> set[str]:
        """Symbols with an order whose broker filled_qty is ahead of the fills we hold (fill activities still to come)."""
        rows = self.journal.query(
            "SELECT i.symbol AS symbol, e.filled_qty AS filled, (SELECT COALESCE(SUM(qty), 0) FROM fills f WHERE f.client_order_id = i.client_order_id) AS got "
            "FROM intents i JOIN order_events e ON e.seq = (SELECT MAX(seq) FROM order_events WHERE client_order_id = i.client_order_id)"
        )
        return {str(r["symbol"]) for r in rows if float(r["filled"]) > float(r["got"]) + 1e-9}

    def _compare(self, broker: dict[str, float], report: ReconcileReport) -> None:
        local, pending = self.local_positions(), self._fills_pending()
        for symbol in sorted(set(local) | set(broker)):
            diff = broker.get(symbol, 0.0) - local.get(symbol, 0.0)
            if abs(diff) < 1e-9:
                continue
            if symbol in pending:
                log.info("%s: journal %s vs Alpaca %s; fills still to come", symbol, local.get(symbol, 0.0), broker.get(symbol, 0.0))
                continue
            self._outside(f"adjust:{symbol}:{report.at.isoformat()}", f"position_adjustment {symbol} {diff:+g} to match Alpaca",
                          {"what": "position_adjustment", "symbol": symbol, "deltas": {symbol: diff}})
            report.adjustments[symbol] = diff
            log.error("position %s: journal %s, Alpaca %s; repaired to Alpaca's", symbol, local.get(symbol, 0.0), broker.get(symbol, 0.0))
