"""The default backtest against a bare backtrader IWM+SPY buy-and-hold over the same bars.

Whole processes, interleaved round by round (bare, cold, warm), median of `--runs`:
- bare: `benchmarks/bare_backtrader.py` (the store's IWM and SPY bars through backtrader, nothing else);
- cold: `main.py backtest --json` with the snapshot cache emptied first (signals computed, journal blocks packed);
- warm: the same with the cache left from the previous run (the second backtest on the same data).
Then, in this process, where the time goes: signals, cache load, block packing, the bridge without a journal,
what the journal adds, and the bare run; and the journal's size.

Usage: .venv/bin/python benchmarks/backtest_speed.py [--runs 5]   (a temporary store filled from the pack)
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.inputs import SnapshotHistory, history
from backtest.run import RunSpec, run_backtest
from backtest.snapshot_cache import SnapshotCache
from benchmarks.bare_backtrader import buy_and_hold
from benchmarks.default_window import default_window
from clock import monotonic

ROOT = Path(__file__).resolve().parent.parent


def timed_process(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child process."""
    t = monotonic()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    wall = monotonic() - t
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({status})")
    return wall, usage.ru_maxrss / 1024.0


def best(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t = monotonic()
        fn()
        times.append(monotonic() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="rounds of (bare, cold, warm) processes (default 5)")
    args = parser.parse_args()
    dw = default_window()
    tmp, first, last = dw.tmp, dw.first, dw.last
    py = sys.executable
    bare_cmd = [py, "benchmarks/bare_backtrader.py", str(tmp), first.isoformat(), last.isoformat()]
    backtest_cmd = [py, "main.py", "--set", f'data.store_dir="{tmp}"', "backtest", "--json"]
    cache = tmp / "cache"
    timed_process(backtest_cmd)  # the store's pack check and a warm cache for the first round
    samples: dict[str, list[tuple[float, float]]] = {"bare": [], "cold": [], "warm": []}
    for _ in range(args.runs):
        samples["bare"].append(timed_process(bare_cmd))
        shutil.rmtree(cache, ignore_errors=True)
        samples["cold"].append(timed_process(backtest_cmd))
        samples["warm"].append(timed_process(backtest_cmd))
    load = os.getloadavg()
    med = {k: statistics.median(w for w, _ in v) for k, v in samples.items()}
    rss = {k: max(r for _, r in v) for k, v in samples.items()}
    print(f"window {first} .. {last}, {len(dw.days)} sessions; {args.runs} interleaved rounds, median wall time; load average {load[0]:.1f}")
    print(f"bare backtrader IWM+SPY buy-and-hold process:   {med['bare']:6.2f} s  1.00x  peak RSS {rss['bare']:5.0f} MiB")
    print(f"main.py backtest --json, cold signal cache:     {med['cold']:6.2f} s  {med['cold'] / med['bare']:4.2f}x  peak RSS {rss['cold']:5.0f} MiB")
    print(f"main.py backtest --json, warm signal cache:     {med['warm']:6.2f} s  {med['warm'] / med['bare']:4.2f}x  peak RSS {rss['warm']:5.0f} MiB")

    # in-process breakdown (the inputs frozen out of the collector, as main.py does)
    strat, costs, sig = dw.cfg.strategy, dw.cfg.backtest, dw.cfg.signals
    inputs = dw.inputs
    gc.freeze()
    t = monotonic()
    history(inputs.pit, dw.days, sig)
    t_signals = monotonic() - t
    store_cache = SnapshotCache(tmp / "bench-cache")
    computed = store_cache.history(inputs.pit, dw.days, sig, inputs.market.versions)
    gc.freeze()
    t = monotonic()
    blocks = len({computed.blocks.packed(i, "full") for i in range((len(dw.days) + 249) // 250)})
    t_pack = monotonic() - t
    store_cache.save_new()
    t = monotonic()
    loaded: SnapshotHistory = SnapshotCache(tmp / "bench-cache").history(inputs.pit, dw.days, sig, inputs.market.versions)
    t_load = monotonic() - t
    created = datetime(2026, 8, 22, tzinfo=UTC)
    counter = iter(range(1_000_000))
    bars = {s: inputs.market.bars[s] for s in ("IWM", "SPY")}

    def run(journal: bool) -> None:
        n = next(counter)
        path = tmp / f"bench-{n}.sqlite" if journal else None
        run_backtest(inputs.market, loaded, strat, costs, start=first, end=last, spec=RunSpec(f"bench-{n}", "bench", created, {}, "bench"), journal_path=path)

    t_bare = best(3, lambda: buy_and_hold(bars, first, last, costs.initial_cash))
    t_core = best(3, lambda: run(False))
    t_journal = best(3, lambda: run(True))
    size = (tmp / f"bench-{next(counter) - 1}.sqlite").stat().st_size
    print()
    print("in one process (best of 3):")
    print(f"  bare backtrader buy-and-hold:                    {t_bare:6.2f} s")
    print(f"  backtest without a journal (bridge + core):      {t_core:6.2f} s  {t_core / t_bare:4.2f}x bare")
    print(f"  backtest with its journal (blocks already packed): {t_journal:6.2f} s  journal adds {t_journal - t_core:5.2f} s")
    print(f"  signals, one pass over {len(dw.days)} sessions:       {t_signals:6.2f} s")
    print(f"  packing {blocks} snapshot blocks (once per history):   {t_pack:6.2f} s")
    print(f"  snapshot cache load (history + blocks):          {t_load:6.2f} s")
    print(f"  journal of the default backtest:                 {size / 1e6:6.2f} MB")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
