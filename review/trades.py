"""Trades: fills paired first-in first-out into round trips, each with the decision behind its entry and exit.

A trade is one lot: the quantity opened by one fill and closed by one later fill (a partial close splits the lot,
so every trade has a single entry and exit price). Puts that reach expiry are closed by the journal's settlement
event (`events.kind = 'outside_event'`, detail {"symbol", "qty", "intrinsic"} or "price": value per option share).
A lot still held at the end of the run is valued at the last mark in `positions` and reported as open.

P&L is net of fees: each fill's fees are shared among the lots it opens or closes in proportion to quantity,
so the P&L of all trades plus interest adds up to the change in equity.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import deque
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from review.runs import RunRef, RunSource

OPTION_MULTIPLIER = 100
_OCC = re.compile(r"^([A-Z]{1,6})(\d{6})([CP])(\d{8})$")


@dataclass(frozen=True, slots=True)
class DecisionRef:
    """The decision an order came from: its day, regime and reasons, and the order's own reason."""

    day: str
    regime: str | None
    reasons: tuple[str, ...]
    order_reason: str

    @property
    def fired(self) -> tuple[str, ...]:
        """The reasons of the rules that fired (the decision also records each rule that did not)."""
        return tuple(r for r in self.reasons if "(not fired)" not in r)


@dataclass(frozen=True, slots=True)
class Trade:
    """One lot from its opening fill to its closing fill (or to the last mark if still open)."""

    symbol: str
    asset_class: str
    direction: int  # +1 long, -1 short
    qty: float  # shares or contracts
    multiplier: int  # 1 for shares, 100 for option contracts
    entry_at: str
    entry_price: float
    entry: DecisionRef
    exit_at: str | None
    exit_price: float
    exit_kind: str  # "fill", "expiry", "open" (valued at the last mark), "unrecorded" (left the book unjournaled)
    exit: DecisionRef | None
    fees: float
    pnl: float
    synthetic: bool  # a model price was involved (backtest options)

    @property
    def entry_day(self) -> str:
        return self.entry_at[:10]

    @property
    def exit_day(self) -> str | None:
        return None if self.exit_at is None else self.exit_at[:10]

    @property
    def cost(self) -> float:
        return self.qty * self.multiplier * self.entry_price

    @property
    def return_pct(self) -> float:
        return self.pnl / self.cost if self.cost else 0.0

    @property
    def closed(self) -> bool:
        return self.exit_kind in ("fill", "expiry")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(entry_day=self.entry_day, exit_day=self.exit_day, return_pct=self.return_pct)
        return out


@dataclass(slots=True)
class _Lot:
    qty: float
    price: float
    at: str
    fees: float  # entry fees still attached to this lot
    entry: DecisionRef
    synthetic: bool


@dataclass(frozen=True, slots=True)
class _Execution:
    """A fill or a settlement, in the order they happened."""

    at: str
    key: str
    symbol: str
    signed_qty: float
    price: float
    fees: float
    decision: DecisionRef | None  # None for a settlement (no decision behind it)
    synthetic: bool
    kind: str


def is_option(symbol: str) -> bool:
    return _OCC.match(symbol) is not None


def option_underlying(symbol: str) -> str | None:
    m = _OCC.match(symbol)
    return m.group(1) if m else None


def option_expiry(symbol: str) -> date | None:
    m = _OCC.match(symbol)
    return None if m is None else date(2000 + int(m.group(2)[:2]), int(m.group(2)[2:4]), int(m.group(2)[4:]))


def _reasons(raw: str) -> tuple[str, ...]:
    value = json.loads(raw)
    if isinstance(value, list):
        return tuple(v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in value)
    return (str(value),)


def decision_refs(source: RunSource, ref: RunRef) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Decision day -> (regime, reasons)."""
    return {r["day"]: (r["regime"], _reasons(r["reasons_json"])) for r in source.decisions(ref)}


def settlements(source: RunSource, ref: RunRef) -> list[sqlite3.Row]:
    """Outside events that closed a position (expiry, exercise, liquidation) with a symbol, qty and a price or intrinsic value."""
    out = []
    for row in source.events(ref, "outside_event"):
        detail = json.loads(row["detail_json"])
        if isinstance(detail, dict) and {"symbol", "qty"} <= detail.keys() and ("price" in detail or "intrinsic" in detail):
            out.append(row)
    return out


def settlement_price(detail: dict[str, Any]) -> float:
    """Per option share: the settlement's `price`, else its `intrinsic` value (the backtest's name for it)."""
    return float(detail["price"] if "price" in detail else detail["intrinsic"])


def pair_trades(source: RunSource, ref: RunRef) -> list[Trade]:
    """Every trade of a run, ordered by entry time then symbol."""
    decisions = decision_refs(source, ref)

    def decision_of(day: str, order_reason: str) -> DecisionRef:
        regime, reasons = decisions.get(day, (None, ()))
        return DecisionRef(day, regime, reasons, order_reason)

    executions: list[_Execution] = []
    for f in source.fills(ref):
        sign = 1 if f["side"] == "buy" else -1
        executions.append(
            _Execution(f["at"], f["execution_id"], f["symbol"], sign * f["qty"], f["price"], f["fees"], decision_of(f["decision_day"], f["reason"]),
                       bool(f["synthetic"]), "fill")
        )
    for e in settlements(source, ref):
        d = json.loads(e["detail_json"])
        # the settlement's sign is resolved against what is held when it is applied
        fees = float(d.get("fees", 0.0))
        executions.append(_Execution(e["at"], f"event-{e['seq']:012d}", d["symbol"], float(d["qty"]), settlement_price(d), fees, None, True, "expiry"))
    executions.sort(key=lambda x: (x.at, x.key))

    open_lots: dict[str, deque[_Lot]] = {}
    trades: list[Trade] = []
    for x in executions:
        lots = open_lots.setdefault(x.symbol, deque())
        signed = x.signed_qty
        if x.kind == "expiry":
            signed = -abs(signed) if sum(lot.qty for lot in lots) > 0 else abs(signed)
        trades += _apply(x, signed, lots)
    trades += _still_open(source, ref, open_lots)
    return sorted(trades, key=lambda t: (t.entry_at, t.symbol, t.exit_at or "~"))


def _apply(x: _Execution, signed: float, lots: deque[_Lot]) -> list[Trade]:
    """Close opposite lots first in first out; whatever is left opens a new lot. Returns the trades closed."""
    remaining = total = abs(signed)
    direction = 1 if signed > 0 else -1
    mult = OPTION_MULTIPLIER if is_option(x.symbol) else 1
    closed: list[Trade] = []
    while remaining > 1e-12 and lots and (lots[0].qty > 0) != (direction > 0):
        lot = lots[0]
        take = min(abs(lot.qty), remaining)
        entry_fees = lot.fees * take / abs(lot.qty)
        exit_fees = x.fees * take / total
        lot_dir = 1 if lot.qty > 0 else -1
        pnl = lot_dir * take * mult * (x.price - lot.price) - entry_fees - exit_fees
        closed.append(
            Trade(x.symbol, "option" if mult > 1 else "equity", lot_dir, take, mult, lot.at, lot.price, lot.entry, x.at, x.price, x.kind, x.decision,
                  entry_fees + exit_fees, pnl, lot.synthetic or x.synthetic)
        )
        lot.fees -= entry_fees
        lot.qty -= lot_dir * take
        remaining -= take
        if abs(lot.qty) <= 1e-12:
            lots.popleft()
    # a settlement of something the journal never showed opening has nothing to pair with
    if remaining > 1e-12 and x.decision is not None:
        lots.append(_Lot(direction * remaining, x.price, x.at, x.fees * remaining / total, x.decision, x.synthetic))
    return closed



def _still_open(source: RunSource, ref: RunRef, open_lots: dict[str, deque[_Lot]]) -> list[Trade]:
    """Lots never closed by a fill: valued at the last mark (open), or at their last mark when they left the book unjournaled."""
    positions = source.positions(ref)
    last_day = positions[-1]["day"] if positions else None
    last_mark: dict[str, tuple[str, float]] = {p["symbol"]: (p["day"], float(p["mark"])) for p in positions}
    out = []
    for symbol, lots in open_lots.items():
        mult = OPTION_MULTIPLIER if is_option(symbol) else 1
        for lot in lots:
            day, mark = last_mark.get(symbol, (lot.at[:10], lot.price))
            kind = "open" if day == last_day else "unrecorded"
            direction = 1 if lot.qty > 0 else -1
            pnl = direction * abs(lot.qty) * mult * (mark - lot.price) - lot.fees
            trade = Trade(symbol, "option" if mult > 1 else "equity", direction, abs(lot.qty), mult, lot.at, lot.price, lot.entry, None, mark, kind,
                          None, lot.fees, pnl, lot.synthetic)
            out.append(trade if kind == "open" else replace(trade, exit_at=day))
    return out


def select_trades(trades: list[Trade], *, start: date | None = None, end: date | None = None, symbol: str | None = None) -> list[Trade]:
    """Trades held at some point within [start, end] (inclusive), optionally of one symbol (or options on it)."""
    out = []
    for t in trades:
        if symbol and t.symbol.upper() != symbol.upper() and option_underlying(t.symbol) != symbol.upper():
            continue
        if end is not None and t.entry_day > end.isoformat():
            continue
        if start is not None and t.exit_day is not None and t.exit_day < start.isoformat():
            continue
        out.append(t)
    return out


TRADE_COLUMNS = (
    "symbol", "qty", "entry_day", "entry_price", "exit_day", "exit_price", "exit_kind", "pnl", "return_pct", "fees",
    "entry_decision", "entry_regime", "entry_reasons", "exit_decision", "exit_regime", "exit_reasons", "synthetic",
)


def trade_row(t: Trade) -> list[Any]:
    """One trade as a flat row in the order of TRADE_COLUMNS (for text and CSV)."""
    return [
        t.symbol, round(t.qty * t.direction, 6), t.entry_day, round(t.entry_price, 4), t.exit_day or "", round(t.exit_price, 4), t.exit_kind,
        round(t.pnl, 2), round(t.return_pct, 4), round(t.fees, 2), t.entry.day, t.entry.regime or "", "; ".join(t.entry.fired),
        "" if t.exit is None else t.exit.day, "" if t.exit is None else (t.exit.regime or ""), "" if t.exit is None else "; ".join(t.exit.fired),
        int(t.synthetic),
    ]
