"""When each observation of a series became known (UTC): the release record first, the rules only where it is silent.

`SeriesDerivation` is the one place that decides. For a period, in this order:

1. the pack's release record (`releases/<release>.csv`: the agencies' real publication dates and times) when it has
   the period; where the record is complete (`release_record.complete_from` to its last period) a period it lacks
   was never published (October 2025 CPI) and stays a gap: it is never visible (`NEVER`);
1b. the first-release day ALFRED reports for the period, stored by `data sync` (`Store.release_dates`), at the
   series' release time: a live bot's calendar stays current past the pack's record;
2. `release_overrides` from the config (known exceptions the record does not hold);
3. the release rule, which errs late: it respects the federal holiday calendar (pandas' USFederalHolidayCalendar,
   plus `release_calendar.closed_days`), the shutdowns in `release_calendar.shutdowns` (a release of a shut agency
   that the rule puts in the lapse or its catch-up comes on the day the catch-up was complete) and the
   December Employment Situation pattern (never before `december_employment_min_day` of January).

"Business day" is a US federal business day: the statistical agencies and the Fed publish on federal working days,
not on NYSE sessions. `SeriesDerivation.digest` hashes everything that derived a series' `available_at` (rule,
overrides, record rows, calendar, this module's `RULES_VERSION`); the store keeps it beside the dataset and
re-derives when it changes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from pandas.tseries.holiday import USFederalHolidayCalendar

from clock import NEW_YORK
from config.schema import (
    DaysAfter,
    EmploymentSituation,
    LabelOnly,
    MonthDay,
    MonthLastBusinessDay,
    NextBusinessDay,
    ReleaseCalendarConfig,
    SameDay,
    SeriesSpec,
)
from datastore.pack import ReleaseFile, read_releases

RULES_VERSION = "2"  # bump when the rule code below changes what it derives
NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # a period that was never published: never visible
DEFAULT_CALENDAR = ReleaseCalendarConfig()


class LabelOnlySeries(Exception):
    """A series that labels history (NBER recessions) was asked for as a point-in-time input."""


@lru_cache(maxsize=1)
def _federal_holidays() -> frozenset[date]:
    days = USFederalHolidayCalendar().holidays(start="1900-01-01", end="2100-12-31")
    return frozenset(d.date() for d in days)


def is_business_day(day: date, closed: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in _federal_holidays() and day not in closed


def next_business_day(day: date, closed: frozenset[date] = frozenset()) -> date:
    """The first business day strictly after `day`."""
    nxt = day + timedelta(days=1)
    while not is_business_day(nxt, closed):
        nxt += timedelta(days=1)
    return nxt


def on_or_after_business_day(day: date, closed: frozenset[date] = frozenset()) -> date:
    return day if is_business_day(day, closed) else next_business_day(day, closed)


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    return date(day.year + month0 // 12, month0 % 12 + 1, 1)


def last_business_day_of_month(first: date, closed: frozenset[date] = frozenset()) -> date:
    day = _add_months(first, 1) - timedelta(days=1)
    while not is_business_day(day, closed):
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


def _rule_day(spec: SeriesSpec, period: date, cal: ReleaseCalendarConfig) -> date:
    """The rule's publication day for `period`, before shutdowns."""
    closed = frozenset(cal.closed_days)
    rule = spec.release
    if isinstance(rule, NextBusinessDay):
        return next_business_day(period, closed)
    if isinstance(rule, SameDay):
        return period
    if isinstance(rule, DaysAfter):
        return on_or_after_business_day(period + timedelta(days=rule.days), closed)
    if isinstance(rule, MonthDay):
        first = _add_months(period.replace(day=1), rule.months_after)
        return on_or_after_business_day(first.replace(day=rule.day), closed)
    if isinstance(rule, MonthLastBusinessDay):
        return last_business_day_of_month(_add_months(period.replace(day=1), rule.months_after), closed)
    if isinstance(rule, EmploymentSituation):
        day = employment_situation_day(period)
        if period.month == 12 and cal.december_employment_min_day:
            floor = date(period.year + 1, 1, cal.december_employment_min_day)
            while day < floor:
                day += timedelta(days=7)
        return on_or_after_business_day(day, closed)
    if isinstance(rule, LabelOnly):
        raise LabelOnlySeries(f"{spec.title}: labels history only and is never known in time to trade on")
    raise AssertionError(f"unhandled release rule {rule!r}")


def rule_instant(spec: SeriesSpec, period: date, cal: ReleaseCalendarConfig = DEFAULT_CALENDAR) -> datetime:
    """The rule's instant (UTC) for `period`: holidays, closures, shutdowns, the December pattern; overrides win."""
    override = spec.release_overrides.get(period.isoformat())
    if override is not None:
        return datetime.fromisoformat(override).replace(tzinfo=NEW_YORK).astimezone(UTC)
    day = _rule_day(spec, period, cal)
    for lapse in cal.shutdowns:
        if spec.agency in lapse.agencies and lapse.start <= day <= lapse.resumed:
            day = lapse.resumed
    assert not isinstance(spec.release, LabelOnly)
    return _at(day, spec.release.time)


def release_instant(spec: SeriesSpec, period: date) -> datetime:
    """The rule's instant with the default calendar (tests and callers without a record)."""
    return rule_instant(spec, period)


@dataclass(frozen=True, slots=True)
class Published:
    """How a period's `available_at` was derived."""

    at: datetime  # UTC; NEVER when it was never published
    basis: str  # 'record', 'never published (record)', 'alfred first release', 'override', 'rule', 'rule, capped by ...'


class SeriesDerivation:
    """Derives `available_at` for one series from its record, overrides and rule (see the module docstring)."""

    def __init__(
        self, series: str, spec: SeriesSpec, cal: ReleaseCalendarConfig, record: ReleaseFile | None, fetched: Mapping[date, date] | None = None
    ) -> None:
        self.series = series
        self.spec = spec
        self.cal = cal
        self.record = record
        self.fetched = dict(fetched or {})  # ALFRED first-release days (`data sync`): the record where the pack's is silent
        self._rows: dict[date, datetime] = {}
        self._complete: tuple[date, date] | None = None
        if record is not None and spec.release_record is not None and not isinstance(spec.release, LabelOnly):
            link = spec.release_record
            for row in record.rows:
                if row.only is not None and series not in row.only:
                    continue
                # the series' own time when it is derived later (Sahm), else the record's, else the rule's
                self._rows[row.period] = _at(row.published, link.time or row.time or spec.release.time)
            start = spec.release_record.complete_from
            if start is not None and record.rows:
                self._complete = (start, record.rows[-1].period)
        # A release publishes its periods in order: a period the rule dates after the next recorded (or overridden)
        # period's publication was out by then at the latest.
        self._fetched_at: dict[date, datetime] = {}
        if not isinstance(spec.release, LabelOnly):
            for period, day in self.fetched.items():
                if period not in self._rows:
                    self._fetched_at[period] = _at(day, spec.release.time)
        known = {**self._fetched_at, **self._rows}
        if not isinstance(spec.release, LabelOnly):
            for text in spec.release_overrides:
                known.setdefault(date.fromisoformat(text), rule_instant(spec, date.fromisoformat(text), cal))
        self._known_periods = sorted(known)
        self._known_at = [known[p] for p in self._known_periods]

    @property
    def digest(self) -> str:
        """A hash of everything that derives this series' available_at."""
        payload = {
            "rules_version": RULES_VERSION,
            "spec": self.spec.model_dump(mode="json", include={"release", "release_overrides", "release_record", "agency", "frequency"}),
            "calendar": self.cal.model_dump(mode="json"),
            "record": sorted((p.isoformat(), a.isoformat()) for p, a in self._rows.items()),
            "complete": [d.isoformat() for d in self._complete] if self._complete else None,
            "fetched": sorted((p.isoformat(), a.isoformat()) for p, a in self._fetched_at.items()),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def published(self, period: date) -> Published:
        """Raises LabelOnlySeries for a history-only series."""
        found = self._rows.get(period)
        if found is not None:
            return Published(found, "record")
        if self._complete is not None and self._complete[0] <= period <= self._complete[1]:
            return Published(NEVER, "never published (record)")
        fetched = self._fetched_at.get(period)
        if fetched is not None:
            return Published(fetched, "alfred first release")
        if isinstance(self.spec.release, LabelOnly):
            raise LabelOnlySeries(f"{self.spec.title}: labels history only and is never known in time to trade on")
        if period.isoformat() in self.spec.release_overrides:
            return Published(rule_instant(self.spec, period, self.cal), "override")
        at = rule_instant(self.spec, period, self.cal)
        later = bisect.bisect_right(self._known_periods, period)
        if later < len(self._known_periods) and self._known_at[later] < at:
            return Published(self._known_at[later], "rule, capped by the next known release")
        return Published(at, "rule")

    def available_at(self, period: date) -> datetime:
        return self.published(period).at

    def record_covers(self, period: date) -> bool:
        return period in self._rows or (self._complete is not None and self._complete[0] <= period <= self._complete[1])


def next_period(spec: SeriesSpec, period: date) -> date:
    if spec.frequency == "monthly":
        return _add_months(period.replace(day=1), 1)
    if spec.frequency == "weekly":
        return period + timedelta(days=7)
    return next_business_day(period)


def next_expected(derivation: SeriesDerivation, last_period: date) -> tuple[date, Published]:
    """The next period after `last_period` that will be published, and when: the basis of staleness."""
    spec = derivation.spec
    nxt = next_period(spec, last_period)
    for _ in range(24):
        found = derivation.published(nxt)
        if nxt not in spec.allowed_gaps and found.at != NEVER:
            return nxt, found
        nxt = next_period(spec, nxt)
    return nxt, derivation.published(nxt)


def load_derivations(
    series: dict[str, SeriesSpec], cal: ReleaseCalendarConfig, pack: Path, fetched: Mapping[str, Mapping[date, date]] | None = None
) -> dict[str, SeriesDerivation]:
    """One derivation per series, reading each release file the catalogue names from the pack (once); `fetched` are
    the first-release days `data sync` stored (`Store.release_dates`)."""
    files: dict[str, ReleaseFile] = {}
    out: dict[str, SeriesDerivation] = {}
    for sid, spec in series.items():
        record = None
        if spec.release_record is not None:
            name = spec.release_record.release
            if name not in files:
                files[name] = read_releases(pack, name)
            record = files[name]
        out[sid] = SeriesDerivation(sid, spec, cal, record, (fetched or {}).get(sid))
    return out


def stored_available_at(derivation: SeriesDerivation, period: date, realtime_start: date | None) -> datetime:
    """available_at of a stored row: the derivation's instant; an ALFRED vintage no earlier than its own day.

    ALFRED dates a vintage by day only, so the day is taken at the series' release time (CPI: 08:30 ET); when the
    record or the rule for the period is later, that wins, so a value is never seen early.
    """
    at = derivation.available_at(period)
    if realtime_start is None or isinstance(derivation.spec.release, LabelOnly):
        return at
    return max(_at(realtime_start, derivation.spec.release.time), at)
