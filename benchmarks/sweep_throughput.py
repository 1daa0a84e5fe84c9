"""Sweep throughput: variants per second on 1 and on 2 processes, shared snapshot history computed once.

Usage: .venv/bin/python benchmarks/sweep_throughput.py [N_VARIANTS]   (default 8; the full default window)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.inputs import history, signal_key
from backtest.run import RunSpec
from backtest.sweep import SharedInputs, VariantTask, run_local
from benchmarks.default_window import default_window
from clock import monotonic


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    dw = default_window()
    cfg, tmp, inputs, first, last, days = dw.cfg, dw.tmp, dw.inputs, dw.first, dw.last, dw.days
    strat, costs, sig = cfg.strategy, cfg.backtest, cfg.signals
    t = monotonic()
    shared = SharedInputs(inputs.market, {signal_key(sig): history(inputs.pit, days, sig)})
    print(f"shared snapshot history: {monotonic() - t:.2f} s (once)")
    created = datetime(2026, 8, 22, tzinfo=UTC)
    for procs in (1, 2):
        tasks = []
        for i in range(n):
            w = round(0.2 + 0.6 * i / max(n - 1, 1), 3)
            spec = RunSpec(f"tp{procs}-{i}", f"base_weight={w}", created, {}, "bench", kind="sweep_member", parent_id=f"tp{procs}")
            tasks.append(
                VariantTask(
                    i,
                    (f"strategy.base_weight={w}",),
                    strat.model_copy(update={"base_weight": w}),
                    costs,
                    signal_key(sig),
                    first,
                    last,
                    spec,
                    tmp / f"p{procs}" / f"m{i}.sqlite",
                )
            )
        t = monotonic()
        run_local(shared, tasks, procs)
        dt = monotonic() - t
        print(f"{procs} process(es): {n} variants in {dt:.2f} s = {n / dt:.2f} variants/s (journaled, compact snapshots)")


if __name__ == "__main__":
    main()
