"""When each job runs, and which are due now: the ledger, not the job store, decides catch-up.

Daily jobs belong to a trading session and have a scheduled New York wall time and a deadline after which running
them is no longer meaningful (a decision for tomorrow's open is useless once the open has passed). `due_jobs` is a
pure function of (now, calendar, ledger); the APScheduler triggers only wake the process up, and the simulated
clock replays the very same triggers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from clock import NEW_YORK
from runner.calendar import Session, TradingCalendar

# Alpaca rejects market-on-open orders submitted after 09:28 ET; keep a margin.
OPG_CUTOFF = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class DailyJob:
    """A job that runs once per trading session."""

    name: str
    at: time  # New York wall time
    misfire_grace_seconds: int  # how late APScheduler may still fire it (the ledger decides beyond that)
    deadline: Callable[[Session, TradingCalendar], datetime]

    def trigger(self) -> CronTrigger:
        return CronTrigger(day_of_week="mon-fri", hour=self.at.hour, minute=self.at.minute, timezone=NEW_YORK)

    def scheduled(self, session: Session) -> datetime:
        local = datetime.combine(session.day, self.at, tzinfo=NEW_YORK)
        return local.astimezone(session.open.tzinfo)


def _pre_open_deadline(session: Session, _: TradingCalendar) -> datetime:
    return session.open - OPG_CUTOFF


def _decision_deadline(session: Session, calendar: TradingCalendar) -> datetime:
    # Its intents are for the next open: meaningful until that session's submission cutoff.
    return calendar.next_session(session.day).open - OPG_CUTOFF


def _expiry_deadline(session: Session, _: TradingCalendar) -> datetime:
    # Close or roll puts by 15:00 ET (Alpaca may liquidate ITM longs ~15:15), earlier on half days.
    three_pm = datetime.combine(session.day, time(15, 0), tzinfo=NEW_YORK).astimezone(session.close.tzinfo)
    return min(three_pm, session.close - timedelta(minutes=15))


PRE_OPEN = DailyJob("pre_open", time(8, 45), 30 * 60, _pre_open_deadline)
EXPIRY = DailyJob("expiry", time(11, 30), 60 * 60, _expiry_deadline)
DECISION = DailyJob("decision", time(16, 30), 4 * 60 * 60, _decision_deadline)
DAILY_JOBS: tuple[DailyJob, ...] = (PRE_OPEN, EXPIRY, DECISION)

RECONCILE_EVERY = timedelta(minutes=5)
HEARTBEAT_EVERY = timedelta(seconds=30)  # the default tick: heartbeat and ledger check (`[paper] tick_seconds`)
RETRY_FAILED_AFTER = timedelta(minutes=2)  # a failed daily job is tried again this long after, while it is still due


class Every(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type hints
    """Fire every `interval`, counted from the last firing: after a suspend or a clock jump it fires once, now.

    APScheduler's IntervalTrigger keeps a fixed grid from its start: after a jump it walks every missed slot and,
    past the misfire grace, drops the run. A tick that checks the ledger must run as soon as the process wakes.
    """

    __slots__ = ("interval",)

    def __init__(self, interval: timedelta) -> None:
        if interval <= timedelta(0):
            raise ValueError(f"interval must be positive, not {interval}")
        self.interval = interval

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        if previous_fire_time is None:
            return now
        # Never further than one interval ahead: a clock stepped back must not silence the tick for the step.
        return min(max(previous_fire_time + self.interval, now), now + self.interval)

    def __repr__(self) -> str:
        return f"Every({self.interval})"


@dataclass(frozen=True, slots=True)
class DueJob:
    job: DailyJob
    session: Session
    scheduled: datetime
    deadline: datetime


def due_jobs(
    now: datetime, calendar: TradingCalendar, done: Callable[[str, str], bool], lookback_days: int = 6,
    since: datetime | None = None,
) -> tuple[list[DueJob], list[DueJob]]:
    """(due now in scheduled order, missed beyond their deadline and never run).

    `since` is when this state directory's first session started: a job whose deadline passed before then was never
    the bot's to run, so it is neither due nor missed (a fresh start does not report last week as missed). A job
    scheduled before `since` whose deadline is still ahead is due: starting at 17:00 still makes today's decision.
    """
    today = now.astimezone(NEW_YORK).date()
    sessions = calendar.sessions(today - timedelta(days=lookback_days), today)
    due: list[DueJob] = []
    missed: list[DueJob] = []
    for session in sessions:
        for job in DAILY_JOBS:
            scheduled = job.scheduled(session)
            if scheduled > now or done(job.name, session.day.isoformat()):
                continue
            item = DueJob(job, session, scheduled, job.deadline(session, calendar))
            if since is not None and item.deadline <= since:
                continue
            (due if now < item.deadline else missed).append(item)
    due.sort(key=lambda d: d.scheduled)
    return due, missed


def next_fire_times(after: datetime, until: datetime) -> list[tuple[datetime, str]]:
    """Every daily job's fire time in (after, until], from the same cron triggers the live scheduler uses."""
    out: list[tuple[datetime, str]] = []
    for job in DAILY_JOBS:
        trigger = job.trigger()
        previous: datetime | None = None
        cursor = after
        while True:
            fire = trigger.get_next_fire_time(previous, cursor)
            if fire is None or fire > until:
                break
            if fire > after:
                out.append((fire, job.name))
            previous = fire
            cursor = fire + timedelta(seconds=1)
    out.sort()
    return out


def upcoming(now: datetime, calendar: TradingCalendar, limit: int, days: int = 9) -> list[tuple[datetime, str]]:
    """The next `limit` daily-job fire times that fall on trading sessions (the cron also fires on holidays, to no
    effect: the ledger finds nothing due)."""
    today = now.astimezone(NEW_YORK).date()
    sessions = {s.day for s in calendar.sessions(today, today + timedelta(days=days + 1))}
    return [(at, name) for at, name in next_fire_times(now, now + timedelta(days=days)) if at.astimezone(NEW_YORK).date() in sessions][:limit]
