"""Trading sessions: Alpaca's /v2/calendar when it answers, exchange_calendars XNYS otherwise.

Alpaca gives naive "HH:MM" times that mean New York; they are localized here. Every session is returned as UTC
open/close instants, so half days (13:00 ET close) and DST are handled once, at this edge.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clock import NEW_YORK, Clock
from nyse import nyse_calendar

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
    """Sessions from a primary source with the XNYS fallback, loaded and cached a calendar year at a time.

    One request per year, not one per range asked for; at most `keep_years` years are held (the least recently
    used is dropped first), so a process that runs for years holds a calendar of bounded size.

    With a `clock`, a held year is asked for again once it is `max_age` old: the broker announces closures days
    ahead (2018-12-05, 2025-01-09), and a calendar loaded in January must not schedule jobs on them. A failed
    reload keeps what is held and tries again after `retry_after`; a year that came from the XNYS fallback is
    asked of the broker again after `retry_after` too.
    """

    def __init__(self, primary: SessionSource | None = None, *, keep_years: int = 3, clock: Clock | None = None,
                 max_age: timedelta = timedelta(hours=12), retry_after: timedelta = timedelta(minutes=15)) -> None:
        if keep_years < 2:
            raise ValueError("keep_years must be >= 2: a lookback across New Year spans two years")
        self._primary = primary
        self._keep_years = keep_years
        self._clock = clock
        self._max_age, self._retry_after = max_age, retry_after
        self._years: OrderedDict[int, dict[date, Session]] = OrderedDict()  # year -> its sessions in date order
        self._expires: dict[int, datetime] = {}  # year -> when to ask the source again (only with a clock)
        self.source = "exchange_calendars"

    def _year(self, year: int) -> dict[date, Session]:
        held = self._years.get(year)
        now = self._clock.now() if self._clock is not None else None
        if held is not None and (now is None or now < self._expires.get(year, now)):
            self._years.move_to_end(year)
            return held
        start, end = date(year, 1, 1), date(year, 12, 31)
        sessions: Sequence[Session] | None = None
        from_primary = False
        if self._primary is not None:
            try:
                sessions = self._primary(start, end)
                self.source, from_primary = "alpaca", True
            except Exception as exc:  # any transport failure: the offline calendar is the documented fallback
                log.warning("broker calendar unavailable (%s): using %s", type(exc).__name__,
                            "the calendar held" if held is not None else "exchange_calendars XNYS")
        if sessions is None and held is not None:
            fresh = held  # a failed reload keeps what the broker said last
        else:
            if sessions is None:
                sessions = xnys_sessions(start, end)
                self.source = "exchange_calendars"
            fresh = {s.day: s for s in sorted(sessions, key=lambda s: s.day) if s.day.year == year}
            if held is not None and fresh != held:
                closed = sorted(set(held) - set(fresh))
                added = sorted(set(fresh) - set(held))
                changed = sorted(d for d in set(held) & set(fresh) if held[d] != fresh[d])
                log.warning("trading calendar %d changed: closed %s, added %s, hours changed %s", year,
                            [d.isoformat() for d in closed], [d.isoformat() for d in added], [d.isoformat() for d in changed])
        if now is not None:
            fresh_for = self._max_age if from_primary or self._primary is None else self._retry_after
            self._expires[year] = now + fresh_for
        self._years[year] = fresh
        self._years.move_to_end(year)
        while len(self._years) > self._keep_years:
            dropped, _ = self._years.popitem(last=False)
            self._expires.pop(dropped, None)
        return fresh

    def sessions(self, start: date, end: date) -> list[Session]:
        out: list[Session] = []
        for year in range(start.year, end.year + 1):
            out.extend(s for day, s in self._year(year).items() if start <= day <= end)
        return out

    def session(self, day: date) -> Session | None:
        return self._year(day.year).get(day)

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
