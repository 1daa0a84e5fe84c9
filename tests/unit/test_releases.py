"""Release rules against published release dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from config.loader import load_config
from datastore.releases import LabelOnlySeries, employment_situation_day, next_expected_release, release_instant

CFG = load_config().config


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("series", "period", "expected"),
    [
        # CPI: the 15th 08:30 ET (EST = UTC-5 in February).
        ("CPIAUCSL", date(2024, 1, 1), utc(2024, 2, 15, 13, 30)),
        # The 15th on a Sunday moves to Monday 16th; 08:30 EDT = 12:30 UTC.
        ("CPILFESL", date(2024, 8, 1), utc(2024, 9, 16, 12, 30)),
        # Shutdown override: September 2025 CPI came out on 24 October 2025.
        ("CPIAUCSL", date(2025, 9, 1), utc(2025, 10, 24, 12, 30)),
        # Employment Situation for August 2025: Friday 5 September 2025.
        ("UNRATE", date(2025, 8, 1), utc(2025, 9, 5, 12, 30)),
        # ... for January 2024: Friday 2 February 2024.
        ("PAYEMS", date(2024, 1, 1), utc(2024, 2, 2, 13, 30)),
        # Core PCE for March 2024: last business day of April (Tuesday 30 April 2024).
        ("PCEPILFE", date(2024, 3, 1), utc(2024, 4, 30, 12, 30)),
        # Claims for the week ending Saturday 2024-01-06: Thursday 2024-01-11 08:30 ET.
        ("ICSA", date(2024, 1, 6), utc(2024, 1, 11, 13, 30)),
        # NFCI for the week ending Friday 2024-03-01: Wednesday 2024-03-06 08:30 ET.
        ("NFCI", date(2024, 3, 1), utc(2024, 3, 6, 13, 30)),
        # H.15 daily: Friday's 10-year yield is known Monday 16:15 ET...
        ("DGS10", date(2024, 3, 8), utc(2024, 3, 11, 20, 15)),
        # ... and across a federal holiday (Monday 2024-01-15, MLK day) on Tuesday.
        ("DGS10", date(2024, 1, 12), utc(2024, 1, 16, 21, 15)),
        # EFFR for Thursday 2024-07-04 (holiday itself) -> Friday 09:00 ET.
        ("DFF", date(2024, 7, 3), utc(2024, 7, 5, 13, 0)),
        # The target range in force on a day is known from that day's 14:15 ET statement at the latest.
        ("DFEDTARU", date(2024, 9, 19), utc(2024, 9, 19, 18, 15)),
    ],
)
def test_release_instants(series: str, period: date, expected: datetime) -> None:
    assert release_instant(CFG.series[series], period) == expected


def test_employment_situation_rule_matches_bls_dates() -> None:
    # Known first-Friday and late releases (no shutdowns): the third Friday after the week holding the 12th.
    assert employment_situation_day(date(2024, 8, 1)) == date(2024, 9, 6)
    assert employment_situation_day(date(2023, 12, 1)) == date(2024, 1, 5)
    assert employment_situation_day(date(2024, 10, 1)) == date(2024, 11, 1)


def test_label_only_series_never_become_known() -> None:
    with pytest.raises(LabelOnlySeries):
        release_instant(CFG.series["USREC"], date(2020, 4, 1))


def test_next_expected_release_skips_declared_gaps() -> None:
    # October 2025 CPI was never published: after September comes November's release.
    assert next_expected_release(CFG.series["CPIAUCSL"], date(2025, 9, 1)) == utc(2025, 12, 18, 13, 30)


def test_every_value_is_known_after_its_period_ends() -> None:
    for sid, spec in CFG.series.items():
        if spec.release.rule in ("label_only", "same_day"):
            continue
        for period in (date(2001, 1, 1), date(2008, 9, 1), date(2020, 3, 1), date(2025, 6, 1)):
            assert release_instant(spec, period) > datetime(period.year, period.month, period.day, tzinfo=UTC), sid
