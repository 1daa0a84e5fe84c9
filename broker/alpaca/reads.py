"""Every read the adapter makes, through alpaca-py, with bounded retries and defensive parsing.

Reads are idempotent, so a transient failure (Retry) is tried again with a doubling pause; anything else is
raised at once. Lists that Alpaca pages (orders, activities, option contracts, bars) are walked to the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from alpaca.common.enums import Sort
from alpaca.data.requests import OptionLatestQuoteRequest, StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.enums import AssetStatus, ContractType, QueryOrderStatus
from alpaca.trading.requests import GetCalendarRequest, GetOptionContractsRequest, GetOrdersRequest

from broker.alpaca import parse
from broker.alpaca.clients import AlpacaClients
from broker.alpaca.errors import NotFound, translate
from broker.contract import AccountView, OrderView, PositionView, Retry

log = logging.getLogger(__name__)
T = TypeVar("T")
ORDER_PAGE = 500
ACTIVITY_PAGE = 100
ACTIVITY_TYPES = ("FILL", "OPEXP", "OPEXC", "OPASN")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0


class AlpacaReads:
    """Read-side calls; `sleep` pauses between attempts (a real sleep in production, short in tests)."""

    def __init__(self, clients: AlpacaClients, *, sleep: Callable[[float], None], policy: RetryPolicy | None = None) -> None:
        self.clients = clients
        self._sleep = sleep
        self.policy = policy or RetryPolicy()

    def call(self, what: str, fn: Callable[[], T], *, attempts: int | None = None) -> T:
        """Run `fn`, retrying transient failures; raise the translated error otherwise."""
        tries = attempts or self.policy.attempts
        delay = self.policy.backoff_seconds
        for attempt in range(1, tries + 1):
            try:
                return fn()
            except Exception as exc:
                err = translate(exc, what=what)
                if not isinstance(err, Retry) or attempt >= tries:
                    raise err from exc
                log.info("%s failed (%s); attempt %d of %d", what, err, attempt, tries)
            # After a 429 the shared limiter already holds every caller until the reset.
            self._sleep(min(delay, self.policy.max_backoff_seconds))
            delay *= 2
        raise AssertionError("unreachable")

    # -- trading API ----------------------------------------------------------------------------------------------

    def account(self) -> tuple[AccountView, float | None]:
        """The account and Alpaca's previous-close equity (None if not sent)."""
        raw = self.call("GET account", self.clients.trading.get_account)
        return parse.account(raw), parse.last_equity(raw)

    def positions(self) -> dict[str, PositionView]:
        raw = self.call("GET positions", self.clients.trading.get_all_positions)
        if not isinstance(raw, list):
            raise Retry("GET positions: Alpaca did not send a list")
        out = {}
        for item in raw:
            view = parse.position(item)
            if view is None:
                raise Retry("GET positions: a position without symbol or qty; not trusting this answer")
            out[view.symbol] = view
        return out

    def open_orders(self) -> list[OrderView]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=ORDER_PAGE, direction=Sort.ASC, nested=False)
        return self._orders("GET open orders", request)

    def orders_since(self, after: datetime) -> list[OrderView]:
        """Every order (any status) created after `after`, oldest first, walking the pages."""
        out: list[OrderView] = []
        cursor = after
        while True:
            request = GetOrdersRequest(status=QueryOrderStatus.ALL, after=cursor, limit=ORDER_PAGE, direction=Sort.ASC, nested=False)
            page = self._orders("GET orders since", request)
            out.extend(page)
            stamps = [o.submitted_at for o in page if o.submitted_at is not None]
            if len(page) < ORDER_PAGE or not stamps or max(stamps) <= cursor:
                return out
            cursor = max(stamps)

    def _orders(self, what: str, request: GetOrdersRequest) -> list[OrderView]:
        raw = self.call(what, lambda: self.clients.trading.get_orders(request))
        if not isinstance(raw, list):
            raise Retry(f"{what}: Alpaca did not send a list")
        return [view for view in (parse.order(item) for item in raw) if view is not None]

    def order_by_client_id(self, client_order_id: str, *, attempts: int | None = None) -> OrderView | None:
        """The order with this id, or None when Alpaca answers 404."""
        try:
            raw = self.call(f"GET order {client_order_id}", lambda: self.clients.trading.get_order_by_client_id(client_order_id),
                            attempts=attempts)
        except NotFound:
            return None
        view = parse.order(raw)
        if view is None:
            raise Retry(f"GET order {client_order_id}: unreadable order payload")
        return view

    def activities(self, after: datetime) -> list[parse.ActivityView]:
        """Fills and option expiry/exercise/assignment activities after `after`, oldest first, all pages."""
        out: list[parse.ActivityView] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"activity_types": ",".join(ACTIVITY_TYPES), "after": after.isoformat(), "direction": "asc",
                                      "page_size": ACTIVITY_PAGE}
            if token:
                params["page_token"] = token
            raw = self.call("GET activities", lambda p=params: self.clients.trading.get("/account/activities", p))  # type: ignore[misc]
            if not isinstance(raw, list):
                raise Retry("GET activities: Alpaca did not send a list")
            for item in raw:
                view = parse.activity(item)
                if view is None:
                    raise Retry("GET activities: an activity without id, type, symbol or qty; not trusting this page")
                out.append(view)
            if len(raw) < ACTIVITY_PAGE:
                return out
            token = str(raw[-1]["id"])

    def market_clock(self) -> parse.ClockView:
        return parse.market_clock(self.call("GET clock", self.clients.trading.get_clock))

    def sessions(self, start: date, end: date) -> list[parse.SessionView]:
        raw = self.call("GET calendar", lambda: self.clients.trading.get_calendar(GetCalendarRequest(start=start, end=end)))
        if not isinstance(raw, list):
            raise Retry("GET calendar: Alpaca did not send a list")
        return [s for s in (parse.session(item) for item in raw) if s is not None]

    def put_contracts(self, underlying: str, *, expires_from: date, expires_to: date) -> list[parse.ContractView]:
        """Active put contracts on `underlying` expiring in [expires_from, expires_to]; the endpoint does not page for us."""
        out: list[parse.ContractView] = []
        token: str | None = None
        while True:
            request = GetOptionContractsRequest(
                underlying_symbols=[underlying], status=AssetStatus.ACTIVE, type=ContractType.PUT, expiration_date_gte=expires_from,
                expiration_date_lte=expires_to, limit=1000, page_token=token,
            )
            raw = self.call("GET option contracts", lambda r=request: self.clients.trading.get_option_contracts(r))  # type: ignore[misc]
            if not isinstance(raw, dict) or not isinstance(raw.get("option_contracts"), list):
                raise Retry("GET option contracts: unexpected payload")
            out.extend(c for c in (parse.contract(item) for item in raw["option_contracts"]) if c is not None)
            token = raw.get("next_page_token")
            if not token:
                return out

    # -- data API -------------------------------------------------------------------------------------------------

    def option_quote(self, symbol: str) -> tuple[float | None, float | None]:
        request = OptionLatestQuoteRequest(symbol_or_symbols=[symbol])
        raw = self.call("GET option quote", lambda: self.clients.option_data.get_option_latest_quote(request))
        return parse.quote(raw.get(symbol) if isinstance(raw, dict) else None)

    def stock_price(self, symbol: str, *, today: date) -> float | None:
        """The latest quote's mid, else the last daily close in the past two weeks; None if neither is usable."""
        feed = self.clients.feed
        quote_req = StockLatestQuoteRequest(symbol_or_symbols=[symbol], feed=feed)  # type: ignore[arg-type]
        raw = self.call("GET stock quote", lambda: self.clients.stock_data.get_stock_latest_quote(quote_req))
        bid, ask = parse.quote(raw.get(symbol) if isinstance(raw, dict) else None)
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        start = datetime.combine(today - timedelta(days=14), datetime.min.time(), tzinfo=UTC)
        bars_req = StockBarsRequest(symbol_or_symbols=[symbol], timeframe=TimeFrame.Day, start=start, feed=feed)  # type: ignore[arg-type]
        bars = self.call("GET stock bars", lambda: self.clients.stock_data.get_stock_bars(bars_req))
        series = bars.get(symbol) if isinstance(bars, dict) else None
        if isinstance(series, list) and series and isinstance(series[-1], dict):
            return parse.num(series[-1].get("c"))
        return None
