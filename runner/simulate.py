"""`main.py paper --simulate START END`: the same runner and jobs on a manual clock that jumps from job to job.

At each fire time of the live cron triggers (`next_fire_times`) the broker's clock is moved first (the emulator's
control API, or an in-process exchange), then the manual clock, then the runner wakes exactly as the scheduler
would wake it. The session is journaled like a paper session (run kind `simulate`).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

from broker.contract import BrokerError
from clock import NEW_YORK, Clock, ManualClock
from config.schema import AppConfig
from runner.compose import MissingKeys, open_session, simulation_state_dir
from runner.guards import AlreadyRunning
from runner.paper import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, PaperRunner
from runner.schedule import next_fire_times

log = logging.getLogger(__name__)

SetBrokerTime = Callable[[datetime], None]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOOPBACK_REQUESTS_PER_MINUTE = 10_000


@dataclass(frozen=True, slots=True)
class SimulationReport:
    start: date
    end: date
    wakes: int
    ran: tuple[str, ...]
    failed: int
    missed: int


def simulate(runner: PaperRunner, clock: ManualClock, start: date, end: date, set_broker_time: SetBrokerTime,
             on_wake: Callable[[datetime], None] | None = None) -> SimulationReport:
    """Wake the runner at every daily job's fire time from `start` to `end` (inclusive, New York dates)."""
    begin = datetime.combine(start, time(0, 0), tzinfo=NEW_YORK)
    finish = datetime.combine(end, time(23, 59), tzinfo=NEW_YORK)
    ran: list[str] = []
    fires = next_fire_times(max(begin, clock.now()), finish)
    for at, _name in fires:
        set_broker_time(at)
        clock.set(max(at, clock.now()))
        ran.extend(runner.jobs.run_due())
        if on_wake is not None:
            on_wake(at)
    runner.heartbeat()
    h = runner.deps.health
    return SimulationReport(start, end, len(fires), tuple(ran), h.jobs_failed, h.jobs_missed)


def emulator_time_setter(base_url: str) -> SetBrokerTime:
    """Move a local emulator's clock through its control API (loopback only: never a real endpoint)."""
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK:
        raise ValueError(f"--simulate moves the broker's clock: it needs a local emulator, not {host!r}")

    def set_time(at: datetime) -> None:
        body = json.dumps({"now": at.isoformat()}).encode()
        request = urllib.request.Request(f"{base_url.rstrip('/')}/_emulator/time", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # loopback checked above
                state = json.loads(answer.read() or b"{}")
        except urllib.error.URLError as exc:
            raise ConnectionError(f"cannot reach the emulator at {base_url}: {exc.reason}; start it first (`main.py emulator -- --port N`)") from None
        now = datetime.fromisoformat(str(state.get("now", at.isoformat())).replace("Z", "+00:00"))
        if now - at > timedelta(minutes=5):
            raise ValueError(f"the emulator at {base_url} is already at {now:%Y-%m-%d %H:%M} UTC, after this simulation's start ({at:%Y-%m-%d %H:%M}): "
                             "its clock only moves forward, so restart the emulator (with --start before the window) and run again")

    return set_time


def simulate_command(cfg: AppConfig, env: Mapping[str, str], start: date, end: date, *, wall: Clock, dry_run: bool = False,
                     set_broker_time: SetBrokerTime | None = None) -> tuple[int, str]:
    """`main.py paper --simulate START END [--dry-run]`: (exit code, summary text).

    The session is journaled in its own state directory, `<store_dir>/simulations/<run id>/`, under a run id naming
    the window and the wall-clock start, so simulations can be repeated and never touch the paper trader's state."""
    from broker.alpaca.clients import trading_url
    from config.secrets import Secrets

    if end < start:
        return EXIT_BAD_INPUT, f"error: --simulate: end {end} is before start {start}"
    clock = ManualClock(datetime.combine(start - timedelta(days=1), time(18, 0), tzinfo=NEW_YORK))
    try:
        url = trading_url(cfg.alpaca, Secrets.from_env(env))
        setter = set_broker_time or emulator_time_setter(url)
        if (urlsplit(url).hostname or "") in LOOPBACK:
            # Alpaca's 200 requests/min is not the local emulator's: pacing to it would make a simulated day take seconds.
            cfg = cfg.model_copy(update={"alpaca": cfg.alpaca.model_copy(update={"requests_per_minute": LOOPBACK_REQUESTS_PER_MINUTE})})
        setter(clock.now())
        run_id = f"simulate-{start:%Y%m%d}-{end:%Y%m%d}-{wall.now():%Y%m%dT%H%M%S}"
        session = open_session(cfg, env, clock, mode="simulate", dry_run=dry_run, run_id=run_id, state_dir=simulation_state_dir(cfg, run_id))
    except (AlreadyRunning, MissingKeys, ValueError) as exc:
        return EXIT_BAD_INPUT, f"error: {exc}"
    except (BrokerError, OSError) as exc:
        return EXIT_FAILURE, f"error: cannot start: {exc}"
    try:
        session.snapshots.prefetch([s.day for s in session.deps.calendar.sessions(start - timedelta(days=7), end)])
        report = simulate(PaperRunner(session.deps), clock, start, end, setter)
    finally:
        session.close()
    text = (f"simulated {report.start} .. {report.end}: {report.wakes} wake-ups, {len(report.ran)} jobs run, "
            f"{report.failed} failed, {report.missed} missed; journal {session.deps.journal.path} run {session.deps.run_id}")
    return (EXIT_OK if report.failed == 0 else EXIT_FAILURE), text
