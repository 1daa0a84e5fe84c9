"""Alpaca daily bars through alpaca-py, spliced onto the pack's history on one adjustment basis.

Bars are requested with `adjustment="all"` (splits and dividends, as of today) and an explicit feed. The pack's
ETF prices are adjusted as of its download date, so appending new bars to them would mix two bases (the trap the
pack's PROVENANCE describes). Instead the older history is rescaled by the ratio of the two bases on the first
overlapping session, after checking that both tell the same daily returns over the overlap; if they do not, the
splice is refused and the store keeps what it had.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd

from clock import NEW_YORK, Clock
from datastore.errors import DataError, SourceUnavailable
from datastore.price_checks import check_bars
from datastore.sessions import close_instants
from datastore.store import Store

log = logging.getLogger(__name__)

MAX_OVERLAP_RETURN_GAP = 0.002  # largest daily-return disagreement tolerated between pack and Alpaca
MIN_OVERLAP_SESSIONS = 20


class BarsClient(Protocol):
    """The part of alpaca-py's StockHistoricalDataClient (raw_data=True) used here."""

    def get_stock_bars(self, request_params: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class BarsResult:
    symbol: str
    ok: bool
    rows: int
    message: str


def fetch_daily_bars(client: BarsClient, symbol: str, start: date, end: date, feed: str) -> pd.DataFrame:
    """Daily bars (index: session date) with open, high, low, close, volume; adjusted for splits and dividends."""
    from alpaca.data.enums import Adjustment, DataFeed
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame

    request = StockBarsRequest(
        symbol_or_symbols=[symbol],
        timeframe=TimeFrame.Day,
        start=datetime(start.year, start.month, start.day, tzinfo=NEW_YORK),
        end=datetime(end.year, end.month, end.day, 23, 59, tzinfo=NEW_YORK),
        adjustment=Adjustment.ALL,
        feed=DataFeed(feed),
    )
    try:
        raw = client.get_stock_bars(request)
    except Exception as exc:  # the SDK raises requests/APIError types; translate at this edge
        raise SourceUnavailable(f"Alpaca bars for {symbol}: {type(exc).__name__}: {str(exc)[:160]}", status=getattr(exc, "status", None)) from None
    rows = (raw or {}).get(symbol) or []
    records = []
    for item in rows:
        try:
            day = pd.Timestamp(item["t"]).tz_convert(NEW_YORK).date()
            records.append((day, float(item["o"]), float(item["h"]), float(item["l"]), float(item["c"]), float(item.get("v") or 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed bar from Alpaca: {item!r:.120} ({exc})", series=symbol) from None
    frame = pd.DataFrame(records, columns=["day", "open", "high", "low", "close", "volume"]).set_index("day")
    if frame.index.has_duplicates or not frame.index.is_monotonic_increasing:
        raise DataError("Alpaca returned duplicate or unsorted sessions", series=symbol)
    if (frame[["open", "high", "low", "close"]] <= 0).any().any():
        raise DataError("Alpaca returned a non-positive price", series=symbol)
    return frame


def splice(history: pd.DataFrame, recent: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Older `history` rescaled onto `recent`'s adjustment basis, then `recent` from its first session on."""
    if history.empty:
        return recent
    overlap = history.index.intersection(recent.index)
    if len(overlap) < MIN_OVERLAP_SESSIONS:
        raise DataError(f"only {len(overlap)} sessions overlap the stored history; need {MIN_OVERLAP_SESSIONS} to splice", series=symbol)
    gap = (history.loc[overlap, "close"].pct_change() - recent.loc[overlap, "close"].pct_change()).abs().max()
    if gap > MAX_OVERLAP_RETURN_GAP:
        raise DataError(f"stored and Alpaca daily returns disagree by {gap:.4f} over the overlap: not spliced", series=symbol)
    first = recent.index[0]
    anchor = overlap[0]
    factor = recent.loc[anchor, "close"] / history.loc[anchor, "close"]
    older = history[history.index < first].copy()
    for col in ("open", "high", "low", "close"):
        older[col] = older[col] * factor
    spliced: pd.DataFrame = pd.concat([older[recent.columns], recent])
    return spliced


def sync_bars(
    store: Store, client: BarsClient, symbol: str, start: date, feed: str, clock: Clock, close_time: str, *, etf: bool = True
) -> BarsResult:
    """Fetch `symbol` from `start` to today, check it (`datastore.price_checks.check_bars`), splice onto the stored
    history, replace the dataset atomically."""
    now = clock.now()
    try:
        recent = fetch_daily_bars(client, symbol, start, now.astimezone(NEW_YORK).date(), feed)
        if recent.empty:
            return BarsResult(symbol, False, 0, "Alpaca returned no bars")
        check_bars(symbol, list(recent.index), [float(c) for c in recent["close"]], etf=etf)
        stored = store.bars(symbol) if store.dataset(f"bars:{symbol}") else pd.DataFrame()
        history = stored.drop(columns=["available_at"]).set_axis([d.date() for d in stored.index]) if len(stored) else stored
        merged = splice(history, recent, symbol)
    except (DataError, SourceUnavailable) as exc:
        log.warning("bars %s not updated: %s", symbol, exc)
        return BarsResult(symbol, False, 0, str(exc))
    days = list(merged.index)
    merged["available_at"] = close_instants(days, close_time)
    merged = merged[merged["available_at"] <= now]  # today's bar is not final before the close
    digest = hashlib.sha256(merged[["open", "high", "low", "close"]].round(6).to_csv().encode()).hexdigest()
    with store.transaction():
        store.replace_bars(
            symbol, merged, source="alpaca", origin=f"alpaca bars {feed} (history before {recent.index[0]} rescaled from the store)",
            content_hash=digest, fetched_at=now, vintage=f"split and dividend adjusted as of {now:%Y-%m-%d}",
        )
    return BarsResult(symbol, True, len(merged), f"{len(recent)} sessions from Alpaca ({feed}), {len(merged) - len(recent)} older rescaled")
