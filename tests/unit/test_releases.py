"""Publication instants: the pack's release record where it speaks, rules that err late where it is silent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from config.loader import load_config
from config.schema import AppConfig
from datastore.pack import read_releases
from datastore.releases import (
    NEVER,
    LabelOnlySeries,
    SeriesDerivation,
    employment_situation_day,
    load_derivations,
    next_expected,
    release_instant,
    rule_instant,
)

CFG = load_config().config


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def derived(pack_dir: Path) -> dict[str, SeriesDerivation]:
    return load_derivations(CFG.series, CFG.release_calendar, pack_dir)


@pytest.mark.parametrize(
    ("series", "period", "expected", "basis"),
    [
        # December 2024 jobs report: 2025-01-10 08:30 EST (the first-Friday rule said 2025-01-03).
        ("UNRATE", date(2024, 12, 1), utc(2025, 1, 10, 13, 30), "record"),
        # 1990s: Employment Situation for Jan-1995 on 1995-02-03; the 1996 shutdown: Dec-1995 on 1996-01-19.
        ("PAYEMS", date(1995, 1, 1), utc(1995, 2, 3, 13, 30), "record"),
        ("UNRATE", date(1995, 12, 1), utc(1996, 1, 19, 13, 30), "record"),
        # The Sahm indicator: the Employment Situation's day, at FRED's later 10:00 ET.
        ("SAHMREALTIME", date(2013, 9, 1), utc(2013, 10, 22, 14, 0), "record"),
        # CPI: the 1996 double month, the 2013 and 2025 shutdowns, an ordinary EDT month.
        ("CPIAUCSL", date(1996, 1, 1), utc(1996, 2, 28, 13, 30), "record"),
        ("CPILFESL", date(2013, 9, 1), utc(2013, 10, 30, 12, 30), "record"),
        ("CPIAUCSL", date(2025, 9, 1), utc(2025, 10, 24, 12, 30), "record"),
        ("CPIAUCSL", date(2024, 8, 1), utc(2024, 9, 11, 12, 30), "record"),
        # PCE at 10:00 ET where BEA used it; the 2025 shutdown catch-up.
        ("PCEPILFE", date(2025, 10, 1), utc(2026, 1, 22, 15, 0), "record"),
        ("PCEPILFE", date(2019, 10, 1), utc(2019, 11, 27, 15, 0), "record"),
        # Claims: the 2025 shutdown weeks all came on 2025-11-20 (no time recorded: the rule's 08:30).
        ("ICSA", date(2025, 9, 27), utc(2025, 11, 20, 13, 30), "record"),
        ("ICSA", date(2025, 11, 8), utc(2025, 11, 20, 13, 30), "record"),
    ],
)
def test_the_record_dates_covered_periods(derived: dict[str, SeriesDerivation], series: str, period: date, expected: datetime, basis: str) -> None:
    found = derived[series].published(period)
    assert (found.at, found.basis) == (expected, basis)


def test_never_published_periods_stay_gaps(derived: dict[str, SeriesDerivation]) -> None:
    # October 2025: no CPI, no unemployment rate; payrolls came inside the November release.
    for sid in ("CPIAUCSL", "CPILFESL", "UNRATE", "SAHMREALTIME"):
        assert derived[sid].published(date(2025, 10, 1)).at == NEVER, sid
    assert derived["PAYEMS"].published(date(2025, 10, 1)).at == utc(2025, 12, 16, 13, 30)


def test_payems_only_row_is_read_from_its_source_text(pack_dir: Path) -> None:
    rows = {r.period: r for r in read_releases(pack_dir, "employment_situation").rows}
    assert rows[date(2025, 10, 1)].only == frozenset({"PAYEMS"})
    assert rows[date(2025, 9, 1)].only is None


@pytest.mark.parametrize("series", ["UNRATE", "CPIAUCSL", "PCEPILFE", "ICSA"])
def test_the_rules_are_never_earlier_than_the_record(pack_dir: Path, series: str) -> None:
    """Where the record is silent the rule stands in: checked against every period the record has, it errs late."""
    spec = CFG.series[series].model_copy(update={"release_overrides": {}})
    record = SeriesDerivation(series, spec, CFG.release_calendar, read_releases(pack_dir, spec.release_record.release))  # type: ignore[union-attr]
    early = []
    for row in record.record.rows if record.record else []:
        if row.only is not None and series not in row.only:
            continue
        if rule_instant(spec, row.period, CFG.release_calendar) < record.available_at(row.period):
            early.append(row.period)
    assert early == []


@pytest.mark.parametrize(
    ("series", "period", "expected"),
    [
        # Where the record is silent: CPI by the 26th (its latest day outside shutdowns) ...
        ("CPIAUCSL", date(1994, 1, 1), utc(1994, 2, 28, 13, 30)),  # 26th is a Saturday -> Monday 28th
        # ... core PCE before 2019-10: the 4th of the second month after, 10:00 ET.
        ("PCEPILFE", date(2024 - 20, 1, 1), utc(2004, 3, 4, 15, 0)),
        # The December jobs report by the rule: no earlier than 8 January (the second week).
        ("UNRATE", date(1994, 12, 1), utc(1995, 1, 13, 13, 30)),
        # A Wednesday release on a federal holiday (NFCI, 2025-01-01) moves to Thursday.
        ("NFCI", date(2024, 12, 27), utc(2025, 1, 2, 13, 30)),
        # Claims on Thanksgiving Thursday move to Friday (late; DOL often publishes Wednesday instead).
        ("ICSA", date(2023, 11, 18), utc(2023, 11, 24, 13, 30)),
        # An OPM closure (National Day of Mourning, 2025-01-09): H.15 for 2025-01-08 comes on Friday the 10th.
        ("DGS10", date(2025, 1, 8), utc(2025, 1, 10, 21, 15)),
        # H.15 across MLK day; the target range the same day at the statement time.
        ("DGS10", date(2024, 1, 12), utc(2024, 1, 16, 21, 15)),
        ("DFEDTARU", date(2024, 9, 19), utc(2024, 9, 19, 18, 15)),
    ],
)
def test_rules_where_the_record_is_silent(derived: dict[str, SeriesDerivation], series: str, period: date, expected: datetime) -> None:
    found = derived[series].published(period)
    assert found.at == expected
    assert found.basis.startswith("rule") or found.basis == "override"


def test_a_shutdown_moves_a_rule_date_to_the_catch_up(app_config: AppConfig) -> None:
    # The 2013 shutdown: a BEA release the rule puts in October 2013 (PCE Aug-2013, 2013-10-04) comes on 2013-12-06 at
    # the latest, but never after the next recorded release (Oct-2013 on 2013-12-06) - here the same day.
    spec = app_config.series["PCEPILFE"].model_copy(update={"release_overrides": {}, "release_record": None})
    assert rule_instant(spec, date(2013, 8, 1), app_config.release_calendar) == utc(2013, 12, 6, 15, 0)
    # The Fed never shut: H.15 in the 2013 lapse is not moved.
    assert rule_instant(app_config.series["DGS10"], date(2013, 10, 8), app_config.release_calendar) == utc(2013, 10, 9, 20, 15)


def test_employment_situation_rule() -> None:
    assert employment_situation_day(date(2024, 8, 1)) == date(2024, 9, 6)
    assert employment_situation_day(date(2024, 10, 1)) == date(2024, 11, 1)


def test_label_only_series_never_become_known(derived: dict[str, SeriesDerivation]) -> None:
    with pytest.raises(LabelOnlySeries):
        release_instant(CFG.series["USREC"], date(2020, 4, 1))
    with pytest.raises(LabelOnlySeries):
        derived["USREC"].published(date(2020, 4, 1))


def test_next_expected_skips_never_published_periods(derived: dict[str, SeriesDerivation]) -> None:
    # October 2025 CPI was never published: after September comes November's release, from the record.
    period, found = next_expected(derived["CPIAUCSL"], date(2025, 9, 1))
    assert (period, found.at, found.basis) == (date(2025, 11, 1), utc(2025, 12, 18, 13, 30), "record")


def test_every_value_is_known_after_its_period_ends(derived: dict[str, SeriesDerivation]) -> None:
    for sid, spec in CFG.series.items():
        if spec.release.rule in ("label_only", "same_day"):
            continue
        for period in (date(2001, 1, 1), date(2008, 9, 1), date(2020, 3, 1), date(2025, 6, 1)):
            assert derived[sid].available_at(period) > datetime(period.year, period.month, period.day, tzinfo=UTC), sid


def test_the_digest_follows_the_rule_the_record_and_the_calendar(derived: dict[str, SeriesDerivation], pack_dir: Path) -> None:
    d = derived["UNRATE"]
    later = d.spec.model_copy(update={"release": d.spec.release.model_copy(update={"time": "09:00"})})
    assert SeriesDerivation("UNRATE", later, CFG.release_calendar, d.record).digest != d.digest
    assert SeriesDerivation("UNRATE", d.spec, CFG.release_calendar, None).digest != d.digest
    calm = CFG.release_calendar.model_copy(update={"shutdowns": []})
    assert SeriesDerivation("UNRATE", d.spec, calm, d.record).digest != d.digest
    assert SeriesDerivation("UNRATE", d.spec, CFG.release_calendar, read_releases(pack_dir, "employment_situation")).digest == d.digest
