"""Order intents: what the shared core asks a broker adapter to do. Identical for backtest and paper.

An intent is decided once and never changes; its `client_order_id` is derived from it deterministically so a
restart re-derives the same id and the broker (or the journal) can tell it was already sent.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

Side = Literal["buy", "sell"]
AssetClass = Literal["equity", "option"]
OrderKind = Literal["market_on_open", "limit_day"]

_CLIENT_ID_OK = re.compile(r"^[A-Za-z0-9_-]{1,48}$")
_OCC = re.compile(r"^[A-Z]{1,6}\d{6}[CP]\d{8}$")


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order the core wants: shares at the next open, or an option at a limit for the day."""

    decision_day: date  # the session whose close produced the decision
    symbol: str  # ticker, or an OCC option symbol such as IWM240621P00190000
    asset_class: AssetClass
    side: Side
    qty: int  # whole shares or whole contracts, > 0
    kind: OrderKind
    reason: str  # why, in the trader's words (journaled with the order)
    limit_price: float | None = None  # per share / per option share, for limit_day
    leg: int = 0  # distinguishes several intents for one symbol on one day
    attempt: int = 0  # a re-entry after a cancel gets a new, recorded attempt number (ids are never reused)

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"intent qty must be a positive whole number, got {self.qty}")
        if self.asset_class == "option" and not _OCC.match(self.symbol):
            raise ValueError(f"option intent needs an OCC symbol, got {self.symbol!r}")
        if self.asset_class == "option" and self.kind != "limit_day":
            raise ValueError("options trade with day limit orders only")
        if self.kind == "limit_day":
            if self.limit_price is None or not math.isfinite(self.limit_price) or self.limit_price <= 0:
                raise ValueError(f"limit_day intent needs a positive finite limit_price, got {self.limit_price}")
        elif self.limit_price is not None:
            raise ValueError("a market_on_open intent has no limit_price")

    @property
    def client_order_id(self) -> str:
        """Deterministic, at most 48 characters of [A-Za-z0-9_-]: cc-<day>-<side>-<symbol>-<leg>-<attempt>-<hash>."""
        digest = hashlib.sha256(
            f"{self.decision_day}|{self.symbol}|{self.asset_class}|{self.side}|{self.qty}|{self.kind}|{self.limit_price}|{self.leg}|{self.attempt}".encode()
        ).hexdigest()[:8]
        cid = f"cc-{self.decision_day:%Y%m%d}-{self.side[0]}-{self.symbol}-{self.leg}-{self.attempt}-{digest}"
        if not _CLIENT_ID_OK.match(cid):
            raise ValueError(f"client_order_id {cid!r} breaks the 48-character rule")
        return cid

    def signed_qty(self) -> int:
        return self.qty if self.side == "buy" else -self.qty
