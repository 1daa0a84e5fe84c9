"""Trading sessions: Alpaca's /v2/calendar when it answers, exchange_calendars XNYS otherwise.

Alpaca gives naive "HH:MM" times that mean New York; they are localized here. Every session is returned as UTC
open/close instants, so half days (13:00 ET close) and DST are handled once, at this edge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clock import NEW_YORK
from datastore.sessions import nyse_calendar

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Session:
    day: date
    open: datetime  # UTC
    close: datetime  # UTC

    @property
    def early_close(self) -> bool:
        return self.close.astimezone(NEW_YORK).hour < 16


# A source of sessions for an inclusive date range (e.g. the Alpaca adapter's calendar call).
SessionSource = Callable[[date, date], Sequence[Session]]


def session_from_naive(day: date, open_hhmm: str, close_hhmm: str) -> Session:
    """Build a session from Alpaca-style naive New York times."""

    def at(hhmm: str) -> datetime:
        hour, minute = (int(p) for p in hhmm.split(":")[:2])
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)

    return Session(day, at(open_hhmm), at(close_hhmm))


def xnys_sessions(start: date, end: date) -> list[Session]:
    """The offline fallback: exchange_calendars' XNYS (start passed explicitly)."""
    cal = nyse_calendar(end.year + 1)
    out = []
    for label in cal.sessions_in_range(start.isoformat(), end.isoformat()):
        out.append(Session(label.date(), cal.session_open(label).to_pydatetime(), cal.session_close(label).to_pydatetime()))
    return out


class TradingCalendar:
    """Sessions from a primary source with the XNYS fallback; cached per range."""

    def __init__(self, primary: SessionSource | None = None) -> None:
        self._primary = primary
        self._cache: dict[date, Session] = {}
        self._covered: set[tuple[date, date]] = set()
        self.source = "exchange_calendars"

    def _load(self, start: date, end: date) -> None:
        if (start, end) in self._covered:
            return
        sessions: Sequence[Session] | None = None
        if self._primary is not None:
            try:
                sessions = self._primary(start, end)
                self.source = "alpaca"
            except Exception as exc:  # any transport failure: the offline calendar is the documented fallback
                log.warning("broker calendar unavailable (%s): using exchange_calendars XNYS", type(exc).__name__)
        if sessions is None:
            sessions = xnys_sessions(start, end)
            self.source = "exchange_calendars"
        for s in sessions:
            self._cache[s.day] = s
        self._covered.add((start, end))

    def sessions(self, start: date, end: date) -> list[Session]:
        self._load(start, end)
        return [self._cache[d] for d in sorted(self._cache) if start <= d <= end]

    def session(self, day: date) -> Session | None:
        self._load(day - timedelta(days=7), day + timedelta(days=40))
        return self._cache.get(day)

    def next_session(self, after: date) -> Session:
        for s in self.sessions(after + timedelta(days=1), after + timedelta(days=15)):
            return s
        raise LookupError(f"no session within 15 days after {after}")

    def previous_session(self, before: date) -> Session:
        found = self.sessions(before - timedelta(days=15), before - timedelta(days=1))
        if not found:
            raise LookupError(f"no session within 15 days before {before}")
        return found[-1]

    def last_closed(self, now: datetime) -> Session:
        """The latest session whose close is at or before `now`."""
        today = now.astimezone(NEW_YORK).date()
        s = self.session(today)
        if s is not None and s.close <= now:
            return s
        return self.previous_session(today)
