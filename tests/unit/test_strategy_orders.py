"""orders_to_reach: sizing, sells first, the cash floor, and Hypothesis properties shared with paper trading."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.scripted import ScriptedDay, scripted_snapshots
from strategies.book import CONTRACT_SIZE, Book, OptionPosition, PutSpec, PutTarget, TargetPortfolio
from strategies.decide import decide
from strategies.intents import OrderIntent
from strategies.options import occ_symbol, parse_occ, synthetic_chain
from strategies.orders import orders_to_reach, resolve_puts
from strategies.params import StrategyParams

DAY = date(2020, 2, 3)
P = StrategyParams()
SPEC = PutSpec("IWM", 90.0, 90, 60, 130)


def apply(book: Book, intents: list[OrderIntent], prices: Mapping[str, float]) -> Book:
    """Fill every intent at `prices`, without costs (what a perfect broker would do)."""
    cash = book.cash
    shares = dict(book.shares)
    options = {p.symbol: p for p in book.options}
    for it in intents:
        sign = it.signed_qty()
        if it.asset_class == "equity":
            shares[it.symbol] = shares.get(it.symbol, 0) + sign
            cash -= sign * prices[it.symbol]
        else:
            mark = prices.get(it.symbol, options[it.symbol].mark if it.symbol in options else 0.0)
            cash -= sign * mark * CONTRACT_SIZE
            held = options.get(it.symbol)
            qty = (held.qty if held else 0) + sign
            if qty == 0:
                options.pop(it.symbol, None)
            else:
                und, expiry, _, strike = parse_occ(it.symbol)
                options[it.symbol] = OptionPosition(it.symbol, und, strike, expiry, qty, mark, mark)
    return replace(book, cash=cash, shares={s: q for s, q in shares.items() if q}, options=tuple(options.values()))


def target(weights: dict[str, float], puts: PutTarget | None = None) -> TargetPortfolio:
    return TargetPortfolio(DAY, "neutral", weights, puts, ("test",))


def test_buys_whole_shares_within_the_cash_buffer() -> None:
    book = Book(100_000.0)
    intents = orders_to_reach(target({"IWM": 1.0}), book, {"IWM": 150.0})
    assert len(intents) == 1
    it = intents[0]
    assert (it.side, it.kind, it.asset_class) == ("buy", "market_on_open", "equity")
    assert it.qty == 660  # 99 % of $100k at $150
    assert orders_to_reach(target({"IWM": 1.0}), apply(book, intents, {"IWM": 150.0}), {"IWM": 150.0}) == []


def test_small_trades_skipped_but_selling_out_is_not() -> None:
    book = Book(50_000.0, {"IWM": 500})
    assert orders_to_reach(target({"IWM": 0.51}), book, {"IWM": 100.0}) == []
    out = orders_to_reach(target({"IWM": 0.0}), Book(99_900.0, {"IWM": 1}), {"IWM": 100.0})
    assert [(i.side, i.qty) for i in out] == [("sell", 1)]


def test_put_orders_are_limits_and_sells_come_first() -> None:
    expiry = DAY + timedelta(days=40)
    old = OptionPosition(occ_symbol("IWM", expiry, 85.0), "IWM", 85.0, expiry, 2, 1.0, 0.5)
    new_symbol = occ_symbol("IWM", DAY + timedelta(days=95), 90.0)
    book = Book(50_000.0, {"IWM": 500}, (old,))
    intents = orders_to_reach(target({"IWM": 0.5}, PutTarget(5, SPEC, new_symbol)), book, {"IWM": 100.0, new_symbol: 2.0})
    assert [(i.symbol, i.side, i.qty) for i in intents] == [(old.symbol, "sell", 2), (new_symbol, "buy", 5)]
    assert intents[0].limit_price == 0.45 and intents[1].limit_price == 2.2


def test_resolve_puts_uses_the_shared_selection_rule() -> None:
    t = target({"IWM": 0.3}, PutTarget(3, SPEC))
    chain = synthetic_chain("IWM", 100.0, DAY, 200, P.options)
    resolved = resolve_puts(t, chain, DAY)
    assert resolved.puts is not None and resolved.puts.symbol is not None
    assert parse_occ(resolved.puts.symbol)[3] == 90.0
    assert resolve_puts(t, [], DAY).puts is None


def test_short_stock_left_by_an_exercised_put_is_covered_first_whatever_the_cash() -> None:
    """R42: long IWM puts exercised without shares leave IWM -200 and the sale's cash. The book's equity is the true one
    (cash minus what the short owes), the playbook sees no IWM, and the whole short is bought back at the next open before
    the target is built, even when the cash buffer would stop an ordinary buy."""
    book = Book(100_000.0 + 200 * 240.0, {"IWM": -200}, marks={"IWM": 240.0})
    assert book.equity() == 100_000.0
    intents = orders_to_reach(target({"IWM": 0.5}), book, {"IWM": 240.0})
    assert [(i.side, i.qty, i.reason.split(":")[0]) for i in intents] == [("buy", 200, "cover short IWM"), ("buy", 208, "IWM to 50%")]
    assert len({i.client_order_id for i in intents}) == 2
    after = apply(book, intents, {"IWM": 240.0})
    assert after.shares == {"IWM": 208} and orders_to_reach(target({"IWM": 0.5}), after, {"IWM": 240.0}) == []
    broke = Book(1_000.0, {"IWM": -200}, marks={"IWM": 240.0})  # equity negative: no buy is affordable, the cover still goes
    assert [(i.side, i.qty) for i in orders_to_reach(target({"IWM": 0.0}), broke, {"IWM": 240.0})] == [("buy", 200)]


def test_decide_sees_short_stock_as_no_position() -> None:
    entry = ScriptedDay(DAY, "recession_risk", "on_hold", DAY - timedelta(days=30), 40, False)
    snap = scripted_snapshots([DAY], {DAY: 240.0}, {DAY: 20.0}, [entry], bill_rate=3.0)[0]
    t = decide(snap, Book(148_000.0, {"IWM": -200}, marks={"IWM": 240.0}), P)
    assert t.weights["IWM"] == 0.0  # "cut to at most the cap" of a short is no IWM, never a negative weight


def test_hold_target_trades_nothing() -> None:
    t = TargetPortfolio(DAY, "neutral", {}, None, ("no price",), hold=True)
    assert orders_to_reach(t, Book(1_000.0, {"IWM": 10}), {"IWM": 10.0}) == []


prices_st = st.floats(5.0, 500.0)
weights_st = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)).map(lambda w: (w[0], min(w[1], 1.0 - w[0])))


@settings(max_examples=300, deadline=None)
@given(
    cash=st.floats(0.0, 1_000_000.0),
    iwm=st.integers(-3_000, 5_000),  # negative: short stock the broker left (a put exercised without shares, R42)
    spy=st.integers(0, 2_000),
    iwm_price=prices_st,
    spy_price=prices_st,
    weights=weights_st,
    put_qty=st.integers(0, 20),
    held_put=st.integers(0, 20),
    mark=st.floats(0.0, 30.0),
)
def test_orders_to_reach_is_idempotent(
    cash: float, iwm: int, spy: int, iwm_price: float, spy_price: float, weights: tuple[float, float], put_qty: int, held_put: int, mark: float
) -> None:
    expiry = DAY + timedelta(days=80)
    symbol = occ_symbol("IWM", expiry, 90.0)
    options = (OptionPosition(symbol, "IWM", 90.0, expiry, held_put, mark, mark),) if held_put else ()
    book = Book(cash, {s: q for s, q in (("IWM", iwm), ("SPY", spy)) if q}, options)
    prices = {"IWM": iwm_price, "SPY": spy_price, symbol: mark}
    t = target({"IWM": weights[0], "SPY": weights[1]}, PutTarget(put_qty, SPEC, symbol))
    first = orders_to_reach(t, book, prices)
    after = apply(book, first, prices)
    assert orders_to_reach(t, after, prices) == []
    assert all(i.qty > 0 for i in first)
    sides = [i.side for i in first]
    assert sides == sorted(sides, key=lambda s: s != "sell")  # sells first


regimes = st.sampled_from(["soft_landing", "recession_risk", "crisis", "late_cuts", "tightening", "neutral"])
phases = st.sampled_from(["tightening", "on_hold", "cutting_early", "pause", "cutting_later"])


@settings(max_examples=300, deadline=None)
@given(
    regime=regimes,
    phase=phases,
    close=st.floats(10.0, 400.0),
    vix=st.floats(9.0, 90.0),
    cash=st.floats(0.0, 500_000.0),
    shares=st.integers(-3_000, 3_000),
    days_to_meeting=st.one_of(st.none(), st.integers(0, 120)),
    expected=st.one_of(st.none(), st.booleans()),
    budget_spent=st.floats(0.0, 20_000.0),
)
def test_decide_weights_and_hedge_stay_in_bounds(
    regime: str,
    phase: str,
    close: float,
    vix: float,
    cash: float,
    shares: int,
    days_to_meeting: int | None,
    expected: bool | None,
    budget_spent: float,
) -> None:
    entry = ScriptedDay(DAY, regime, phase, DAY - timedelta(days=30), days_to_meeting, expected)
    snap = scripted_snapshots([DAY], {DAY: close}, {DAY: vix}, [entry], bill_rate=3.0)[0]
    book = Book(cash, {"IWM": shares} if shares else {}, hedge_spend=((DAY, budget_spent),), marks={"IWM": close})
    t = decide(snap, book, P)
    assert all(0.0 <= w <= P.max_iwm_weight for w in t.weights.values())
    assert sum(t.weights.values()) <= 1.0 + 1e-9
    equity = book.equity()
    if t.puts is not None and t.puts.symbol is None and equity > 0:
        assert t.puts.contracts * CONTRACT_SIZE * t.puts.spec.strike <= P.hedge.max_notional * equity + 1e-6
        assert t.puts.contracts * CONTRACT_SIZE <= t.weight("IWM") * equity / close * P.hedge.hedge_ratio + 1e-6
