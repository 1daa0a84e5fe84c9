"""Price checks at import (R40): a wrong price file stops the import with one clear line, never a silent wrong backtest.

`check_prices` runs over every price file after each was read and validated on its own (`datastore.pack`: dates,
numbers, non-positive or implausible values, bar consistency, file and cell size). It checks what needs the exchange
calendar or another file:

- every NYSE session (exchange_calendars' XNYS, from 1990) between a file's first and last day has a row: a missing
  session would crash a backtest deep inside (an `IntegrityError` on `equity`) or skip a day silently;
- no close moves more than x3 (or /3) in one session (`MAX_DAILY_MOVE`; the largest real move in the pack is the
  VIX's +115 % on 2018-02-05): a one-day x10 spike;
- an ETF with a `reference` index (IWM -> RUT, SPY -> GSPC) does not move more than `MAX_DIVERGENCE` apart from it
  on a day both have (the pack's largest gap is 0.03, 2020-03-18): a split-like -50 % gap with no index move; on a
  day the index lacks (RUT ends 2026-02-20) the ETF alone may not move more than `MAX_ETF_MOVE` (IWM's largest is
  0.14, 2020-03-16).

Each check raises `DataError` naming the file, the symbol and the line. There is no automatic repair: a price that
might be right (a real crash) and a price that is wrong look alike to a program, so a person decides. `check_bars`
applies the session and move checks to bars fetched from Alpaca (`data sync`), naming the symbol and the day: the
stored bars are then kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from config.schema import PriceSpec
from datastore.errors import DataError
from datastore.pack import PriceFile
from nyse import CALENDAR_START, nyse_calendar

MAX_DAILY_MOVE = math.log(3.0)
MAX_DIVERGENCE = 0.15
MAX_ETF_MOVE = 0.25


def _missing_sessions(f: PriceFile) -> None:
    start = max(f.days[0], date.fromisoformat(CALENDAR_START))
    if start > f.days[-1]:
        return
    cal = nyse_calendar(f.days[-1].year + 1)
    sessions = [s.date() for s in cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(f.days[-1]))]
    have = set(f.days)
    missing = [s for s in sessions if s not in have]
    if not missing:
        return
    first = missing[0]
    after = next(i for i, d in enumerate(f.days) if d > first)
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    raise DataError(
        f"NYSE session {first} is missing (between {f.days[after - 1]} and {f.days[after]}){more}: add the row",
        path=str(f.path), series=f.symbol, line=f.lines[after],
    )


def _pct(log_move: float) -> str:
    return f"{math.expm1(log_move):+.1%}"


def _moves(f: PriceFile, spec: PriceSpec, reference: PriceFile | None) -> None:
    ref = dict(zip(reference.days, reference.close, strict=True)) if reference is not None else {}
    for i in range(1, len(f.days)):
        move = math.log(f.close[i] / f.close[i - 1])
        where = {"path": str(f.path), "series": f.symbol, "line": f.lines[i]}
        if abs(move) > MAX_DAILY_MOVE:
            raise DataError(f"close {f.close[i]:g} on {f.days[i]} is {_pct(move)} from {f.close[i - 1]:g} the session before: a one-day spike?", **where)  # type: ignore[arg-type]
        if spec.kind != "etf":
            continue
        today, before = ref.get(f.days[i]), ref.get(f.days[i - 1])
        if today is not None and before is not None:
            index_move = math.log(today / before)
            if abs(move - index_move) > MAX_DIVERGENCE:
                raise DataError(
                    f"close {_pct(move)} on {f.days[i]} while {spec.reference} moved {_pct(index_move)}: a split-like gap? "
                    "(the pack is split- and dividend-adjusted)",
                    **where,  # type: ignore[arg-type]
                )
        elif abs(move) > MAX_ETF_MOVE:
            raise DataError(f"close {_pct(move)} on {f.days[i]} with no index to confirm it: a split-like gap?", **where)  # type: ignore[arg-type]


def check_prices(files: Mapping[str, PriceFile], specs: Mapping[str, PriceSpec]) -> None:
    """Raise `DataError` (file, symbol, line) for the first price file that fails a check."""
    for symbol, f in files.items():
        spec = specs[symbol]
        if spec.reference and spec.reference not in files:
            raise DataError(f"prices.{symbol}.reference = {spec.reference!r} is not a symbol in [prices] ({sorted(files)})", series=symbol)
        _missing_sessions(f)
        _moves(f, spec, files.get(spec.reference) if spec.reference else None)


def check_bars(symbol: str, days: list[date], closes: list[float], *, etf: bool) -> None:
    """Bars from a remote source: no NYSE session missing between the first and last day, no one-day spike, and for an
    ETF no move beyond `MAX_ETF_MOVE` (there is no index to confirm it)."""
    if not days:
        return
    fake = PriceFile(symbol, Path(f"{symbol} bars from the source"), "", days, closes, closes, closes, closes, [0.0] * len(days), list(range(1, len(days) + 1)))
    try:
        _missing_sessions(fake)
        _moves(fake, PriceSpec(file="", kind="etf" if etf else "index", dividend_adjusted=etf), None)
    except DataError as exc:
        line = exc.line
        day = days[line - 1] if line is not None and 0 < line <= len(days) else None
        raise DataError(f"{str(exc).split(': ', 1)[-1]}{f' (bar of {day})' if day else ''}", series=symbol) from None
