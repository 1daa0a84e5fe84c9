"""PhaseTracker (one pass over the days) against the replay it replaces: the decisions known at each instant
stepped from the start, on decision lists where announcements come out of date order and instants go back."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from signals.fomc import CalendarMeeting, Decision, at_new_york
from signals.params import PhaseParams
from signals.phase import PhaseTracker, _Cycle, _step
from signals.snapshot import Phase

P = PhaseParams()
START = date(2030, 1, 15)
MEETINGS = [CalendarMeeting(START + timedelta(days=42 * k - 1), START + timedelta(days=42 * k), "pack") for k in range(30)]


def replayed(as_of: datetime, decisions: list[Decision]) -> tuple[object, ...]:
    """What the phase said before PhaseTracker: every known decision stepped from the start, each aggregate searched."""
    known = [d for d in decisions if d.known_at <= as_of]
    state = _Cycle()
    for d in known:
        _step(state, d, P)
    last_move = next((d for d in reversed(known) if d.bp != 0), None)
    cuts_since = state.quiet_meetings if state.name in ("cutting_early", "pause", "cutting_later") else 0
    if state.name not in ("cutting_early", "pause", "cutting_later") and last_move is not None and last_move.bp < 0:
        cuts_since = sum(1 for d in known if d.scheduled and d.bp == 0 and d.day > last_move.day)
    target = next((d.target_high for d in reversed(known) if d.target_high is not None), None)
    return (state.name, state.first_cut, state.later_start, state.cuts, state.bp, known[-1].day if known else None,
            last_move.day if last_move else None, cuts_since, target)


def fields_of(p: Phase) -> tuple[object, ...]:
    return (p.name, p.cycle_first_cut, p.later_phase_start, p.cuts_in_cycle, p.cumulative_bp, p.last_decision, p.last_move,
            p.meetings_since_last_cut, p.target_upper)


decision_lists = st.lists(
    st.tuples(st.integers(0, 29), st.sampled_from([-50.0, -25.0, 0.0, 0.0, 25.0]), st.booleans(), st.integers(0, 60), st.sampled_from([None, 3.0, 4.5])),
    max_size=25,
)


@given(decision_lists, st.lists(st.integers(0, 1300), min_size=1, max_size=40))
@settings(max_examples=150, deadline=None)
def test_tracker_equals_the_replay(raw: list[tuple[int, float, bool, int, float | None]], offsets: list[int]) -> None:
    decisions = sorted(
        (Decision(MEETINGS[k].day, bp, None, target, scheduled, "scheduled", at_new_york(MEETINGS[k].day + timedelta(days=late), "14:15"), "t")
         for k, bp, scheduled, late, target in raw),
        key=lambda d: (d.day, d.known_at),
    )
    tracker = PhaseTracker(MEETINGS, decisions, P)
    for offset in sorted(offsets) + offsets:  # forward in time, then in any order (going back replays)
        as_of = at_new_york(START + timedelta(days=offset), "16:30")
        assert fields_of(tracker.at(as_of)) == replayed(as_of, decisions)
