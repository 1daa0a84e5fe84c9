"""Default backtest wall time against a bare backtrader IWM+SPY buy-and-hold over the same bars, same process.

Usage: .venv/bin/python benchmarks/backtest_speed.py   (prints figures; uses a temporary store filled from the pack)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.inputs import history
from backtest.run import RunSpec, run_backtest
from benchmarks.default_window import default_window
from broker.backtest_bridge import buy_and_hold
from clock import monotonic


def best_of(n: int, fn: object) -> float:
    times = []
    for _ in range(n):
        t = monotonic()
        fn()  # type: ignore[operator]
        times.append(monotonic() - t)
    return min(times)


def main() -> None:
    dw = default_window()
    cfg, tmp, inputs, first, last, days = dw.cfg, dw.tmp, dw.inputs, dw.first, dw.last, dw.days
    strat, costs, sig = cfg.strategy, cfg.backtest, cfg.signals
    t = monotonic()
    snaps = history(inputs.pit, days, sig)
    t_signals = monotonic() - t
    spec = RunSpec("bench", "bench", datetime(2026, 8, 22, tzinfo=UTC), {}, "bench")
    bars = {s: inputs.market.bars[s] for s in ("IWM", "SPY")}
    counter = iter(range(1_000_000))

    def core() -> None:
        run_backtest(inputs.market, snaps, strat, costs, start=first, end=last, spec=spec, journal_path=None)

    def journaled() -> None:
        run_backtest(
            inputs.market,
            snaps,
            strat,
            costs,
            start=first,
            end=last,
            spec=RunSpec(f"bench-{next(counter)}", "bench", spec.created_at, {}, "bench"),
            journal_path=tmp / f"j{next(counter)}.sqlite",
        )

    def bare() -> None:
        buy_and_hold(bars, first, last, costs.initial_cash)

    t_bare = best_of(3, bare)
    t_core = best_of(3, core)
    t_journal = best_of(2, journaled)
    print(f"sessions: {len(days)} ({first} .. {last}), 2 feeds")
    print(f"bare backtrader IWM+SPY buy-and-hold:          {t_bare:6.2f} s")
    print(f"default backtest, no journal (core + bridge):  {t_core:6.2f} s   ratio {t_core / t_bare:4.1f}x")
    print(f"default backtest, full journal:                {t_journal:6.2f} s   ratio {t_journal / t_bare:4.1f}x")
    print(f"snapshot history (signals, once per run/sweep): {t_signals:6.2f} s")


if __name__ == "__main__":
    main()
