"""Do runs that start on different days make the same stable calls? (the carried state of signals/stability.py)

Each run warms the state up over `signals.stability.warmup_sessions` sessions before its first day. This starts a run
every `STRIDE` sessions from 1995 on and compares its snapshots (call and carried state) with the one long history,
and also measures how many sessions a cold start (no warm-up) needs to fall in step.

Usage: .venv/bin/python benchmarks/regime_sync.py   (prints figures; uses a temporary store filled from the pack)
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signals.build import session_days, snapshot_history
from signals.params import SignalParams
from tests.integration.signals_data import pack_store

STRIDE = 21
SPAN = 63


def main() -> None:
    params = SignalParams()
    cold = params.model_copy(update={"stability": params.stability.model_copy(update={"warmup_sessions": 0})})
    pit = pack_store()[1]
    days = session_days(pit, date(1995, 1, 3), date(2026, 6, 9))
    master = snapshot_history(pit, days, params)
    key = [(s.regime.name, s.call) for s in master]
    starts = range(STRIDE, len(days) - SPAN, STRIDE)
    differ, worst_cold = 0, 0
    for k in starts:
        warm = snapshot_history(pit, days[k:k + SPAN], params)
        differ += [(s.regime.name, s.call) for s in warm] != key[k:k + SPAN]
        fresh = snapshot_history(pit, days[k:k + SPAN], cold)
        first = next((i for i, s in enumerate(fresh) if (s.regime.name, s.call) == key[k + i]), SPAN)
        worst_cold = max(worst_cold, first)
    print(f"{len(starts)} runs of {SPAN} sessions, one every {STRIDE} sessions from {days[0]} to {days[-1]}")
    print(f"warm-up {params.stability.warmup_sessions} sessions: {differ} run(s) differ from the long history")
    print(f"no warm-up: the worst start needed {worst_cold} session(s) to fall in step ({SPAN} = not within the run)")


if __name__ == "__main__":
    main()
