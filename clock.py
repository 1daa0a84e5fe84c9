"""The one place that reads wall-clock time.

Everything else receives a `Clock` (or an explicit `as_of`) from the composition root, so a backtest never sees
real time and a simulated paper session can jump from job to job. All times are timezone-aware UTC; New York time
appears only at the calendar and scheduling edge.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


class Clock(Protocol):
    """A source of the current instant (UTC, aware)."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time: the paper trader's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to: tests and simulated sessions."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        instant = ensure_utc(instant)
        if instant < self._now:
            raise ValueError(f"a manual clock does not go backwards: {instant} < {self._now}")
        self._now = instant

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

    def sleep(self, seconds: float) -> None:
        self.advance(timedelta(seconds=seconds))


def monotonic() -> float:
    """Seconds from an arbitrary origin, for measuring durations and deadlines only."""
    return time.monotonic()


def ensure_utc(instant: datetime) -> datetime:
    """Reject naive datetimes (their zone is a guess) and normalise aware ones to UTC."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: pass a timezone-aware instant")
    return instant.astimezone(UTC)


def new_york(day: str, hhmm: str) -> datetime:
    """The UTC instant of wall time `hhmm` in New York on ISO date `day` (DST handled by zoneinfo)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    local = datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=NEW_YORK)
    return local.astimezone(UTC)
