"""Two runs side by side: metrics, equity curves on one chart, and the days their decisions differ, with why.

The why of a differing day, most telling first: the inputs differed (values or when they became known), rules
fired differently, or - same inputs, same regime - the configs differ (listed key by key) or the books did.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

import pandas as pd

from review import charts, page
from review.explain import fit_lines, observations
from review.metrics import SHARPE_LABEL, SORTINO_LABEL, Metrics, fmt_num, fmt_pct
from review.runs import RunRef, RunSource
from review.tables import text_table
from signals.scorecard import HORIZONS, WARNING_CALLS, Scorecard, scorecard


@dataclass(frozen=True, slots=True)
class DecisionDiff:
    """One day where the two runs decided differently."""

    day: str
    regime_a: str
    regime_b: str
    target_a: dict[str, Any]
    target_b: dict[str, Any]
    what: tuple[str, ...]  # "regime", "phase", "target"
    why: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    a: RunRef
    b: RunRef
    metrics_a: Metrics
    metrics_b: Metrics
    config_diff: list[tuple[str, Any, Any]]
    diffs: list[DecisionDiff]
    days_only_a: int
    days_only_b: int
    chart: bytes
    scorecards: tuple[Scorecard, Scorecard] | None = None  # each run's regime calls scored (signals/scorecard.py)
    common_days: tuple[str, ...] = ()
    window_a: str = ""
    window_b: str = ""
    compact: tuple[bool, bool] = (False, False)  # A, B: a sweep member that stored decisions only where its target changed

    def to_json(self) -> dict[str, Any]:
        return {
            **({"scorecards": {"a": self.scorecards[0].to_json(), "b": self.scorecards[1].to_json()}} if self.scorecards else {}),
            "a": self.a.run_id, "b": self.b.run_id, "metrics": {"a": self.metrics_a.to_json(), "b": self.metrics_b.to_json()},
            "config_diff": [{"key": k, "a": va, "b": vb} for k, va, vb in self.config_diff],
            "decision_diffs": [{"day": d.day, "regime_a": d.regime_a, "regime_b": d.regime_b, "what": list(d.what), "why": list(d.why),
                                "target_a": d.target_a, "target_b": d.target_b} for d in self.diffs],
            "days_only_a": self.days_only_a, "days_only_b": self.days_only_b, "window_a": self.window_a, "window_b": self.window_b,
            "spans": [{"first": s.first, "last": s.last, "days": s.days, "what": list(s.what), "regime_a": s.regime_a, "regime_b": s.regime_b,
                       "why": list(s.why)} for s in spans(self)],
        }


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


PROVENANCE_KEYS = frozenset({"sources", "overrides"})


def dict_diff(a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    fa, fb = flatten(a), flatten(b)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)]


def _comparable_target(row: sqlite3.Row) -> dict[str, Any]:
    target = json.loads(row["target_json"])
    return {k: v for k, v in target.items() if k not in ("day", "reasons", "memory")} if isinstance(target, dict) else {"target": target}


def why_different(a: sqlite3.Row, b: sqlite3.Row, config_diff: list[tuple[str, Any, Any]], book_a: float | None, book_b: float | None) -> tuple[str, ...]:
    """The causes of one differing day, in the order a reader should check them."""
    why: list[str] = []
    obs_a = {o[0]: o for o in observations(json.loads(a["inputs_json"]))}
    obs_b = {o[0]: o for o in observations(json.loads(b["inputs_json"]))}
    for name in sorted(obs_a.keys() | obs_b.keys()):
        oa, ob = obs_a.get(name), obs_b.get(name)
        if oa is None or ob is None:
            why.append(f"input {name} only in {'A' if ob is None else 'B'}")
        elif oa[1:] != ob[1:]:
            why.append(f"input {name}: A {oa[1]} (known {oa[3]}) vs B {ob[1]} (known {ob[3]})")
    rules_a = {r.get("rule"): bool(r.get("fired")) for r in (json.loads(a["snapshot_json"]).get("regime") or {}).get("rules") or []}
    rules_b = {r.get("rule"): bool(r.get("fired")) for r in (json.loads(b["snapshot_json"]).get("regime") or {}).get("rules") or []}
    for rule in sorted(k for k in rules_a.keys() | rules_b.keys() if k is not None):
        if rules_a.get(rule) != rules_b.get(rule):
            why.append(f"rule {rule} fired in {'A' if rules_a.get(rule) else 'B'} only")
    if a["regime"] != b["regime"]:
        why.append(f"regime A {a['regime']} ({'; '.join(json.loads(a['reasons_json']))}) vs B {b['regime']} ({'; '.join(json.loads(b['reasons_json']))})")
    elif not why:
        if config_diff:
            why.append("same inputs and regime: the configs differ (" + ", ".join(f"{k}: {va} vs {vb}" for k, va, vb in config_diff[:4]) + ")")
        if book_a is not None and book_b is not None and abs(book_a - book_b) > 0.005:
            why.append(f"the books differed (equity {book_a:,.2f} vs {book_b:,.2f})")
    return tuple(why) or ("no recorded cause: same inputs, regime, rules and config",)


def run_scorecard(source: RunSource, ref: RunRef, closes: dict[str, pd.Series], recession_months: pd.Series) -> Scorecard | None:
    """The scorecard of the regime calls a run journaled (None when it decided nothing)."""
    calls = source.regime_calls(ref)
    if not calls:
        return None
    return scorecard([date.fromisoformat(day) for day, _ in calls], [regime for _, regime in calls], closes, recession_months)


def compare_runs(source: RunSource, a: RunRef, b: RunRef, closes: dict[str, pd.Series] | None = None,
                 recession_months: pd.Series | None = None) -> Comparison:
    """Compare two runs over the days both decided; with IWM/SPY `closes` and the NBER months, their regime scorecards too."""
    # the settings that differ; where they came from (the files and --set overrides a run journals as `sources` and
    # `overrides`, e.g. a different store_dir) is not a setting of the strategy
    config_diff = [d for d in dict_diff(a.config(), b.config()) if d[0].split(".", 1)[0] not in PROVENANCE_KEYS]
    eq_a, eq_b = source.equity(a)["equity"], source.equity(b)["equity"]
    rows_a = {r["day"]: r for r in source.decisions(a)}
    rows_b = {r["day"]: r for r in source.decisions(b)}
    diffs = []
    for day in sorted(rows_a.keys() & rows_b.keys()):
        ra, rb = rows_a[day], rows_b[day]
        ta, tb = _comparable_target(ra), _comparable_target(rb)
        what = tuple(n for n, x, y in (("regime", ra["regime"], rb["regime"]), ("phase", ra["phase"], rb["phase"]), ("target", ta, tb)) if x != y)
        if what:
            why = why_different(ra, rb, config_diff, _book_at(eq_a, day), _book_at(eq_b, day))
            diffs.append(DecisionDiff(day, ra["regime"], rb["regime"], ta, tb, what, why))
    chart = charts.curves_chart({f"A {a.info.label}": eq_a, f"B {b.info.label}": eq_b}, f"{a.run_id} vs {b.run_id}")
    # days one run decided that the other did not run at all (a compact member ran every day of its window, though it
    # stored only the days its target changed)
    ran_a = set(pd.DatetimeIndex(eq_a.index).strftime("%Y-%m-%d")) | rows_a.keys()
    ran_b = set(pd.DatetimeIndex(eq_b.index).strftime("%Y-%m-%d")) | rows_b.keys()
    only_a, only_b = len(rows_a.keys() - ran_b), len(rows_b.keys() - ran_a)
    cards = None
    if closes is not None and recession_months is not None:
        card_a, card_b = run_scorecard(source, a, closes, recession_months), run_scorecard(source, b, closes, recession_months)
        cards = (card_a, card_b) if card_a is not None and card_b is not None else None
    return Comparison(a, b, source.measure(a, eq_a), source.measure(b, eq_b), config_diff, diffs, only_a, only_b, chart, cards,
                      tuple(sorted(rows_a.keys() & rows_b.keys())), _window(a, eq_a), _window(b, eq_b), (source.compact(a), source.compact(b)))


def _book_at(curve: pd.Series, day: str) -> float | None:
    """The last equity on or before `day`: the book the decision sized from."""
    earlier = curve[curve.index <= pd.Timestamp(day)]
    return float(earlier.iloc[-1]) if len(earlier) else None


_METRIC_ROWS = (("total return", "total_return", True), ("CAGR", "cagr", True), ("volatility", "volatility", True),
                (SHARPE_LABEL, "sharpe", False), (SORTINO_LABEL, "sortino", False),
                ("max drawdown", "max_drawdown", True), ("Calmar", "calmar", False), ("end equity", "end_equity", False))


def _metric_rows(c: Comparison) -> list[tuple[str, str, str]]:
    fmt = {True: fmt_pct, False: fmt_num}
    return [(label, fmt[pct](getattr(c.metrics_a, attr)), fmt[pct](getattr(c.metrics_b, attr))) for label, attr, pct in _METRIC_ROWS]


@dataclass(frozen=True, slots=True)
class DiffSpan:
    """Consecutive differing decision days with the same kind of difference and the same kind of cause."""

    first: str
    last: str
    days: int
    what: tuple[str, ...]
    regime_a: str
    regime_b: str
    why: tuple[str, ...]  # the first day's causes


def _cause_kind(why: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(w.split(":")[0].split(" (")[0] for w in why)


def spans(c: Comparison) -> list[DiffSpan]:
    """The differing days grouped: a run of consecutive decision days (of those both runs decided) that differ the
    same way, for the same kind of reason, is one span."""
    order = {day: i for i, day in enumerate(c.common_days)}
    out: list[DiffSpan] = []
    for d in c.diffs:
        key = (d.what, d.regime_a, d.regime_b, _cause_kind(d.why))
        last = out[-1] if out else None
        if last is not None and order.get(d.day, -2) == order.get(last.last, -5) + 1 and \
                (last.what, last.regime_a, last.regime_b, _cause_kind(last.why)) == key:
            out[-1] = DiffSpan(last.first, d.day, last.days + 1, last.what, last.regime_a, last.regime_b, last.why)
        else:
            out.append(DiffSpan(d.day, d.day, 1, d.what, d.regime_a, d.regime_b, d.why))
    return out


def _window(ref: RunRef, equity: pd.Series) -> str:
    first = ref.info.start_day or (equity.index[0].date().isoformat() if len(equity) else "?")
    last = ref.info.end_day or (equity.index[-1].date().isoformat() if len(equity) else "?")
    return f"{first}..{last}"


def render_compare(c: Comparison, *, limit: int = 40, width: int | None = 120) -> str:
    """Text: metrics side by side, the config difference, and the differing days grouped into spans with their cause
    (the first `limit` spans); lines fit `width` columns."""
    lines = [f"A: {c.a.run_id} ({c.a.info.kind}, {c.a.info.label}) {c.window_a}", f"B: {c.b.run_id} ({c.b.info.kind}, {c.b.info.label}) {c.window_b}"]
    if c.window_a != c.window_b:
        lines.append(f"NOTE: the windows differ; metrics are over each run's own window, decisions compared on the {len(c.common_days)} day(s) both decided")
    for name, compact in zip("AB", c.compact, strict=True):
        if compact:
            lines.append(f"NOTE: {name} is a sweep member with a compact journal (decisions stored only on the days its target changed): "
                         f"decisions are compared on the {len(c.common_days)} day(s) both stored; a sweep with --full-journal compares every day")
    lines += ["", text_table(["metric", "A", "B"], _metric_rows(c)), ""]
    lines += ["config differences:", text_table(["key", "A", "B"], c.config_diff, width=width) if c.config_diff else "  none", ""]
    grouped = spans(c)
    only = (f"; {c.days_only_a} day(s) only in A" if c.days_only_a else "") + (f"; {c.days_only_b} day(s) only in B" if c.days_only_b else "")
    lines.append(f"{len(c.diffs)} day(s) where the decisions differ, in {len(grouped)} span(s){only}")
    for span in grouped[:limit]:
        when = span.first if span.days == 1 else f"{span.first}..{span.last} ({span.days} days)"
        regimes = f"A {span.regime_a}, B {span.regime_b}" if span.regime_a != span.regime_b else f"both {span.regime_a}"
        lines.append(f"  {when}: {', '.join(span.what)} differ; {regimes}")
        lines += [f"      because {w}" for w in span.why]
    if len(grouped) > limit:
        lines.append(f"  ... {len(grouped) - limit} more span(s) (--json lists every day)")
    if c.scorecards is not None:
        lines += ["", *render_scorecards(*c.scorecards)]
    return fit_lines("\n".join(lines), width)


def _share(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1%}"


def _days(v: int | None) -> str:
    return "-" if v is None else f"{v:+d} d"


def render_scorecards(a: Scorecard, b: Scorecard) -> list[str]:
    """The two runs' regime calls side by side: how they behaved, what followed entries, how early recessions were called."""
    lines = [f"regime calls: A {a.changes} changes ({a.flips_per_year:.1f} a year, {a.blips} blips) over {a.start} .. {a.end}; "
             f"B {b.changes} changes ({b.flips_per_year:.1f} a year, {b.blips} blips) over {b.start} .. {b.end}"]
    by_a, by_b = {r.regime: r for r in a.regimes}, {r.regime: r for r in b.regimes}
    horizon = HORIZONS[-1]
    rows = []
    for regime in dict.fromkeys([*by_a, *by_b]):
        ra, rb = by_a.get(regime), by_b.get(regime)

        def cells(r: Any) -> list[str]:
            if r is None:
                return ["-", "-", "-", "-", "-"]
            f = r.forward[horizon]
            return [f"{r.share:.1%}", str(r.spells), f"{r.median_sessions:g}", str(r.blips), f"{_share(f[2])} ({f[3]})"]

        ca, cb = cells(ra), cells(rb)
        rows.append([regime, *(f"{x} | {y}" for x, y in zip(ca, cb, strict=True))])
    lines.append(text_table(["regime (A | B)", "share", "spells", "median", "blips", f"{horizon}m small-large after entry (n)"], rows))
    rec_b = {r.start: r for r in b.recessions}
    for rec in a.recessions:
        other = rec_b.get(rec.start)
        lead_b = other.lead_days if other is not None else {}
        leads = [f"{call} {_days(rec.lead_days.get(call))} | {_days(lead_b.get(call))}" for call in WARNING_CALLS]
        lines.append(f"  recession from {rec.start:%Y-%m}: first call lead (A | B): " + ", ".join(leads))
    return lines


def compare_html(c: Comparison) -> str:
    """A self-contained page: metrics, the equity curves on one chart, the config difference, the differing days."""
    metric_rows = [page.row([page.cell(x) for x in r]) for r in _metric_rows(c)]
    metrics_table = page.table(["metric", f"A {c.a.run_id}", f"B {c.b.run_id}"], metric_rows, "metrics-table")
    config = page.table(["key", "A", "B"], [page.row([page.cell(k), page.cell(va), page.cell(vb)]) for k, va, vb in c.config_diff])
    rows = [page.row([page.cell(d.day), page.cell(", ".join(d.what)), page.cell(d.regime_a), page.cell(d.regime_b),
                      page.cell(json.dumps(d.target_a.get("weights"))), page.cell(json.dumps(d.target_b.get("weights"))),
                      page.cell("<br>".join(escape(w) for w in d.why), raw=True)]) for d in c.diffs]
    body = "\n".join([
        f"<h1>{escape(c.a.run_id)} vs {escape(c.b.run_id)}</h1>",
        page.section("metrics", "Metrics", metrics_table),
        page.section("equity", "Equity", page.image(c.chart, "equity curves of both runs", "equity-chart")),
        page.section("config", "Config differences", config if c.config_diff else "<p>none</p>"),
        page.section("decisions", f"Days the decisions differ ({len(c.diffs)})",
                     page.table(["day", "what", "regime A", "regime B", "weights A", "weights B", "why"], rows, "decision-diffs")),
        *([page.section("regimes", "Regime calls, side by side", f"<pre>{escape(chr(10).join(render_scorecards(*c.scorecards)))}</pre>")]
          if c.scorecards else []),
    ])
    return page.page(f"cutcycle compare {c.a.run_id} vs {c.b.run_id}", body)
