"""Targets to order intents: the one sizing rule backtest and paper share.

`orders_to_reach(target, book, prices)` compares the target with the book at `prices` and returns the intents that
close the gap: shares as market-on-open orders, puts as day limit orders around their mark. Sells come first.
Rules: an equity trade smaller than `rebalance_band` of equity is skipped (except selling a position out
entirely); buys never take the estimated cash below `cash_buffer` of equity; held puts other than the target
contract are sold. Applying the intents at `prices` and asking again yields no intents.

Short stock (R42: the broker exercised a long put without the shares) is covered by this documented rule: the whole
short is bought back market-on-open at the next open, first among the buys, never skipped by the rebalance band and
never cut by the cash buffer (buying it back only removes risk); the target position is then built from zero as usual.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date

from strategies.book import CONTRACT_SIZE, Book, TargetPortfolio
from strategies.intents import OrderIntent
from strategies.options import select_put
from strategies.params import StrategyParams

_MIN_TICK = 0.01


def resolve_puts(target: TargetPortfolio, contracts: Iterable[tuple[str, float, date]], as_of: date) -> TargetPortfolio:
    """Fill in the concrete put contract from a chain with `select_put`; drop the hedge (saying why) if none fits."""
    puts = target.puts
    if puts is None or puts.symbol is not None or puts.contracts == 0:
        return target
    chosen = select_put(puts.spec, contracts, as_of)
    if chosen is None:
        return replace(target, puts=None, reasons=(*target.reasons, "no listed put fits the hedge spec: unhedged"))
    return replace(target, puts=replace(puts, symbol=chosen.symbol))


def _limit(mark: float, side: str, slack: float) -> float:
    price = mark * (1.0 + slack) if side == "buy" else mark * (1.0 - slack)
    return max(_MIN_TICK, round(price, 2))


def orders_to_reach(target: TargetPortfolio, book: Book, prices: Mapping[str, float], params: StrategyParams | None = None) -> list[OrderIntent]:
    """The intents that move `book` to `target` at `prices` (share closes and option marks)."""
    if target.hold:
        return []
    p = params if params is not None else StrategyParams()
    day = target.day
    why = target.reasons[0] if target.reasons else target.regime
    equity = book.equity(prices)
    sells: list[OrderIntent] = []
    option_buys: list[OrderIntent] = []
    cash = book.cash

    # Options: sell every held contract that is not the target; trade the target contract to its count.
    want_symbol = target.puts.symbol if target.puts is not None and target.puts.contracts > 0 else None
    want_qty = target.puts.contracts if target.puts is not None else 0
    if target.puts is not None and target.puts.contracts > 0 and want_symbol is None:
        raise ValueError("the put target has no contract yet: call resolve_puts with a chain first")
    held_options = {pos.symbol: pos for pos in book.options}
    for symbol in sorted(held_options):
        pos = held_options[symbol]
        mark = prices.get(symbol, pos.mark)
        keep = want_qty if symbol == want_symbol else 0
        if pos.qty > keep:
            qty = pos.qty - keep
            sells.append(OrderIntent(day, symbol, "option", "sell", qty, "limit_day", f"close put: {why}", _limit(mark, "sell", p.hedge.limit_slack)))
            cash += qty * CONTRACT_SIZE * mark
    if want_symbol is not None:
        have = held_options[want_symbol].qty if want_symbol in held_options else 0
        if want_qty > have:
            mark = prices[want_symbol]
            qty = want_qty - have
            option_buys.append(OrderIntent(day, want_symbol, "option", "buy", qty, "limit_day", f"buy put: {why}", _limit(mark, "buy", p.hedge.limit_slack)))
            cash -= qty * CONTRACT_SIZE * mark

    # Shares: whole shares toward weight x equity; small trades skipped, selling out never skipped.
    buys: list[tuple[str, int]] = []
    covers: list[OrderIntent] = []
    for symbol in sorted(set(target.weights) | {s for s, q in book.shares.items() if q}):
        price = book.price(symbol, prices)
        held = book.shares.get(symbol, 0)
        if held < 0:
            why_cover = f"cover short {symbol}: short stock is not part of the playbook"
            covers.append(OrderIntent(day, symbol, "equity", "buy", -held, "market_on_open", why_cover, leg=1))
            cash -= -held * price
            held = 0
        weight = target.weight(symbol)
        want = math.floor(weight * equity / price) if weight > 0 and equity > 0 else 0
        diff = want - held
        if diff == 0 or (want > 0 and abs(diff) * price < p.rebalance_band * equity):
            continue
        if diff < 0:
            sells.append(OrderIntent(day, symbol, "equity", "sell", -diff, "market_on_open", f"{symbol} to {weight:.0%}: {why}"))
            cash += -diff * price
        else:
            buys.append((symbol, diff))
    share_buys: list[OrderIntent] = []
    available = cash - p.cash_buffer * equity
    for symbol, diff in buys:
        price = book.price(symbol, prices)
        qty = min(diff, max(0, math.floor(available / price)))
        if qty <= 0:
            continue
        available -= qty * price
        share_buys.append(OrderIntent(day, symbol, "equity", "buy", qty, "market_on_open", f"{symbol} to {target.weight(symbol):.0%}: {why}"))
    return sells + covers + option_buys + share_buys
