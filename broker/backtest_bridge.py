"""The backtrader bridge: the only module that imports backtrader.

Each session t: fills from t-1's decision happen at t's open (shares by backtrader as market orders with the
configured slippage and per-share commission; puts by the option ledger at model prices), interest at the bill
rate known at t-1 is credited on the cash held overnight, puts are marked at t's close, the book is recorded
(equity = cash + shares + marked options, checked against backtrader's own value every bar), then the shared
core decides on t's snapshot and its intents are sent for t+1's open. On the last bar nothing is sent:
backtrader would never fill it, and a shorter run must not differ from a longer one before its end.

Cash lives in two places: backtrader's broker (share trades and commissions) and `side_cash` (interest, option
premium, option fees, settlements); the book's cash is their sum. The broker does not check cash at submission:
`orders_to_reach` keeps the estimated cash above a buffer, and a gap up at the open may take it slightly below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from backtest.option_ledger import OptionLedger
from backtest.record import DayRow, RunLog
from signals.snapshot import Snapshot
from strategies.book import CONTRACT_SIZE, Book
from strategies.decide import decide
from strategies.intents import OrderIntent
from strategies.options import synthetic_chain
from strategies.orders import orders_to_reach, resolve_puts
from strategies.params import BacktestParams, StrategyParams

_CHECK_TOLERANCE = 1e-6


class EquityMismatch(AssertionError):
    """The recorded equity disagrees with backtrader's value plus the side ledger: a bug, stop the run."""


@dataclass(slots=True)
class _State:
    """Everything one simulation carries from bar to bar."""

    feeds: dict[str, Any]
    days: Mapping[float, date]  # backtrader's bar stamp -> session day (num2date on every bar costs more than a lookup)
    last_day: date  # the main feed's last session: nothing is sent after it
    vix_open: Mapping[date, float]
    vix_close: Mapping[date, float]
    snapshots: Callable[[date], Snapshot | None]
    strategy: StrategyParams
    ledger: OptionLedger
    log: RunLog
    progress: Callable[[], None] | None
    side_cash: float = 0.0
    rate_pct: float = 0.0
    vix_last: float | None = None
    prev_day: date | None = None
    prev_cash: float = 0.0
    regime: str | None = None
    memory: dict[str, date] = field(default_factory=dict)
    hedge_spend: list[tuple[date, float]] = field(default_factory=list)
    pending_options: list[OrderIntent] = field(default_factory=list)
    orders: dict[int, OrderIntent] = field(default_factory=dict)
    day_fees: float = 0.0
    day_traded: float = 0.0


class _CoreStrategy(bt.Strategy):  # type: ignore[misc]
    """backtrader's side: forwards bars and order notifications to `_State` handlers."""

    params = (("state", None),)

    def prenext(self) -> None:
        # A feed that starts later (a defensive asset) delays next(); trade as soon as the main feed has data.
        if len(self.datas[0]):
            self.next()

    def notify_order(self, order: Any) -> None:
        _on_order(self, self.p.state, order)

    def next(self) -> None:
        _on_bar(self, self.p.state)


def _on_order(strat: Any, s: _State, order: Any) -> None:
    intent = s.orders.get(order.ref)
    if intent is None or order.status in (order.Submitted, order.Accepted):
        return
    day = bt.num2date(order.executed.dt).date() if order.executed.dt else strat.datas[0].datetime.date(0)
    if order.status == order.Completed:
        qty = int(abs(order.executed.size))
        s.day_fees += order.executed.comm
        s.day_traded += qty * order.executed.price
        s.log.fill(intent, day, qty, order.executed.price, order.executed.comm, synthetic=False)
    else:
        s.log.not_filled(intent, day, order.getstatusname().lower(), "backtrader did not fill the order")
    del s.orders[order.ref]


def _on_bar(strat: Any, s: _State) -> None:
    main = s.feeds[s.strategy.symbol].lines
    day = s.days[main.datetime[0]]
    closes = {sym: float(f.lines.close[0]) for sym, f in s.feeds.items() if len(f)}
    spot_open, spot = float(main.open[0]), closes[s.strategy.symbol]
    vix_open = s.vix_open.get(day, s.vix_last)
    vix_close = s.vix_close.get(day, vix_open)
    s.vix_last = vix_close if vix_close is not None else s.vix_last

    interest = rf = 0.0
    if s.prev_day is not None:
        rf = s.rate_pct / 100.0 * (day - s.prev_day).days / 365.0
        interest = s.prev_cash * rf
        s.side_cash += interest

    for intent in s.pending_options:
        fill = s.ledger.fill(intent, day, spot_open, vix_open, s.rate_pct) if vix_open is not None else None
        if fill is None:
            s.log.not_filled(intent, day, "canceled", "the model price did not meet the day limit (or no VIX)")
            continue
        s.side_cash += fill.cash
        s.day_fees += fill.fees
        s.day_traded += intent.qty * CONTRACT_SIZE * fill.price
        if intent.side == "buy":
            s.hedge_spend.append((day, -fill.cash))
        s.log.fill(intent, day, intent.qty, fill.price, fill.fees, synthetic=True)
    s.pending_options = []
    for st in s.ledger.settle_expired(day, spot):
        s.side_cash += st.cash
        s.log.settlement(day, st.symbol, st.qty, st.intrinsic, st.cash)
    options_value = s.ledger.mark(day, spot, s.vix_last, s.rate_pct) if s.vix_last is not None else s.ledger.value()

    broker = strat.broker
    shares = {sym: int(strat.getposition(f).size) for sym, f in s.feeds.items() if len(f)}
    shares_value = sum(q * closes[sym] for sym, q in shares.items())
    cash = broker.getcash() + s.side_cash
    equity = cash + shares_value + options_value
    if abs(broker.getvalue() + s.side_cash + options_value - equity) > _CHECK_TOLERANCE * max(1.0, abs(equity)):
        raise EquityMismatch(f"{day}: broker value {broker.getvalue()} + side {s.side_cash} + options {options_value} != {equity}")
    positions = [] if not s.log.journaled else [
        {"symbol": sym, "asset_class": "equity", "qty": q, "mark": closes[sym], "market_value": q * closes[sym]} for sym, q in sorted(shares.items()) if q
    ] + [
        {
            "symbol": p.symbol,
            "asset_class": "option",
            "qty": p.qty,
            "avg_price": p.avg_price,
            "mark": p.mark,
            "market_value": p.market_value(),
            "synthetic": True,
        }
        for p in s.ledger.positions()
    ]
    iwm_value = shares.get(s.strategy.symbol, 0) * spot
    s.log.day_end(DayRow(day, cash, shares_value, options_value, equity, interest, s.day_fees, s.regime, s.day_traded, iwm_value, rf), positions)
    s.day_fees = s.day_traded = 0.0

    snapshot = s.snapshots(day)
    last_bar = day == s.last_day
    if snapshot is not None:
        _decide_and_send(strat, s, snapshot, day, cash, shares, closes, last_bar)
    s.prev_day, s.prev_cash = day, cash
    if s.progress is not None:
        s.progress()


def _decide_and_send(
    strat: Any, s: _State, snapshot: Snapshot, day: date, cash: float, shares: dict[str, int], closes: dict[str, float], last_bar: bool
) -> None:
    p = s.strategy
    book = Book(cash, {k: v for k, v in shares.items() if v}, s.ledger.positions(), tuple(s.hedge_spend), dict(s.memory), closes)
    target = decide(snapshot, book, p)
    spot = closes[p.symbol]
    if target.puts is not None and target.puts.symbol is None:
        target = resolve_puts(target, synthetic_chain(p.symbol, spot, day, p.hedge.max_dte + 35, p.options), day)
    prices: dict[str, float] = dict(closes)
    prices.update({pos.symbol: pos.mark for pos in book.options})
    if target.puts is not None and target.puts.symbol is not None and target.puts.symbol not in prices:
        vix = s.vix_last if s.vix_last is not None else 0.0
        prices[target.puts.symbol] = s.ledger.price(target.puts.symbol, day, spot, vix, s.rate_pct)
    intents = orders_to_reach(target, book, prices, p)
    s.log.decision(snapshot, target, intents, sent=not last_bar)
    s.memory = dict(target.memory)
    s.regime = target.regime
    if snapshot.market.bill_rate is not None and math.isfinite(snapshot.market.bill_rate):
        s.rate_pct = snapshot.market.bill_rate
    if last_bar:
        return
    for intent in intents:
        if intent.asset_class == "option":
            s.pending_options.append(intent)
            continue
        feed = s.feeds[intent.symbol]
        order = strat.buy(data=feed, size=intent.qty) if intent.side == "buy" else strat.sell(data=feed, size=intent.qty)
        s.orders[order.ref] = intent


class _ArrayFeed(bt.feed.DataBase):  # type: ignore[misc]
    """Daily bars from plain arrays: backtrader's PandasData reads each cell through pandas indexing (slow)."""

    params = (("rows", None),)

    def start(self) -> None:
        super().start()
        self._i = 0

    def _load(self) -> bool:
        stamps, opens, highs, lows, closes, volumes = self.p.rows
        i = self._i
        if i >= len(stamps):
            return False
        lines = self.lines
        lines.datetime[0] = stamps[i]
        lines.open[0] = opens[i]
        lines.high[0] = highs[i]
        lines.low[0] = lows[i]
        lines.close[0] = closes[i]
        lines.volume[0] = volumes[i]
        lines.openinterest[0] = 0.0
        self._i = i + 1
        return True


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def date_numbers(index: pd.DatetimeIndex) -> list[float]:
    """backtrader's date numbers (`bt.date2num`: the proleptic ordinal, as a float) of a daily index, computed on
    the whole array instead of through one `datetime` per bar (the same floats, about 20 times faster).

    Raises ValueError when the index has a time zone or a stamp is not a midnight: one bar per session day."""
    if index.tz is not None:
        raise ValueError("daily bars must be indexed by naive days, not time-zone-aware stamps")
    stamps = index.to_numpy()
    days = stamps.astype("datetime64[D]")
    if (days != stamps).any():
        raise ValueError("daily bars must be indexed by day (midnight stamps)")
    return (days.astype(np.int64) + _EPOCH_ORDINAL).astype(float).tolist()


def _feed(frame: pd.DataFrame, start: date, end: date) -> Any:
    window = frame.loc[(frame.index >= pd.Timestamp(start)) & (frame.index <= pd.Timestamp(end))]
    stamps = date_numbers(pd.DatetimeIndex(window.index))
    cols = [window[c].to_numpy(dtype=float).tolist() for c in ("open", "high", "low", "close", "volume")]
    return _ArrayFeed(rows=(stamps, *cols))


def simulate(
    bars: Mapping[str, pd.DataFrame],
    vix: pd.DataFrame,
    snapshots: Callable[[date], Snapshot | None],
    strategy: StrategyParams,
    costs: BacktestParams,
    log: RunLog,
    *,
    start: date,
    end: date,
    progress: Callable[[], None] | None = None,
    memory: Mapping[str, date] | None = None,
) -> None:
    """Run the shared core over `bars` (daily OHLCV frames indexed by day; the traded ETF first) from `start` to
    `end`, writing everything to `log`. `snapshots(day)` returns what was known after that day's close; `memory` is
    the playbook's memory the first decision reads (none by default)."""
    cerebro = bt.Cerebro(stdstats=False, maxcpus=1)
    symbols = [strategy.symbol, *sorted(s for s in bars if s != strategy.symbol)]
    feeds: dict[str, Any] = {}
    for sym in symbols:
        feeds[sym] = _feed(bars[sym], start, end)
        cerebro.adddata(feeds[sym], name=sym)
    cerebro.broker.setcash(costs.initial_cash)
    cerebro.broker.set_checksubmit(False)
    cerebro.broker.setcommission(commission=costs.commission_per_share, commtype=bt.CommInfoBase.COMM_FIXED, stocklike=True)
    if costs.slippage_bps > 0:
        cerebro.broker.set_slippage_perc(costs.slippage_bps / 10_000.0, slip_open=True, slip_limit=True, slip_match=True, slip_out=False)
    stamps = {stamp for feed in feeds.values() for stamp in feed.p.rows[0]}
    state = _State(
        feeds=feeds,
        days={stamp: date.fromordinal(int(stamp)) for stamp in stamps},  # midnight stamps: the ordinal is the day
        last_day=max((date.fromordinal(int(stamp)) for stamp in feeds[strategy.symbol].p.rows[0]), default=end),
        vix_open={d.date(): float(v) for d, v in zip(vix.index, vix["open"], strict=True)},
        vix_close={d.date(): float(v) for d, v in zip(vix.index, vix["close"], strict=True)},
        snapshots=snapshots,
        strategy=strategy,
        ledger=OptionLedger(strategy.options, costs),
        log=log,
        progress=progress,
        prev_cash=costs.initial_cash,
        memory=dict(memory or {}),
    )
    cerebro.addstrategy(_CoreStrategy, state=state)
    cerebro.run(runonce=True, preload=True)  # no indicators: the vectorised mode only skips next-mode bookkeeping (same fills, about 10 % faster)
