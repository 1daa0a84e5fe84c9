"""One paper decision: the broker's book, the shared core, the intents for the next open.

The same steps as the backtest bridge's `_decide_and_send` (decide -> resolve the put contract -> orders_to_reach),
with the book read from the broker (the truth) and the journal (hedge spend, the playbook's memory) instead of
backtrader and the option ledger. Nothing here sends an order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from broker.contract import AccountView, Halt, OrderView, PositionView, exposure
from journal.journal import Journal
from signals.snapshot import Snapshot
from strategies.book import CONTRACT_SIZE, Book, OptionPosition, TargetPortfolio
from strategies.decide import decide
from strategies.intents import OrderIntent
from strategies.options import parse_occ
from strategies.orders import orders_to_reach, resolve_puts
from strategies.params import StrategyParams

# (symbol, strike, expiry) of listed puts, for `resolve_puts`.
Chain = Callable[[date, float], Sequence[tuple[str, float, date]]]
OptionMark = Callable[[str], float | None]


@dataclass(frozen=True, slots=True)
class DayDecision:
    target: TargetPortfolio
    intents: tuple[OrderIntent, ...]

    def target_json(self) -> dict[str, Any]:
        """The journaled target, with the intents that the next pre-open job submits."""
        doc = self.target.to_json()
        doc["intents"] = [intent_json(i) for i in self.intents]
        return doc


def intent_json(intent: OrderIntent) -> dict[str, Any]:
    return {
        "decision_day": intent.decision_day.isoformat(), "symbol": intent.symbol, "asset_class": intent.asset_class,
        "side": intent.side, "qty": intent.qty, "kind": intent.kind, "reason": intent.reason, "limit_price": intent.limit_price,
        "leg": intent.leg, "attempt": intent.attempt, "client_order_id": intent.client_order_id,
    }


def intent_from_json(doc: Mapping[str, Any]) -> OrderIntent:
    return OrderIntent(
        decision_day=date.fromisoformat(str(doc["decision_day"])), symbol=str(doc["symbol"]), asset_class=doc["asset_class"],
        side=doc["side"], qty=int(doc["qty"]), kind=doc["kind"], reason=str(doc["reason"]), limit_price=doc["limit_price"],
        leg=int(doc["leg"]), attempt=int(doc["attempt"]),
    )


def _option(p: PositionView) -> OptionPosition | None:
    if p.asset_class != "option" or p.qty <= 0:
        return None
    root, expiry, _, strike = parse_occ(p.symbol)
    avg = p.avg_entry_price if p.avg_entry_price is not None else 0.0
    mark = p.market_value / (p.qty * CONTRACT_SIZE) if p.market_value is not None else avg
    return OptionPosition(p.symbol, root, strike, expiry, int(p.qty), max(avg, 0.0), max(mark, 0.0))


def hedge_spend(journal: Journal, day: date) -> tuple[tuple[date, float], ...]:
    """Premium and fees paid for puts over the trailing 365 days, from the journal's fills."""
    since = (day - timedelta(days=366)).isoformat()
    rows = journal.query(
        "SELECT substr(at, 1, 10) AS d, qty, price, fees FROM fills WHERE side='buy' AND length(symbol) > 10 AND at >= ? ORDER BY at", (since,)
    )
    return tuple((date.fromisoformat(str(r["d"])), float(r["qty"]) * CONTRACT_SIZE * float(r["price"]) + float(r["fees"])) for r in rows)


def last_memory(journal: Journal) -> dict[str, date]:
    # MAX(day) reads only the day column; ORDER BY day would read every row's large snapshot_json (no index on day).
    rows = journal.query("SELECT target_json FROM decisions WHERE day = (SELECT MAX(day) FROM decisions) ORDER BY rowid DESC LIMIT 1")
    if not rows:
        return {}
    memory = json.loads(rows[0]["target_json"]).get("memory", {})
    return {str(k): date.fromisoformat(str(v)) for k, v in memory.items()}


def book_from_broker(
    account: AccountView, positions: Mapping[str, PositionView], open_orders: Sequence[OrderView], marks: Mapping[str, float],
    journal: Journal, day: date,
) -> Book:
    """Cash and shares as they will be once working orders fill (R05), puts held, hedge spend and memory.

    Short stock reaches the book as a negative quantity; a short option halts the session (R42)."""
    written = sorted(s for s, p in positions.items() if p.asset_class == "option" and p.qty < 0)
    if written:  # the playbook only buys puts: a written option has no rule to close it safely
        raise Halt(f"the broker holds short options {', '.join(written)} that the playbook never sells: close them by hand, then restart")
    held = exposure({s: p for s, p in positions.items() if p.asset_class == "equity"}, [o for o in open_orders if len(o.symbol) <= 10])
    # Every share position reaches the book, short stock included (R42): `orders_to_reach` covers it at the next open.
    shares = {s: int(q) for s, q in held.items() if int(q) != 0}
    options = tuple(o for o in (_option(p) for p in positions.values()) if o is not None)
    return Book(account.cash, shares, options, hedge_spend(journal, day), last_memory(journal), dict(marks))


def decide_day(snapshot: Snapshot, book: Book, params: StrategyParams, chain: Chain, option_mark: OptionMark) -> DayDecision:
    """`decide`, then the listed put contract, then `orders_to_reach`: the bridge's steps on the broker's book."""
    target = decide(snapshot, book, params)
    day = snapshot.day
    spot = book.marks.get(params.symbol)
    if target.puts is not None and target.puts.symbol is None and spot is not None:
        target = resolve_puts(target, chain(day, spot), day)
    prices: dict[str, float] = dict(book.marks)
    prices.update({pos.symbol: pos.mark for pos in book.options})
    wanted = target.puts.symbol if target.puts is not None else None
    if wanted is not None and wanted not in prices:
        mark = option_mark(wanted)
        if mark is None or not math.isfinite(mark) or mark <= 0:
            target = replace(target, puts=None, reasons=(*target.reasons, f"no quote for {wanted}: unhedged today"))
        else:
            prices[wanted] = mark
    return DayDecision(target, tuple(orders_to_reach(target, book, prices, params)))


def marks_from_snapshot(snapshot: Snapshot, params: StrategyParams) -> dict[str, float]:
    """The decision's closes (what the backtest marks the book with)."""
    out: dict[str, float] = {}
    for symbol, value in ((params.symbol, snapshot.market.iwm_close), ("SPY", snapshot.market.spy_close)):
        if value is not None and math.isfinite(value) and value > 0:
            out[symbol] = value
    return out
