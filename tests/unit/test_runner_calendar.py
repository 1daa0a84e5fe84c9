"""The runner's trading calendar: one source call per calendar year, a bounded number of years held."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest

from clock import NEW_YORK, ManualClock
from runner.calendar import Session, TradingCalendar, session_from_naive, xnys_sessions


class CountingSource:
    """The XNYS calendar, counting the ranges it is asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[date, date]] = []

    def __call__(self, start: date, end: date) -> Sequence[Session]:
        self.asked.append((start, end))
        return xnys_sessions(start, end)


def test_a_long_run_asks_once_a_year_and_holds_a_bounded_calendar() -> None:
    source = CountingSource()
    cal = TradingCalendar(source, keep_years=3)
    day = date(2021, 1, 4)
    while day <= date(2025, 12, 31):  # what the jobs ask, every day for five years
        cal.session(day)
        cal.sessions(day - timedelta(days=6), day)
        if cal.session(day) is not None:
            cal.previous_session(day)
            cal.next_session(day)
        assert len(cal._years) <= 3
        day += timedelta(days=1)
    # Each year once, whole: 2020 for the first lookback, 2026 for the next session after the last day.
    assert sorted(source.asked) == [(date(y, 1, 1), date(y, 12, 31)) for y in range(2020, 2027)]


def test_answers_match_the_exchange_calendar_across_new_year() -> None:
    cal = TradingCalendar(CountingSource())
    truth = {s.day: s for s in xnys_sessions(date(2023, 12, 1), date(2024, 1, 31))}
    assert cal.sessions(date(2023, 12, 20), date(2024, 1, 10)) == [s for d, s in sorted(truth.items()) if date(2023, 12, 20) <= d <= date(2024, 1, 10)]
    assert cal.previous_session(date(2024, 1, 2)) == truth[date(2023, 12, 29)]
    assert cal.next_session(date(2023, 12, 29)) == truth[date(2024, 1, 2)]
    assert cal.session(date(2024, 1, 1)) is None  # New Year's Day


def test_keep_years_must_cover_a_new_year_lookback() -> None:
    with pytest.raises(ValueError, match="keep_years"):
        TradingCalendar(keep_years=1)


class AnnouncedClosure:
    """A broker calendar that closes `day` once `announced` is set (2025-01-09 was announced on 2024-12-31)."""

    def __init__(self, day: date) -> None:
        self.day, self.announced, self.asked = day, False, 0

    def __call__(self, start: date, end: date) -> Sequence[Session]:
        self.asked += 1
        found = xnys_sessions(start, end)
        if not self.announced and start <= self.day <= end and all(s.day != self.day for s in found):
            found = sorted([*found, session_from_naive(self.day, "09:30", "16:00")], key=lambda s: s.day)
        return found


def test_a_closure_the_broker_announces_later_reaches_a_long_running_calendar_within_a_day() -> None:
    source = AnnouncedClosure(date(2025, 1, 9))
    clock = ManualClock(datetime(2025, 1, 2, 13, 0, tzinfo=NEW_YORK))
    cal = TradingCalendar(source, clock=clock)
    assert cal.session(date(2025, 1, 9)) is not None  # the calendar as the broker gave it on January 2nd
    source.announced = True
    clock.advance(timedelta(hours=6))
    assert cal.session(date(2025, 1, 9)) is not None and source.asked == 1  # cached: not asked on every call
    clock.advance(timedelta(hours=7))  # the next morning
    assert cal.session(date(2025, 1, 9)) is None and source.asked == 2
    assert cal.next_session(date(2025, 1, 8)).day == date(2025, 1, 10)


def test_a_failed_reload_keeps_the_brokers_last_answer_and_asks_again_soon() -> None:
    calls: list[date] = []
    broken = {"now": False}

    def source(start: date, end: date) -> Sequence[Session]:
        calls.append(start)
        if broken["now"]:
            raise ConnectionError("broker down")
        return [s for s in xnys_sessions(start, end) if s.day != date(2025, 1, 9)]

    clock = ManualClock(datetime(2025, 1, 2, 13, 0, tzinfo=NEW_YORK))
    cal = TradingCalendar(source, clock=clock, max_age=timedelta(hours=12), retry_after=timedelta(minutes=15))
    assert cal.session(date(2025, 1, 9)) is None
    broken["now"] = True
    clock.advance(timedelta(hours=13))
    assert cal.session(date(2025, 1, 9)) is None  # not the XNYS fallback's opinion: the broker's last word stands
    assert len(calls) == 2
    clock.advance(timedelta(minutes=5))
    cal.session(date(2025, 1, 10))
    assert len(calls) == 2  # no call per lookup while the broker is down
    broken["now"] = False
    clock.advance(timedelta(minutes=11))
    cal.session(date(2025, 1, 10))
    assert len(calls) == 3 and cal.source == "alpaca"
