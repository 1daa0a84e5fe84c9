"""`main.py paper`: the long-running scheduled paper trader on APScheduler 3.x (R26).

Every trigger is a New York cron or interval; APScheduler only wakes the process up. What runs is decided by the
journal's run ledger (`Jobs.run_due`), so a restart, a stop over a job, or a second wake-up on the same day runs
each daily job at most once, and only while it is still meaningful. SIGTERM/SIGINT stop the scheduler after the
running job (R24); broker orders stay open.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from types import FrameType

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, EVENT_SCHEDULER_STARTED, JobExecutionEvent, SchedulerEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from broker.contract import BrokerError
from clock import NEW_YORK, Clock
from config.schema import AppConfig
from config.secrets import Secrets
from datastore.store import Store
from runner.compose import MissingKeys, open_session
from runner.guards import AlreadyRunning, write_heartbeat
from runner.jobs import Jobs, PaperDeps
from runner.schedule import DAILY_JOBS, HEARTBEAT_EVERY, RECONCILE_EVERY, next_fire_times

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class PaperRunner:
    """The jobs plus the process around them: heartbeat, scheduler, signals."""

    def __init__(self, deps: PaperDeps) -> None:
        self.deps = deps
        self.jobs = Jobs(deps)
        self.scheduler: BlockingScheduler | None = None
        self.stopping = False

    @property
    def heartbeat_path(self) -> Path:
        return self.deps.state_dir / "status.json"

    def heartbeat(self) -> None:
        d = self.deps
        now = d.clock.now()
        d.health.next_jobs = self.jobs.next_jobs(now)
        d.health.extra["kill_switch"] = d.kill_file.exists()
        d.health.extra["run_id"] = d.run_id
        try:
            write_heartbeat(self.heartbeat_path, d.health, now)
        except OSError as exc:
            log.error("cannot write the heartbeat: %s", exc)

    def wake(self) -> None:
        """What every daily trigger does: run what the ledger says is due, then beat."""
        self.jobs.run_due()
        self.heartbeat()

    # -- the live process -----------------------------------------------------------------------------------------

    def build_scheduler(self) -> BlockingScheduler:
        sched = BlockingScheduler(timezone=NEW_YORK, job_defaults={"coalesce": True, "max_instances": 1})
        for job in DAILY_JOBS:
            sched.add_job(self.wake, job.trigger(), id=job.name, name=job.name, misfire_grace_time=job.misfire_grace_seconds,
                          coalesce=True, max_instances=1)
        sched.add_job(self.jobs.intraday_reconcile, IntervalTrigger(seconds=int(RECONCILE_EVERY.total_seconds()), timezone=NEW_YORK),
                      id="reconcile", misfire_grace_time=60, coalesce=True, max_instances=1)
        sched.add_job(self.heartbeat, IntervalTrigger(seconds=int(HEARTBEAT_EVERY.total_seconds()), timezone=NEW_YORK),
                      id="heartbeat", misfire_grace_time=30, coalesce=True, max_instances=1)
        sched.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        sched.add_listener(self._on_missed, EVENT_JOB_MISSED)
        sched.add_listener(self._on_error, EVENT_JOB_ERROR)
        return sched

    def _on_started(self, _event: SchedulerEvent) -> None:
        self.deps.health.extra["scheduler"] = "running"
        self.heartbeat()

    def _on_missed(self, event: JobExecutionEvent) -> None:
        self.deps.health.jobs_missed += 1
        log.warning("scheduler missed %s at %s: the ledger catches it up while it is still meaningful", event.job_id, event.scheduled_run_time)

    def _on_error(self, event: JobExecutionEvent) -> None:
        self.deps.health.jobs_failed += 1
        self.deps.health.last_error = f"{event.job_id}: {type(event.exception).__name__}: {event.exception}"
        log.error("job %s raised %s", event.job_id, self.deps.health.last_error)

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the running job", signum)
        self.stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def serve(self) -> int:
        """Catch up from the ledger, then block on the scheduler until SIGTERM/SIGINT (handled from the first moment)."""
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.wake()
            if not self.stopping:
                self.scheduler = self.build_scheduler()
                self.scheduler.start()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.deps.health.extra["scheduler"] = "stopped"
            self.heartbeat()
        return EXIT_OK


Refresh = Callable[[Store, Secrets], None]


def paper_command(cfg: AppConfig, env: Mapping[str, str], clock: Clock, *, dry_run: bool = False, refresh: Refresh | None = None) -> int:
    """`main.py paper [--dry-run]`: run until SIGTERM/SIGINT. Returns the process exit code; errors go to the log."""
    try:
        session = open_session(cfg, env, clock, mode="paper", dry_run=dry_run, refresh=refresh)
    except (AlreadyRunning, MissingKeys) as exc:
        log.error("%s", exc)
        return EXIT_BAD_INPUT
    except BrokerError as exc:
        log.error("cannot start: %s: %s", type(exc).__name__, exc)
        return EXIT_FAILURE
    try:
        sys.stderr.write(start_line(cfg, env, clock, session.deps.run_id, session.deps.journal.path, dry_run) + "\n")
        sys.stderr.flush()
        return PaperRunner(session.deps).serve()
    finally:
        session.close()


def start_line(cfg: AppConfig, env: Mapping[str, str], clock: Clock, run_id: str, journal: Path, dry_run: bool) -> str:
    """What a user sees when the trader starts: mode, endpoint, where its state is, and the next jobs (New York time)."""
    from broker.alpaca.clients import trading_url

    now = clock.now()
    upcoming = next_fire_times(now, now + timedelta(days=4))[:3]
    jobs = ", ".join(f"{name} {at.astimezone(NEW_YORK):%a %m-%d %H:%M} ET" for at, name in upcoming) or "none in the next 4 days"
    mode = "paper, dry run (no orders sent)" if dry_run else "paper"
    return (f"cutcycle paper trader started: {mode}; endpoint {trading_url(cfg.alpaca, Secrets.from_env(env))}; state {journal.parent} "
            f"(run {run_id}); next jobs: {jobs}; `main.py status` shows it, Ctrl-C or SIGTERM stops it")


def data_refresh(cfg: AppConfig, clock: Clock) -> Refresh:
    """The pre-open refresh: FRED series and Alpaca daily bars into the store (`data sync`'s code path)."""

    def refresh(store: Store, secrets: Secrets) -> None:
        from broker.alpaca.clients import build_clients
        from broker.alpaca.safety import EndpointGuard
        from datastore.alpaca_bars import BarsClient
        from datastore.sync import sync_all

        def bars_client() -> BarsClient:
            guard = EndpointGuard(live=cfg.alpaca.live, allow_live=secrets.allow_live)
            client: BarsClient = build_clients(cfg.alpaca, secrets, guard=guard, wall=clock).stock_data
            return client

        report = sync_all(store, cfg, secrets, clock, bars_client=bars_client)
        for line in report.lines:
            log.info("refresh: %s", line)

    return refresh
