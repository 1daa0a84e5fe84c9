"""The simulated put book, kept outside backtrader (which has no options): model fills, daily marks, expiry.

Every price here is synthetic: Black–Scholes on the dividend-adjusted IWM price with IV from VIX (see
`strategies.options`). Fills happen at the session after the decision, priced from that session's IWM and VIX
opens; buys pay mid x (1 + haircut), sells get mid x (1 - haircut), plus a fee per contract; a day limit that
the model price does not meet is cancelled. Puts still open on their expiry day settle at intrinsic value at
that day's close (or the first close after it when expiry is not a session).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from strategies.book import CONTRACT_SIZE, OptionPosition
from strategies.intents import OrderIntent
from strategies.options import parse_occ, put_mid
from strategies.params import BacktestParams, OptionModelParams


@dataclass(frozen=True, slots=True)
class OptionFill:
    """A model fill: `cash` is the signed cash flow (premium and fees), `price` per option share."""

    intent: OrderIntent
    day: date
    price: float
    fees: float
    cash: float


@dataclass(frozen=True, slots=True)
class Settlement:
    """A put that reached expiry: settled at intrinsic value."""

    symbol: str
    day: date
    qty: int
    intrinsic: float
    cash: float


class OptionLedger:
    """Open puts and their marks. Not thread-safe; one per simulation."""

    def __init__(self, model: OptionModelParams, costs: BacktestParams) -> None:
        self._model = model
        self._costs = costs
        self._positions: dict[str, OptionPosition] = {}

    def positions(self) -> tuple[OptionPosition, ...]:
        return tuple(self._positions[s] for s in sorted(self._positions))

    def value(self) -> float:
        return sum(p.market_value() for p in self._positions.values())

    def price(self, symbol: str, day: date, spot: float, vix: float, rate_pct: float) -> float:
        """Model mid per option share for any put symbol on `day`."""
        _, expiry, _, strike = parse_occ(symbol)
        return put_mid(spot, strike, day, expiry, vix, rate_pct, self._model)

    def fill(self, intent: OrderIntent, day: date, spot: float, vix: float, rate_pct: float) -> OptionFill | None:
        """Execute a day limit order at the model price of `day`'s open; None when the limit is not met."""
        mid = self.price(intent.symbol, day, spot, vix, rate_pct)
        h = self._costs.option_haircut
        price = mid * (1.0 + h) if intent.side == "buy" else mid * (1.0 - h)
        limit = intent.limit_price if intent.limit_price is not None else 0.0
        if (intent.side == "buy" and price > limit) or (intent.side == "sell" and price < limit):
            return None
        fees = self._costs.option_fee_per_contract * intent.qty
        held = self._positions.get(intent.symbol)
        if intent.side == "sell":
            if held is None or held.qty < intent.qty:
                raise ValueError(f"{day}: selling {intent.qty} {intent.symbol} but holding {0 if held is None else held.qty}")
            left = held.qty - intent.qty
            if left:
                self._positions[intent.symbol] = OptionPosition(held.symbol, held.underlying, held.strike, held.expiry, left, held.avg_price, mid)
            else:
                del self._positions[intent.symbol]
            cash = intent.qty * CONTRACT_SIZE * price - fees
        else:
            underlying, expiry, _, strike = parse_occ(intent.symbol)
            qty = intent.qty + (held.qty if held else 0)
            paid = intent.qty * price + (held.qty * held.avg_price if held else 0.0)
            self._positions[intent.symbol] = OptionPosition(intent.symbol, underlying, strike, expiry, qty, paid / qty, mid)
            cash = -(intent.qty * CONTRACT_SIZE * price + fees)
        return OptionFill(intent, day, price, fees, cash)

    def settle_expired(self, day: date, spot_close: float) -> list[Settlement]:
        """Settle every put whose expiry is on or before `day` at intrinsic value against `spot_close`."""
        out = []
        for symbol in sorted(self._positions):
            pos = self._positions[symbol]
            if pos.expiry <= day:
                intrinsic = max(pos.strike - spot_close, 0.0)
                out.append(Settlement(symbol, day, pos.qty, intrinsic, pos.qty * CONTRACT_SIZE * intrinsic))
                del self._positions[symbol]
        return out

    def mark(self, day: date, spot: float, vix: float, rate_pct: float) -> float:
        """Re-mark every open put at `day`'s close; returns the book's option value."""
        for symbol, pos in list(self._positions.items()):
            mid = put_mid(spot, pos.strike, day, pos.expiry, vix, rate_pct, self._model)
            self._positions[symbol] = OptionPosition(pos.symbol, pos.underlying, pos.strike, pos.expiry, pos.qty, pos.avg_price, mid)
        return self.value()
