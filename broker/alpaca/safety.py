"""Safety checks that stand between a decision and a real order.

- `EndpointGuard`: the paper endpoint or loopback only, unless the live flag *and* CUTCYCLE_ALLOW_LIVE=1 are both
  given; checked on the URL actually in use (alpaca-py's url_override silently beats paper=True), at start-up,
  on every submit and on every state-changing HTTP request (R33).
- `KillSwitch`: a file whose presence stops all orders (R18).
- `check_prices`, `check_fills`, `check_equity_jump`, `check_positions`: sanity stops (R18).
- `check_clock_skew`: local clock vs Alpaca's /v2/clock (R19).
- `check_account_gates`: status, blocks, options level, buying power (R13).
- `check_order_window`: day orders only inside the session and before the cut-off; market-on-open orders only
  in Alpaca's OPG window, 19:00-09:28 ET (R11; half days close at 13:00 per the calendar).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from broker.contract import AccountView, Halt, OrderView, PositionView, SkipCycle
from clock import NEW_YORK, ensure_utc
from strategies.intents import OrderIntent

log = logging.getLogger(__name__)

PAPER_HOSTS = frozenset({"paper-api.alpaca.markets"})
DATA_HOSTS = frozenset({"data.alpaca.markets"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OPTION_MULTIPLIER = 100


@dataclass(frozen=True, slots=True)
class EndpointGuard:
    """Allows the paper endpoint and loopback; any other host needs `live` and `allow_live` (the env opt-in)."""

    live: bool = False
    allow_live: bool = False

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host in LOOPBACK_HOSTS:
            return
        if host in PAPER_HOSTS or host in DATA_HOSTS:
            if parts.scheme != "https":
                raise Halt(f"refusing {parts.scheme}:// to {host}: Alpaca endpoints need https")
            return
        if self.live and self.allow_live:
            log.warning("LIVE endpoint in use: %s", host)
            return
        raise Halt(
            f"refusing endpoint {host or url!r}: only the paper endpoint or loopback are allowed unless alpaca.live = true "
            "and CUTCYCLE_ALLOW_LIVE=1 are both set"
        )

    def check_request(self, method: str, url: str) -> None:
        """Transport hook: every state-changing request goes to an allowed host."""
        self.check(url)


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """Orders stop while `path` exists (touch it to stop the bot from sending anything)."""

    path: Path | None

    def check(self) -> None:
        if self.path is not None and self.path.exists():
            raise Halt(f"kill switch {self.path} is present: no orders until it is removed")


@dataclass(frozen=True, slots=True)
class SanityLimits:
    max_equity_jump: float = 0.25  # fraction of the previous equity
    max_clock_skew_seconds: float = 30.0
    close_cutoff_minutes: int = 15  # no new day orders this close to the session's end


def check_prices(intent: OrderIntent, reference_price: float | None) -> None:
    """No order on a price that is not a positive finite number."""
    for name, price in (("limit price", intent.limit_price), ("reference price", reference_price)):
        if name == "limit price" and price is None:
            continue
        if price is None or not math.isfinite(price) or price <= 0:
            raise Halt(f"sanity stop: {intent.client_order_id} has {name} {price!r}; no order sent")


def check_fills(order: OrderView) -> None:
    if order.qty is not None and order.filled_qty is not None and order.filled_qty > order.qty + 1e-9:
        raise Halt(f"sanity stop: order {order.client_order_id} reports filled_qty {order.filled_qty} > qty {order.qty}")


def check_positions(positions: Mapping[str, PositionView]) -> None:
    for p in positions.values():
        if p.asset_class == "option" and not float(p.qty).is_integer():
            raise Halt(f"sanity stop: option position {p.symbol} has a fractional quantity {p.qty}")


def check_equity_jump(previous: float | None, current: float, limits: SanityLimits) -> None:
    if previous is None or previous <= 0:
        return
    change = abs(current - previous) / previous
    if change > limits.max_equity_jump:
        raise Halt(f"sanity stop: equity moved {change:.0%} ({previous:,.2f} -> {current:,.2f}), beyond {limits.max_equity_jump:.0%}")


def check_clock_skew(local: datetime, broker: datetime, limits: SanityLimits) -> None:
    skew = abs((ensure_utc(local) - ensure_utc(broker)).total_seconds())
    if skew > limits.max_clock_skew_seconds:
        log.error("clock skew %.0f s between this machine and Alpaca: no trading", skew)
        raise SkipCycle(f"local clock differs from Alpaca's by {skew:.0f} s (> {limits.max_clock_skew_seconds:.0f} s): fix the clock")


def check_account_gates(account: AccountView, intent: OrderIntent, reference_price: float) -> None:
    if account.status != "ACTIVE":
        raise Halt(f"account status is {account.status!r}, not ACTIVE: no orders")
    blocks = [name for name in ("trading_blocked", "account_blocked", "trade_suspended_by_user") if getattr(account, name)]
    if blocks:
        raise Halt(f"account is blocked ({', '.join(blocks)}): no orders")
    if intent.asset_class == "option" and (account.options_level is None or account.options_level < 2):
        raise SkipCycle(f"puts need options level >= 2; the account has {account.options_level}")
    if intent.side != "buy":
        return
    multiplier = OPTION_MULTIPLIER if intent.asset_class == "option" else 1
    cost = intent.qty * reference_price * multiplier
    power = account.buying_power
    if intent.asset_class == "option" and account.options_buying_power is not None:
        power = account.options_buying_power
    if cost > power:
        raise SkipCycle(f"{intent.client_order_id} needs {cost:,.2f} but buying power is {power:,.2f}")


def check_order_window(intent: OrderIntent, now: datetime, session_open: datetime | None, session_close: datetime | None,
                       limits: SanityLimits) -> None:
    """`session_open`/`session_close`: today's session in UTC, or None when the market does not open today."""
    local = ensure_utc(now).astimezone(NEW_YORK)
    if intent.kind == "market_on_open":
        if session_open is not None and (9, 28) <= (local.hour, local.minute) < (19, 0):
            raise SkipCycle(f"{intent.client_order_id}: market-on-open orders go in between 19:00 and 09:28 ET, not at {local:%H:%M}")
        return
    if session_open is None or session_close is None:
        raise SkipCycle(f"{intent.client_order_id}: no session today; a day order would queue for the next one")
    cutoff = session_close - timedelta(minutes=limits.close_cutoff_minutes)
    if not session_open <= ensure_utc(now) < cutoff:
        raise SkipCycle(
            f"{intent.client_order_id}: day orders only between the open and {limits.close_cutoff_minutes} min before the close "
            f"({cutoff.astimezone(NEW_YORK):%H:%M} ET today)"
        )
