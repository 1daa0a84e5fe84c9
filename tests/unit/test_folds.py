"""Validation folds never overlap, cover the data, and keep in-sample sessions out of the held-out window."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.folds import Cycle, Fold, cycle_folds, walk_forward_folds

# the easing cycles the phase rules find on the pack (first cut, last cut), as in the README's event study
CYCLES = [
    Cycle(date(1995, 7, 6), date(1996, 1, 31)),
    Cycle(date(1998, 9, 29), date(1998, 11, 17)),
    Cycle(date(2001, 1, 3), date(2001, 12, 11)),
    Cycle(date(2002, 11, 6), date(2003, 6, 25)),
    Cycle(date(2007, 9, 18), date(2008, 12, 16)),
    Cycle(date(2019, 7, 31), date(2020, 3, 15)),
    Cycle(date(2024, 9, 18), date(2025, 12, 10)),
]


def _weekdays(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5]


def _assert_partition(folds: list[Fold], n: int, first: int) -> None:
    tests = [f.test for f in folds]
    assert tests[0][0] == first and tests[-1][1] == n  # cover every session from the first held-out one to the end
    for (_, b), (c, _) in itertools.pairwise(tests):
        assert b == c  # back to back: no overlap, no gap
    for f in folds:
        held = set(range(*f.test))
        assert f.train and not held & {i for a, b in f.train for i in range(a, b)}


def test_leave_one_cycle_out_on_the_default_window() -> None:
    days = _weekdays(date(2000, 6, 1), date(2026, 6, 9))
    folds = cycle_folds(days, CYCLES)
    assert [f.name for f in folds] == ["cycle 2001", "cycle 2002-03", "cycle 2007-08", "cycle 2019-20", "cycle 2024-25"]
    _assert_partition(folds, len(days), 0)
    for f, cycle in zip(folds, CYCLES[2:], strict=True):
        a, b = f.test
        assert days[a] <= cycle.first_cut and cycle.last_cut <= days[b - 1]  # each fold holds its whole cycle
        assert len(range(*f.test)) + sum(b - a for a, b in f.train) == len(days)  # in + out = everything
    # the calm years are split at the midpoint: 2008-12-16 .. 2019-07-31 -> 2014-04-08
    assert days[folds[2].test[1] - 1] == date(2014, 4, 8)


def test_cycles_need_two_folds() -> None:
    days = _weekdays(date(2005, 1, 3), date(2012, 12, 31))
    assert cycle_folds(days, [c for c in CYCLES if c.first_cut.year == 2007]) == []
    assert cycle_folds([], CYCLES) == []


@settings(max_examples=60, deadline=None)
@given(
    years=st.integers(min_value=4, max_value=30),
    in_sample=st.floats(min_value=0.5, max_value=10.0),
    out_sample=st.floats(min_value=0.25, max_value=5.0),
    anchored=st.booleans(),
)
def test_walk_forward_folds_partition_the_tail(years: int, in_sample: float, out_sample: float, anchored: bool) -> None:
    days = _weekdays(date(2000, 6, 1), date(2000 + years, 6, 1))
    folds = walk_forward_folds(days, in_sample, out_sample, anchored=anchored)
    if not folds:
        assert (days[-1] - days[0]).days < in_sample * 365.25 + 3
        return
    first = folds[0].test[0]
    assert (days[first] - days[0]).days >= round(in_sample * 365.25)
    _assert_partition(folds, len(days), first)
    for f in folds[:-1]:
        assert (days[f.test[1] - 1] - days[f.test[0]]).days <= out_sample * 365.25 + 1
    a, b = folds[-1].test
    assert len(folds) == 1 or (days[b - 1] - days[a]).days >= out_sample * 365.25 / 2 - 4  # no stub at the end
    for f in folds:
        (a, b), = f.train
        assert b == f.test[0]  # in-sample ends where the held-out window starts
        assert a == 0 if anchored else (days[b - 1] - days[a]).days <= in_sample * 365.25 + 1


def test_a_fold_refuses_overlap() -> None:
    with pytest.raises(ValueError):
        Fold("x", (10, 20), ((0, 15),))
    with pytest.raises(ValueError):
        Fold("x", (10, 20), ())
