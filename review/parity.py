"""Paper against backtest: where a paper session and a backtest of the same window on the same data part ways.

`parity_diff` is a pure comparison of two runs' journals, day by day: decisions, orders (intents), fills and
daily P&L, each difference with its cause:

- *data revised after the fact*: an input the session saw has another value in the replay (the replay's store
  holds a later vintage); *data timing*: the same value became known at another moment;
- *fill price* / *fill timing* / *partial fill* / *not filled*: the broker filled differently from the model;
- *follows the decision* / *book differed*: an order differs because the decision did, or because earlier
  fills left a different book to size from;
- P&L: *fill price*, *position differs*, *marks differ* (model marks against market quotes), *interest*.

Only the inputs both runs journal are compared by name (a paper decision journals its book and marks, a backtest's
the snapshot's market readings); the book (cash, shares) is not data. When no shared input explains a decision
that differs, the regime's reasons are: both runs journal them, and they quote the values the rules read, so the
same rules at the same instant quoting other values mean the data changed after the session (revised, or known
at another time). A book apart by exactly the interest the replay credited on cash is said to be so.

A paper session journals no end-of-day book: its daily P&L is read from the book each decision saw (cash plus
shares at the decision's marks); days on which it held options (not in that book) are left out, and the report's
notes say so.

`replay_and_diff` runs the replay through a `Replayer` the composition root supplies (the backtest runner: it
backtests the session's window with the session's config and returns the journal and run id it wrote).
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

from review.explain import observations
from review.runs import ReviewError, RunRef, RunSource, open_runs
from review.tables import human, rounded, text_table

Replayer = Callable[[RunRef], tuple[Path, str]]
"""Backtest a session's window with its config on the same data; return (journal path, run id) of the replay."""

PRICE_TOLERANCE = 1e-6  # relative
MONEY_TOLERANCE = 0.01  # dollars
REPLAYABLE = ("paper", "simulation")  # paper sessions, on the wall clock or a simulated one
BOOK_INPUTS = frozenset({"cash", "shares"})  # decision inputs that are the book, not data
TARGET_NOT_COMPARED = ("day", "reasons", "memory", "intents")  # the orders are compared as orders


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
    days: tuple[str, ...] = ()  # the session's decision days
    notes: tuple[str, ...] = ()  # how the comparison was made where the journals differ in what they record

    @property
    def identical(self) -> bool:
        return not self.diffs

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session, "replay": self.replay, "days_compared": self.days_compared, "days": list(self.days),
                "notes": list(self.notes), "identical": self.identical, "diffs": [asdict(d) for d in self.diffs]}


def _intent_key(row: sqlite3.Row) -> tuple[str, str, str, int]:
    return (row["decision_day"], row["symbol"], row["side"], int(row["leg"]))


def _with_readings(row: sqlite3.Row) -> Any:
    """The decision's inputs plus its indicator readings (each with its period and the moment it became known)."""
    doc = json.loads(row["inputs_json"])
    snapshot = json.loads(row["snapshot_json"])
    readings = snapshot.get("indicators") if isinstance(snapshot, dict) else None
    if isinstance(doc, dict) and isinstance(readings, dict) and readings:
        doc = {**doc, "indicators": readings}
    return doc


def _input_causes(s: sqlite3.Row, r: sqlite3.Row) -> list[str]:
    """Inputs journaled by both runs (by name, within the groups both journal) that differ: the data each decision read."""
    doc_s, doc_r = _with_readings(s), _with_readings(r)
    groups_s = set(doc_s) if isinstance(doc_s, dict) else set()
    groups_r = set(doc_r) if isinstance(doc_r, dict) else set()
    shared = (groups_s & groups_r) - BOOK_INPUTS
    obs_s = {o[0]: o for o in observations({k: doc_s[k] for k in shared})} if shared else {}
    obs_r = {o[0]: o for o in observations({k: doc_r[k] for k in shared})} if shared else {}
    causes = []
    for name in sorted(obs_s.keys() | obs_r.keys()):
        a, b = obs_s.get(name), obs_r.get(name)
        if a is None or b is None:
            causes.append(f"data missing: {name} only in the {'replay' if a is None else 'session'}")
        elif a[1] != b[1] and a[2] == b[2]:
            causes.append(f"data revised after the fact: {name} for {a[2]} was {human(a[1])} (known {a[3]}) in the session, "
                          f"{human(b[1])} (known {b[3]}) in the replay")
        elif a[1] != b[1]:
            causes.append(f"data differs: {name} was {human(a[1])} for {a[2]} in the session, {human(b[1])} for {b[2]} in the replay")
        elif a[3] != b[3]:
            causes.append(f"data timing: {name} became known at {a[3]} in the session, {b[3]} in the replay")
    return causes


def _regime_reasons(row: sqlite3.Row) -> list[str]:
    snapshot = json.loads(row["snapshot_json"])
    regime = snapshot.get("regime") if isinstance(snapshot, dict) else None
    reasons = regime.get("reasons") if isinstance(regime, dict) else None
    return [str(r) for r in reasons] if isinstance(reasons, list) else []


def _rule(reason: str) -> str:
    return reason.removeprefix("(not fired) ").split(":", 1)[0]


def _changed_words(a: str, b: str, limit: int = 4) -> str:
    """The words that differ between two reasons, with the word before each for context."""
    wa, wb = a.split(), b.split()
    parts = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op != "equal":
            parts.append(f"{' '.join(wa[max(i1 - 1, 0):i2])!r} vs {' '.join(wb[max(j1 - 1, 0):j2])!r}")
    return ", ".join(parts[:limit]) + (f" and {len(parts) - limit} more" if len(parts) > limit else "")


def _reason_cause(s: sqlite3.Row, r: sqlite3.Row, code_s: str, code_r: str) -> str | None:
    """The regime's rules quoting other values: the data the session read is not the data the replay read."""
    rs, rr = _regime_reasons(s), _regime_reasons(r)
    if not rs or not rr or rs == rr:
        return None
    by_s, by_r = {_rule(x): x for x in rs}, {_rule(x): x for x in rr}
    pairs = [(k, by_s[k], by_r[k]) for k in by_s if k in by_r and by_s[k] != by_r[k]] if len(by_s) == len(rs) and len(by_r) == len(rr) else []
    pairs = pairs or [(str(i), a, b) for i, (a, b) in enumerate(zip(rs, rr, strict=False)) if a != b]
    quoted = "; ".join(f"{rule}: {_changed_words(a, b)}" for rule, a, b in pairs[:3]) or "the rules listed differ"
    code = "" if code_s == code_r else f" (or the code changed: {code_s} in the session, {code_r} in the replay)"
    if s["as_of"] == r["as_of"]:
        return f"data revised after the fact{code}: the regime rules quote other values at the same instant {s['as_of']}, session vs replay: {quoted}"
    return f"data timing: decided as of {s['as_of']} in the session, {r['as_of']} in the replay{code}; the rules quote {quoted}"


def _doc(value: object) -> str:
    """A target document for a reader: floats rounded, keys sorted."""
    return json.dumps(rounded(value), sort_keys=True)


def _began_holding(first: sqlite3.Row) -> str | None:
    """The cause of the first decision's difference when the session began holding shares (a resumed or restarted
    session): its replay starts from the same value in cash, since a backtest cannot start holding shares."""
    inputs = json.loads(first["inputs_json"] or "{}")
    shares = inputs.get("shares") if isinstance(inputs, dict) else None
    held = {str(k): float(q) for k, q in shares.items() if float(q)} if isinstance(shares, dict) else {}
    if not held:
        return None
    shown = ", ".join(f"{q:g} {k}" for k, q in sorted(held.items()))
    return (f"book differed: the session began holding {shown}; the replay starts from the same value in cash (a backtest cannot"
            " start holding shares), so sizing differs until the two books meet")


def _decisions(sess: list[sqlite3.Row], rep: list[sqlite3.Row], book: Callable[[str], str | None], codes: tuple[str, str]) -> tuple[list[ParityDiff], set[str]]:
    by_day = {r["day"]: r for r in rep}
    diffs, differing = [], set()
    began = _began_holding(sess[0]) if sess else None
    for s in sess:
        r = by_day.get(s["day"])
        if r is None:
            diffs.append(ParityDiff(s["day"], "decision", "the replay made no decision this day", "timing: the replay's sessions differ"))
            differing.add(s["day"])
            continue
        ts, tr = json.loads(s["target_json"]), json.loads(r["target_json"])
        ts = {k: v for k, v in ts.items() if k not in TARGET_NOT_COMPARED} if isinstance(ts, dict) else ts
        tr = {k: v for k, v in tr.items() if k not in TARGET_NOT_COMPARED} if isinstance(tr, dict) else tr
        if s["regime"] == r["regime"] and s["phase"] == r["phase"] and ts == tr:
            continue
        differing.add(s["day"])
        if s["regime"] == r["regime"] and s["phase"] == r["phase"] and isinstance(ts, dict) and isinstance(tr, dict):
            keys = sorted(k for k in ts.keys() | tr.keys() if ts.get(k) != tr.get(k))
            detail = f"{s['regime']}/{s['phase']} in both; " + "; ".join(
                f"{k} {_doc(ts.get(k))} in the session vs {_doc(tr.get(k))} in the replay" for k in keys)
        else:
            detail = f"session {s['regime']}/{s['phase']} {_doc(ts)}; replay {r['regime']}/{r['phase']} {_doc(tr)}"
        causes = _input_causes(s, r)
        if not causes:
            found = (began if s is sess[0] else None) or _reason_cause(s, r, *codes) or book(s["day"])
            causes = [found or "logic or config differs (same inputs)"]
        diffs += [ParityDiff(s["day"], "decision", detail, c) for c in causes]
    decided = {s["day"] for s in sess}
    for r in rep:
        if r["day"] not in decided:
            diffs.append(ParityDiff(r["day"], "decision", "the session made no decision this day",
                                    "timing: the session did not decide that day (not running, or the job missed its deadline)"))
            differing.add(r["day"])
    return diffs, differing


def _orders(sess: list[sqlite3.Row], rep: list[sqlite3.Row], differing: set[str], book: Callable[[str], str | None]) -> list[ParityDiff]:
    a, b = {_intent_key(i): i for i in sess}, {_intent_key(i): i for i in rep}
    diffs = []
    for key in sorted(a.keys() | b.keys()):
        day = key[0]
        cause = "follows the decision difference" if day in differing else book(day) or "sizing differs with the same decision and book"
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


@dataclass(frozen=True, slots=True)
class _Books:
    """A run's book at each close it records: day -> (equity, interest credited that day), and day -> symbol -> (qty, mark)."""

    daily: dict[str, tuple[float, float]]
    positions: dict[str, dict[str, tuple[float, float]]]
    from_decisions: bool = False  # no end-of-day rows: the book each decision saw
    holding_options: int = 0  # decision days left out: options held (not in a decision's book)
    without_book: int = 0  # decision days left out: the decision recorded no book


def _books(source: RunSource, ref: RunRef) -> _Books:
    """The run's end-of-day rows; for a run without them (a paper session), the book each decision sized from."""
    frame = source.equity(ref)
    if len(frame):
        days = [d.date().isoformat() for d in frame.index]
        daily = dict(zip(days, zip(frame["equity"].to_numpy(float).tolist(), frame["interest"].to_numpy(float).tolist(), strict=True), strict=True))
        positions: dict[str, dict[str, tuple[float, float]]] = {}
        for p in source.positions(ref):
            positions.setdefault(p["day"], {})[p["symbol"]] = (float(p["qty"]), float(p["mark"]))
        return _Books(daily, positions)
    fills = [f for f in source.fills(ref) if f["asset_class"] == "option"]
    option_fills = sorted((f["at"][:10], f["symbol"], float(f["qty"]) * (1 if f["side"] == "buy" else -1)) for f in fills)
    daily, positions, holding, without = {}, {}, 0, 0
    for row in source.decisions(ref):
        day, book = row["day"], json.loads(row["inputs_json"])
        held: dict[str, float] = {}
        for at, symbol, qty in option_fills:
            if at <= day:
                held[symbol] = held.get(symbol, 0.0) + qty
        marks = book.get("marks") if isinstance(book, dict) else None
        shares = book.get("shares") if isinstance(book, dict) else None
        if not isinstance(book, dict) or not isinstance(book.get("cash"), int | float) or not isinstance(marks, dict) or not isinstance(shares, dict) \
                or set(shares) - set(marks):
            without += 1
        elif any(abs(q) > 1e-9 for q in held.values()):
            holding += 1
        else:
            positions[day] = {str(k): (float(q), float(marks[k])) for k, q in shares.items() if float(q)}
            daily[day] = (float(book["cash"]) + sum(q * m for q, m in positions[day].values()), 0.0)
    return _Books(daily, positions, from_decisions=True, holding_options=holding, without_book=without)


def _book_cause(bs: _Books, br: _Books) -> Callable[[str], str | None]:
    """For a decision day: why the books at the close it sized from differed (None when they did not)."""
    common = sorted(bs.daily.keys() & br.daily.keys())
    interest_s, interest_r = list(accumulate(bs.daily[d][1] for d in common)), list(accumulate(br.daily[d][1] for d in common))

    def cause(day: str) -> str | None:
        i = bisect_right(common, day) - 1  # the latest close both books record, at or before the decision
        if i < 0:
            return None
        gap = br.daily[common[i]][0] - bs.daily[common[i]][0]
        if abs(gap) <= MONEY_TOLERANCE:
            return None
        interest = interest_r[i] - interest_s[i]
        if abs(interest) > MONEY_TOLERANCE and abs(gap - interest) <= 0.1 * abs(interest) + MONEY_TOLERANCE:
            return f"book differed: interest: by then the replay's cash had earned {interest:+,.2f} more interest than the session's (books {gap:+,.2f} apart)"
        return f"book differed: earlier fills left a different book ({gap:+,.2f} apart)"

    return cause


def _interest_cause(bs: _Books) -> str:
    if bs.from_decisions:
        return "interest differs: the replay credits the bill rate on cash; the session's book shows none"
    return "interest differs (cash differed)"


def _pnl(bs: _Books, br: _Books, fill_days: dict[str, str]) -> list[ParityDiff]:
    es, er = bs.daily, br.daily
    both = sorted(es.keys() & er.keys())
    if not both:
        return []
    ps, pr = bs.positions, br.positions
    diffs, gaps = [], []
    first = both[0]
    if abs((es[first][0] - es[first][1]) - (er[first][0] - er[first][1])) > MONEY_TOLERANCE:
        diffs.append(ParityDiff(first, "pnl", f"starting equity {es[first][0]:,.2f} vs {er[first][0]:,.2f}", "different starting book"))
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
            cause = _interest_cause(bs)
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
        carried = diff.cause.startswith(("position differs", "interest", "marks differ"))
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


def _notes(bs: _Books, br: _Books) -> tuple[str, ...]:
    notes = []
    for who, books in (("session", bs), ("replay", br)):
        if books.from_decisions:
            note = f"the {who} journals no end-of-day book: its daily P&L is the book each decision saw (cash + shares at the decision's marks)"
            if books.holding_options:
                note += f"; {books.holding_options} day(s) holding options (not in that book) are left out"
            if books.without_book:
                note += f"; {books.without_book} decision(s) recorded no book and are left out"
            notes.append(note)
    return tuple(notes)


def parity_diff(source_s: RunSource, session: RunRef, source_r: RunSource, replay: RunRef) -> ParityReport:
    """Every difference between a session and its replay, ordered by day then aspect."""
    bs, br = _books(source_s, session), _books(source_r, replay)
    book = _book_cause(bs, br)
    decisions_s = source_s.decisions(session)
    codes = (session.info.code_version, replay.info.code_version)
    decision_diffs, differing = _decisions(decisions_s, source_r.decisions(replay), book, codes)
    order_diffs = _orders(source_s.intents(session), source_r.intents(replay), differing, book)
    fill_diffs = _fills(source_s, session, source_r, replay)
    fill_days = {d.day: d.cause for d in fill_diffs}
    diffs = decision_diffs + order_diffs + fill_diffs + _pnl(bs, br, fill_days)
    order = {"decision": 0, "order": 1, "fill": 2, "pnl": 3}
    diffs.sort(key=lambda d: (d.day, order[d.aspect]))
    days = tuple(row["day"] for row in decisions_s)
    return ParityReport(session.run_id, replay.run_id, len(decisions_s), tuple(diffs), days, _notes(bs, br))


def replay_and_diff(source: RunSource, session: RunRef, replay: Replayer) -> ParityReport:
    """Replay the session's window as a backtest (through `replay`) and diff the two."""
    if session.info.kind not in REPLAYABLE:
        raise ReviewError(f"run {session.run_id} is a {session.info.kind}, not a paper session: parity replays paper and simulated sessions")
    path, run_id = replay(session)
    with open_runs([path]) as replayed:
        return parity_diff(source, session, replayed, replayed.run(run_id))


def render_parity(report: ParityReport) -> str:
    window = f" ({report.days[0]} .. {report.days[-1]})" if report.days else ""
    head = f"parity: session {report.session} against replay {report.replay}, {report.days_compared} decision days{window}"
    head += "".join(f"\nnote: {n}" for n in report.notes)
    if report.identical:
        return head + "\nno differences: decisions, orders, fills and daily P&L agree"
    rows = [(d.day, d.aspect, d.cause, d.detail) for d in report.diffs]
    return head + f"\n{len(report.diffs)} difference(s):\n" + text_table(["day", "aspect", "cause", "detail"], rows, max_width=400, wrap=(2, 3))
