"""What a run's decisions say over time: regime stretches, FOMC decisions, the closes the bot saw, and change days.

All of it comes from the journal's decision rows (their snapshots), so it needs no market data: the regime and
phase the bot believed, the FOMC decisions it knew of (each snapshot's `phase.last_decision` and its move),
and the IWM/SPY closes in its snapshot's market block.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pandas as pd

from review.charts import FomcMark, RegimeSpan


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A decision that changed something (regime, phase or target) or placed orders, and the quiet days after it."""

    day: str
    regime: str
    runner_up: str | None
    phase: str | None
    reasons: tuple[str, ...]
    target: dict[str, Any]
    changed: tuple[str, ...]  # what changed from the previous decision: "regime", "phase", "target"
    orders: int
    quiet_days_after: int


def regime_spans(decisions: Sequence[sqlite3.Row]) -> list[RegimeSpan]:
    """Consecutive decisions with the same regime, merged."""
    spans: list[RegimeSpan] = []
    for row in decisions:
        day = date.fromisoformat(row["day"])
        if spans and spans[-1].regime == row["regime"]:
            spans[-1] = RegimeSpan(spans[-1].start, day, row["regime"])
        else:
            spans.append(RegimeSpan(day, day, row["regime"]))
    return spans


def fomc_marks(decisions: Sequence[sqlite3.Row]) -> list[FomcMark]:
    """Each FOMC decision the bot learned of during the run, from the snapshots' `phase.last_decision`."""
    marks: dict[date, FomcMark] = {}
    first = date.fromisoformat(decisions[0]["day"]) if decisions else None
    for row in decisions:
        phase = json.loads(row["snapshot_json"]).get("phase")
        if not isinstance(phase, dict) or not phase.get("last_decision"):
            continue
        day = date.fromisoformat(str(phase["last_decision"])[:10])
        if first is not None and day >= first and day not in marks:
            marks[day] = FomcMark(day, float(phase.get("last_decision_bp") or 0.0))
    return sorted(marks.values(), key=lambda m: m.day)


def journal_closes(decisions: Sequence[sqlite3.Row]) -> dict[str, pd.Series]:
    """IWM and SPY closes from the decisions' market blocks (what the bot saw at each close): the snapshot's or the inputs'."""
    values: dict[str, dict[pd.Timestamp, float]] = {"IWM": {}, "SPY": {}}
    for row in decisions:
        market = json.loads(row["snapshot_json"]).get("market") or json.loads(row["inputs_json"]).get("market") or {}
        for symbol, key in (("IWM", "iwm_close"), ("SPY", "spy_close")):
            if isinstance(market.get(key), int | float):
                values[symbol][pd.Timestamp(row["day"])] = float(market[key])
    return {s: pd.Series(v, dtype=float).sort_index() for s, v in values.items() if v}


def decision_log(decisions: Sequence[sqlite3.Row], orders_by_day: dict[str, int]) -> list[LogEntry]:
    """The days worth reading: the first decision, every change, every day with orders; quiet days are counted."""
    entries: list[LogEntry] = []
    prev: sqlite3.Row | None = None
    prev_target: Any = None
    for row in decisions:
        target = json.loads(row["target_json"])
        comparable = {k: v for k, v in target.items() if k not in ("day", "reasons", "memory")} if isinstance(target, dict) else target
        changed = tuple(
            name for name, now, before in (
                ("regime", row["regime"], None if prev is None else prev["regime"]),
                ("phase", row["phase"], None if prev is None else prev["phase"]),
                ("target", comparable, prev_target),
            ) if prev is not None and now != before
        )
        orders = orders_by_day.get(row["day"], 0)
        if prev is None or changed or orders:
            reasons = json.loads(row["reasons_json"])
            texts = tuple(str(r) for r in reasons) if isinstance(reasons, list) else (str(reasons),)
            entries.append(LogEntry(row["day"], row["regime"], row["runner_up"], row["phase"], texts,
                                    target if isinstance(target, dict) else {"target": target}, changed, orders, 0))
        elif entries:
            entries[-1] = replace(entries[-1], quiet_days_after=entries[-1].quiet_days_after + 1)
        prev, prev_target = row, comparable
    return entries
