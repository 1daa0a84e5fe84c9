"""The full record of one decision day: what was known and when, what was decided and why, and what happened to it.

Reads the decision row (inputs with their `available_at`, the phase, indicators and every rule of the regime
call, the target), the intents the decision produced, each order's event history and its fills, and the
end-of-day book. `render_explain` turns it into text for a terminal; `DayRecord.to_json` into JSON.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from dataclasses import dataclass
from datetime import date
from typing import Any

from review.runs import ReviewError, RunRef, RunSource
from review.tables import TERMINAL_WIDTH, human, text_table


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One intent with its event history and fills."""

    intent: dict[str, Any]
    events: list[dict[str, Any]]
    fills: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return str(self.events[-1]["status"]) if self.events else "unknown"


@dataclass(frozen=True, slots=True)
class DayRecord:
    """Everything the journal holds about one decision of one run."""

    run_id: str
    day: str
    as_of: str
    regime: str
    runner_up: str | None
    phase: str | None
    reasons: list[Any]
    snapshot: dict[str, Any]
    inputs: dict[str, Any]
    target: dict[str, Any]
    orders: list[OrderRecord]
    book: dict[str, Any] | None  # the end-of-day equity row of that day
    positions: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "day": self.day, "as_of": self.as_of, "regime": self.regime, "runner_up": self.runner_up, "phase": self.phase,
            "reasons": self.reasons, "snapshot": self.snapshot, "inputs": self.inputs, "target": self.target,
            "orders": [{"intent": o.intent, "events": o.events, "fills": o.fills, "status": o.status} for o in self.orders],
            "book": self.book, "positions": self.positions,
        }


def explain_day(source: RunSource, ref: RunRef, day: date) -> DayRecord:
    """The decision of `day` (the session whose close it followed). ReviewError names the nearest days if none."""
    key = day.isoformat()
    row = source.decision(ref, key)
    if row is None:
        days = [r["day"] for r in source.query(ref, "SELECT day FROM decisions WHERE run_id=? ORDER BY day", (ref.run_id,))]
        if not days:
            raise ReviewError(f"run {ref.run_id} has no decisions")
        before = [d for d in days if d < key]
        after = [d for d in days if d > key]
        near = ", ".join(x for x in (before[-1] if before else None, after[0] if after else None) if x)
        if source.compact(ref) and (ref.info.start_day or days[0]) <= key <= (ref.info.end_day or days[-1]):
            raise ReviewError(
                f"run {ref.run_id} is a sweep member with a compact journal: it keeps only the days its target changed, and {key} is not "
                f"one (journaled {len(days)} day(s) in {days[0]}..{days[-1]}; nearest: {near}); run the sweep with --full-journal to keep "
                f"every day, or explain the same config as a backtest (--set the member's overrides)")
        raise ReviewError(f"run {ref.run_id} made no decision on {key} (it decided {days[0]}..{days[-1]}; nearest: {near})")
    orders = []
    for intent in source.intents(ref, key):
        cid = intent["client_order_id"]
        events = [{k: v for k, v in row_dict(e).items() if k != "run_id"} for e in source.order_events(ref, cid)]
        fills = [dict(f) for f in source.query(ref, "SELECT * FROM fills WHERE client_order_id=? ORDER BY at, execution_id", (cid,))]
        orders.append(OrderRecord({k: v for k, v in row_dict(intent).items() if k != "run_id"}, events, fills))
    book = source.query(ref, "SELECT * FROM equity WHERE run_id=? AND day=?", (ref.run_id, key))
    positions = source.query(ref, "SELECT * FROM positions WHERE run_id=? AND day=? ORDER BY symbol", (ref.run_id, key))
    return DayRecord(
        ref.run_id, key, row["as_of"], row["regime"], row["runner_up"], row["phase"], json.loads(row["reasons_json"]),
        json.loads(row["snapshot_json"]), json.loads(row["inputs_json"]), json.loads(row["target_json"]), orders,
        dict(book[0]) if book else None, [dict(p) for p in positions],
    )


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict, with `*_json` columns decoded."""
    return {k: json.loads(v) if k.endswith("_json") and isinstance(v, str) else v for k, v in zip(row.keys(), tuple(row), strict=True)}


def observations(inputs: Any, prefix: str = "") -> list[tuple[str, Any, Any, Any]]:
    """(name, value, period, available_at) for every input that says when it became known; other leaves as plain values."""
    out: list[tuple[str, Any, Any, Any]] = []
    if isinstance(inputs, dict):
        if "available_at" in inputs:
            value = inputs.get("value", inputs.get("close"))
            return [(prefix or "(input)", value, inputs.get("period", inputs.get("day")), inputs["available_at"])]
        for key in sorted(inputs):
            out += observations(inputs[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(inputs, list):
        for i, item in enumerate(inputs):
            out += observations(item, f"{prefix}[{i}]")
    else:
        out.append((prefix, inputs, None, None))
    return out


def render_explain(record: DayRecord, *, width: int | None = TERMINAL_WIDTH) -> str:
    """A terminal page: header, inputs with when they became known, phase, indicators, rules, target, orders, book;
    its lines fit `width` columns (None: no limit)."""
    def table(headers: list[str], rows: Any) -> str:
        return text_table(headers, rows, max_width=400, width=None if width is None else width - 2)

    snap = record.snapshot
    regime = snap.get("regime", {}) if isinstance(snap.get("regime"), dict) else {}
    lines = [
        f"run {record.run_id}  decision for {record.day}  (as of {record.as_of})",
        f"regime: {record.regime}" + (f"  (runner-up: {record.runner_up})" if record.runner_up else "") + f"  phase: {record.phase or 'n/a'}",
        "",
        "why:",
        *[f"  - {r if isinstance(r, str) else json.dumps(r, sort_keys=True)}" for r in record.reasons],
    ]
    if regime.get("fallback"):
        lines.append(f"  fallback applied: {regime['fallback']}")
    if regime.get("missing_inputs"):
        lines.append(f"  missing or stale inputs: {', '.join(regime['missing_inputs'])}")
    obs = observations(record.inputs)
    lines += ["", "inputs (value, the period it describes, when it became known):", _indent(table(["input", "value", "period", "available at"], obs))]
    late = [o for o in obs if o[3] is not None and str(o[3]) > record.as_of]
    if late:
        lines.append(f"  WARNING: {len(late)} input(s) became known after the decision's as_of: {', '.join(o[0] for o in late)}")
    phase = snap.get("phase")
    if isinstance(phase, dict):
        lines += ["", "FOMC phase:", _indent(table(["field", "value"], [(k, v) for k, v in phase.items() if v not in (None, [], ())]))]
    indicators = snap.get("indicators")
    if isinstance(indicators, dict) and indicators:
        rows = [(name, r.get("value"), r.get("period"), r.get("available_at"), "STALE" if r.get("stale") else "") for name, r in sorted(indicators.items())]
        lines += ["", "indicators:", _indent(table(["indicator", "value", "period", "available at", ""], rows))]
    rules = regime.get("rules") or []
    if rules:
        lines += ["", "rules: (fired first)"]
        for r in sorted(rules, key=lambda r: not r.get("fired")):
            lines.append(f"  {'FIRED' if r.get('fired') else 'not fired'}  {r.get('regime')} (score {human(r.get('score'))}): {r.get('rule')}")
            lines.append(f"      {r.get('explanation')}")
            lines.append(f"      values: {_pairs(r.get('values'))}; thresholds: {_pairs(r.get('thresholds'))}")
    lines += ["", "target: " + _target(record.target)]
    lines += ["", f"orders ({len(record.orders)}):"]
    for order in record.orders:
        i = order.intent
        limit = f" limit {human(i['limit_price'])}" if i.get("limit_price") is not None else ""
        lines.append(f"  {i['side']} {i['qty']} {i['symbol']} {i['kind']}{limit}  [{order.status}]  {i['reason']}  ({i['client_order_id']})")
        for e in order.events:
            filled = f"  filled {human(e['filled_qty'])} @ {human(e['filled_avg_price'])}" if e.get("filled_qty") else ""
            lines.append(f"      {e['at']}  {e['status']}{filled}")
        for f in order.fills:
            lines.append(f"      fill {f['at']}  {f['side']} {human(f['qty'])} @ {human(f['price'])}  fees {human(f['fees'])}"
                         + ("  (model price)" if f["synthetic"] else ""))
    if record.book:
        b = record.book
        lines += ["", f"book at the close of {record.day}: equity {b['equity']:,.2f}  cash {b['cash']:,.2f}  shares {b['shares_value']:,.2f}  "
                      f"options {b['options_value']:,.2f}  interest {b['interest']:,.2f}  fees {b['fees']:,.2f}"]
        for p in record.positions:
            lines.append(f"  {p['symbol']}: {p['qty']:g} @ mark {p['mark']:,.4f} = {p['market_value']:,.2f}" + ("  (model mark)" if p["synthetic"] else ""))
    return fit_lines("\n".join(lines), width)


def _pairs(mapping: Any) -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "none"
    return ", ".join(f"{k} {human(v) if v is not None else 'n/a'}" for k, v in sorted(mapping.items()))


def _target(target: dict[str, Any]) -> str:
    """The target portfolio in words: weights, puts, hold; the strategy's memory (its reasons are listed under why)."""
    raw = target.get("weights")
    weights: dict[str, Any] = raw if isinstance(raw, dict) else {}
    parts = [", ".join(f"{s} {w:.1%}" for s, w in sorted(weights.items()) if isinstance(w, int | float)) or "all cash"]
    puts = target.get("puts")
    if isinstance(puts, dict):
        parts.append("puts " + ", ".join(f"{k} {human(v)}" for k, v in sorted(puts.items()) if v is not None))
    if target.get("hold"):
        parts.append("hold (no change)")
    memory = target.get("memory")
    if isinstance(memory, dict) and memory:
        parts.append("remembers " + ", ".join(f"{k} {v}" for k, v in sorted(memory.items())))
    return "; ".join(parts)


def fit_lines(text: str, width: int | None = TERMINAL_WIDTH) -> str:
    """Lines longer than `width` wrapped, continuing under their own indent plus four spaces (None: as they are)."""
    if width is None:
        return text
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line.strip(), width, initial_indent=indent, subsequent_indent=indent + "    ", break_on_hyphens=False)
    return "\n".join(out)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
