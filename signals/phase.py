"""The cut-cycle phase: a pure function of (as_of, calendar, decisions, params) plus what the market prices.

The rules, applied to the decisions known at `as_of` in date order:
- a hike starts (or continues) **tightening**; after `hold_after_hike_meetings` scheduled meetings without a hike
  the Fed is **on hold**;
- a cut when no easing cycle is running starts one: **cutting (early phase)**, and that cut is the cycle's first cut;
- `pause_after_meetings` scheduled meetings in a row without a cut turn the cycle into a **pause**;
- a cut during a pause restarts it: **cutting (later phase)**; the first restart is the later-phase start;
- `cycle_end_after_meetings` scheduled meetings in a row without a cut end the cycle (**on hold**), so the next
  cut starts a new cycle (2001 -> 2002-11 is a new cycle; the 2025 pause of five meetings is not).
Inter-meeting moves count as cuts or hikes; calls without a move do not count as meetings.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from clock import NEW_YORK
from signals.fomc import CalendarMeeting, Decision, at_new_york, blackout_start
from signals.params import PhaseParams
from signals.snapshot import Phase, PhaseName


@dataclass(frozen=True, slots=True)
class Pricing:
    """Market pricing at as_of, percent: 2-year yield, 3-month bill and effective fed funds (None when unknown)."""

    two_year: float | None
    bill: float | None
    effr: float | None


@dataclass(slots=True)
class _Cycle:
    name: PhaseName = "on_hold"
    first_cut: date | None = None
    later_start: date | None = None
    cuts: int = 0
    bp: float = 0.0
    quiet_meetings: int = 0  # scheduled meetings in a row without a move in the cycle's direction


def _step(state: _Cycle, d: Decision, params: PhaseParams) -> None:
    if d.bp > 0:
        state.name, state.first_cut, state.later_start, state.cuts, state.bp, state.quiet_meetings = "tightening", None, None, 0, 0.0, 0
    elif d.bp < 0:
        if state.name in ("on_hold", "tightening"):
            state.name, state.first_cut, state.later_start, state.cuts, state.bp = "cutting_early", d.day, None, 0, 0.0
        elif state.name == "pause":
            state.name = "cutting_later"
            state.later_start = state.later_start or d.day
        state.cuts += 1
        state.bp += d.bp
        state.quiet_meetings = 0
    elif d.scheduled:
        state.quiet_meetings += 1
        if state.name == "tightening" and state.quiet_meetings >= params.hold_after_hike_meetings:
            state.name = "on_hold"
        elif state.name in ("cutting_early", "cutting_later", "pause"):
            if state.quiet_meetings >= params.cycle_end_after_meetings:
                state.name, state.first_cut, state.later_start, state.cuts, state.bp = "on_hold", None, None, 0, 0.0
            elif state.quiet_meetings >= params.pause_after_meetings:
                state.name = "pause"


def phase_history(decisions: Sequence[Decision], params: PhaseParams) -> list[tuple[Decision, PhaseName, date | None, date | None]]:
    """The phase after each decision (for the event study): (decision, phase, cycle first cut, later-phase start)."""
    state = _Cycle()
    out = []
    for d in decisions:
        _step(state, d, params)
        out.append((d, state.name, state.first_cut, state.later_start))
    return out


def cycle_phase(
    as_of: datetime,
    meetings: Sequence[CalendarMeeting],
    decisions: Sequence[Decision],
    params: PhaseParams,
    pricing: Pricing | None = None,
) -> Phase:
    """The phase at `as_of` from the decisions known by then (`decisions` may hold later ones: they are ignored)."""
    return PhaseTracker(meetings, decisions, params).at(as_of, pricing)


class PhaseTracker:
    """`cycle_phase` over a run of instants: each call costs only the decisions that became known since the
    previous one, so a history of days is one pass over the meetings (a backtest asks every session).

    Equal to `cycle_phase` at every instant: decisions are stepped in list (date) order; when one becomes known
    after a later-dated one was (possible only for decisions known late), or `as_of` goes back, the known list is
    replayed from the start."""

    def __init__(self, meetings: Sequence[CalendarMeeting], decisions: Sequence[Decision], params: PhaseParams) -> None:
        self._meetings = meetings
        self._meeting_days = [m.day for m in meetings]  # meetings are in date order
        self._decisions = decisions
        self._reveal = sorted(range(len(decisions)), key=lambda i: decisions[i].known_at)  # indexes in the order they become known
        self._params = params
        self._reset()

    def _reset(self) -> None:
        self._revealed = 0  # how many of `_reveal` are known
        self._known: list[int] = []  # indexes of known decisions, ascending
        self._state = _Cycle()
        self._last_move: Decision | None = None  # the last known decision that moved the target
        self._holds_after_move = 0  # scheduled holds after it (on a later day)
        self._target: float | None = None  # the last known target upper bound
        self._as_of: datetime | None = None

    def _step(self, d: Decision) -> None:
        _step(self._state, d, self._params)
        if d.bp != 0:
            self._last_move, self._holds_after_move = d, 0
        elif d.scheduled and self._last_move is not None and d.day > self._last_move.day:
            self._holds_after_move += 1
        if d.target_high is not None:
            self._target = d.target_high

    def _advance(self, as_of: datetime) -> None:
        if self._as_of is not None and as_of < self._as_of:
            self._reset()
        self._as_of = as_of
        new: list[int] = []
        while self._revealed < len(self._reveal) and self._decisions[self._reveal[self._revealed]].known_at <= as_of:
            new.append(self._reveal[self._revealed])
            self._revealed += 1
        if not new:
            return
        new.sort()
        if self._known and new[0] < self._known[-1]:  # known out of date order: replay everything known
            known = sorted(self._known + new)
            revealed = self._revealed
            self._reset()
            self._revealed, self._as_of, new = revealed, as_of, known
        for i in new:
            self._known.append(i)
            self._step(self._decisions[i])

    def at(self, as_of: datetime, pricing: Pricing | None = None) -> Phase:
        """The phase at `as_of`."""
        self._advance(as_of)
        params, meetings, state = self._params, self._meetings, self._state
        today = as_of.astimezone(NEW_YORK).date()
        first = bisect_left(self._meeting_days, today)
        if first < len(meetings) and meetings[first].day == today and at_new_york(today, params.statement_time) <= as_of:
            first += 1
        upcoming = len(meetings) - first
        nxt = meetings[first] if upcoming else None
        previous = meetings[first - 1] if first > 0 else None  # the last meeting already decided
        in_blackout = bool(nxt and blackout_start(nxt) <= today) or bool(previous and previous.day + timedelta(days=1) >= today)
        if nxt is not None and nxt.day == today:
            in_blackout = True
        last_move = self._last_move
        last = self._decisions[self._known[-1]] if self._known else None
        cuts_since = 0
        if state.name in ("cutting_early", "pause", "cutting_later"):
            cuts_since = state.quiet_meetings
        elif last_move is not None and last_move.bp < 0:
            cuts_since = self._holds_after_move
        priced, bill_bp, expected = _pricing(pricing, params)
        warnings: tuple[str, ...] = ()
        if upcoming < params.min_future_meetings:
            warnings = (
                f"only {upcoming} future FOMC meeting(s) known at {today}: add the Fed's published schedule to config/fomc_schedule.toml",
            )
        return Phase(
            name=state.name,
            next_meeting=nxt.day if nxt else None,
            days_to_next_meeting=(nxt.day - today).days if nxt else None,
            in_blackout=in_blackout,
            cycle_first_cut=state.first_cut,
            later_phase_start=state.later_start,
            cuts_in_cycle=state.cuts,
            cumulative_bp=state.bp,
            last_decision=last.day if last else None,
            last_decision_bp=last.bp if last else None,
            meetings_since_last_cut=cuts_since,
            cuts_priced_bp=priced,
            cuts_expected=expected,
            target_upper=self._target,
            bill_minus_effr_bp=bill_bp,
            last_move=last_move.day if last_move else None,
            last_move_bp=last_move.bp if last_move else None,
            last_move_intermeeting=bool(last_move and last_move.intermeeting),
            future_meetings_known=upcoming,
            warnings=warnings,
        )


def _pricing(pricing: Pricing | None, params: PhaseParams) -> tuple[float | None, float | None, bool | None]:
    """(2y - EFFR bp, bill - EFFR bp, cuts expected?). 'Clearly below' = below by the configured margin."""
    if pricing is None or pricing.effr is None:
        return None, None, None
    two = None if pricing.two_year is None else round((pricing.two_year - pricing.effr) * 100.0, 6)
    bill = None if pricing.bill is None else round((pricing.bill - pricing.effr) * 100.0, 6)
    if two is None and bill is None:
        return None, None, None
    expected = (two is not None and two <= -params.two_year_cut_bp) or (bill is not None and bill <= -params.bill_cut_bp)
    return two, bill, expected
