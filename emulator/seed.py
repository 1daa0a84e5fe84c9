"""Market data for the emulator: seeded random-walk daily bars, a put chain with quotes, or the pack's real bars.

Tests seed exactly what they need; `demo_exchange` seeds IWM and SPY for manual paper runs; `pack_exchange` serves
the pack's IWM and SPY bars (a simulated paper session, the paper soak benchmark). Bars exist ahead of the
emulator's time, but the bars endpoint only shows sessions that have closed.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol

import pandas as pd

from clock import NEW_YORK
from emulator.exchange import Exchange
from emulator.market import Calendar
from emulator.records import Contract, DailyBar, OccSymbol, Quote, iso


def seed_bars(ex: Exchange, symbol: str, start: date, end: date, *, first_open: float, seed: int = 7, daily_vol: float = 0.012) -> None:
    """A seeded random walk of daily bars over the calendar's sessions from `start` to `end`."""
    rng = random.Random(f"{symbol}-{seed}")
    price, bars = first_open, []
    for session in ex.calendar.between(start, end):
        open_ = round(price, 2)
        close = round(open_ * math.exp(rng.gauss(0.0003, daily_vol)), 2)
        high, low = round(max(open_, close) * 1.004, 2), round(min(open_, close) * 0.996, 2)
        bars.append(DailyBar(session.day.isoformat(), open_, high, low, close, float(rng.randint(1_000_000, 5_000_000))))
        price = close * math.exp(rng.gauss(0, daily_vol / 4))
    ex.bars[symbol] = bars


def put_quote(strike: float, spot: float, days: int) -> tuple[float, float]:
    """A rough put price (intrinsic plus a square-root time value) with a spread, for seeding quotes."""
    value = max(strike - spot, 0.0) + 0.4 * spot * 0.2 * math.sqrt(max(days, 1) / 365) * math.exp(-abs(strike - spot) / (0.08 * spot))
    value = max(round(value, 2), 0.05)
    spread = max(round(value * 0.04, 2), 0.02)
    return round(value - spread / 2, 2) or 0.01, round(value + spread / 2, 2)


def seed_put_chain(ex: Exchange, underlying: str, *, as_of: date, spot: float, expirations: list[date], strikes: list[float]) -> list[str]:
    """Put contracts with quotes for every (expiration, strike); returns their OCC symbols."""
    symbols = []
    for expiry in expirations:
        for strike in strikes:
            symbol = str(OccSymbol(underlying, expiry, "put", strike))
            ex.contracts[symbol] = Contract(
                id=str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)), symbol=symbol, underlying_symbol=underlying,
                expiration_date=expiry.isoformat(), type="put", strike_price=strike,
            )
            bid, ask = put_quote(strike, spot, (expiry - as_of).days)
            ex.quotes[symbol] = Quote(bid, ask, iso(ex.now))
            symbols.append(symbol)
    return symbols


def monthly_expirations(calendar: Calendar, start: date, months: int) -> list[date]:
    """Third Fridays (or the session before, on a holiday) for `months` months from `start`."""
    out = []
    year, month = start.year, start.month
    for _ in range(months):
        first = date(year, month, 1)
        friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
        session = calendar.last_session_on_or_before(friday)
        if session is not None and session.day >= start:
            out.append(session.day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def demo_exchange(start: datetime, *, path: Path | None = None, cash: float = 100_000.0) -> Exchange:
    """An exchange with IWM and SPY bars from 2025 to 2027 and a monthly IWM put chain around the start."""
    calendar = Calendar(date(2024, 12, 1), date(2027, 12, 31))
    ex = Exchange(calendar, start=start, cash=cash, path=path)
    if ex.load():
        return ex
    seed_bars(ex, "IWM", date(2025, 1, 2), date(2027, 12, 31), first_open=220.0)
    seed_bars(ex, "SPY", date(2025, 1, 2), date(2027, 12, 31), first_open=590.0, seed=11)
    day = start.date()
    spot = ex.last_close("IWM", day) or 220.0
    strikes = [float(k) for k in range(int(spot * 0.7), int(spot * 1.05), 5)]
    seed_put_chain(ex, "IWM", as_of=day, spot=spot, expirations=monthly_expirations(calendar, day, 6), strikes=strikes)
    for symbol in ("IWM", "SPY"):
        close = ex.last_close(symbol, day)
        if close is not None:
            ex.quotes[symbol] = Quote(round(close - 0.01, 2), round(close + 0.01, 2), iso(ex.now))
    ex.save()
    return ex


class BarSource(Protocol):
    """Daily bars by symbol, indexed by session date, with open/high/low/close/volume columns (`datastore.Store`)."""

    def bars(self, symbol: str) -> pd.DataFrame: ...


PACK_SYMBOLS = ("IWM", "SPY")


def pack_exchange(source: BarSource, start: date, end: date, *, cash: float = 100_000.0, at: datetime | None = None,
                  symbols: tuple[str, ...] = PACK_SYMBOLS) -> Exchange:
    """An exchange for a session from `start` to `end` serving `source`'s real bars (the pack's, from a store).

    The calendar and the bars reach 40 days before `start` (the runner looks back) and past `end`; time starts at
    `at`, by default 18:00 New York the day before `start`. No option chain is seeded: puts find no contract.
    """
    calendar = Calendar(start - timedelta(days=40), end + timedelta(days=60))
    begin = at or datetime.combine(start - timedelta(days=1), time(18, 0), tzinfo=NEW_YORK)
    ex = Exchange(calendar, start=begin, cash=cash)
    first, last = pd.Timestamp(start - timedelta(days=40)), pd.Timestamp(end + timedelta(days=10))
    for symbol in symbols:
        frame = source.bars(symbol)
        window = frame.loc[(frame.index >= first) & (frame.index <= last)]
        days = pd.DatetimeIndex(window.index)
        ex.bars[symbol] = [
            DailyBar(day.date().isoformat(), float(o), float(h), float(lo), float(c), float(v))
            for day, o, h, lo, c, v in zip(days, window["open"], window["high"], window["low"], window["close"], window["volume"], strict=True)
        ]
    return ex
