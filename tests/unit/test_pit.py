"""The as-of rule: nothing published after `ts` is ever returned, and the latest vintage known wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from datastore.pit import PitSeries

BASE = datetime(2020, 1, 1, tzinfo=UTC)


def frame(rows: list[tuple[int, float, int]]) -> pd.DataFrame:
    """rows: (period day offset, value, available hour offset)."""
    return pd.DataFrame(
        {
            "period": pd.to_datetime([BASE.date() + timedelta(days=p) for p, _, _ in rows]),
            "value": [v for _, v, _ in rows],
            "available_at": pd.to_datetime([BASE + timedelta(hours=h) for _, _, h in rows], utc=True),
        }
    )


observations = st.lists(
    st.tuples(st.integers(0, 60), st.one_of(st.floats(-50, 50), st.just(float("nan"))), st.integers(0, 5000)),
    min_size=0,
    max_size=80,
    unique_by=lambda r: (r[0], r[2]),
)


@settings(max_examples=300, deadline=None)
@given(observations, st.integers(-10, 5100))
def test_as_of_never_returns_the_future(rows: list[tuple[int, float, int]], hours: int) -> None:
    ts = BASE + timedelta(hours=hours)
    result = PitSeries.from_frame("X", frame(rows)).as_of(ts)
    assert (result["available_at"] <= ts).all()
    assert not result["value"].isna().any()
    assert result.index.is_unique and result.index.is_monotonic_increasing
    # Each period shows the newest vintage known at ts.
    for period, row in result.iterrows():
        candidates = [
            (h, v) for p, v, h in rows if pd.Timestamp(BASE.date() + timedelta(days=p)) == period and h <= hours and not np.isnan(v)
        ]
        assert row["value"] == max(candidates)[1]


def test_revision_is_invisible_until_published() -> None:
    # Period 0 first printed 1.0 at hour 10, revised to 2.0 at hour 100.
    series = PitSeries.from_frame("X", frame([(0, 1.0, 10), (0, 2.0, 100), (1, 5.0, 50)]))
    assert series.as_of(BASE + timedelta(hours=9)).empty
    assert series.as_of(BASE + timedelta(hours=60))["value"].tolist() == [1.0, 5.0]
    assert series.as_of(BASE + timedelta(hours=100))["value"].tolist() == [2.0, 5.0]
    assert series.values_as_of(BASE + timedelta(hours=100)).tolist() == [2.0, 5.0]


def test_missing_values_are_not_zero() -> None:
    series = PitSeries.from_frame("X", frame([(0, float("nan"), 1), (1, 3.0, 2)]))
    known = series.as_of(BASE + timedelta(hours=5))
    assert known["value"].tolist() == [3.0]
