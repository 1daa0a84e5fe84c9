"""The book (what is held) and the target portfolio (where the playbook wants it to be).

Both are plain frozen values so backtest and paper build them the same way: the backtest bridge from its broker and
option ledger, paper trading from Alpaca positions and the journal. `memory` carries the few dates the playbook
must remember between decisions (last tranche, capitulation seen); `decide` returns the next memory in its target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

CONTRACT_SIZE = 100  # shares per listed equity option contract


@dataclass(frozen=True, slots=True)
class OptionPosition:
    """A long put position (whole contracts) with its last mark per option share."""

    symbol: str  # OCC symbol
    underlying: str
    strike: float
    expiry: date
    qty: int  # contracts, > 0
    avg_price: float  # premium paid per option share
    mark: float  # latest mark per option share

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"{self.symbol}: an option position holds a positive number of contracts, got {self.qty}")
        for name in ("strike", "avg_price", "mark"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{self.symbol}: {name} must be finite and >= 0, got {value}")

    def days_to_expiry(self, day: date) -> int:
        return (self.expiry - day).days

    def market_value(self, mark: float | None = None) -> float:
        return self.qty * CONTRACT_SIZE * (self.mark if mark is None else mark)


@dataclass(frozen=True, slots=True)
class Book:
    """Cash, shares and option positions; premium paid recently (for the hedge budget); the playbook's memory.

    Shares may be negative: the playbook never sells short, but the broker can leave short stock behind (a put
    exercised without the shares, R42). It stays in the book so equity is true (the short's value is owed), `decide`
    treats it as no position, and `orders_to_reach` buys it back at the next open (see there)."""

    cash: float
    shares: Mapping[str, int] = field(default_factory=dict)  # negative = short stock left by the broker
    options: tuple[OptionPosition, ...] = ()
    hedge_spend: tuple[tuple[date, float], ...] = ()  # (day, premium + fees paid) for each put purchase
    memory: Mapping[str, date] = field(default_factory=dict)
    marks: Mapping[str, float] = field(default_factory=dict)  # last known share prices (the decision's closes)

    def __post_init__(self) -> None:
        if not math.isfinite(self.cash):
            raise ValueError(f"cash must be finite, got {self.cash}")

    def price(self, symbol: str, prices: Mapping[str, float] | None = None) -> float:
        """`prices[symbol]` when given, else the book's last mark."""
        if prices is not None and symbol in prices:
            return prices[symbol]
        try:
            return self.marks[symbol]
        except KeyError:
            raise KeyError(f"no price for {symbol}: pass it in prices or the book's marks") from None

    def equity(self, prices: Mapping[str, float] | None = None) -> float:
        """Cash + shares + options, at `prices` where given, else at the book's marks."""
        value = self.cash
        for symbol, qty in self.shares.items():
            if qty:
                value += qty * self.price(symbol, prices)
        for pos in self.options:
            value += pos.market_value(None if prices is None else prices.get(pos.symbol))
        return value

    def weight(self, symbol: str, prices: Mapping[str, float] | None = None) -> float:
        """Share of equity held in `symbol` (0 when equity is not positive)."""
        qty = self.shares.get(symbol, 0)
        if not qty:
            return 0.0
        equity = self.equity(prices)
        return qty * self.price(symbol, prices) / equity if equity > 0 else 0.0

    def hedge_spent_since(self, day: date, days: int = 365) -> float:
        """Premium and fees paid for puts over the `days` calendar days up to and including `day`."""
        start = day - timedelta(days=days - 1)
        return sum(amount for when, amount in self.hedge_spend if start <= when <= day)


@dataclass(frozen=True, slots=True)
class PutSpec:
    """The put the playbook wants, before a concrete contract is chosen from a chain."""

    underlying: str
    strike: float  # target strike (dollars)
    target_dte: int
    min_dte: int
    max_dte: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.strike) and self.strike > 0):
            raise ValueError(f"put spec strike must be positive, got {self.strike}")
        if not self.min_dte <= self.target_dte <= self.max_dte:
            raise ValueError("put spec needs min_dte <= target_dte <= max_dte")


@dataclass(frozen=True, slots=True)
class PutTarget:
    """How many put contracts to hold; `symbol` is set when a held contract is kept or a chain has been consulted."""

    contracts: int
    spec: PutSpec
    symbol: str | None = None

    def __post_init__(self) -> None:
        if self.contracts < 0:
            raise ValueError(f"put contracts must be >= 0, got {self.contracts}")


@dataclass(frozen=True, slots=True)
class TargetPortfolio:
    """Where the book should be after the next open: weights of equity per symbol, the put hedge, the reasons."""

    day: date
    regime: str
    weights: Mapping[str, float]
    puts: PutTarget | None  # None: hold no puts
    reasons: tuple[str, ...]
    memory: Mapping[str, date] = field(default_factory=dict)
    hold: bool = False  # True: change nothing (the decision could not be made); orders_to_reach returns no intents

    def __post_init__(self) -> None:
        for symbol, w in self.weights.items():
            if not (math.isfinite(w) and 0.0 <= w <= 1.0):
                raise ValueError(f"target weight for {symbol} must be within [0, 1], got {w}")
        if sum(self.weights.values()) > 1.0 + 1e-9:
            raise ValueError(f"target weights sum above 1: {dict(self.weights)}")

    def weight(self, symbol: str) -> float:
        return self.weights.get(symbol, 0.0)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form for the journal."""
        puts = None
        if self.puts is not None:
            spec = self.puts.spec
            puts = {
                "contracts": self.puts.contracts,
                "symbol": self.puts.symbol,
                "spec": {
                    "underlying": spec.underlying,
                    "strike": spec.strike,
                    "target_dte": spec.target_dte,
                    "min_dte": spec.min_dte,
                    "max_dte": spec.max_dte,
                },
            }
        return {
            "day": self.day.isoformat(),
            "regime": self.regime,
            "weights": dict(sorted(self.weights.items())),
            "puts": puts,
            "reasons": list(self.reasons),
            "memory": {k: v.isoformat() for k, v in sorted(self.memory.items())},
            "hold": self.hold,
        }
