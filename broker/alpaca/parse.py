"""Defensive parsing of Alpaca's JSON (the clients run with raw_data=True, so no SDK model can crash on it).

Unknown enum values, missing or extra fields, numbers sent as strings and nulls all parse (R17): a field that is
missing becomes None, an unknown order status becomes "unknown" (kept, never treated as finished). A payload
without the fields that identify it (an order without a client_order_id) parses to None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from broker.contract import AccountView, OrderStatus, OrderView, PositionView, Retry
from clock import NEW_YORK, ensure_utc

ALPACA_STATUS: dict[str, OrderStatus] = {
    "new": "accepted", "accepted": "accepted", "pending_new": "accepted", "accepted_for_bidding": "accepted",
    "calculated": "accepted", "held": "accepted", "suspended": "accepted", "stopped": "accepted", "pending_cancel": "accepted",
    "pending_replace": "accepted", "pending_review": "accepted", "done_for_day": "accepted",
    "partially_filled": "partially_filled", "filled": "filled", "canceled": "canceled", "expired": "expired",
    "rejected": "rejected", "replaced": "canceled",
}


def num(value: Any) -> float | None:
    """A finite float from a number or numeric string; None for null, garbage, NaN or infinity."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def text(value: Any) -> str | None:
    return None if value is None else str(value)


def when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ensure_utc(parsed) if parsed.tzinfo else None


def _dict(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Retry(f"Alpaca sent a {type(raw).__name__} where {what} was expected")
    return raw


def account(raw: Any) -> AccountView:
    data = _dict(raw, "an account")
    number, status = text(data.get("account_number")), text(data.get("status"))
    if not number or not status:
        raise Retry("Alpaca's account payload lacks account_number or status")
    cash = num(data.get("cash"))
    equity = num(data.get("equity")) or num(data.get("portfolio_value")) or cash
    level = num(data.get("options_trading_level"))
    level = num(data.get("options_approved_level")) if level is None else level
    return AccountView(
        account_number=number, status=status, cash=cash or 0.0, equity=equity or 0.0,
        buying_power=num(data.get("buying_power")) or 0.0, options_buying_power=num(data.get("options_buying_power")),
        options_level=None if level is None else int(level), trading_blocked=flag(data.get("trading_blocked")),
        account_blocked=flag(data.get("account_blocked")), trade_suspended_by_user=flag(data.get("trade_suspended_by_user")),
    )


def last_equity(raw: Any) -> float | None:
    return num(raw.get("last_equity")) if isinstance(raw, dict) else None


def position(raw: Any) -> PositionView | None:
    if not isinstance(raw, dict) or not raw.get("symbol"):
        return None
    qty = num(raw.get("qty"))
    if qty is None:
        return None
    if str(raw.get("side", "long")) == "short" and qty > 0:
        qty = -qty
    cls = raw.get("asset_class")
    asset_class: Literal["equity", "option", "other"] = "equity" if cls == "us_equity" else "option" if cls == "us_option" else "other"
    return PositionView(str(raw["symbol"]), asset_class, qty, num(raw.get("avg_entry_price")), num(raw.get("market_value")))


def order(raw: Any) -> OrderView | None:
    if not isinstance(raw, dict) or not raw.get("client_order_id"):
        return None
    raw_status = str(raw.get("status") or "")
    side = raw.get("side")
    return OrderView(
        client_order_id=str(raw["client_order_id"]), broker_order_id=text(raw.get("id")), symbol=str(raw.get("symbol") or ""),
        side=side if side in ("buy", "sell") else None, qty=num(raw.get("qty")), filled_qty=num(raw.get("filled_qty")),
        filled_avg_price=num(raw.get("filled_avg_price")), status=ALPACA_STATUS.get(raw_status, "unknown"), raw_status=raw_status,
        submitted_at=when(raw.get("submitted_at")) or when(raw.get("created_at")),
    )


@dataclass(frozen=True, slots=True)
class ActivityView:
    """A FILL, or an option expiry (OPEXP), exercise (OPEXC) or assignment (OPASN)."""

    id: str
    kind: str
    symbol: str
    qty: float
    price: float | None
    side: str | None
    order_id: str | None
    at: datetime | None


def activity(raw: Any) -> ActivityView | None:
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("activity_type") or not raw.get("symbol"):
        return None
    qty = num(raw.get("qty"))
    if qty is None:
        return None
    at = when(raw.get("transaction_time"))
    if at is None and isinstance(raw.get("date"), str):
        try:
            at = datetime.combine(date.fromisoformat(raw["date"][:10]), datetime.min.time(), tzinfo=NEW_YORK)
        except ValueError:
            at = None
    side = raw.get("side")
    return ActivityView(str(raw["id"]), str(raw["activity_type"]), str(raw["symbol"]), qty, num(raw.get("price")),
                        side if side in ("buy", "sell") else None, text(raw.get("order_id")), at)


@dataclass(frozen=True, slots=True)
class ClockView:
    timestamp: datetime
    is_open: bool
    next_open: datetime | None
    next_close: datetime | None


def market_clock(raw: Any) -> ClockView:
    data = _dict(raw, "the market clock")
    stamp = when(data.get("timestamp"))
    if stamp is None:
        raise Retry("Alpaca's clock payload has no usable timestamp")
    return ClockView(stamp, flag(data.get("is_open")), when(data.get("next_open")), when(data.get("next_close")))


@dataclass(frozen=True, slots=True)
class SessionView:
    """A trading session; Alpaca's naive 'HH:MM' times localised to New York (R28)."""

    day: date
    open: datetime
    close: datetime


def session(raw: Any) -> SessionView | None:
    if not isinstance(raw, dict):
        return None
    try:
        day = date.fromisoformat(str(raw["date"])[:10])
        opens = _hhmm(str(raw["open"]))
        closes = _hhmm(str(raw["close"]))
    except (KeyError, ValueError):
        return None

    def at(hm: tuple[int, int]) -> datetime:
        return ensure_utc(datetime(day.year, day.month, day.day, hm[0], hm[1], tzinfo=NEW_YORK))
    return SessionView(day, at(opens), at(closes))


def _hhmm(value: str) -> tuple[int, int]:
    digits = value.replace(":", "")
    if len(digits) != 4 or not digits.isdigit():
        raise ValueError(f"bad session time {value!r}")
    return int(digits[:2]), int(digits[2:])


@dataclass(frozen=True, slots=True)
class ContractView:
    symbol: str
    underlying: str
    expiration: date
    strike: float
    kind: str
    tradable: bool


def contract(raw: Any) -> ContractView | None:
    if not isinstance(raw, dict):
        return None
    strike = num(raw.get("strike_price"))
    try:
        expiry = date.fromisoformat(str(raw.get("expiration_date"))[:10])
    except ValueError:
        return None
    if strike is None or not raw.get("symbol"):
        return None
    return ContractView(str(raw["symbol"]), str(raw.get("underlying_symbol") or ""), expiry, strike, str(raw.get("type") or ""),
                        flag(raw.get("tradable", True)) and str(raw.get("status", "active")) == "active")


def quote(raw: Any) -> tuple[float | None, float | None]:
    """(bid, ask) from a latest-quote entry; a zero or missing side is None."""
    if not isinstance(raw, dict):
        return None, None
    bid, ask = num(raw.get("bp")), num(raw.get("ap"))
    return (bid if bid and bid > 0 else None), (ask if ask and ask > 0 else None)
