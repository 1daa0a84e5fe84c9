"""Puts on Alpaca: pick a contract from the (paged) option-contracts endpoint and price a day limit near the mid.

The choice itself is the decision core's `strategies.options.select_put`, the rule the backtest uses; this module
only fetches what it needs (every page of contracts in the expiry window, the latest quote) and builds the intent.
"""

from __future__ import annotations

from datetime import date, timedelta

from broker.alpaca.reads import AlpacaReads
from broker.contract import SkipCycle
from strategies.book import PutSpec
from strategies.intents import OrderIntent
from strategies.options import select_put


def limit_near_mid(bid: float | None, ask: float | None) -> float | None:
    """The mid rounded to the option tick ($0.01 under $3, $0.05 above); None without a two-sided quote."""
    if bid is None or ask is None or ask < bid:
        return None
    mid = (bid + ask) / 2
    tick = 0.01 if mid < 3 else 0.05
    price = round(round(mid / tick) * tick, 2)
    return price if price > 0 else None


def put_intent(reads: AlpacaReads, spec: PutSpec, *, as_of: date, qty: int, decision_day: date, reason: str, leg: int = 0,
               attempt: int = 0) -> OrderIntent:
    """A buy-to-open day limit order for the put `select_put` picks from Alpaca's listed contracts."""
    contracts = reads.put_contracts(spec.underlying, expires_from=as_of + timedelta(days=spec.min_dte),
                                    expires_to=as_of + timedelta(days=spec.max_dte))
    listed = [(c.symbol, c.strike, c.expiration) for c in contracts if c.tradable]
    chosen = select_put(spec, listed, as_of)
    if chosen is None:
        raise SkipCycle(f"no tradable {spec.underlying} put expiring in {spec.min_dte}-{spec.max_dte} days ({len(contracts)} listed)")
    price = limit_near_mid(*reads.option_quote(chosen.symbol))
    if price is None:
        raise SkipCycle(f"{chosen.symbol}: no two-sided quote to price a limit order")
    return OrderIntent(decision_day=decision_day, symbol=chosen.symbol, asset_class="option", side="buy", qty=qty, kind="limit_day",
                       reason=reason, limit_price=price, leg=leg, attempt=attempt)
