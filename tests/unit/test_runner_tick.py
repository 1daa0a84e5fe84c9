"""The paper trader's tick trigger (`runner.schedule.Every`) as APScheduler's job logic uses it: after a suspend or a
clock jump it fires once, at once; a clock stepped back does not silence it (R36)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler

from runner.schedule import Every

T0 = datetime(2024, 7, 3, 12, 40, tzinfo=UTC)  # 08:40 New York


def _job(trigger: Every, next_run: datetime) -> Job:
    sched = BackgroundScheduler(timezone=UTC)
    job = Job(sched, id="tick", func=print, args=(), kwargs={}, trigger=trigger, executor="default", misfire_grace_time=None,
              coalesce=True, max_instances=1, name="tick", next_run_time=next_run)
    return job


def test_first_fire_is_now_and_then_every_interval() -> None:
    tick = Every(timedelta(seconds=30))
    assert tick.get_next_fire_time(None, T0) == T0
    assert tick.get_next_fire_time(T0, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=30)


def test_after_a_forty_minute_stop_it_fires_once_now_not_eighty_times() -> None:
    tick = Every(timedelta(seconds=30))
    woke = T0 + timedelta(minutes=40)
    runs = _job(tick, T0 + timedelta(seconds=30))._get_run_times(woke)
    assert runs[-1] == woke and len(runs) == 2  # what APScheduler coalesces to one run, at the wake-up: never late
    assert tick.get_next_fire_time(runs[-1], woke) == woke + timedelta(seconds=30)


def test_a_clock_stepped_back_an_hour_keeps_ticking() -> None:
    tick = Every(timedelta(seconds=30))
    stepped = T0 - timedelta(hours=1)
    assert tick.get_next_fire_time(T0, stepped) == stepped + timedelta(seconds=30)


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Every(timedelta(0))
