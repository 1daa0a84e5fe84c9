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
from pathlib import Path

from broker.alpaca.safety import connect_target, is_loopback
from broker.contract import BrokerError
from cli.boundary import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK
from clock import NEW_YORK, Clock, ManualClock, monotonic
from config.schema import AppConfig
from journal.journal import JournalError, open_read_only
from runner.compose import MissingKeys, open_session, simulation_state_dir
from runner.guards import AlreadyRunning, StateRefused
from runner.notify import build_notifier
from runner.paper import PaperRunner, alert_feed
from runner.schedule import next_fire_times

log = logging.getLogger(__name__)

SetBrokerTime = Callable[[datetime], None]
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
        ran.extend(runner.run_jobs())
        if on_wake is not None:
            on_wake(at)
    runner.heartbeat()
    h = runner.deps.health
    return SimulationReport(start, end, len(fires), tuple(ran), h.jobs_failed, h.jobs_missed)


def emulator_time_setter(base_url: str) -> SetBrokerTime:
    """Move a local emulator's clock through its control API (loopback only: never a real endpoint)."""
    if not is_loopback(base_url):  # read as the HTTP stack reads it: a URL two parsers disagree on is refused (R39)
        raise ValueError(f"--simulate moves the broker's clock: it needs a local emulator, not {connect_target(base_url).host!r}")

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


@dataclass(frozen=True, slots=True)
class EmulatorAccount:
    """What a local emulator holds before a simulation starts: its clock, positions and working orders."""

    now: datetime
    positions: dict[str, float]
    open_orders: tuple[str, ...]

    def used(self, start_at: datetime) -> list[str]:
        """Why this account is not the fresh one a simulation starting at `start_at` needs (empty: it is fresh)."""
        why = []
        if self.positions:
            why.append("it holds " + ", ".join(f"{s} {q:g}" for s, q in sorted(self.positions.items())))
        if self.open_orders:
            why.append(f"{len(self.open_orders)} orders are open")
        if self.now > start_at + timedelta(minutes=1):
            why.append(f"its clock is at {self.now.astimezone(NEW_YORK):%Y-%m-%d %H:%M} ET, past the simulation's start")
        return why


def emulator_account(base_url: str) -> EmulatorAccount:
    """Read a local emulator's state through its control API (GET /_emulator/state; loopback only)."""
    if not is_loopback(base_url):
        raise ValueError(f"--simulate needs a local emulator, not {connect_target(base_url).host!r}")
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/_emulator/state", timeout=30) as answer:  # loopback checked above
            state = json.loads(answer.read())
    except urllib.error.URLError as exc:
        raise ConnectionError(f"cannot reach the emulator at {base_url}: {exc.reason}; start it first (`main.py emulator -- --port N`)") from None
    done = ("filled", "canceled", "expired", "rejected", "replaced")
    return EmulatorAccount(datetime.fromisoformat(str(state["now"]).replace("Z", "+00:00")),
                           {str(s): float(q) for s, q in state["positions"].items() if float(q)},
                           tuple(str(o["client_order_id"]) for o in state["orders"] if o["status"] not in done))


def interrupted_simulation(root: Path, start: date, end: date, endpoint: str) -> tuple[Path, str] | None:
    """(state directory, run id) of the latest simulation of this window against this endpoint that never finished
    (killed), or None."""
    for folder in sorted(root.glob(f"simulate-{start:%Y%m%d}-{end:%Y%m%d}-*"), reverse=True):
        journal = folder / "paper.sqlite"
        if not journal.is_file():
            continue
        try:
            db = open_read_only(journal)
        except JournalError:
            continue
        try:
            bound = db.execute("SELECT value FROM meta WHERE key='endpoint'").fetchone()
            last = db.execute("SELECT status, run_id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
        finally:
            db.close()
        if bound is not None and str(bound[0]) == endpoint and last is not None and last[0] == "running":
            return folder, str(last[1])
        return None  # only the latest simulation of the window may be resumed
    return None


def simulate_command(cfg: AppConfig, env: Mapping[str, str], start: date, end: date, *, wall: Clock, dry_run: bool = False,
                     set_broker_time: SetBrokerTime | None = None, notify: bool = False) -> tuple[int, str]:
    """`main.py paper --simulate START END [--dry-run]`: (exit code, summary text).

    The session is journaled in its own state directory, `<store_dir>/simulations/<run id>/`, under a run id naming
    the window and the wall-clock start, so simulations can be repeated and never touch the paper trader's state.
    With `notify` the session's events go to the CUTCYCLE_NOTIFY_URLS destinations as the paper trader's would (a
    rehearsal of the notifications on history); without it nothing is sent.
    A simulation needs the emulator's account fresh (no positions, no open orders, its clock not past the start).
    When it is not, and the latest simulation of the same window against the same emulator was interrupted (killed:
    its run never finished), that simulation is resumed in its own state directory from the emulator's clock: the
    run ledger says which jobs are done, so nothing is decided or sent twice. Otherwise it refuses and says how to
    start fresh."""
    from broker.alpaca.clients import trading_url
    from config.secrets import Secrets

    if end < start:
        return EXIT_BAD_INPUT, f"error: --simulate: end {end} is before start {start}"
    clock = ManualClock(datetime.combine(start - timedelta(days=1), time(18, 0), tzinfo=NEW_YORK))
    resumed = ""
    try:
        url = trading_url(cfg.alpaca, Secrets.from_env(env))
        setter = set_broker_time or emulator_time_setter(url)
        if is_loopback(url):
            # Alpaca's 200 requests/min is not the local emulator's: pacing to it would make a simulated day take seconds.
            cfg = cfg.model_copy(update={"alpaca": cfg.alpaca.model_copy(update={"requests_per_minute": LOOPBACK_REQUESTS_PER_MINUTE})})
        run_id = new_id = f"simulate-{start:%Y%m%d}-{end:%Y%m%d}-{wall.now():%Y%m%dT%H%M%S}"  # the wall stamp `runs prune` ages it by
        state_dir = simulation_state_dir(cfg, run_id)
        if set_broker_time is not None:
            setter(clock.now())
        else:  # the account first: an emulator whose clock moved on is either resumed or refused, never set back
            account = emulator_account(url)
            used = account.used(clock.now())
            if used:
                interrupted = interrupted_simulation(state_dir.parent, start, end, url)
                if interrupted is None:
                    return EXIT_BAD_INPUT, (
                        f"error: the emulator at {url} is not a fresh account ({'; '.join(used)}) and no interrupted simulation of "
                        f"{start} .. {end} against it is in {state_dir.parent} to resume; restart the emulator to start fresh (restart "
                        f"`main.py emulator` with a new --state file, or none, and --start before the window)")
                state_dir, run_id = interrupted
                resumed = f"resumed {state_dir.name} from {account.now.astimezone(NEW_YORK):%Y-%m-%d %H:%M} ET; "
                # A second before the emulator's clock: the wake the kill interrupted (fired at that instant) fires again.
                clock.set(max(clock.now(), account.now - timedelta(seconds=1)))
            else:
                setter(clock.now())
        session = open_session(cfg, env, clock, mode="simulate", dry_run=dry_run, run_id=run_id, state_dir=state_dir, resume=bool(resumed),
                               follower_id=new_id)
    except (AlreadyRunning, MissingKeys, StateRefused, ValueError) as exc:
        return EXIT_BAD_INPUT, f"error: {exc}"
    except (BrokerError, OSError) as exc:
        return EXIT_FAILURE, f"error: cannot start: {type(exc).__name__}: {exc}"
    notifier = build_notifier(Secrets.from_env(env), cfg.notify) if notify else None
    try:
        session.snapshots.prefetch([s.day for s in session.deps.calendar.sessions(start - timedelta(days=7), end)])
        runner = PaperRunner(session.deps)
        if notifier is not None:
            runner.alerts = alert_feed(session.deps, runner, notifier, cfg)
        began = monotonic()
        report = simulate(runner, clock, start, end, setter)
        took = monotonic() - began
    finally:
        session.close()
        if notifier is not None:
            notifier.close()
    text = (f"simulated {report.start} .. {report.end}: {resumed}{report.wakes} wake-ups, {len(report.ran)} jobs run, "
            f"{report.failed} failed, {report.missed} missed; journal {session.deps.journal.path} run {session.deps.run_id}; took {took:.1f} s")
    return (EXIT_OK if report.failed == 0 else EXIT_FAILURE), text
