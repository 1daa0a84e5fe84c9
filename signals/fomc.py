"""The FOMC calendar and its decisions, point-in-time.

*Calendar*: regularly scheduled meetings from the pack's meeting list (history) plus the project's published
schedule (`config/fomc_schedule.toml`, upcoming). Unscheduled meetings and calls are never "upcoming": they only
appear once their decision is known.

*Decisions* are derived from the target-rate path (DFEDTAR to 2008-12-15, then the DFEDTARU/DFEDTARL range; the
upper bound measures a move): for each calendar entry, the target the day after it (capped before the next entry)
minus the target the day before it. A target change that no entry explains is an unlisted inter-meeting move.
Where the target series does not (yet) reach the day after a statement meeting, the meeting list's own decision
is used instead; the two are cross-checked wherever both exist.

When a decision is known (`known_at`):
- a scheduled meeting since the first same-day statement (1994-02-04): the meeting day at the statement time;
- anything else (calls, unscheduled meetings, pre-1994 meetings): when the target series first shows the new target
  (its own availability), or for a hold, the day after the meeting - never earlier than the market could know.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from clock import NEW_YORK, ensure_utc
from datastore.pack import Meeting
from signals.params import PhaseParams

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CalendarMeeting:
    """A regularly scheduled meeting: first and last (decision) day."""

    first_day: date
    day: date
    source: str  # "pack" or "schedule"


@dataclass(frozen=True, slots=True)
class Decision:
    """One FOMC decision (a move, or a hold at a scheduled meeting) and when it became known."""

    day: date  # the calendar entry's date (the meeting or call), or the effective day of an unlisted move
    bp: float  # change of the target (upper bound), basis points; 0 = hold
    target_low: float | None
    target_high: float | None
    scheduled: bool
    kind: str  # scheduled | unscheduled | conference_call | intermeeting_action | unlisted | pre_calendar
    known_at: datetime  # UTC
    source: str  # "target series" or "meeting list"

    @property
    def intermeeting(self) -> bool:
        """An emergency move: not taken at a regularly scheduled meeting."""
        return not self.scheduled and self.bp != 0

    def __post_init__(self) -> None:
        if self.bp != self.bp:
            raise ValueError("decision bp is NaN")


@dataclass(frozen=True, slots=True)
class TargetPath:
    """The daily target (upper, lower) with each observation's availability; one row per calendar day."""

    days: np.ndarray  # datetime64[D], ascending
    upper: np.ndarray
    lower: np.ndarray
    available: np.ndarray  # int64 ns UTC

    @classmethod
    def from_frames(cls, point: pd.DataFrame, upper: pd.DataFrame, lower: pd.DataFrame) -> TargetPath:
        """`point` = DFEDTAR as of some instant, `upper`/`lower` = DFEDTARU/DFEDTARL (frames of value, available_at)."""
        rng = upper.join(lower["value"].rename("low"), how="inner")
        days = np.concatenate([point.index.to_numpy("datetime64[D]"), rng.index.to_numpy("datetime64[D]")])
        up = np.concatenate([point["value"].to_numpy(float), rng["value"].to_numpy(float)])
        low = np.concatenate([point["value"].to_numpy(float), rng["low"].to_numpy(float)])
        avail = np.concatenate(
            [
                point["available_at"].dt.as_unit("ns").astype("int64").to_numpy(),
                rng["available_at"].dt.as_unit("ns").astype("int64").to_numpy(),
            ]
        )
        order = np.argsort(days, kind="stable")
        return cls(days[order], up[order], low[order], avail[order])

    def last_day(self) -> date | None:
        return None if len(self.days) == 0 else _d(self.days[-1])

    def index_on(self, day: date) -> int:
        """Index of the last observation on or before `day` (-1 if none)."""
        return int(np.searchsorted(self.days, np.datetime64(day, "D"), side="right")) - 1


def _d(value: np.datetime64) -> date:
    return date.fromisoformat(str(value.astype("datetime64[D]")))


@lru_cache(maxsize=65536)
def at_new_york(day: date, hhmm: str) -> datetime:
    """The UTC instant of New York wall time `hhmm` on `day` (pure; cached because history asks it a lot)."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    return ensure_utc(datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK))


def _from_ns(ns: int) -> datetime:
    return ensure_utc(pd.Timestamp(ns, tz="UTC").to_pydatetime())


def derive_decisions(path: TargetPath, meetings: Sequence[Meeting], params: PhaseParams) -> tuple[Decision, ...]:
    """Every decision explained by the target path and the meeting list, in date order (see the module doc)."""
    statements_since = date.fromisoformat(params.statements_since)
    entries = _distinct(meetings)
    out: list[Decision] = []
    explained: set[int] = set()  # indexes of target changes attributed to an entry
    last = path.last_day()
    for k, entry in enumerate(entries):
        after_day = entry.day + timedelta(days=1)
        if k + 1 < len(entries):
            after_day = min(after_day, entries[k + 1].day - timedelta(days=1))
        after_day = max(after_day, entry.day)
        statement = entry.scheduled and entry.day >= statements_since
        i0 = path.index_on(entry.day - timedelta(days=1))
        covered_to = min(after_day, last) if last is not None else None
        i1 = path.index_on(covered_to) if covered_to is not None and covered_to >= entry.day else -1
        if i0 >= 0 and i1 > i0 and (not statement or covered_to == after_day):
            before, after = path.upper[i0], path.upper[i1]
            change = [i for i in range(i0 + 1, i1 + 1) if path.upper[i] != path.upper[i - 1]]
            explained.update(change)
            bp = round(float(after - before) * 100.0, 6)
            if statement:
                known = at_new_york(entry.day, params.statement_time)
            elif change:
                known = _from_ns(int(path.available[change[0]]))
            elif covered_to == after_day and entry.scheduled:
                known = _from_ns(int(path.available[i1]))
            else:
                continue  # a call without a move (or not yet confirmed by the series): not a decision
            out.append(Decision(entry.day, bp, float(path.lower[i1]), float(path.upper[i1]), entry.scheduled, entry.kind, known, "target series"))
        elif (last is None or last < after_day) and entry.decision_bp is not None:
            # the target series does not reach this meeting yet: the meeting list's decision, known at the statement.
            # A move the series already shows on the meeting day is that decision, not an unlisted one as well (the
            # live snapshot at 16:30 on a meeting day sees the series up to that day only).
            explained.update(i for i in range(i0 + 1, i1 + 1) if i0 >= 0 and path.upper[i] != path.upper[i - 1])
            known = at_new_york(entry.day if statement else after_day, params.statement_time)
            out.append(
                Decision(entry.day, float(entry.decision_bp), entry.target_low, entry.target_high, entry.scheduled, entry.kind, known, "meeting list")
            )
    first_entry = entries[0].day if entries else None
    for i in range(1, len(path.days)):
        if i in explained or path.upper[i] == path.upper[i - 1]:
            continue
        day = _d(path.days[i])
        kind = "pre_calendar" if first_entry is None or day < first_entry else "unlisted"
        bp = round(float(path.upper[i] - path.upper[i - 1]) * 100.0, 6)
        out.append(Decision(day, bp, float(path.lower[i]), float(path.upper[i]), False, kind, _from_ns(int(path.available[i])), "target series"))
        if kind == "unlisted":
            log.warning("target change on %s (%+.0f bp) matches no FOMC calendar entry: marked as an unlisted inter-meeting move", day, bp)
    out.sort(key=lambda d: (d.day, d.known_at))
    return tuple(out)


def _distinct(meetings: Sequence[Meeting]) -> list[Meeting]:
    """Date order; a scheduled entry the day before another scheduled entry is the same two-day meeting listed
    twice (the pack lists both 2003-09-15 and 2003-09-16): only the later day is kept."""
    entries = sorted(meetings, key=lambda m: m.day)
    return [
        m
        for k, m in enumerate(entries)
        if not (m.scheduled and k + 1 < len(entries) and entries[k + 1].scheduled and (entries[k + 1].day - m.day).days == 1)
    ]


def cross_check(decisions: Sequence[Decision], meetings: Sequence[Meeting]) -> list[str]:
    """Disagreements between series-derived decisions and the meeting list (empty when they agree)."""
    listed = {m.day: m for m in meetings}
    problems: list[str] = []
    for d in decisions:
        m = listed.get(d.day)
        if d.source != "target series" or m is None or m.decision_bp is None:
            continue
        if abs(m.decision_bp - d.bp) > 1e-6:
            problems.append(f"{d.day}: target series {d.bp:+.0f} bp, meeting list {m.decision_bp:+.0f} bp")
    for m in meetings:
        if m.decision_bp and m.day not in {d.day for d in decisions}:
            problems.append(f"{m.day}: meeting list has {m.decision_bp:+.0f} bp, the target series shows no decision")
    return problems


def known_decisions(decisions: Sequence[Decision], as_of: datetime) -> list[Decision]:
    """The decisions announced by `as_of`."""
    return [d for d in decisions if d.known_at <= as_of]


def load_schedule(path: Path) -> tuple[CalendarMeeting, ...]:
    """Read the published schedule file (`meetings = [{start, end}, ...]`)."""
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    out: list[CalendarMeeting] = []
    for n, item in enumerate(raw.get("meetings", []), start=1):
        start, end = item.get("start"), item.get("end")
        if not isinstance(start, date) or not isinstance(end, date) or end < start or (end - start).days > 2:
            raise ValueError(f"{path}: meeting #{n} needs TOML dates start <= end (at most 2 days apart), got {item!r}")
        out.append(CalendarMeeting(start, end, "schedule"))
    days = [m.day for m in out]
    if days != sorted(set(days)):
        raise ValueError(f"{path}: meetings must be in date order without duplicates")
    return tuple(out)


def calendar(meetings: Sequence[Meeting], schedule: Sequence[CalendarMeeting] = ()) -> tuple[CalendarMeeting, ...]:
    """Regularly scheduled meetings: the pack's history, then the published schedule (by day, no duplicates)."""
    by_day = {m.day: CalendarMeeting(m.day - timedelta(days=1), m.day, "pack") for m in _distinct(meetings) if m.scheduled}
    for m in schedule:
        by_day.setdefault(m.day, m)
    return tuple(by_day[d] for d in sorted(by_day))


def blackout_start(meeting: CalendarMeeting) -> date:
    """Midnight ET of the second Saturday before the meeting's first day (the Fed's communication blackout)."""
    back = (meeting.first_day.weekday() - 5) % 7 or 7  # days back to the previous Saturday
    return meeting.first_day - timedelta(days=back + 7)
