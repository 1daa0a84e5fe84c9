"""Alpaca-shaped JSON for the emulator's records (numbers as strings, as Alpaca sends them).

`minimal()` strips a payload to the fields alpaca-py's models cannot do without (the `drop_fields` fault), and
`scramble_enums()` replaces enum values with ones no client knows (the `unknown_enum` fault).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from clock import NEW_YORK
from emulator.exchange import Exchange
from emulator.market import Session
from emulator.records import MULTIPLIER, Activity, Contract, DailyBar, EmuOrder, EmuPosition, Quote, iso

MINIMAL_FIELDS = {
    "order": {"id", "client_order_id", "created_at", "updated_at", "submitted_at", "order_class", "time_in_force", "status",
              "extended_hours"},
    "account": {"id", "account_number", "status"},
    "position": {"asset_id", "symbol", "exchange", "asset_class", "avg_entry_price", "qty", "side", "cost_basis"},
    "activity": {"id", "activity_type"},
}
ENUM_KEYS = {"status", "side", "asset_class", "order_class", "type", "order_type", "time_in_force", "position_intent", "crypto_status"}


def _num(value: float | int | None) -> str | None:
    return None if value is None else str(value)


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{symbol}.asset"))


def order(o: EmuOrder) -> dict[str, Any]:
    intent = None
    if o.asset_class == "us_option":
        intent = "buy_to_open" if o.side == "buy" else "sell_to_close"
    return {
        "id": o.id, "client_order_id": o.client_order_id, "created_at": o.created_at, "updated_at": o.updated_at,
        "submitted_at": o.created_at, "filled_at": o.filled_at, "expired_at": o.expired_at, "expires_at": None,
        "canceled_at": o.canceled_at, "failed_at": o.created_at if o.status == "rejected" else None, "replaced_at": None,
        "replaced_by": None, "replaces": None, "asset_id": asset_id(o.symbol), "symbol": o.symbol, "asset_class": o.asset_class,
        "notional": None, "qty": _num(o.qty), "filled_qty": _num(o.filled_qty), "filled_avg_price": _num(o.filled_avg_price),
        "order_class": "simple", "order_type": o.type, "type": o.type, "side": o.side, "position_intent": intent,
        "time_in_force": o.time_in_force, "limit_price": _num(o.limit_price), "stop_price": None, "status": o.status,
        "extended_hours": False, "legs": None, "trail_percent": None, "trail_price": None, "hwm": None,
        "subtag": None, "source": None,
    }


def position(p: EmuPosition, mark: float | None) -> dict[str, Any]:
    price = mark if mark is not None else p.avg_entry_price
    mult = MULTIPLIER[p.asset_class]
    return {
        "asset_id": asset_id(p.symbol), "symbol": p.symbol, "exchange": "OPRA" if p.asset_class == "us_option" else "ARCA",
        "asset_class": p.asset_class, "asset_marginable": p.asset_class == "us_equity", "avg_entry_price": _num(round(p.avg_entry_price, 6)),
        "qty": _num(p.qty), "qty_available": _num(p.qty), "side": "long" if p.qty > 0 else "short",
        "market_value": _num(round(p.qty * price * mult, 4)), "cost_basis": _num(round(p.qty * p.avg_entry_price * mult, 4)),
        "unrealized_pl": _num(round(p.qty * (price - p.avg_entry_price) * mult, 4)), "unrealized_plpc": "0",
        "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0", "current_price": _num(price), "lastday_price": _num(price),
        "change_today": "0",
    }


def account(ex: Exchange) -> dict[str, Any]:
    equity = ex.equity()
    body: dict[str, Any] = {
        "id": ex.account_id, "account_number": ex.account_number, "status": ex.flags.status, "crypto_status": "INACTIVE",
        "currency": "USD", "cash": _num(round(ex.cash, 2)), "buying_power": _num(round(ex.cash, 2)),
        "regt_buying_power": _num(round(ex.cash, 2)), "daytrading_buying_power": "0", "non_marginable_buying_power": _num(round(ex.cash, 2)),
        "options_buying_power": _num(round(ex.cash, 2)), "options_approved_level": ex.flags.options_trading_level,
        "options_trading_level": ex.flags.options_trading_level, "accrued_fees": "0", "pending_transfer_in": "0",
        "portfolio_value": _num(round(equity, 2)), "equity": _num(round(equity, 2)), "last_equity": _num(round(ex.last_equity, 2)),
        "long_market_value": "0", "short_market_value": "0", "initial_margin": "0", "maintenance_margin": "0",
        "pattern_day_trader": False, "daytrade_count": 0, "trading_blocked": ex.flags.trading_blocked, "transfers_blocked": False,
        "account_blocked": ex.flags.account_blocked, "trade_suspended_by_user": ex.flags.trade_suspended_by_user,
        "created_at": "2024-01-02T15:00:00Z", "multiplier": "1", "shorting_enabled": False, "sma": "0",
    }
    for key in ex.flags.drop:
        body.pop(key, None)
    return body


def activity(a: Activity) -> dict[str, Any]:
    if a.activity_type == "FILL":
        return {
            "id": a.id, "activity_type": "FILL", "transaction_time": a.at, "type": "fill" if a.leaves_qty == 0 else "partial_fill",
            "price": _num(a.price), "qty": _num(a.qty), "side": a.side, "symbol": a.symbol, "leaves_qty": _num(a.leaves_qty),
            "order_id": a.order_id, "cum_qty": _num(a.cum_qty), "order_status": a.order_status,
        }
    return {
        "id": a.id, "activity_type": a.activity_type, "date": a.at[:10], "net_amount": "0", "symbol": a.symbol,
        "qty": _num(a.qty), "price": _num(a.price), "description": a.description, "status": "executed",
    }


def _ny(instant: datetime) -> str:
    return instant.astimezone(NEW_YORK).isoformat()


def market_clock(ex: Exchange) -> dict[str, Any]:
    nxt_open, nxt_close = ex.calendar.next_open(ex.now), ex.calendar.next_close(ex.now)
    return {
        "timestamp": _ny(ex.now), "is_open": ex.session_now() is not None,
        "next_open": _ny(nxt_open.open) if nxt_open else None, "next_close": _ny(nxt_close.close) if nxt_close else None,
    }


def calendar_day(s: Session) -> dict[str, Any]:
    return {
        "date": s.day.isoformat(), "open": s.open.astimezone(NEW_YORK).strftime("%H:%M"),
        "close": s.close.astimezone(NEW_YORK).strftime("%H:%M"), "session_open": "0400", "session_close": "2000",
        "settlement_date": (s.day + timedelta(days=1)).isoformat(),
    }


def contract(c: Contract) -> dict[str, Any]:
    return {
        "id": c.id, "symbol": c.symbol, "name": f"{c.underlying_symbol} {c.expiration_date} {c.type} {c.strike_price}",
        "status": c.status, "tradable": c.tradable, "expiration_date": c.expiration_date, "root_symbol": c.underlying_symbol,
        "underlying_symbol": c.underlying_symbol, "underlying_asset_id": asset_id(c.underlying_symbol), "type": c.type,
        "style": "american", "strike_price": _num(c.strike_price), "multiplier": "100", "size": "100",
        "open_interest": "100", "open_interest_date": None, "close_price": None, "close_price_date": None,
    }


def quote(q: Quote) -> dict[str, Any]:
    return {"t": q.at, "ax": "V", "ap": q.ask, "as": 10, "bx": "V", "bp": q.bid, "bs": 10, "c": ["R"], "z": "B"}


def bar(b: DailyBar) -> dict[str, Any]:
    start = datetime.combine(date.fromisoformat(b.day), datetime.min.time(), tzinfo=NEW_YORK)
    vwap = round((b.high + b.low + b.close) / 3, 4)
    return {"t": iso(start), "o": b.open, "h": b.high, "l": b.low, "c": b.close, "v": b.volume, "n": 1000, "vw": vwap}


def error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def minimal(payload: Any, kind: str) -> Any:
    """Keep only the fields alpaca-py's models require (for a dict, or every dict in a list)."""
    keep = MINIMAL_FIELDS.get(kind)
    if keep is None:
        return payload
    if isinstance(payload, list):
        return [minimal(item, kind) for item in payload]
    if isinstance(payload, dict):
        return {k: v for k, v in payload.items() if k in keep}
    return payload


def scramble_enums(payload: Any) -> Any:
    """Replace enum-like values with values no client knows yet."""
    if isinstance(payload, list):
        return [scramble_enums(item) for item in payload]
    if isinstance(payload, dict):
        return {k: (f"{v}_unlisted" if k in ENUM_KEYS and isinstance(v, str) else scramble_enums(v)) for k, v in payload.items()}
    return payload
