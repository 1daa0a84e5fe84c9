"""Sweep throughput: variants per second on 1 and on 2 processes (compact member journals, the default), and the
cost of one variant against one bare backtrader run over the same bars.

The snapshot history and its journal blocks are computed once before the clock starts (a sweep does that once
for all its members; the snapshot cache makes it free the second time).

Usage: .venv/bin/python benchmarks/sweep_throughput.py [N_VARIANTS]   (default 16; the full default window)
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.inputs import history, signal_key
from backtest.run import RunSpec
from backtest.sweep import SharedInputs, VariantTask, run_local
from benchmarks.bare_backtrader import buy_and_hold
from benchmarks.default_window import default_window
from clock import monotonic


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    dw = default_window()
    cfg, tmp, inputs, first, last, days = dw.cfg, dw.tmp, dw.inputs, dw.first, dw.last, dw.days
    strat, costs, sig = cfg.strategy, cfg.backtest, cfg.signals
    t = monotonic()
    snapshots = history(inputs.pit, days, sig)
    snapshots.blocks.pack_all("compact")
    shared = SharedInputs(inputs.market, {signal_key(sig): snapshots})
    gc.freeze()  # as `backtest.plan` does for a sweep: the collector need not walk the shared inputs again
    print(f"shared inputs (signals and compact journal blocks, once): {monotonic() - t:.2f} s")
    bars = {s: inputs.market.bars[s] for s in ("IWM", "SPY")}
    bare = []
    for _ in range(3):
        t = monotonic()
        buy_and_hold(bars, first, last, costs.initial_cash)
        bare.append(monotonic() - t)
    t_bare = min(bare)
    created = datetime(2026, 8, 22, tzinfo=UTC)
    rates = {}
    for procs in (1, 2):
        tasks = []
        for i in range(n):
            w = round(0.2 + 0.6 * i / max(n - 1, 1), 3)
            spec = RunSpec(f"tp{procs}-{i}", f"base_weight={w}", created, {}, "bench", kind="sweep_member", parent_id=f"tp{procs}")
            tasks.append(VariantTask(i, (f"strategy.base_weight={w}",), strat.model_copy(update={"base_weight": w}), costs, signal_key(sig), first, last,
                                     spec, tmp / f"p{procs}" / f"m{i}.sqlite"))
        t = monotonic()
        run_local(shared, tasks, procs)
        dt = monotonic() - t
        rates[procs] = n / dt
        size = sum(p.stat().st_size for p in (tmp / f"p{procs}").glob("*.sqlite")) / n
        print(f"{procs} process(es): {n} variants in {dt:6.2f} s = {rates[procs]:.2f} variants/s; {procs * dt / n:.2f} s of one process"
              f" per variant = {procs * dt / n / t_bare:.2f}x one bare backtrader run ({t_bare:.2f} s); member journal {size / 1e6:.2f} MB")
    print(f"2 processes / 1 process: {rates[2] / rates[1]:.2f}x; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
