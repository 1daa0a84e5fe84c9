"""The pure parts of the FRED source: error bodies, back-off, redaction, vintage timing and rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from clock import new_york
from config.loader import load_config
from config.schema import SeriesSpec
from datastore.fred_source import (
    MAX_RETRY_AFTER_SECONDS,
    backoff_delay,
    content_hash,
    error_detail,
    parse_retry_after,
    redact,
    too_many_vintages,
    vintage_available_at,
    vintage_rows,
)
from datastore.releases import release_instant

CATALOGUE = load_config().config.series
CPI: SeriesSpec = CATALOGUE["CPIAUCSL"]
USREC: SeriesSpec = CATALOGUE["USREC"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def alfred_frame(rows: list[tuple[str, str, object]]) -> pd.DataFrame:
    """The frame fredapi's get_series_all_releases builds: object columns, '.' already turned into NaN/NaT."""
    data = {i: {"realtime_start": pd.Timestamp(start), "date": pd.Timestamp(period), "value": value} for i, (period, start, value) in enumerate(rows)}
    return pd.DataFrame(data).T


class TestErrorDetail:
    def test_fred_xml_message(self) -> None:
        body = b'<?xml version="1.0" encoding="utf-8" ?>\n<error code="400" message="Bad Request.  The series does not exist."/>'
        assert error_detail(body) == "Bad Request. The series does not exist."

    def test_json_message(self) -> None:
        assert error_detail(b'{"error_code": 429, "error_message": "Too Many Requests."}') == "Too Many Requests."

    def test_html_page_gives_its_title(self) -> None:
        body = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
        assert error_detail(body) == "HTML body: 502 Bad Gateway"

    def test_html_without_title_gives_its_size(self) -> None:
        assert error_detail(b"<html><body>oops<br></body></html>") == "HTML body (34 bytes)"

    def test_empty_and_blank_bodies(self) -> None:
        assert error_detail(b"") == "empty body"
        assert error_detail(b" \r\n ") == "empty body"

    def test_garbage_never_raises(self) -> None:
        assert error_detail(b"\xff\xfe\x00<<<{").startswith("unexpected body (")
        assert error_detail(b"{not json").startswith("unexpected body (")

    def test_long_text_is_cut(self) -> None:
        assert len(error_detail(b"x" * 10_000)) < 200


def test_redact_replaces_raw_and_url_quoted_forms() -> None:
    assert redact("key=ab+c/d and ab%2Bc%2Fd", "ab+c/d") == "key=*** and ***"
    assert redact("nothing to hide", "") == "nothing to hide"


def test_retry_after_accepts_seconds_only() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-1") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


def test_backoff_doubles_and_honours_a_longer_retry_after_up_to_a_cap() -> None:
    assert [backoff_delay(a, 0.5, None) for a in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(1, 0.5, 3.0) == 3.0
    assert backoff_delay(3, 1.0, 0.1) == 4.0
    assert backoff_delay(1, 1.0, 3600) == MAX_RETRY_AFTER_SECONDS


def test_fred_message_for_too_many_vintages_is_recognised() -> None:
    message = (
        "Bad Request.  There are 2004 vintage dates in the specified real-time period: 1776-07-04 to 9999-12-31.  "
        "This exceeds the maximum number of vintage dates allowed (2000)."
    )
    assert too_many_vintages(message)
    assert not too_many_vintages("Bad Request.  The series does not exist.")


class TestVintageAvailableAt:
    def test_first_release_dated_before_the_rule_waits_for_the_rule(self) -> None:
        assert vintage_available_at(CPI, date(2024, 1, 1), date(2024, 2, 13)) == utc(2024, 2, 26, 13, 30)  # the 26th: CPI's latest day

    def test_revision_is_known_at_the_release_time_of_its_day(self) -> None:
        assert vintage_available_at(CPI, date(2024, 1, 1), date(2025, 2, 12)) == utc(2025, 2, 12, 13, 30)  # EST
        assert vintage_available_at(CPI, date(2024, 1, 1), date(2025, 7, 15)) == utc(2025, 7, 15, 12, 30)  # EDT

    def test_label_only_series_is_known_at_the_end_of_the_vintage_day(self) -> None:
        assert vintage_available_at(USREC, date(2020, 3, 1), date(2020, 6, 8)) == utc(2020, 6, 9, 4, 0)


class TestVintageRows:
    def test_dot_values_arrive_as_nat_and_stay_missing(self) -> None:
        rows = vintage_rows(CPI, alfred_frame([("2025-10-01", "2025-12-18", pd.NaT), ("2025-11-01", "2025-12-18", 324.1)]))
        assert [r.period for r in rows] == [date(2025, 10, 1), date(2025, 11, 1)]
        assert pd.isna(rows[0].value)
        assert rows[1].value == 324.1

    def test_vintages_landing_on_the_same_instant_keep_the_later_one(self) -> None:
        frame = alfred_frame([("2024-02-01", "2024-03-13", 310.4), ("2024-02-01", "2024-03-12", 310.3)])
        [row] = vintage_rows(CPI, frame)  # both dated before the rule's 2024-03-26 08:30 ET
        assert (row.value, row.realtime_start, row.available_at) == (310.4, date(2024, 3, 13), utc(2024, 3, 26, 12, 30))

    def test_rows_are_sorted_by_period_then_available_at(self) -> None:
        frame = alfred_frame([("2024-01-01", "2025-02-12", 309.7), ("2023-12-01", "2024-01-11", 306.7), ("2024-01-01", "2024-02-13", 308.4)])
        rows = vintage_rows(CPI, frame)
        assert [(r.period, r.value) for r in rows] == [(date(2023, 12, 1), 306.7), (date(2024, 1, 1), 308.4), (date(2024, 1, 1), 309.7)]

    def test_empty_answer(self) -> None:
        assert vintage_rows(CPI, pd.DataFrame({}).T) == []


months = st.dates(min_value=date(1995, 1, 1), max_value=date(2030, 12, 1)).map(lambda d: d.replace(day=1))


@given(st.lists(st.tuples(months, st.integers(min_value=0, max_value=900), st.floats(0, 500)), min_size=1, max_size=30))
def test_a_vintage_is_never_visible_before_its_release_rule_or_its_vintage_day(
    vintages: list[tuple[date, int, float]],
) -> None:
    frame = alfred_frame([(p.isoformat(), (p + timedelta(days=days)).isoformat(), v) for p, days, v in vintages])
    rows = vintage_rows(CPI, frame)
    for row in rows:
        assert row.available_at >= release_instant(CPI, row.period)
        assert row.available_at >= new_york(row.realtime_start.isoformat(), "00:00")
    keys = [(r.period, r.available_at) for r in rows]
    assert len(keys) == len(set(keys)) and keys == sorted(keys)


def test_content_hash_is_stable_and_sees_every_column() -> None:
    periods, values, starts = [date(2024, 1, 1), date(2024, 2, 1)], [1.0, float("nan")], [None, date(2024, 3, 12)]
    base = content_hash(periods, values, starts)
    assert base == content_hash(list(periods), list(values), list(starts))
    assert base != content_hash(periods, [1.0, 2.0], starts)
    assert base != content_hash(periods, values, [None, date(2024, 3, 13)])
    assert base != content_hash([date(2024, 1, 2), date(2024, 2, 1)], values, starts)
