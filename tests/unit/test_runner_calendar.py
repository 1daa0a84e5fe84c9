"""The runner's trading calendar: one source call per calendar year, a bounded number of years held."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from runner.calendar import Session, TradingCalendar, xnys_sessions


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
