"""`main.py paper`: the long-running scheduled paper trader on APScheduler 3.x (R26, R35, R36).

Every trigger is a New York cron or a tick; APScheduler only wakes the process up. What runs is decided by the
journal's run ledger (`Jobs.run_due`), so a restart, a stop over a job, or a second wake-up on the same day runs
each daily job at most once, and only while it is still meaningful. SIGTERM/SIGINT stop the scheduler after the
running job (R24); broker orders stay open.

Threads. Every job runs on ONE worker thread (an APScheduler thread pool of size 1, `cutcycle-job`): the daily
triggers, the tick, the intraday reconcile and any catch-up. The journal, the store, the broker's HTTP sessions and
the calendar and snapshot caches are opened once on the main thread and handed to that worker; the main thread
touches them only before the scheduler starts (the start-up catch-up) and after its worker has been joined. One
owner at a time means no locks around the journal, no two jobs interleaving a reconcile with a submit, and the
SQLite connections need only `check_same_thread=False`, not one connection per thread (a per-thread design would
still need the jobs serialized, and would leave a connection behind in every pool thread). A job that hangs stops
the heartbeat too, which `status` reports as stale: a hang is seen, not hidden behind a healthy beat.

Late jobs. The tick (`[paper] tick_seconds`, default 30 s) writes the heartbeat and asks the ledger what is due, so
a job the scheduler dropped as too late (a SIGSTOP, a suspended machine, a clock jump past its misfire grace) runs
within one tick of the process waking, while its deadline allows; a missed trigger also queues an immediate
catch-up. The tick fires once after a jump, not once per interval skipped (`runner.schedule.Every`).
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from types import FrameType

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from broker.contract import BrokerError
from cli.boundary import EXIT_OK, Failure, UsageError
from clock import NEW_YORK, Clock
from config.schema import AppConfig
from config.secrets import Secrets
from datastore.releases import SeriesDerivation
from datastore.store import Store
from runner.alerts import AlertFeed, ny
from runner.compose import MissingKeys, open_session
from runner.guards import AlreadyRunning, StateRefused, write_heartbeat
from runner.jobs import Jobs, PaperDeps
from runner.notify import Event, Notifier, build_notifier
from runner.schedule import DAILY_JOBS, HEARTBEAT_EVERY, RECONCILE_EVERY, Every, next_fire_times

log = logging.getLogger(__name__)


JOB_THREAD = "cutcycle-job"
STOP_POLL_SECONDS = 0.2  # how often the main thread looks at the stop flag a signal handler set
ROUTINE_JOBS = ("tick", "reconcile")


class QuietRoutine(logging.Filter):
    """APScheduler logs every run ("Running job", "executed successfully", "skipped: maximum number of running
    instances"): keep the daily jobs' lines and every error, drop the tick's and the reconcile's routine ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        return record.levelno >= logging.ERROR or getattr(job, "id", None) not in ROUTINE_JOBS


QUIET_ROUTINE = QuietRoutine()


class PaperRunner:
    """The jobs plus the process around them: heartbeat, scheduler, signals."""

    def __init__(self, deps: PaperDeps, *, tick: timedelta = HEARTBEAT_EVERY, reconcile_every: timedelta = RECONCILE_EVERY,
                 alerts: AlertFeed | None = None) -> None:
        self.deps = deps
        self.jobs = Jobs(deps)
        self.alerts = alerts  # notifications, when wired (`alert_feed`)
        self.tick, self.reconcile_every = tick, reconcile_every
        self.scheduler: BaseScheduler | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.stopping = False
        self.stop_signal: int | None = None

    @property
    def heartbeat_path(self) -> Path:
        return self.deps.state_dir / "status.json"

    def heartbeat(self) -> None:
        d = self.deps
        now = d.clock.now()
        d.health.next_jobs = self.jobs.next_jobs(now)
        d.health.extra["kill_switch"] = d.kill_file.exists()
        d.health.extra["run_id"] = d.run_id
        if self.alerts is not None:
            d.health.extra["notifications"] = self.alerts.notifier.stats()
        try:
            write_heartbeat(self.heartbeat_path, d.health, now)
        except OSError as exc:
            log.error("cannot write the heartbeat: %s", exc)

    def run_jobs(self) -> list[str]:
        """Run what the ledger says is due, then tell the user what the journal gained (fills, decisions, failures)."""
        h = self.deps.health
        failed, told = h.jobs_failed, self.alerts.failures_told if self.alerts is not None else 0
        ran = self.jobs.run_due()
        if self.alerts is not None:
            self.alerts.poll()
            if h.jobs_failed - failed > self.alerts.failures_told - told:  # a failure the journal could not record
                error = h.last_error or "unknown error"
                self.tell(Event("halt" if h.halted else "failure", "cutcycle: job failed (not in the journal)",
                                f"{error}\nThe journal could not record it either: check the disk and `main.py doctor`.", level="failure",
                                key=f"unjournaled:{error.split(':', 1)[0]}"))
        return ran

    def wake(self) -> None:
        """What every trigger does: run what the ledger says is due, then beat. After a pre-open refresh, tell the
        user about data still past its release schedule (the live trader only: a simulation replays history)."""
        if self.stopping:  # a tick queued behind the running job must not start another after SIGTERM
            return
        ran = self.run_jobs()
        if self.alerts is not None and any(r.startswith("pre_open:") for r in ran):
            self.alerts.stale_data(self.deps.clock.now())
        self.heartbeat()

    def reconcile(self) -> None:
        """The intraday reconcile job, then its fills and gaps to the user."""
        if self.stopping:
            return
        self.jobs.intraday_reconcile()
        if self.alerts is not None:
            self.alerts.poll()

    def tell(self, event: Event) -> None:
        if self.alerts is not None:
            self.alerts.emit(event)

    # -- the live process -----------------------------------------------------------------------------------------

    def build_scheduler(self, kind: type[BaseScheduler] = BackgroundScheduler) -> BaseScheduler:
        """The scheduler with every job on one worker thread (see the module docstring); the main thread waits for
        a stop signal (`serve`)."""
        for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
            if QUIET_ROUTINE not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(QUIET_ROUTINE)
        self._executor = ThreadPoolExecutor(1, pool_kwargs={"thread_name_prefix": JOB_THREAD})
        sched = kind(timezone=NEW_YORK, executors={"default": self._executor},
                     job_defaults={"coalesce": True, "max_instances": 1})
        for job in DAILY_JOBS:
            sched.add_job(self.wake, job.trigger(), id=job.name, name=job.name, misfire_grace_time=job.misfire_grace_seconds)
        sched.add_job(self.wake, Every(self.tick), id="tick", name="tick", misfire_grace_time=None)
        sched.add_job(self.reconcile, Every(self.reconcile_every), id="reconcile", name="reconcile", misfire_grace_time=None)
        sched.add_listener(self._on_missed, EVENT_JOB_MISSED)
        sched.add_listener(self._on_error, EVENT_JOB_ERROR)
        self.deps.health.extra["scheduler"] = "running"
        return sched

    def _on_missed(self, event: JobExecutionEvent) -> None:
        """APScheduler dropped a run as too late: catch up from the ledger now, on the job thread (R36)."""
        late = self.deps.health.extra.get("late_triggers", 0)
        self.deps.health.extra["late_triggers"] = int(late) + 1
        log.warning("trigger %s at %s came too late for the scheduler: catching up from the ledger", event.job_id, event.scheduled_run_time)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.add_job(self.wake, id="catch_up", name="catch_up", misfire_grace_time=None, replace_existing=True)

    def _on_error(self, event: JobExecutionEvent) -> None:
        self.deps.health.jobs_failed += 1
        self.deps.health.last_error = f"{event.job_id}: {type(event.exception).__name__}: {event.exception}"
        log.error("job %s raised %s", event.job_id, self.deps.health.last_error)
        self.tell(Event("failure", f"cutcycle: job {event.job_id} raised", self.deps.health.last_error, level="failure",
                        key=f"raised:{event.job_id}:{type(event.exception).__name__}"))

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        """The SIGTERM/SIGINT handler: only sets a flag. A handler runs on the main thread between two bytecodes,
        possibly while that thread holds a lock (inside `threading.Event.wait`, a queue, the scheduler's condition);
        shutting the scheduler down from here takes those locks again and can deadlock the process, which then
        never exits. `serve` polls the flag and shuts down outside the handler."""
        self.stopping = True
        self.stop_signal = signum

    def join(self) -> None:
        """Wait for the job thread to finish what it runs: only then may the main thread touch the session again."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def serve(self) -> int:
        """Catch up from the ledger, then run the scheduler until SIGTERM/SIGINT (handled from the first moment)."""
        previous = {s: signal.signal(s, self.stop) for s in (signal.SIGTERM, signal.SIGINT)}
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack on stderr
        try:
            self.wake()
            if not self.stopping:
                self.scheduler = self.build_scheduler(BackgroundScheduler)
                if not self.stopping:
                    self.scheduler.start()
                while not self.stopping and self.scheduler.running:
                    time.sleep(STOP_POLL_SECONDS)  # a signal sets the flag (`stop`); nothing else happens in a handler
                if self.stopping:
                    log.info("signal %s: stopping after the running job", self.stop_signal)
                if self.scheduler.running:
                    self.scheduler.shutdown(wait=False)
        finally:
            self.join()
            for s, handler in previous.items():
                signal.signal(s, handler)
            faulthandler.unregister(signal.SIGUSR1)
            self.deps.health.extra["scheduler"] = "stopped"
            self.heartbeat()
        return EXIT_OK


Refresh = Callable[[Store, Secrets], None]


def paper_command(cfg: AppConfig, env: Mapping[str, str], clock: Clock, *, dry_run: bool = False, refresh: Refresh | None = None) -> int:
    """`main.py paper [--dry-run]`: run until SIGTERM/SIGINT and return the exit code.

    A session that cannot start raises: `UsageError` (exit 2) for missing keys, another trader on the state
    directory or a refused state; `Failure` (exit 1) when the broker refuses; `cli.boundary.guarded` prints either
    as one `error:` line."""
    notifier = build_notifier(Secrets.from_env(env), cfg.notify)
    try:
        try:
            session = open_session(cfg, env, clock, mode="paper", dry_run=dry_run, refresh=refresh)
        except (AlreadyRunning, MissingKeys, StateRefused) as exc:
            raise UsageError(str(exc)) from exc  # `error: ...` on stderr, exit 2 (cli.boundary)
        except BrokerError as exc:
            notifier.emit(Event("failure", "cutcycle: paper trader cannot start", f"{type(exc).__name__}: {exc}", level="failure"))
            raise Failure(f"cannot start: {type(exc).__name__}: {exc}") from exc
        try:
            sys.stderr.write(start_line(cfg, env, clock, session.deps.run_id, session.deps.journal.path, dry_run) + "\n")
            sys.stderr.flush()
            return serve_with_alerts(session.deps, notifier, cfg)
        finally:
            session.close()
    finally:
        notifier.close()


def alert_feed(deps: PaperDeps, runner: PaperRunner, notifier: Notifier, cfg: AppConfig) -> AlertFeed:
    feed = AlertFeed(notifier, lambda: deps.journal, deps.clock, runner.jobs.next_jobs, cfg, kill_file=deps.kill_file)
    feed.prime()
    return feed


def serve_with_alerts(deps: PaperDeps, notifier: Notifier, cfg: AppConfig) -> int:
    """Serve, telling the user that the process started and stopped (and why)."""
    runner = PaperRunner(deps, tick=timedelta(seconds=cfg.paper.tick_seconds))
    runner.alerts = alert_feed(deps, runner, notifier, cfg)
    nxt = ", ".join(f"{j['job']} {ny(j['at'])}" for j in runner.jobs.next_jobs(deps.clock.now())) or "none"
    runner.tell(Event("start", f"cutcycle: paper trader started ({deps.health.mode})",
                      f"run {deps.run_id}, state {deps.state_dir}\nnext jobs: {nxt}"))
    why = "an error"
    try:
        code = runner.serve()
        why = "a stop signal" if runner.stopping else "the scheduler ended"
        return code
    finally:
        h = deps.health
        runner.tell(Event("stop", "cutcycle: paper trader stopped", f"run {deps.run_id} stopped after {why}: {h.jobs_run} jobs run, "
                          f"{h.jobs_failed} failed, {h.jobs_missed} missed{f'; last error: {h.last_error}' if h.last_error else ''}",
                          level="info" if why == "a stop signal" else "failure"))


def start_line(cfg: AppConfig, env: Mapping[str, str], clock: Clock, run_id: str, journal: Path, dry_run: bool) -> str:
    """What a user sees when the trader starts: mode, endpoint, where its state is, and the next jobs (New York time)."""
    from broker.alpaca.clients import trading_url

    now = clock.now()
    upcoming = next_fire_times(now, now + timedelta(days=4))[:3]
    jobs = ", ".join(f"{name} {at.astimezone(NEW_YORK):%a %m-%d %H:%M} ET" for at, name in upcoming) or "none in the next 4 days"
    mode = "paper, dry run (no orders sent)" if dry_run else "paper"
    return (f"cutcycle paper trader started: {mode}; endpoint {trading_url(cfg.alpaca, Secrets.from_env(env))}; state {journal.parent} "
            f"(run {run_id}); next jobs: {jobs}; `main.py status` shows it, Ctrl-C or SIGTERM stops it")


def data_refresh(cfg: AppConfig, clock: Clock, derivations: Mapping[str, SeriesDerivation] | None = None) -> Refresh:
    """The pre-open refresh: FRED series and Alpaca daily bars into the store (`data sync`'s code path).

    `derivations` (datastore.releases.load_derivations) date the fetched values by the pack's release record too.
    """

    def refresh(store: Store, secrets: Secrets) -> None:
        from broker.alpaca.clients import build_clients
        from broker.alpaca.safety import EndpointGuard
        from datastore.alpaca_bars import BarsClient
        from datastore.sync import sync_all

        def bars_client() -> BarsClient:
            guard = EndpointGuard(live=cfg.alpaca.live, allow_live=secrets.allow_live)
            client: BarsClient = build_clients(cfg.alpaca, secrets, guard=guard, wall=clock).stock_data
            return client

        report = sync_all(store, cfg, secrets, clock, bars_client=bars_client, derivations=derivations)
        for line in report.lines:
            log.info("refresh: %s", line)

    return refresh
