"""Safety checks that stand between a decision and a real order.

- `EndpointGuard`: the paper endpoint or loopback only, unless the live flag *and* CUTCYCLE_ALLOW_LIVE=1 are both
  given; checked on the URL actually in use (alpaca-py's url_override silently beats paper=True), at start-up,
  on every submit and on every HTTP request (R33), with the host read as urllib3 reads it (`connect_target`, R39).
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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from broker.contract import AccountView, Halt, OrderView, PositionView, SkipCycle
from clock import NEW_YORK, ensure_utc
from strategies.intents import OrderIntent

log = logging.getLogger(__name__)

PAPER_HOSTS = frozenset({"paper-api.alpaca.markets"})
DATA_HOSTS = frozenset({"data.alpaca.markets"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OPTION_MULTIPLIER = 100


_HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_DOTTED_QUAD = re.compile(r"^(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")  # a last label like this makes the host an IPv4 address (WHATWG)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL really connects: what urllib3 (under requests and alpaca-py) will open."""

    scheme: str
    host: str  # lower case; an IPv6 address without brackets
    port: int | None


def connect_target(url: str) -> Target:
    """The scheme, host and port the HTTP stack connects to, or Halt for any URL that is not plainly one thing (R39).

    The host is read by urllib3's parser, the one requests uses to connect; a URL is refused when it has userinfo,
    a backslash, whitespace or control characters, percent-encoding or odd dots in the host, a numeric host that is
    not a plain dotted quad (127.1, 0x7f.0.0.1, 2130706433), or when Python's urlsplit reads a different scheme, host
    or port: `http://api.alpaca.markets\\@127.0.0.1` is loopback to urlsplit and api.alpaca.markets to urllib3."""

    def refuse(why: str) -> Halt:
        return Halt(f"refusing endpoint URL {url!r}: {why}")

    if any(c.isspace() or not c.isprintable() for c in url) or "\\" in url:
        raise refuse("it holds a backslash, whitespace or a control character, which HTTP parsers read differently")
    try:
        ours, theirs = parse_url(url), urlsplit(url)
        their_port = theirs.port
    except (LocationParseError, ValueError) as exc:
        raise refuse(f"it does not parse ({exc})") from None
    scheme = (ours.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise refuse("only http:// and https:// are allowed")
    if ours.auth is not None or "@" in theirs.netloc or theirs.username is not None:
        raise refuse("user info (user:password@) in the host part is never allowed")
    raw = ours.host or ""
    host = raw[1:-1].lower() if raw.startswith("[") and raw.endswith("]") else raw.lower()
    if not host or "%" in host:
        raise refuse("the host is empty or percent-encoded")
    if raw.startswith("["):
        if host != "::1":
            raise refuse("the only IPv6 host allowed is [::1]")
    elif not _HOST_NAME.match(host):
        raise refuse("the host has odd dots or characters")
    elif _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]) and not (_DOTTED_QUAD.match(host) and all(int(o) <= 255 for o in host.split("."))):
        raise refuse("a numeric host must be a plain dotted quad")
    if (theirs.scheme.lower(), (theirs.hostname or "").lower(), their_port) != (scheme, host, ours.port):
        raise refuse(f"parsers disagree on where it goes ({theirs.hostname!r} vs {host!r})")
    return Target(scheme, host, ours.port)


def is_loopback(url: str) -> bool:
    """Whether the URL connects to this machine (Halt for a URL two parsers read differently)."""
    return connect_target(url).host in LOOPBACK_HOSTS


@dataclass(frozen=True, slots=True)
class EndpointGuard:
    """Allows the paper endpoint and loopback; any other host needs `live` and `allow_live` (the env opt-in)."""

    live: bool = False
    allow_live: bool = False

    def check(self, url: str) -> None:
        target = connect_target(url)
        host = target.host
        if host in LOOPBACK_HOSTS:
            return
        if host in PAPER_HOSTS or host in DATA_HOSTS:
            if target.scheme != "https":
                raise Halt(f"refusing {target.scheme}:// to {host}: Alpaca endpoints need https")
            return
        if self.live and self.allow_live:
            log.warning("LIVE endpoint in use: %s", host)
            return
        raise Halt(
            f"refusing endpoint {host!r}: only the paper endpoint or loopback are allowed unless alpaca.live = true "
            "and CUTCYCLE_ALLOW_LIVE=1 are both set"
        )

    def check_request(self, method: str, url: str) -> None:
        """Transport hook: every request (each carries the keys) goes to an allowed host."""
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
