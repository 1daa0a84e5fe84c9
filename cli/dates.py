"""One parser and one range check for every date a command takes (`--start`, `--end`, `--as-of`, `--history`,
`--simulate`, `explain RUN DATE`, `trades --from/--to`).

A bad date is bad input: `DateError` names the argument, what was wrong and the valid range; `main.py` prints it as
one line and exits 2. `parse_day` checks the form (YYYY-MM-DD, a real calendar day, 1900..2100); `check_window`
checks a START..END pair against the sessions the data holds (order, range, at least `min_sessions` sessions).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)
_FORM = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DateError(ValueError):
    """A date argument that is malformed or outside what the data covers: fix the argument."""


def parse_day(text: str, arg: str, *, bounded: bool = True) -> date:
    """`text` as a calendar day, or DateError naming `arg` (e.g. '--start') and the valid form and range.
    `bounded=False` leaves the range to a `check_window` against the data (its message names the data's range)."""
    raw = text.strip()
    if not _FORM.match(raw):
        raise DateError(f"{arg} {text!r}: expected a date YYYY-MM-DD; valid range {EARLIEST} .. {LATEST}")
    try:
        day = date.fromisoformat(raw)
    except ValueError as exc:  # 2024-13-01, 2000-02-30, 0000-01-01
        raise DateError(f"{arg} {text!r}: not a calendar day ({exc}); valid range {EARLIEST} .. {LATEST}") from None
    if bounded and not EARLIEST <= day <= LATEST:
        raise DateError(f"{arg} {raw}: outside the valid range {EARLIEST} .. {LATEST}")
    return day


def optional_day(text: str | None, arg: str) -> date | None:
    return None if text is None or text == "" else parse_day(text, arg)


def check_day(day: date, arg: str, sessions: Sequence[date], what: str) -> date:
    """`day` must fall within the first and last of `sessions` (what the data covers, described by `what`)."""
    if not sessions:
        raise DateError(f"{arg} {day}: {what} holds no sessions")
    if not sessions[0] <= day <= sessions[-1]:
        raise DateError(f"{arg} {day}: outside {what}; valid range {sessions[0]} .. {sessions[-1]}")
    return day


def check_window(start: date, end: date, sessions: Sequence[date], what: str, *, args: tuple[str, str] = ("--start", "--end"),
                 min_sessions: int = 2) -> list[date]:
    """The sessions of `start..end` (inclusive); DateError when the end is before the start, the window lies outside
    `sessions` (sorted; described by `what`, e.g. "IWM's bars") or holds fewer than `min_sessions` of them."""
    first_arg, last_arg = args
    if not sessions:
        raise DateError(f"{what} holds no sessions: load the data pack (`main.py data status`)")
    valid = f"valid range {sessions[0]} .. {sessions[-1]}"
    if start > sessions[-1]:
        raise DateError(f"{first_arg} {start} is after {what} end; {valid}")
    if end < sessions[0]:
        raise DateError(f"{last_arg} {end} is before {what} begin; {valid}")
    if end < start:
        raise DateError(f"{last_arg} {end} is before {first_arg} {start}; {valid}")
    if start < sessions[0]:
        raise DateError(f"{first_arg} {start} is before {what} begin; {valid}")
    if end > sessions[-1]:
        raise DateError(f"{last_arg} {end} is after {what} end; {valid}")
    inside = list(sessions[bisect.bisect_left(sessions, start) : bisect.bisect_right(sessions, end)])
    if len(inside) < min_sessions:
        held = "no trading session" if not inside else f"only {len(inside)} trading session ({inside[0]})"
        raise DateError(f"{first_arg} {start} .. {last_arg} {end} holds {held}; a run needs at least {min_sessions}; {valid}")
    return inside


def parse_instant(text: str, arg: str) -> datetime:
    """`text` as an instant (ISO 8601, e.g. 2024-09-03T09:00-04:00; a bare date is midnight UTC; no offset is UTC), or
    DateError naming `arg`."""
    raw = text.strip()
    try:
        instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise DateError(f"{arg} {text!r}: expected a date YYYY-MM-DD or an ISO time such as 2024-09-03T09:00-04:00") from None
    parse_day(instant.date().isoformat(), arg)  # the same range as every date argument
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)
