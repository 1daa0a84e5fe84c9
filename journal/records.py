"""What a decision leaves in the journal, one shape for backtests and paper sessions (R25).

`snapshot_json` holds the phase, every indicator reading with its period and the moment it became known, the
regime with each rule's values and thresholds, its fallback, and the snapshot's warnings; `inputs_json` holds the
market state (closes, VIX, bill rate) and, for a paper decision, the broker's book it sized from. `review` reads
these documents for every kind of run, so the parity check compares a session's inputs with its replay's. A paper
decision is one full row; a backtest stores each part of its records once, in blocks (`journal.decision_blocks`),
and the reader rebuilds the same documents.
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from signals.snapshot import Snapshot


@lru_cache(maxsize=64)
def field_names(kind: Any) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def plain(value: Any) -> Any:
    """A JSON-ready copy of a snapshot (dataclasses, dicts, tuples, dates), without `asdict`'s deep copies.

    Dispatches on the exact type first: a history of 6,500 snapshots has millions of leaves."""
    kind: Any = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return None if math.isnan(value) else value
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [plain(v) for v in value]
    if kind is datetime or kind is date:
        return value.isoformat()
    if is_dataclass(value):
        return {name: plain(getattr(value, name)) for name in field_names(kind)}
    if isinstance(value, float):
        return None if math.isnan(value) else float(value)
    return value


def decision_documents(snapshot: Snapshot) -> tuple[dict[str, Any], dict[str, Any]]:
    """(snapshot document, inputs document) of one decision, as a full `decisions` row holds them (a paper
    session's; a backtest stores the same documents in parts, `journal.decision_blocks`)."""
    snap = {"phase": plain(snapshot.phase), "indicators": plain(snapshot.indicators), "regime": plain(snapshot.regime), "warnings": list(snapshot.warnings)}
    return snap, {"market": plain(snapshot.market)}
