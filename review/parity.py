"""Paper against backtest: where a paper session and a backtest of the same window on the same data part ways.

`parity_diff` is a pure comparison of two runs' journals, day by day: decisions, orders (intents), fills and
daily P&L, each difference with its cause:

- *data revised after the fact*: an input the session saw has another value in the replay (the replay's store
  holds a later vintage); *data timing*: the same value became known at another moment;
- *fill price* / *fill timing* / *partial fill* / *not filled*: the broker filled differently from the model;
- *follows the decision* / *book differed*: an order differs because the decision did, or because earlier
  fills left a different book to size from;
- P&L: *fill price*, *position differs*, *marks differ* (model marks against market quotes), *interest*.

`replay_and_diff` runs the replay through a `Replayer` the composition root supplies (the backtest runner: it
backtests the session's window with the session's config and returns the journal and run id it wrote).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from review.explain import observations
from review.runs import ReviewError, RunRef, RunSource, open_runs
from review.tables import text_table

Replayer = Callable[[RunRef], tuple[Path, str]]
"""Backtest a session's window with its config on the same data; return (journal path, run id) of the replay."""

PRICE_TOLERANCE = 1e-6  # relative
MONEY_TOLERANCE = 0.01  # dollars


@dataclass(frozen=True, slots=True)
class ParityDiff:
    """One difference between the session (S) and its replay (R)."""

    day: str
    aspect: str  # decision | order | fill | pnl
    detail: str
    cause: str


@dataclass(frozen=True, slots=True)
class ParityReport:
    session: str
    replay: str
    days_compared: int
    diffs: tuple[ParityDiff, ...]

    @property
    def identical(self) -> bool:
        return not self.diffs

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session, "replay": self.replay, "days_compared": self.days_compared, "identical": self.identical,
                "diffs": [asdict(d) for d in self.diffs]}


def _intent_key(row: sqlite3.Row) -> tuple[str, str, str, int]:
    return (row["decision_day"], row["symbol"], row["side"], int(row["leg"]))


def _input_causes(s: sqlite3.Row, r: sqlite3.Row) -> list[str]:
    obs_s = {o[0]: o for o in observations(json.loads(s["inputs_json"]))}
    obs_r = {o[0]: o for o in observations(json.loads(r["inputs_json"]))}
    causes = []
    for name in sorted(obs_s.keys() | obs_r.keys()):
        a, b = obs_s.get(name), obs_r.get(name)
        if a is None or b is None:
            causes.append(f"data missing: {name} only in the {'replay' if a is None else 'session'}")
        elif a[1] != b[1] and a[2] == b[2]:
            causes.append(f"data revised after the fact: {name} for {a[2]} was {a[1]} (known {a[3]}) in the session, {b[1]} (known {b[3]}) in the replay")
        elif a[1] != b[1]:
            causes.append(f"data differs: {name} was {a[1]} for {a[2]} in the session, {b[1]} for {b[2]} in the replay")
        elif a[3] != b[3]:
            causes.append(f"data timing: {name} became known at {a[3]} in the session, {b[3]} in the replay")
    return causes


def _decisions(sess: list[sqlite3.Row], rep: list[sqlite3.Row], book_differs: Callable[[str], bool]) -> tuple[list[ParityDiff], set[str]]:
    by_day = {r["day"]: r for r in rep}
    diffs, differing = [], set()
    for s in sess:
        r = by_day.get(s["day"])
        if r is None:
            diffs.append(ParityDiff(s["day"], "decision", "the replay made no decision this day", "timing: the replay's sessions differ"))
            differing.add(s["day"])
            continue
        ts, tr = json.loads(s["target_json"]), json.loads(r["target_json"])
        strip = ("day", "reasons", "memory")
        ts = {k: v for k, v in ts.items() if k not in strip} if isinstance(ts, dict) else ts
        tr = {k: v for k, v in tr.items() if k not in strip} if isinstance(tr, dict) else tr
        if s["regime"] == r["regime"] and s["phase"] == r["phase"] and ts == tr:
            continue
        differing.add(s["day"])
        detail = f"session {s['regime']}/{s['phase']} {json.dumps(ts, sort_keys=True)}; replay {r['regime']}/{r['phase']} {json.dumps(tr, sort_keys=True)}"
        causes = _input_causes(s, r)
        if not causes:
            causes = ["book differed: earlier fills left a different book"] if book_differs(s["day"]) else ["logic or config differs (same inputs)"]
        diffs += [ParityDiff(s["day"], "decision", detail, c) for c in causes]
    return diffs, differing


def _orders(sess: list[sqlite3.Row], rep: list[sqlite3.Row], differing: set[str], book_differs: Callable[[str], bool]) -> list[ParityDiff]:
    a, b = {_intent_key(i): i for i in sess}, {_intent_key(i): i for i in rep}
    diffs = []
    for key in sorted(a.keys() | b.keys()):
        day = key[0]
        if day in differing:
            cause = "follows the decision difference"
        elif book_differs(day):
            cause = "book differed: earlier fills left a different book"
        else:
            cause = "sizing differs with the same decision and book"
        if key not in b:
            diffs.append(ParityDiff(day, "order", f"session only: {a[key]['side']} {a[key]['qty']} {a[key]['symbol']}", cause))
        elif key not in a:
            diffs.append(ParityDiff(day, "order", f"replay only: {b[key]['side']} {b[key]['qty']} {b[key]['symbol']}", cause))
        else:
            fields = [f for f in ("qty", "kind", "limit_price") if a[key][f] != b[key][f]]
            if fields:
                diffs.append(ParityDiff(day, "order", f"{key[2]} {key[1]}: " + ", ".join(f"{f} {a[key][f]} vs {b[key][f]}" for f in fields), cause))
    return diffs


def _fills(source_s: RunSource, s: RunRef, source_r: RunSource, r: RunRef) -> list[ParityDiff]:
    def by_intent(src: RunSource, ref: RunRef) -> dict[tuple[str, str, str, int], list[sqlite3.Row]]:
        out: dict[tuple[str, str, str, int], list[sqlite3.Row]] = {}
        for f in src.fills(ref):
            out.setdefault((f["decision_day"], f["symbol"], f["side"], int(f["leg"])), []).append(f)
        return out

    def status(src: RunSource, ref: RunRef, key: tuple[str, str, str, int]) -> str:
        rows = src.query(
            ref,
            "SELECT e.status, e.detail_json FROM order_events e JOIN intents i USING (client_order_id)"
            " WHERE i.run_id=? AND i.decision_day=? AND i.symbol=? AND i.side=? AND i.leg=? ORDER BY e.seq DESC LIMIT 1",
            (ref.run_id, *key),
        )
        return f"{rows[0]['status']} {rows[0]['detail_json']}" if rows else "never ordered"

    fs, fr = by_intent(source_s, s), by_intent(source_r, r)
    ordered_s = {_intent_key(i): i["qty"] for i in source_s.intents(s)}
    ordered_r = {_intent_key(i): i["qty"] for i in source_r.intents(r)}
    diffs = []
    for key in sorted(fs.keys() | fr.keys()):
        a, b = fs.get(key, []), fr.get(key, [])
        label = f"{key[2]} {key[1]} (decided {key[0]})"
        if not a or not b:
            filled, side = (a, "session") if a else (b, "replay")
            other = status(*((source_r, r) if a else (source_s, s)), key)
            cause = "follows the order difference (ordered on one side only)" if other == "never ordered" else f"not filled: {other}"
            diffs.append(ParityDiff(filled[0]["at"][:10], "fill", f"{label} filled in the {side} only", cause))
            continue
        qa, qb = sum(f["qty"] for f in a), sum(f["qty"] for f in b)
        pa, pb = sum(f["qty"] * f["price"] for f in a) / qa, sum(f["qty"] * f["price"] for f in b) / qb
        day = a[0]["at"][:10]
        if abs(qa - qb) > 1e-9:
            cause = "follows the order difference (other quantity)" if ordered_s.get(key) != ordered_r.get(key) else "partial fill"
            diffs.append(ParityDiff(day, "fill", f"{label}: {qa:g} vs {qb:g} filled", cause))
        if abs(pa - pb) > PRICE_TOLERANCE * max(abs(pa), abs(pb), 1.0):
            model = " (the replay's price is a model price)" if any(f["synthetic"] for f in b) else ""
            diffs.append(ParityDiff(day, "fill", f"{label}: {pa:.4f} in the session vs {pb:.4f} in the replay{model}", "fill price"))
        if a[0]["at"] != b[0]["at"]:
            diffs.append(ParityDiff(day, "fill", f"{label}: filled at {a[0]['at']} in the session vs {b[0]['at']} in the replay", "fill timing"))
    return diffs


def _daily(source: RunSource, ref: RunRef) -> dict[str, tuple[float, float]]:
    """Day -> (equity, interest)."""
    frame = source.equity(ref)
    days = [d.date().isoformat() for d in frame.index]
    return dict(zip(days, zip(frame["equity"].to_numpy(float).tolist(), frame["interest"].to_numpy(float).tolist(), strict=True), strict=True))


def _pnl(source_s: RunSource, s: RunRef, source_r: RunSource, r: RunRef, fill_days: dict[str, str]) -> list[ParityDiff]:
    es, er = _daily(source_s, s), _daily(source_r, r)
    both = sorted(es.keys() & er.keys())
    if not both:
        return []
    ps, pr = _positions(source_s, s), _positions(source_r, r)
    diffs, gaps = [], []
    if abs(es[both[0]][0] - er[both[0]][0]) > MONEY_TOLERANCE:
        diffs.append(ParityDiff(both[0], "pnl", f"starting equity {es[both[0]][0]:,.2f} vs {er[both[0]][0]:,.2f}", "different starting book"))
    for prev, day in pairwise(both):
        pnl_s, pnl_r = es[day][0] - es[prev][0], er[day][0] - er[prev][0]
        if abs(pnl_s - pnl_r) <= MONEY_TOLERANCE:
            continue
        qty_s, qty_r = ps.get(day, {}), pr.get(day, {})
        if day in fill_days:
            cause = fill_days[day]
        elif {k: v[0] for k, v in qty_s.items()} != {k: v[0] for k, v in qty_r.items()}:
            cause = "position differs (from an earlier order or fill)"
        elif any(abs(qty_s[k][1] - qty_r[k][1]) > PRICE_TOLERANCE * max(qty_s[k][1], 1.0) for k in qty_s):
            cause = "marks differ (model marks against market quotes)"
        elif abs(es[day][1] - er[day][1]) > MONEY_TOLERANCE:
            cause = "interest differs (cash differed)"
        else:
            cause = "unexplained: same positions, marks and interest"
        diffs.append(ParityDiff(day, "pnl", f"day P&L {pnl_s:,.2f} in the session vs {pnl_r:,.2f} in the replay ({pnl_s - pnl_r:+,.2f})", cause))
        gaps.append((day, pnl_s - pnl_r))
    return _merge_runs(diffs, gaps, both)


def _merge_runs(diffs: list[ParityDiff], gaps: list[tuple[str, float]], days: list[str]) -> list[ParityDiff]:
    """Fold consecutive days of P&L differences with the same consequential cause (a different position or cash carried forward) into one."""
    position = {d: i for i, d in enumerate(days)}
    gap = dict(gaps)
    out: list[ParityDiff] = []
    run: list[ParityDiff] = []

    def flush() -> None:
        if len(run) > 1:
            total = sum(gap[d.day] for d in run)
            detail = f"{len(run)} sessions {run[0].day}..{run[-1].day}, each a little apart: {total:+,.2f} in all"
            out.append(ParityDiff(run[0].day, "pnl", detail, run[0].cause))
        else:
            out.extend(run)
        run.clear()

    for diff in diffs:
        carried = diff.cause.startswith(("position differs", "interest differs", "marks differ"))
        if run and carried and diff.cause == run[-1].cause and diff.day in position and position[diff.day] == position[run[-1].day] + 1:
            run.append(diff)
            continue
        flush()
        if carried:
            run.append(diff)
        else:
            out.append(diff)
    flush()
    return out


def _positions(source: RunSource, ref: RunRef) -> dict[str, dict[str, tuple[float, float]]]:
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for p in source.positions(ref):
        out.setdefault(p["day"], {})[p["symbol"]] = (float(p["qty"]), float(p["mark"]))
    return out


def parity_diff(source_s: RunSource, session: RunRef, source_r: RunSource, replay: RunRef) -> ParityReport:
    """Every difference between a session and its replay, ordered by day then aspect."""
    es, er = _daily(source_s, session), _daily(source_r, replay)

    def book_differs(day: str) -> bool:
        """The books differed at the close the decision of `day` sized from."""
        a, b = [v[0] for d, v in es.items() if d <= day], [v[0] for d, v in er.items() if d <= day]
        return bool(a and b and abs(a[-1] - b[-1]) > MONEY_TOLERANCE)

    decisions_s = source_s.decisions(session)
    decision_diffs, differing = _decisions(decisions_s, source_r.decisions(replay), book_differs)
    order_diffs = _orders(source_s.intents(session), source_r.intents(replay), differing, book_differs)
    fill_diffs = _fills(source_s, session, source_r, replay)
    fill_days = {d.day: d.cause for d in fill_diffs}
    diffs = decision_diffs + order_diffs + fill_diffs + _pnl(source_s, session, source_r, replay, fill_days)
    order = {"decision": 0, "order": 1, "fill": 2, "pnl": 3}
    diffs.sort(key=lambda d: (d.day, order[d.aspect]))
    return ParityReport(session.run_id, replay.run_id, len(decisions_s), tuple(diffs))


def replay_and_diff(source: RunSource, session: RunRef, replay: Replayer) -> ParityReport:
    """Replay the session's window as a backtest (through `replay`) and diff the two."""
    if session.info.kind != "paper":
        raise ReviewError(f"run {session.run_id} is a {session.info.kind}, not a paper session: parity replays paper sessions")
    path, run_id = replay(session)
    with open_runs([path]) as replayed:
        return parity_diff(source, session, replayed, replayed.run(run_id))


def render_parity(report: ParityReport) -> str:
    head = f"parity: session {report.session} against replay {report.replay}, {report.days_compared} decision days"
    if report.identical:
        return head + "\nno differences: decisions, orders, fills and daily P&L agree"
    rows = [(d.day, d.aspect, d.cause, d.detail) for d in report.diffs]
    return head + f"\n{len(report.diffs)} difference(s):\n" + text_table(["day", "aspect", "cause", "detail"], rows, max_width=140)
