"""Paper soak: the paper runner over 250+ simulated trading days against the in-process Alpaca emulator.

    .venv/bin/python benchmarks/paper_soak.py                  # 2022-01-03 .. 2023-12-29: 501 sessions
    .venv/bin/python benchmarks/paper_soak.py --days 250       # the first 250 sessions from --start
    .venv/bin/python benchmarks/paper_soak.py --tracemalloc    # also the Python heap at each checkpoint, and what grew

The pack is imported into a store in a temporary directory (never inside the project). The emulator is seeded with
the pack's IWM and SPY bars (`emulator.seed.pack_exchange`) and served over HTTP on 127.0.0.1 to the real alpaca-py
clients; the session is opened by `runner.compose.open_session` and driven by `runner.simulate.simulate`, which
wakes the runner at every job's fire time on a manual clock, as `main.py paper --simulate` does.

- Job latency excluding network: each job's wall time minus the time spent inside the HTTP transport during it.
  The transport time is measured by a benchmark-only adapter mounted over the guarded transport on every client:
  it includes the rate limiter's waits, the loopback round trip and the emulator's own work (it runs on a thread
  of this process). Parsing the answers (alpaca-py, `broker.alpaca.parse`) counts as the runner's.
- Memory: this process's VmRSS (the emulator's state included) after setup and every `--every` decisions, each
  taken after a `gc.collect()`, outside the timed jobs. `--tracemalloc` adds the traced Python heap and what grew,
  by file; `--malloc-trim` adds VmRSS after glibc's malloc_trim(0) (what the allocator keeps but does not use).
- Snapshots are prefetched for the window as `main.py paper --simulate` does; `--no-prefetch` builds each day's in
  its decision job, as a live `main.py paper` session does (the decision's cost is then mostly the signal layer).

Prints figures; exits 1 if any job failed.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.alpaca.http import RateLimiter
from clock import ManualClock
from config.loader import load_config, pack_dir
from datastore.pack_import import import_pack
from datastore.store import Store
from emulator.seed import pack_exchange
from emulator.server import EmulatorServer
from runner.calendar import xnys_sessions
from runner.compose import PaperSession, open_session
from runner.jobs import Jobs, PaperDeps
from runner.paper import PaperRunner
from runner.simulate import SimulationReport, simulate

IMPORTED_AT = datetime(2026, 8, 22, tzinfo=UTC)
KEYS = {"APCA_API_KEY_ID": "PKBENCHSOAK00001", "APCA_API_SECRET_KEY": "paper-soak-secret-not-a-real-key"}
DEFAULT_START, DEFAULT_END = date(2022, 1, 3), date(2023, 12, 29)


class TimedTransport(BaseAdapter):
    """Benchmark only: mounted over the guarded transport, it adds up the time requests spend inside it.

    The body of a non-streamed answer is read here, inside the timer (requests would read it right after `send`
    returns); the response behaves the same, its content is cached.
    """

    def __init__(self, inner: BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self.inner.send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
            if not stream:
                _ = response.content
            return response
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def close(self) -> None:
        self.inner.close()


def time_transport(session: PaperSession) -> TimedTransport:
    """Mount one timing adapter over the transport all three alpaca-py clients share."""
    c = session.broker.clients
    sessions = [c.trading._session, c.stock_data._session, c.option_data._session]
    timed = TimedTransport(sessions[0].get_adapter("http://"))
    for s in sessions:
        if s.get_adapter("http://") is not timed.inner:
            raise RuntimeError("the clients do not share one transport any more: time each one")
        s.mount("http://", timed)
        s.mount("https://", timed)
    return timed


@dataclass(frozen=True, slots=True)
class JobTiming:
    job: str
    day: date
    total: float
    network: float  # inside the transport, the limiter's waits included
    limiter: float  # of which waiting for the rate limiter
    calls: int

    @property
    def local(self) -> float:
        return self.total - self.network


class TimedJobs(Jobs):
    """The runner's jobs, unchanged, each timed with the transport time spent inside it."""

    def __init__(self, deps: PaperDeps, net: TimedTransport, limiter: RateLimiter) -> None:
        super().__init__(deps)
        self.net = net
        self.limiter = limiter
        self.timings: list[JobTiming] = []
        self.decisions = 0  # decision jobs that completed (each about one session simulated)
        self.last_decision: date | None = None

    def _timed(self, name: str, body: Callable[[date], str], day: date) -> str:
        net, waited, calls = self.net.seconds, self.limiter.waited_seconds, self.net.calls
        started = time.perf_counter()
        try:
            return body(day)
        finally:
            self.timings.append(JobTiming(name, day, time.perf_counter() - started, self.net.seconds - net,
                                          self.limiter.waited_seconds - waited, self.net.calls - calls))

    def pre_open(self, day: date) -> str:
        return self._timed("pre_open", super().pre_open, day)

    def expiry(self, day: date) -> str:
        return self._timed("expiry", super().expiry, day)

    def decision(self, day: date) -> str:
        outcome = self._timed("decision", super().decision, day)
        self.decisions += 1
        self.last_decision = day
        return outcome


def vm_kib(field_name: str) -> int:
    """A line of /proc/self/status (`VmRSS`), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise LookupError(field_name)


@dataclass
class Checkpoint:
    decisions: int  # decision jobs run so far (about the sessions simulated)
    day: date | None
    rss_kib: int
    traced_kib: int | None
    trimmed_kib: int | None  # VmRSS right after glibc's malloc_trim(0) (--malloc-trim)
    elapsed: float


@dataclass
class Memory:
    trace: bool
    started: float
    libc: ctypes.CDLL | None = None  # set: malloc_trim(0) after each reading (what the allocator keeps vs what is used)
    points: list[Checkpoint] = field(default_factory=list)
    snapshots: dict[int, tracemalloc.Snapshot] = field(default_factory=dict)

    def take(self, decisions: int, day: date | None) -> None:
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] // 1024 if self.trace else None
        rss = vm_kib("VmRSS")
        trimmed = None
        if self.libc is not None:
            self.libc.malloc_trim(0)
            trimmed = vm_kib("VmRSS")
        self.points.append(Checkpoint(decisions, day, rss, traced, trimmed, time.perf_counter() - self.started))
        if self.trace:
            self.snapshots[decisions] = tracemalloc.take_snapshot()


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def latency_table(timings: list[JobTiming]) -> list[str]:
    lines = [f"{'job':<9} {'n':>4}  {'part':<16} {'median':>8} {'p95':>8} {'max':>8}   (ms)   HTTP calls/job median (max)"]
    for job in ("pre_open", "expiry", "decision"):
        rows = [t for t in timings if t.job == job]
        if not rows:
            continue
        calls = [float(t.calls) for t in rows]
        parts = (("total", [t.total for t in rows]), ("network", [t.network for t in rows]),
                 ("  limiter waits", [t.limiter for t in rows]), ("excluding network", [t.local for t in rows]))
        for i, (part, values) in enumerate(parts):
            ms = [v * 1000 for v in values]
            tail = f"   {statistics.median(calls):.0f} ({max(calls):.0f})" if i == 0 else ""
            head = f"{job:<9} {len(rows):>4}" if i == 0 else " " * 14
            lines.append(f"{head}  {part:<16} {statistics.median(ms):8.1f} {pct(ms, 0.95):8.1f} {max(ms):8.1f}{tail}")
    return lines


def trend(timings: list[JobTiming], job: str, block: int) -> str:
    """Median excluding network per block of `block` runs, in order: does a job slow down as the journal fills?"""
    rows = [t.local * 1000 for t in timings if t.job == job]
    medians = [statistics.median(rows[i:i + block]) for i in range(0, len(rows) - block + 1, block)]
    if not medians:
        return f"{job}: fewer than {block} runs, no trend"
    return f"{job} excluding network, median per {block} runs in order (ms): " + " ".join(f"{m:.1f}" for m in medians)


NOTES = {
    "benchmarks/paper_soak.py": "this script's own timing records",
    "runner/jobs.py": "the 'job:day' names run_due returns, kept by simulate() for its report",
    "runner/simulate.py": "simulate()'s list of those names",
}


def heap_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[str]:
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    stats = after.compare_to(before, "filename")
    lines = []
    for s in stats[:top]:
        name = (s.traceback[0].filename if s.traceback else "?").replace(root, "")
        note = f"  ({NOTES[name]})" if name in NOTES else ""
        lines.append(f"  {s.size_diff / 1024:+9.1f} KiB  {s.count_diff:+7d} blocks  {name}{note}")
    return lines


def heap_without(snapshot: tracemalloc.Snapshot, files: list[str]) -> int:
    """Traced bytes outside `files` (this script's own records, tracemalloc's)."""
    kept = snapshot.filter_traces([tracemalloc.Filter(False, f) for f in files])
    return sum(stat.size for stat in kept.statistics("filename"))


def window(start: date, end: date | None, days: int | None) -> list[date]:
    if days is not None:
        found = [s.day for s in xnys_sessions(start, start + timedelta(days=days * 2 + 30))][:days]
    else:
        found = [s.day for s in xnys_sessions(start, end or DEFAULT_END)]
    if not found:
        raise SystemExit("no sessions in the window")
    return found


def counts(session: PaperSession) -> Mapping[str, int]:
    j = session.deps.journal
    return {table: int(j.query(f"SELECT COUNT(*) FROM {table}")[0][0]) for table in ("decisions", "intents", "order_events", "fills", "events", "job_ledger")}


@dataclass
class Soak:
    """What one run measured."""

    start: date
    end: date
    sessions: int
    prefetch: bool
    traced: bool
    setup: float
    ran: float
    report: SimulationReport
    timings: list[JobTiming]
    net: TimedTransport
    limiter_wait: float
    memory: Memory
    journal: Mapping[str, int]
    held: Mapping[str, int]
    emulator: Mapping[str, int]


def run(args: argparse.Namespace) -> Soak:
    days = window(args.start, args.end, args.days)
    start, end = days[0], days[-1]
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paper-soak-") as tmp:
        folder = Path(tmp)
        base = load_config().config
        store = Store(folder / "store.sqlite")
        import_pack(store, base, pack_dir(base, os.environ), IMPORTED_AT)
        exchange = pack_exchange(store, start, end)
        store.close()
        with EmulatorServer(exchange, key_id=KEYS["APCA_API_KEY_ID"], secret_key=KEYS["APCA_API_SECRET_KEY"]) as server:
            cfg = load_config(None, [f'alpaca.trading_url="{server.url}"', f'alpaca.data_url="{server.url}"', f'data.store_dir="{folder}"',
                                     f"alpaca.requests_per_minute={args.requests_per_minute}"]).config
            clock = ManualClock(exchange.now)
            session = open_session(cfg, KEYS, clock, mode="simulate", dry_run=False, state_dir=folder / "paper")
            try:
                if not args.no_prefetch:
                    session.snapshots.prefetch([s.day for s in session.deps.calendar.sessions(start - timedelta(days=7), end)])
                runner = PaperRunner(session.deps)
                net = time_transport(session)
                jobs = TimedJobs(session.deps, net, session.broker.clients.limiter)
                runner.jobs = jobs
                setup = time.perf_counter() - wall
                if args.tracemalloc:
                    tracemalloc.start()
                memory = Memory(args.tracemalloc, time.perf_counter(), ctypes.CDLL("libc.so.6") if args.malloc_trim else None)
                memory.take(0, None)

                def on_wake(_at: datetime) -> None:
                    # Every --every decisions, and after the last one while `simulate` still holds its fire times.
                    n, last = jobs.decisions, jobs.last_decision
                    if n and (n % args.every == 0 or last == end) and memory.points[-1].decisions != n:
                        memory.take(n, last)

                began = time.perf_counter()
                report = simulate(runner, clock, start, end, exchange.advance_to, on_wake)
                ran = time.perf_counter() - began
                if memory.points[-1].decisions != jobs.decisions:
                    memory.take(jobs.decisions, jobs.last_decision)
                if args.tracemalloc:
                    tracemalloc.stop()
                journal = counts(session)
                calendar = session.deps.calendar
                held = {"calendar years": len(calendar._years), "calendar sessions": sum(len(y) for y in calendar._years.values()),
                        "adapter sessions": len(session.broker._sessions), "prefetched snapshots": len(session.snapshots._cache)}
                limiter_wait = session.broker.clients.limiter.waited_seconds
            finally:
                session.close()
            emulator = {"orders": len(exchange.orders), "order POSTs": len(exchange.post_log), "activities": len(exchange.activities)}
    return Soak(start, end, len(days), not args.no_prefetch, args.tracemalloc, setup, ran, report, jobs.timings, net, limiter_wait, memory,
                journal, held, emulator)


def print_report(s: Soak) -> None:
    r = s.report
    print(f"paper soak {s.start} .. {s.end}: {s.sessions} sessions, {r.wakes} wake-ups; setup {s.setup:.1f} s (pack import, emulator, session"
          f"{', snapshot prefetch' if s.prefetch else ''}); simulated in {s.ran:.1f} s; snapshots {'prefetched' if s.prefetch else 'built in each decision'}; "
          f"tracemalloc {'on' if s.traced else 'off'}")
    decided = sum(1 for name in r.ran if name.startswith("decision:"))
    print(f"jobs: {len(r.ran)} run, {r.failed} failed, {r.missed} missed; decisions made {decided}")
    print(f"orders: {s.emulator['orders']} at the emulator ({s.emulator['order POSTs']} POSTs); journal: {s.journal['intents']} intents, "
          f"{s.journal['fills']} fills, {s.journal['order_events']} order events, {s.journal['events']} events, {s.journal['decisions']} decisions")
    busy = sum(t.total for t in s.timings)
    in_net = sum(t.network for t in s.timings)
    print(f"time in jobs {busy:.1f} s, of which inside HTTP {in_net:.1f} s ({s.net.calls} requests in all, {s.net.seconds:.1f} s, "
          f"rate limiter waits {s.limiter_wait:.2f} s); outside jobs {s.ran - busy:.1f} s (emulator clock moves, ledger, checkpoints)")
    print()
    for line in latency_table(s.timings):
        print(line)
    for job in ("pre_open", "expiry", "decision"):
        print(trend(s.timings, job, 100))
    print()
    points = s.memory.points
    print(f"{'decisions':>9}  {'day':<10}  {'RSS MiB':>8}  {'traced MiB':>10}  {'trimmed MiB':>11}  {'elapsed s':>9}")
    for p in points:
        traced = f"{p.traced_kib / 1024:10.1f}" if p.traced_kib is not None else f"{'-':>10}"
        trimmed = f"{p.trimmed_kib / 1024:11.1f}" if p.trimmed_kib is not None else f"{'-':>11}"
        print(f"{p.decisions:>9}  {p.day.isoformat() if p.day else 'start':<10}  {p.rss_kib / 1024:8.1f}  {traced}  {trimmed}  {p.elapsed:9.1f}")
    warm, last = (points[1], points[-1]) if len(points) > 2 else (points[0], points[-1])
    span = max(1, last.decisions - warm.decisions)

    def per_100(before: int, after: int) -> str:
        return f"{(after - before) / 1024 * 100 / span:+.2f} MiB per 100 decisions"

    line = f"growth from {warm.decisions} to {last.decisions} decisions: RSS {per_100(warm.rss_kib, last.rss_kib)}"
    if warm.traced_kib is not None and last.traced_kib is not None:
        line += f", traced heap {per_100(warm.traced_kib, last.traced_kib)}"
    if warm.trimmed_kib is not None and last.trimmed_kib is not None:
        line += f", RSS after malloc_trim {per_100(warm.trimmed_kib, last.trimmed_kib)}"
    print(line)
    print("held at the end: " + ", ".join(f"{k} {v}" for k, v in s.held.items()) + "; emulator: " + ", ".join(f"{k} {v}" for k, v in s.emulator.items()))
    snaps = s.memory.snapshots
    if warm.decisions in snaps and last.decisions in snaps:
        before, after = snaps[warm.decisions], snaps[last.decisions]
        print(f"traced heap growth by file, {warm.decisions} -> {last.decisions} decisions (top 12):")
        for text in heap_growth(before, after, 12):
            print(text)
        own = [str(Path(__file__).resolve()), tracemalloc.__file__]
        print(f"traced heap growth without this script's records: {per_100(heap_without(before, own) // 1024, heap_without(after, own) // 1024)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START, help=f"first session (default {DEFAULT_START})")
    parser.add_argument("--end", type=date.fromisoformat, default=None, help=f"last day (default {DEFAULT_END})")
    parser.add_argument("--days", type=int, default=None, help="run this many sessions from --start instead of up to --end")
    parser.add_argument("--every", type=int, default=50, help="memory checkpoint every N decisions (default 50; the first is the warm-up)")
    parser.add_argument("--tracemalloc", action="store_true", help="trace the Python heap after setup (slows every job down)")
    parser.add_argument("--malloc-trim", action="store_true",
                        help="at each checkpoint also call glibc's malloc_trim(0) and read VmRSS again (changes later readings)")
    parser.add_argument("--no-prefetch", action="store_true",
                        help="build each day's snapshot in the decision, as a live session does (default: prefetch the window, as --simulate does)")
    parser.add_argument("--requests-per-minute", type=int, default=10_000, help="the shared rate limiter (default 10000, the config's maximum)")
    soak = run(parser.parse_args())
    print_report(soak)
    return 1 if soak.report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
