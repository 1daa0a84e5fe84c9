"""Release rules: the moment (UTC) each observation of a series became known.

A rule from `config/default.toml` maps a period to its publication instant in New York time; known exceptions
(shutdown delays) come from `release_overrides`. "Business day" is a US federal business day: the statistical
agencies and the Fed publish on federal working days, not on NYSE sessions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

from clock import NEW_YORK
from config.schema import (
    DaysAfter,
    EmploymentSituation,
    LabelOnly,
    MonthDay,
    MonthLastBusinessDay,
    NextBusinessDay,
    SameDay,
    SeriesSpec,
)


class LabelOnlySeries(Exception):
    """A series that labels history (NBER recessions) was asked for as a point-in-time input."""


@lru_cache(maxsize=1)
def _federal_holidays() -> frozenset[date]:
    days = USFederalHolidayCalendar().holidays(start="1900-01-01", end="2100-12-31")
    return frozenset(d.date() for d in days)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _federal_holidays()


def next_business_day(day: date) -> date:
    """The first business day strictly after `day`."""
    nxt = day + timedelta(days=1)
    while not is_business_day(nxt):
        nxt += timedelta(days=1)
    return nxt


def on_or_after_business_day(day: date) -> date:
    return day if is_business_day(day) else next_business_day(day)


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    return date(day.year + month0 // 12, month0 % 12 + 1, 1)


def last_business_day_of_month(first: date) -> date:
    day = _add_months(first, 1) - timedelta(days=1)
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def employment_situation_day(period: date) -> date:
    """Third Friday after the reference week (Sunday-Saturday week holding the 12th), per BLS practice."""
    twelfth = date(period.year, period.month, 12)
    saturday = twelfth + timedelta(days=(5 - twelfth.weekday()) % 7)
    first_friday = saturday + timedelta(days=6)
    return first_friday + timedelta(days=14)


def _at(day: date, hhmm: str) -> datetime:
    hour, minute = (int(p) for p in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def release_instant(spec: SeriesSpec, period: date) -> datetime:
    """When the value of `period` became known (UTC). Raises LabelOnlySeries for history-only series."""
    override = spec.release_overrides.get(period.isoformat())
    if override is not None:
        return datetime.fromisoformat(override).replace(tzinfo=NEW_YORK).astimezone(UTC)
    rule = spec.release
    if isinstance(rule, NextBusinessDay):
        return _at(next_business_day(period), rule.time)
    if isinstance(rule, SameDay):
        return _at(period, rule.time)
    if isinstance(rule, DaysAfter):
        return _at(period + timedelta(days=rule.days), rule.time)
    if isinstance(rule, MonthDay):
        first = _add_months(period.replace(day=1), rule.months_after)
        return _at(on_or_after_business_day(first.replace(day=rule.day)), rule.time)
    if isinstance(rule, MonthLastBusinessDay):
        return _at(last_business_day_of_month(_add_months(period.replace(day=1), rule.months_after)), rule.time)
    if isinstance(rule, EmploymentSituation):
        return _at(employment_situation_day(period), rule.time)
    if isinstance(rule, LabelOnly):
        raise LabelOnlySeries(f"{spec.title}: labels history only and is never known in time to trade on")
    raise AssertionError(f"unhandled release rule {rule!r}")


def release_instants(spec: SeriesSpec, periods: pd.DatetimeIndex | list[date]) -> pd.DatetimeIndex:
    """Vectorised `release_instant` over many periods (cached per distinct period)."""
    days = [p.date() if isinstance(p, pd.Timestamp) else p for p in periods]
    return pd.DatetimeIndex([release_instant(spec, d) for d in days], tz=UTC)


def next_expected_release(spec: SeriesSpec, last_period: date) -> datetime:
    """When the period after `last_period` should be published: the basis of staleness."""
    if spec.frequency == "monthly":
        nxt = _add_months(last_period.replace(day=1), 1)
        while nxt in spec.allowed_gaps:
            nxt = _add_months(nxt, 1)
    elif spec.frequency == "weekly":
        nxt = last_period + timedelta(days=7)
    else:
        nxt = next_business_day(last_period)
    return release_instant(spec, nxt)
