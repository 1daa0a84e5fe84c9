"""The broker contract: what every broker adapter (backtest bridge, Alpaca, test fakes) must do.

The core hands a broker `OrderIntent`s and reads back the account, positions and open orders. Adapters translate
and never decide. Every adapter method obeys this table:

| method          | must                                                                                      | raises               |
|-----------------|-------------------------------------------------------------------------------------------|----------------------|
| `account()`     | return the broker's account as it is now (cash, equity, buying power, trading flags)       | Retry, Halt          |
| `positions()`   | return the broker's positions keyed by symbol (shares or OCC option symbols), qty signed  | Retry, Halt          |
| `open_orders()` | return every working order, ours or not, with its remaining quantity                       | Retry, Halt          |
| `submit(i)`     | store the intent durably *before* sending it; send it at most once per client_order_id;  | Retry, SkipCycle,    |
|                 | resolve an unknown outcome by lookup; return the broker's view of the order               | Halt, Rejected       |
| `cancel(cid)`   | ask the broker to cancel a working order; a finished order is returned unchanged           | Retry, Halt          |

Errors are named by what the caller should do (SDK exceptions never cross an adapter):

    BrokerError
     ├── Retry       transient: try the same call again later (after `after_seconds` when known)
     ├── SkipCycle   nothing is wrong with us, but no trading now (market closed, window passed, gate closed)
     ├── Halt        stop trading and alert a human (bad credentials, unresolvable state, kill switch, live guard)
     └── Rejected    the broker refused this order: record it and alert; never resend the same id

Order sizing uses `exposure()`: target − (broker position + open orders), so an order still working from a
previous run is never sent again under a new id.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from strategies.intents import OrderIntent

OrderStatus = Literal[
    "pending_submit", "unknown", "accepted", "partially_filled", "filled", "canceled", "expired", "rejected", "not_sent"
]

# Order states only move forward (R09): a status of lower rank never replaces a higher one.
STATUS_RANK: Mapping[str, int] = {
    "pending_submit": 0,
    "unknown": 1,
    "accepted": 2,
    "partially_filled": 3,
    "filled": 4,
    "canceled": 4,
    "expired": 4,
    "rejected": 4,
    "not_sent": 4,
}
TERMINAL: frozenset[str] = frozenset({"filled", "canceled", "expired", "rejected", "not_sent"})


class BrokerError(Exception):
    """Base of every error an adapter raises."""


class Retry(BrokerError):
    """A transient failure: call again later."""

    def __init__(self, message: str, *, after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.after_seconds = after_seconds


class SkipCycle(BrokerError):
    """No trading in this cycle (closed market, order window passed, an account gate closed)."""


class Halt(BrokerError):
    """Stop trading until a human looks: credentials, live guard, kill switch, an unresolvable gap."""


class Rejected(BrokerError):
    """The broker refused the order. Record and alert; the id is spent."""

    def __init__(self, message: str, *, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


@dataclass(frozen=True, slots=True)
class AccountView:
    """The account fields the gates and the book need. Fields the broker stopped sending are None."""

    account_number: str
    status: str
    cash: float
    equity: float
    buying_power: float
    options_buying_power: float | None
    options_level: int | None
    trading_blocked: bool
    account_blocked: bool
    trade_suspended_by_user: bool


@dataclass(frozen=True, slots=True)
class PositionView:
    """A broker position: qty is signed (short < 0); options in contracts, shares in shares."""

    symbol: str
    asset_class: Literal["equity", "option", "other"]
    qty: float
    avg_entry_price: float | None
    market_value: float | None


@dataclass(frozen=True, slots=True)
class OrderView:
    """The broker's view of one order, normalised."""

    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: Literal["buy", "sell"] | None
    qty: float | None
    filled_qty: float | None
    filled_avg_price: float | None
    status: OrderStatus
    raw_status: str
    submitted_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL and self.status != "pending_submit"

    def remaining_signed(self) -> float:
        """Quantity still to fill, positive for buys; zero for finished orders or unknown sizes."""
        if not self.is_open or self.qty is None or self.side is None:
            return 0.0
        left = max(self.qty - (self.filled_qty or 0.0), 0.0)
        return left if self.side == "buy" else -left


class Broker(Protocol):
    """What the runner needs from a broker. See the table in the module docstring."""

    def account(self) -> AccountView: ...

    def positions(self) -> dict[str, PositionView]: ...

    def open_orders(self) -> list[OrderView]: ...

    def submit(self, intent: OrderIntent) -> OrderView: ...

    def cancel(self, client_order_id: str) -> OrderView | None: ...


def exposure(positions: Mapping[str, PositionView], open_orders: Iterable[OrderView]) -> dict[str, float]:
    """Signed quantity per symbol once every working order fills: the base that order sizing subtracts (R05)."""
    out: dict[str, float] = {symbol: p.qty for symbol, p in positions.items()}
    for order in open_orders:
        out[order.symbol] = out.get(order.symbol, 0.0) + order.remaining_signed()
    return {symbol: qty for symbol, qty in out.items() if not math.isclose(qty, 0.0, abs_tol=1e-9)}


def later_status(old: str, new: str) -> str:
    """The status that wins when `new` is reported after `old`: states only move forward."""
    return new if STATUS_RANK.get(new, 1) > STATUS_RANK.get(old, 1) else old
