"""What a simulation leaves behind: written to the journal as the run goes, and kept in memory for the metrics.

`RunLog` is the one sink the backtest bridge talks to. With a journal it appends every decision, intent, order
event, fill, position and equity row as it happens (a crash leaves a readable partial run); without one (a
quick test) it only keeps the in-memory rows the metrics need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from clock import new_york
from journal.decision_blocks import DecisionWriter
from journal.journal import Journal
from signals.snapshot import Snapshot
from strategies.book import TargetPortfolio
from strategies.intents import OrderIntent


@dataclass(frozen=True, slots=True)
class DayRow:
    """The book at one close. `regime` is the regime in force during the day (decided at the previous close)."""

    day: date
    cash: float
    shares_value: float
    options_value: float
    equity: float
    interest: float
    fees: float
    regime: str | None
    traded: float  # absolute notional traded that day (shares and option premium)
    iwm_value: float  # the traded ETF's market value (for exposure)
    rf: float  # what cash earned that day (bill rate known at the previous close x days / 365): the risk-free return


@dataclass(frozen=True, slots=True)
class FillRow:
    day: date
    symbol: str
    asset_class: str
    side: str
    qty: int
    price: float
    fees: float
    synthetic: bool


@dataclass(slots=True)
class RunLog:
    """Rows of one run; `journal` and `run_id` set = also appended to the journal."""

    journal: Journal | None = None
    run_id: str = ""
    commit_every: int = 250  # sessions per journal commit while the journal is batching
    _books: list[tuple[str, float, float, float, float, float, float, str | None]] = field(default_factory=list)
    _positions: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    writer: DecisionWriter | None = None  # where decision records go (with a journal): blocks of days
    days: list[DayRow] = field(default_factory=list)
    fills: list[FillRow] = field(default_factory=list)
    decisions: list[tuple[date, str, dict[str, Any]]] = field(default_factory=list)
    settlements: list[tuple[date, str, int, float]] = field(default_factory=list)  # day, symbol, qty, cash

    _last_target: dict[str, Any] | None = None

    @property
    def journaled(self) -> bool:
        """Whether end-of-day positions are journaled (not in a compact sweep-member journal)."""
        return self.journal is not None and (self.writer is None or self.writer.detail == "full")

    def decision(self, snapshot: Snapshot, target: TargetPortfolio, intents: Sequence[OrderIntent], *, sent: bool) -> None:
        target_json = target.to_json()
        self.decisions.append((snapshot.day, target.regime, target_json))
        if self.journal is None:
            return
        if self.writer is None:
            raise ValueError("a journaled RunLog needs a DecisionWriter")
        held = {k: v for k, v in target_json.items() if k not in ("day", "reasons")}
        if self.writer.detail == "full" or intents or held != self._last_target:
            # stored at the next commit, each part only when it changed; a compact journal (a sweep member) keeps
            # only the decisions that changed the target or sent orders
            self.writer.add(snapshot, target_json, target.reasons)
            self._last_target = held
        else:
            self.writer.cover(snapshot.day)
        at = snapshot.as_of
        for intent in intents:
            self.journal.record_intent(self.run_id, intent, at=at)
            if sent:
                self.journal.record_order_event(self.run_id, intent.client_order_id, status="submitted", at=at)
            else:
                self.journal.record_order_event(
                    self.run_id, intent.client_order_id, status="canceled", at=at, detail={"why": "the window ends before the next open"}
                )

    def fill(self, intent: OrderIntent, day: date, qty: int, price: float, fees: float, *, synthetic: bool) -> None:
        self.fills.append(FillRow(day, intent.symbol, intent.asset_class, intent.side, qty, price, fees, synthetic))
        if self.journal is None:
            return
        at = new_york(day.isoformat(), "09:30")
        cid = intent.client_order_id
        self.journal.record_fill(
            self.run_id,
            execution_id=f"{cid}-x",
            client_order_id=cid,
            symbol=intent.symbol,
            side=intent.side,
            qty=qty,
            price=price,
            fees=fees,
            at=at,
            synthetic=synthetic,
        )
        self.journal.record_order_event(self.run_id, cid, status="filled", at=at, filled_qty=qty, filled_avg_price=price, detail={"synthetic": synthetic})

    def not_filled(self, intent: OrderIntent, day: date, status: str, why: str) -> None:
        if self.journal is not None:
            at = new_york(day.isoformat(), "16:00")
            self.journal.record_order_event(self.run_id, intent.client_order_id, status=status, at=at, detail={"why": why})

    def settlement(self, day: date, symbol: str, qty: int, intrinsic: float, cash: float) -> None:
        self.settlements.append((day, symbol, qty, cash))
        if self.journal is not None:
            self.journal.record_event(
                self.run_id,
                at=new_york(day.isoformat(), "16:00"),
                kind="outside_event",
                message=f"{symbol} expired: {qty} contract(s) settled at intrinsic {intrinsic:.4f}",
                detail={"symbol": symbol, "qty": qty, "intrinsic": intrinsic, "cash": cash, "synthetic": True},
            )

    def day_end(self, row: DayRow, positions: Sequence[Mapping[str, Any]]) -> None:
        self.days.append(row)
        if self.journal is not None:
            day = row.day.isoformat()
            self._books.append((day, row.cash, row.shares_value, row.options_value, row.equity, row.interest, row.fees, row.regime))
            if self.journaled:
                self._positions.extend((day, p) for p in positions)
            if len(self._books) >= self.commit_every:
                self.write_pending()
                self.journal.checkpoint()

    def write_pending(self) -> None:
        """Store what was collected since the last commit: end-of-day books, decision heads and record blocks (one
        executemany each: a statement per row costs more than the simulation)."""
        if self.journal is None:
            return
        # taken out of the buffers before writing: an interrupt (Ctrl-C, SIGTERM) inside the write must not leave them
        # to be written again by the caller's `finally` (a second insert of the same days fails on the primary key)
        books, positions = self._books, self._positions
        self._books, self._positions = [], []
        self.journal.record_days(self.run_id, books, positions)
        if self.writer is not None:
            heads, blocks = self.writer.take()
            self.journal.record_decision_heads(self.run_id, heads)
            self.journal.record_decision_blocks(self.run_id, blocks)

    def event(self, day: date, kind: str, message: str, detail: Mapping[str, Any] | None = None) -> None:
        if self.journal is not None:
            self.journal.record_event(self.run_id, at=datetime.combine(day, time(21, 0), tzinfo=UTC), kind=kind, message=message, detail=detail)
