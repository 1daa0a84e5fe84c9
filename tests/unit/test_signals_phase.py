"""Cycle-phase rules on hand-made decision lists, the blackout window, the next meeting and market pricing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from signals.fomc import CalendarMeeting, Decision, at_new_york, blackout_start
from signals.params import PhaseParams
from signals.phase import Pricing, cycle_phase

P = PhaseParams()


def meeting(day: date) -> CalendarMeeting:
    return CalendarMeeting(day - timedelta(days=1), day, "pack")


def decision(day: date, bp: float, scheduled: bool = True) -> Decision:
    return Decision(day, bp, None, 5.0, scheduled, "scheduled" if scheduled else "unscheduled", at_new_york(day, "14:15"), "target series")


DAYS = [date(2030, m, 15) for m in (1, 3, 5, 7, 9, 11)] + [date(2031, m, 15) for m in (1, 3, 5, 7, 9, 11)]
MEETINGS = [meeting(d) for d in DAYS]


def phase_after(decisions: list[Decision], when: date) -> str:
    return cycle_phase(at_new_york(when, "16:30"), MEETINGS, decisions, P).name


def test_early_pause_later_and_end_of_cycle() -> None:
    ds = [decision(DAYS[0], -25), decision(DAYS[1], -25), decision(DAYS[2], 0), decision(DAYS[3], -25)]
    assert phase_after(ds, DAYS[0]) == "cutting_early"
    assert phase_after(ds, DAYS[2]) == "pause"
    later = cycle_phase(at_new_york(DAYS[3], "16:30"), MEETINGS, ds, P)
    assert later.name == "cutting_later"
    assert later.cycle_first_cut == DAYS[0] and later.later_phase_start == DAYS[3]
    assert later.cuts_in_cycle == 3 and later.cumulative_bp == -75
    holds = [decision(d, 0) for d in DAYS[4:10]]
    assert phase_after(ds + holds, DAYS[8]) == "pause"
    assert phase_after(ds + holds, DAYS[9]) == "on_hold"  # six meetings without a cut end the cycle


def test_tightening_then_on_hold_then_new_cycle() -> None:
    ds = [decision(DAYS[0], 25), decision(DAYS[1], 0), decision(DAYS[2], 0), decision(DAYS[3], -50)]
    assert phase_after(ds, DAYS[1]) == "tightening"
    assert phase_after(ds, DAYS[2]) == "on_hold"
    snap = cycle_phase(at_new_york(DAYS[3], "16:30"), MEETINGS, ds, P)
    assert snap.name == "cutting_early" and snap.cycle_first_cut == DAYS[3]


def test_intermeeting_cut_restarts_a_pause_and_is_marked() -> None:
    ds = [decision(DAYS[0], -25), decision(DAYS[1], 0), decision(DAYS[1] + timedelta(days=10), -50, scheduled=False)]
    snap = cycle_phase(at_new_york(DAYS[1] + timedelta(days=10), "16:30"), MEETINGS, ds, P)
    assert snap.name == "cutting_later" and snap.last_move_intermeeting and snap.last_move_bp == -50


def test_a_decision_is_invisible_before_its_announcement() -> None:
    ds = [decision(DAYS[0], -25)]
    assert cycle_phase(at_new_york(DAYS[0], "14:00"), MEETINGS, ds, P).name == "on_hold"
    assert cycle_phase(at_new_york(DAYS[0], "14:15"), MEETINGS, ds, P).name == "cutting_early"


def test_next_meeting_blackout_and_days() -> None:
    before = cycle_phase(at_new_york(date(2030, 3, 1), "12:00"), MEETINGS, [], P)
    assert before.next_meeting == DAYS[1] and before.days_to_next_meeting == 14
    start = blackout_start(MEETINGS[1])
    assert start.weekday() == 5 and (MEETINGS[1].first_day - start).days in range(8, 15)
    assert cycle_phase(at_new_york(start - timedelta(days=1), "12:00"), MEETINGS, [], P).in_blackout is False
    assert cycle_phase(at_new_york(start, "12:00"), MEETINGS, [], P).in_blackout is True
    assert cycle_phase(at_new_york(DAYS[1] + timedelta(days=1), "12:00"), MEETINGS, [], P).in_blackout is True
    assert cycle_phase(at_new_york(DAYS[1] + timedelta(days=2), "12:00"), MEETINGS, [], P).in_blackout is False


def test_loud_warning_when_fewer_than_four_future_meetings() -> None:
    late = cycle_phase(at_new_york(DAYS[-3], "16:30"), MEETINGS, [], P)
    assert late.future_meetings_known == 2 and late.warnings and "fomc_schedule.toml" in late.warnings[0]
    assert cycle_phase(at_new_york(DAYS[0], "09:00"), MEETINGS, [], P).warnings == ()


@pytest.mark.parametrize(
    ("two", "bill", "expected"),
    [(4.0, 4.95, True), (4.9, 4.7, True), (5.1, 5.0, False), (None, None, None)],
)
def test_market_pricing(two: float | None, bill: float | None, expected: bool | None) -> None:
    snap = cycle_phase(datetime(2030, 1, 1, tzinfo=UTC), MEETINGS, [], P, Pricing(two, bill, 5.0))
    assert snap.cuts_expected is expected
    if two is not None:
        assert snap.cuts_priced_bp == pytest.approx((two - 5.0) * 100)
