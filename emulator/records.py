"""The emulator's stored records: orders, positions, activities, bars, quotes, option contracts.

Plain dataclasses with JSON-friendly fields (timestamps are ISO strings in UTC with a trailing Z, which sort
correctly as text), so the whole exchange can be written to one JSON file and read back after a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from clock import ensure_utc

MULTIPLIER = {"us_equity": 1, "us_option": 100}
OPEN_STATUSES = frozenset({"new", "accepted", "partially_filled", "pending_new"})
_OCC = re.compile(r"^(?P<root>[A-Z]{1,6})(?P<ymd>\d{6})(?P<cp>[CP])(?P<strike>\d{8})$")


def iso(instant: datetime) -> str:
    """Alpaca's timestamp style: UTC, microseconds, trailing Z."""
    return ensure_utc(instant).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return ensure_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


@dataclass(slots=True)
class OccSymbol:
    """An OCC option symbol taken apart: IWM260320P00190000."""

    root: str
    expiry: date
    kind: str  # "put" | "call"
    strike: float

    @classmethod
    def parse(cls, symbol: str) -> OccSymbol | None:
        m = _OCC.match(symbol)
        if not m:
            return None
        ymd = m["ymd"]
        expiry = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
        return cls(m["root"], expiry, "put" if m["cp"] == "P" else "call", int(m["strike"]) / 1000)

    def __str__(self) -> str:
        cp = "P" if self.kind == "put" else "C"
        return f"{self.root}{self.expiry:%y%m%d}{cp}{round(self.strike * 1000):08d}"


@dataclass(slots=True)
class EmuOrder:
    id: str
    client_order_id: str
    symbol: str
    asset_class: str  # us_equity | us_option
    side: str
    qty: int
    type: str  # market | limit
    time_in_force: str  # opg | day | gtc
    limit_price: float | None
    status: str
    created_at: str
    updated_at: str
    filled_qty: int = 0
    filled_avg_price: float | None = None
    filled_at: str | None = None
    expired_at: str | None = None
    canceled_at: str | None = None
    fill_cap: int | None = None  # partial-fill knob captured at submission: at most this many ever fill

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(slots=True)
class EmuPosition:
    symbol: str
    asset_class: str
    qty: int
    avg_entry_price: float


@dataclass(slots=True)
class Activity:
    """A FILL (trade activity) or an OPEXP / OPEXC / OPASN (non-trade activity)."""

    id: str
    activity_type: str
    at: str
    symbol: str
    qty: int
    price: float
    side: str | None = None
    order_id: str | None = None
    cum_qty: int | None = None
    leaves_qty: int | None = None
    order_status: str | None = None
    description: str = ""


@dataclass(slots=True)
class DailyBar:
    day: str
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(slots=True)
class Quote:
    bid: float
    ask: float
    at: str

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(slots=True)
class Contract:
    id: str
    symbol: str
    underlying_symbol: str
    expiration_date: str
    type: str
    strike_price: float
    status: str = "active"
    tradable: bool = True


@dataclass(slots=True)
class PostRecord:
    """One POST /v2/orders that reached the emulator, and what became of it (for the duplicate assertions)."""

    client_order_id: str
    outcome: str  # created | duplicate | rejected | faulted_before_commit
    at: str
    fault: str | None = None


@dataclass(slots=True)
class AccountFlags:
    """Knobs on the account: status and blocks, options level, and fields the API no longer sends."""

    status: str = "ACTIVE"
    trading_blocked: bool = False
    account_blocked: bool = False
    trade_suspended_by_user: bool = False
    options_trading_level: int = 2
    drop: list[str] = field(default_factory=list)
