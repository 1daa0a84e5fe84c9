"""The store, imported from the real pack, shows no macro value before its recorded publication (R39)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.schema import AppConfig
from datastore.pack import read_releases
from datastore.pit import PitData
from datastore.releases import NEVER, load_derivations

RECORDED = ["UNRATE", "PAYEMS", "SAHMREALTIME", "CPIAUCSL", "CPILFESL", "PCEPILFE", "ICSA"]


def ny(day: str, hhmm: str) -> datetime:
    return pd.Timestamp(f"{day} {hhmm}", tz="America/New_York").tz_convert(UTC).to_pydatetime()


@pytest.fixture(scope="module")
def published(app_config: AppConfig, pack_dir: Path) -> dict[str, dict[pd.Timestamp, datetime]]:
    """Series -> period -> its publication instant by the record (NEVER for a period the record says never came)."""
    derived = load_derivations(app_config.series, app_config.release_calendar, pack_dir)
    out: dict[str, dict[pd.Timestamp, datetime]] = {}
    for sid in RECORDED:
        d = derived[sid]
        assert d.record is not None
        periods = {r.period for r in d.record.rows}
        first = min(periods)
        month = first
        while d.spec.frequency == "monthly" and month <= max(periods):  # the gaps of a complete record too
            periods.add(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        out[sid] = {pd.Timestamp(p): d.available_at(p) for p in periods if d.record_covers(p)}
    return out


@pytest.mark.parametrize(
    ("series", "period", "day_of", "hhmm"),
    [
        ("UNRATE", "2024-12-01", "2025-01-10", "08:30"),  # the December report in the second week of January
        ("UNRATE", "1995-12-01", "1996-01-19", "08:30"),  # the 1995-96 shutdown
        ("PAYEMS", "2013-09-01", "2013-10-22", "08:30"),  # the 2013 shutdown
        ("PAYEMS", "2018-12-01", "2019-01-04", "08:30"),  # a January in the 2018-19 shutdown (BLS was funded)
        ("UNRATE", "2025-09-01", "2025-11-20", "08:30"),  # the 2025 shutdown
        ("CPIAUCSL", "2004-12-01", "2005-01-19", "08:30"),  # a January release late in the month
        ("CPILFESL", "2025-11-01", "2025-12-18", "08:30"),
        ("PCEPILFE", "2025-11-01", "2026-01-22", "10:00"),
        ("PCEPILFE", "2018-12-01", "2019-03-01", "08:30"),  # BEA's 2019 shutdown catch-up
        ("ICSA", "2025-10-18", "2025-11-20", "08:30"),  # claims of the 2025 shutdown weeks
        ("ICSA", "2020-03-21", "2020-03-26", "08:30"),  # the first Covid claims week
    ],
)
def test_as_of_the_day_before_and_the_day_of_a_release(pack_pit: PitData, series: str, period: str, day_of: str, hhmm: str) -> None:
    at = ny(day_of, hhmm)
    key = pd.Timestamp(period)
    assert key not in pack_pit.values_as_of(series, at - timedelta(days=1)).index
    assert key not in pack_pit.values_as_of(series, at - timedelta(seconds=1)).index
    assert key in pack_pit.values_as_of(series, at).index


def test_the_unpublished_december_figure_is_not_seen_on_2025_01_06(pack_pit: PitData) -> None:
    known = pack_pit.values_as_of("UNRATE", ny("2025-01-06", "16:30"))
    assert known.index[-1] == pd.Timestamp("2024-11-01")
    assert known.iloc[-1] == 4.2


def test_never_published_periods_are_never_visible(pack_pit: PitData) -> None:
    for sid in ("CPIAUCSL", "CPILFESL", "UNRATE"):
        assert pd.Timestamp("2025-10-01") not in pack_pit.values_as_of(sid, datetime(2099, 1, 1, tzinfo=UTC)).index


def test_every_stored_observation_waits_for_its_record(pack_pit: PitData, published: dict[str, dict[pd.Timestamp, datetime]]) -> None:
    """Exhaustive over the pack: each covered observation becomes visible exactly at its recorded publication."""
    checked = 0
    for sid in RECORDED:
        s = pack_pit.pit_series(sid)
        for period, available in zip(pd.DatetimeIndex(s.periods), pd.to_datetime(s.available, utc=True), strict=True):
            expected = published[sid].get(period)
            if expected is not None:
                assert available.to_pydatetime() == expected, (sid, period)
                checked += 1
    assert checked > 1500


instants = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2026, 12, 31)).map(lambda t: t.replace(tzinfo=UTC))


@settings(max_examples=300, deadline=None)
@given(ts=instants, series=st.sampled_from(RECORDED))
def test_no_covered_observation_is_visible_before_its_publication(
    pack_pit: PitData, published: dict[str, dict[pd.Timestamp, datetime]], ts: datetime, series: str
) -> None:
    known = pack_pit.values_as_of(series, ts)
    for period in known.index:
        at = published[series].get(period)
        assert at is None or at <= ts, (series, period, at, ts)
        assert at != NEVER


def test_the_record_files_cover_what_their_provenance_says(pack_dir: Path) -> None:
    assert len(read_releases(pack_dir, "cpi").rows) == 382
    assert len(read_releases(pack_dir, "employment_situation").rows) == 383
    assert len(read_releases(pack_dir, "pce_personal_income_outlays").rows) == 98
    assert len(read_releases(pack_dir, "initial_claims").rows) == 60
