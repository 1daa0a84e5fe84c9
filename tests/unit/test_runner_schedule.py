"""Scheduling rules of the paper trader: DST, holidays, half days, restarts and long stops."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from clock import NEW_YORK
from journal.journal import Journal
from runner.calendar import TradingCalendar, session_from_naive
from runner.guards import AlreadyRunning, Health, InstanceLock, kill_switch_engaged, read_heartbeat, write_heartbeat
from runner.schedule import DAILY_JOBS, due_jobs, next_fire_times

CAL = TradingCalendar()


def ny(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.mark.parametrize(("before", "after"), [(date(2026, 3, 6), date(2026, 3, 9)), (date(2026, 10, 30), date(2026, 11, 2))])
def test_jobs_keep_new_york_wall_time_across_dst(before: date, after: date) -> None:
    fires = next_fire_times(ny(before.year, before.month, before.day, 0, 0), ny(after.year, after.month, after.day, 23, 0))
    walls = {(f.astimezone(NEW_YORK).date(), name): f.astimezone(NEW_YORK).strftime("%H:%M") for f, name in fires}
    for job in DAILY_JOBS:
        assert walls[(before, job.name)] == walls[(after, job.name)] == job.at.strftime("%H:%M")
    utc_hours = {f.astimezone(UTC).hour for f, name in fires if name == "decision"}
    assert len(utc_hours) == 2  # the UTC hour moves, the New York time does not


def test_no_daily_job_on_a_holiday_and_half_day_expiry_is_early() -> None:
    thanksgiving = date(2026, 11, 26)
    assert CAL.session(thanksgiving) is None
    due, missed = due_jobs(ny(2026, 11, 26, 20, 0), CAL, lambda j, d: d != "2026-11-26" and d < "2026-11-26")
    assert not [x for x in due + missed if x.session.day == thanksgiving]
    half = CAL.session(date(2026, 11, 27))
    assert half is not None and half.early_close
    expiry = next(j for j in DAILY_JOBS if j.name == "expiry")
    assert expiry.deadline(half, CAL) == ny(2026, 11, 27, 12, 45)


def test_two_restarts_in_one_day_run_the_decision_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "paper.sqlite")
    journal.start_run("s1", kind="paper", label="p", created_at=ny(2026, 6, 1, 8, 0), config={}, config_hash="h", data_versions={}, code_version="v")
    runs = 0
    for restart_at in (ny(2026, 6, 2, 16, 40), ny(2026, 6, 2, 17, 5), ny(2026, 6, 2, 18, 0)):
        due, _ = due_jobs(restart_at, CAL, journal.job_done, lookback_days=0)
        for item in due:
            if item.job.name == "decision":
                runs += 1
            journal.mark_job("s1", item.job.name, item.session.day.isoformat(), outcome="done", at=restart_at)
    assert runs == 1


def test_a_process_stopped_for_hours_catches_up_only_what_is_still_meaningful() -> None:
    # Down from Friday 15:00 to Monday 08:00: Friday's decision (for Monday's open) is still useful; nothing else is pending.
    due, missed = due_jobs(ny(2026, 6, 8, 8, 0), CAL, lambda job, day: day < "2026-06-05" or (day == "2026-06-05" and job != "decision"))
    assert [(d.job.name, d.session.day) for d in due] == [("decision", date(2026, 6, 5))]
    assert missed == []
    # Down until Monday 10:00: the decision's deadline (Monday's open) has passed, and so has Monday's pre-open.
    due, missed = due_jobs(ny(2026, 6, 8, 10, 0), CAL, lambda job, day: day < "2026-06-05" or (day == "2026-06-05" and job != "decision"))
    assert due == []
    assert {(m.job.name, m.session.day) for m in missed} == {("decision", date(2026, 6, 5)), ("pre_open", date(2026, 6, 8))}


def test_alpaca_calendar_times_are_new_york_and_fallback_is_xnys() -> None:
    s = session_from_naive(date(2026, 7, 2), "09:30", "16:00")
    assert s.open == ny(2026, 7, 2, 9, 30) and s.close == datetime(2026, 7, 2, 20, 0, tzinfo=UTC)

    def broken(start: date, end: date) -> list:  # type: ignore[type-arg]
        raise ConnectionError("calendar endpoint down")

    cal = TradingCalendar(broken)
    assert cal.session(date(2026, 7, 3)) is None  # Independence Day observed
    assert cal.source == "exchange_calendars"


def test_single_instance_lock(tmp_path: Path) -> None:
    with InstanceLock(tmp_path):
        with pytest.raises(AlreadyRunning, match="another paper trader"):
            InstanceLock(tmp_path).acquire()
        other = subprocess.run(
            [sys.executable, "-c", f"from runner.guards import InstanceLock; from pathlib import Path; InstanceLock(Path({str(tmp_path)!r})).acquire()"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert other.returncode != 0 and "AlreadyRunning" in other.stderr
    again = InstanceLock(tmp_path)  # released on exit
    again.acquire()
    again.release()


def test_kill_switch_and_heartbeat(tmp_path: Path) -> None:
    kill = tmp_path / "KILL"
    assert not kill_switch_engaged(kill)
    kill.touch()
    assert kill_switch_engaged(kill)
    beat = tmp_path / "status.json"
    write_heartbeat(beat, Health(started_at="t0", mode="paper", jobs_run=3), ny(2026, 6, 1, 9, 0))
    data = read_heartbeat(beat)
    assert data is not None and data["jobs_run"] == 3 and data["last_heartbeat"].startswith("2026-06-01T13:00")
    assert beat.stat().st_mode & 0o777 == 0o600
