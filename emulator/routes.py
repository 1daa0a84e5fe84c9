"""The emulator's Alpaca endpoints: one function per route, each returning (status, payload, payload kind).

Routes read and change the `Exchange` under its lock; they know nothing about faults or HTTP framing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from clock import NEW_YORK
from emulator import render
from emulator.exchange import Exchange, OrderError
from emulator.records import parse_iso

Params = dict[str, str]
Result = tuple[int, Any, str]
Handler = Callable[[Exchange, Params, Any, "re.Match[str]", bool], Result]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: Handler


def _not_found(what: str) -> Result:
    return 404, render.error(40410000, f"{what} not found"), "error"


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=NEW_YORK)
    return parse_iso(text)


def account(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    return 200, render.account(ex), "account"


def positions(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    return 200, [render.position(pos, ex.mark(pos.symbol)) for pos in ex.positions.values()], "position"


def submit_order(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    if not isinstance(body, dict):
        return 422, render.error(40010001, "request body must be a JSON object"), "error"
    try:
        return 200, render.order(ex.submit(body, reject=reject)), "order"
    except OrderError as exc:
        return exc.status, render.error(exc.code, exc.message), "error"


def list_orders(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    status = p.get("status", "open")
    after, until = _when(p.get("after")), _when(p.get("until"))
    symbols = set(p["symbols"].split(",")) if p.get("symbols") else None
    chosen = []
    for o in sorted(ex.orders.values(), key=lambda o: o.created_at):
        created = parse_iso(o.created_at)
        if (status == "open" and not o.is_open) or (status == "closed" and o.is_open):
            continue
        if (after and created <= after) or (until and created >= until) or (symbols and o.symbol not in symbols):
            continue
        chosen.append(o)
    if p.get("direction", "desc") == "desc":
        chosen.reverse()
    limit = min(int(p.get("limit", "50")), 500)
    return 200, [render.order(o) for o in chosen[:limit]], "order"


def get_order(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    o = ex.orders.get(m["id"])
    return (200, render.order(o), "order") if o else _not_found("order")


def order_by_client_id(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    oid = ex.by_client_id.get(p.get("client_order_id", ""))
    return (200, render.order(ex.orders[oid]), "order") if oid else _not_found("order")


def cancel_order(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    try:
        ex.cancel(m["id"])
    except OrderError as exc:
        return exc.status, render.error(exc.code, exc.message), "error"
    return 204, None, "empty"


def activities(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    types = set((m["types"] or p.get("activity_types", "")).split(",")) - {""}
    after, until = _when(p.get("after")), _when(p.get("until"))
    desc = p.get("direction", "desc") == "desc"
    token = p.get("page_token")
    chosen = []
    for a in sorted(ex.activities, key=lambda a: a.id, reverse=desc):
        at = parse_iso(a.at)
        if (types and a.activity_type not in types) or (after and at <= after) or (until and at >= until):
            continue
        if token and ((desc and a.id >= token) or (not desc and a.id <= token)):
            continue
        chosen.append(a)
    size = min(int(p.get("page_size", "100")), 100)
    return 200, [render.activity(a) for a in chosen[:size]], "activity"


def market_clock(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    return 200, render.market_clock(ex), "clock"


def calendar(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    today = ex.now.astimezone(NEW_YORK).date()
    start = date.fromisoformat(p["start"][:10]) if p.get("start") else today
    end = date.fromisoformat(p["end"][:10]) if p.get("end") else start + timedelta(days=30)
    return 200, [render.calendar_day(s) for s in ex.calendar.between(start, end)], "calendar"


def option_contracts(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    underlyings = set(p["underlying_symbols"].split(",")) if p.get("underlying_symbols") else None
    lte = p.get("expiration_date_lte")
    if not lte and not p.get("expiration_date"):
        today = ex.now.astimezone(NEW_YORK).date()
        lte = (today + timedelta(days=(5 - today.weekday()) % 7 or 7)).isoformat()  # Alpaca's default: the coming weekend
    chosen = []
    for c in sorted(ex.contracts.values(), key=lambda c: (c.expiration_date, c.strike_price, c.symbol)):
        if underlyings and c.underlying_symbol not in underlyings:
            continue
        if p.get("status") and c.status != p["status"]:
            continue
        if p.get("type") and c.type != p["type"]:
            continue
        if p.get("expiration_date") and c.expiration_date != p["expiration_date"]:
            continue
        if (p.get("expiration_date_gte") and c.expiration_date < p["expiration_date_gte"]) or (lte and c.expiration_date > lte):
            continue
        if (p.get("strike_price_gte") and c.strike_price < float(p["strike_price_gte"])) or (
            p.get("strike_price_lte") and c.strike_price > float(p["strike_price_lte"])
        ):
            continue
        chosen.append(c)
    offset, limit = int(p.get("page_token") or 0), min(int(p.get("limit", "100")), 10_000)
    page = chosen[offset: offset + limit]
    nxt = str(offset + limit) if offset + limit < len(chosen) else None
    return 200, {"option_contracts": [render.contract(c) for c in page], "next_page_token": nxt}, "contracts"


def option_contract(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    key = m["key"]
    for c in ex.contracts.values():
        if key in (c.symbol, c.id):
            return 200, render.contract(c), "contract"
    return _not_found("contract")


def latest_quotes(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    symbols = [s for s in p.get("symbols", "").split(",") if s]
    return 200, {"quotes": {s: render.quote(ex.quotes[s]) for s in symbols if s in ex.quotes}}, "quotes"


def stock_bars(ex: Exchange, p: Params, body: Any, m: re.Match[str], reject: bool) -> Result:
    if p.get("timeframe", "1Day") not in ("1Day", "1D"):
        return 422, render.error(42210000, "the emulator serves daily bars only"), "error"
    start, end = _when(p.get("start")), _when(p.get("end"))
    today = ex.now.astimezone(NEW_YORK).date()
    session = ex.calendar.session(today)
    flat = []
    for symbol in [s for s in p.get("symbols", "").split(",") if s]:
        for b in ex.bars.get(symbol, []):
            day = date.fromisoformat(b.day)
            if day > today or (day == today and (session is None or ex.now < session.close)):
                continue
            if (start and day < start.astimezone(NEW_YORK).date()) or (end and day > end.astimezone(NEW_YORK).date()):
                continue
            flat.append((symbol, b))
    offset, limit = int(p.get("page_token") or 0), min(int(p.get("limit") or 1000), 10_000)
    out: dict[str, list[dict[str, Any]]] = {}
    for symbol, b in flat[offset: offset + limit]:
        out.setdefault(symbol, []).append(render.bar(b))
    nxt = str(offset + limit) if offset + limit < len(flat) else None
    return 200, {"bars": out, "next_page_token": nxt}, "bars"


_ID = r"(?P<id>[0-9a-fA-F-]{36})"
ROUTES = [
    Route("GET", re.compile(r"^/v2/account$"), "account", account),
    Route("GET", re.compile(r"^/v2/positions$"), "positions", positions),
    Route("POST", re.compile(r"^/v2/orders$"), "orders.submit", submit_order),
    Route("GET", re.compile(r"^/v2/orders$"), "orders.list", list_orders),
    Route("GET", re.compile(r"^/v2/orders:by_client_order_id$"), "orders.by_client_id", order_by_client_id),
    Route("GET", re.compile(rf"^/v2/orders/{_ID}$"), "orders.get", get_order),
    Route("DELETE", re.compile(rf"^/v2/orders/{_ID}$"), "orders.cancel", cancel_order),
    Route("GET", re.compile(r"^/v2/account/activities(?:/(?P<types>[A-Z,]+))?$"), "activities", activities),
    Route("GET", re.compile(r"^/v2/clock$"), "clock", market_clock),
    Route("GET", re.compile(r"^/v2/calendar$"), "calendar", calendar),
    Route("GET", re.compile(r"^/v2/options/contracts$"), "options.contracts", option_contracts),
    Route("GET", re.compile(r"^/v2/options/contracts/(?P<key>[A-Za-z0-9-]+)$"), "options.contracts", option_contract),
    Route("GET", re.compile(r"^/v2/stocks/quotes/latest$"), "stocks.quotes", latest_quotes),
    Route("GET", re.compile(r"^/v1beta1/options/quotes/latest$"), "options.quotes", latest_quotes),
    Route("GET", re.compile(r"^/v2/stocks/bars$"), "stocks.bars", stock_bars),
]


def find(method: str, path: str) -> tuple[Route, re.Match[str]] | None:
    for route in ROUTES:
        if route.method == method:
            match = route.pattern.match(path)
            if match:
                return route, match
    return None
