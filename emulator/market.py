"""The emulator's exchange calendar: NYSE sessions with early closes, from exchange_calendars (offline).

Alpaca's /v2/calendar reports open and close as naive New York wall times; the emulator keeps sessions as aware
UTC instants and renders them naive only at the HTTP edge, exactly as Alpaca does.
"""

from __future__ import annotations

import bisect
import warnings
from dataclasses import dataclass
from datetime import date, datetime

import exchange_calendars as xcals

from clock import NEW_YORK, ensure_utc


@dataclass(frozen=True, slots=True)
class Session:
    """One trading session: its date and its open and close as UTC instants."""

    day: date
    open: datetime
    close: datetime

    @property
    def early_close(self) -> bool:
        return self.close.astimezone(NEW_YORK).hour < 16


class Calendar:
    """NYSE sessions between two dates (both passed explicitly: XNYS's default start is recent)."""

    def __init__(self, start: date, end: date) -> None:
        with warnings.catch_warnings():
            # exchange_calendars trips a pandas 3.1 deprecation about Series.values; harmless here.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray", category=FutureWarning)
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray", category=DeprecationWarning)
            cal = xcals.get_calendar("XNYS", start=start.isoformat(), end=end.isoformat())
        self._index([Session(day=label.date(), open=row.open.to_pydatetime(), close=row.close.to_pydatetime())
                     for label, row in cal.schedule.iterrows()])

    def _index(self, sessions: list[Session]) -> None:
        self.sessions = sorted(sessions, key=lambda s: s.day)
        self._by_day = {s.day: s for s in self.sessions}
        self._opens = [s.open for s in self.sessions]
        self._closes = [s.close for s in self.sessions]

    def set_session(self, day: date, session: Session | None) -> None:
        """Open (`session`) or close (None) one day by hand: a closure announced days ahead, as 2018-12-05 and
        2025-01-09 were, or the calendar as it stood before the announcement."""
        kept = [s for s in self.sessions if s.day != day]
        self._index(kept if session is None else [*kept, session])

    def session(self, day: date) -> Session | None:
        return self._by_day.get(day)

    def between(self, start: date, end: date) -> list[Session]:
        return [s for s in self.sessions if start <= s.day <= end]

    def next_open(self, after: datetime) -> Session | None:
        """The first session whose open is strictly after `after`."""
        i = bisect.bisect_right(self._opens, ensure_utc(after))
        return self.sessions[i] if i < len(self.sessions) else None

    def next_close(self, after: datetime) -> Session | None:
        """The first session whose close is strictly after `after`."""
        i = bisect.bisect_right(self._closes, ensure_utc(after))
        return self.sessions[i] if i < len(self.sessions) else None

    def open_at(self, instant: datetime) -> Session | None:
        """The session in progress at `instant`, if any."""
        session = self.next_close(instant)
        return session if session is not None and session.open <= ensure_utc(instant) else None

    def last_session_on_or_before(self, day: date) -> Session | None:
        days = [s.day for s in self.sessions]
        i = bisect.bisect_right(days, day)
        return self.sessions[i - 1] if i > 0 else None
