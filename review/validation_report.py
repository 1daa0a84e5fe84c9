"""The validation report: one self-contained HTML page (charts embedded as data URIs, no script, no network).

Sections: the verdict (DSR and PBO with every input), the folds, the stitched out-of-sample curve against the
base config and buy-and-hold, the CSCV distribution, one robustness chart per swept parameter, and the variants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

import pandas as pd

from backtest.curve import Curve
from backtest.metrics import Metrics
from backtest.validate import Validation, judgement_text, parameter_points
from review import charts, page

SECTIONS = ("verdict", "folds", "out-of-sample", "overfitting", "robustness", "variants")


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.1%}"


def _num(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _series(curve: Curve) -> pd.Series:
    return pd.Series(list(curve.equity), index=pd.DatetimeIndex([pd.Timestamp(d) for d in curve.days]))


def _verdict(v: Validation) -> str:
    j = v.judgement
    label = f"#{j.best} " + " ".join(v.variants[[r.index for r in v.variants].index(j.best)].overrides)
    text = judgement_text(j, label)
    rows = [
        ("deflated Sharpe ratio of the best variant", _num(j.deflated.dsr, 3) + (" (significant)" if j.deflated.significant else " (not significant at 0.95)")),
        ("probability of backtest overfitting", "n/a" if j.overfitting is None else _num(j.overfitting.pbo, 3)),
        ("in-sample winner in the out-of-sample top quarter", f"{sum(f.top_quarter for f in v.folds)} of {len(v.folds)} folds"),
        ("folds", f"{len(v.folds)} by {v.method}, chosen by {v.rank_by}"),
        ("out-of-sample window", f"{v.start} .. {v.end}"),
    ]
    table = page.table(["", ""], [page.row([page.cell(k), page.cell(val, num=True)]) for k, val in rows], "verdict-table")
    return page.section("verdict", "Verdict", table + f"<pre style=\"white-space:pre-wrap\">{escape(text)}</pre>",
                        "Each variant ran once over the whole window; folds are scored from those runs (validation costs one sweep).")


def _metric_cells(m: Metrics | None, rank_by: str) -> list[str]:
    if m is None:
        return [page.cell("-", num=True)] * 3
    return [page.cell(_num(getattr(m, rank_by), 3), num=True), page.cell(_num(m.sharpe), num=True), page.cell(_pct(m.total_return), num=True)]


def _folds(v: Validation) -> str:
    rows = []
    n = len(v.variants)
    for f in v.folds:
        cells = [page.cell(f.name), page.cell(f"{f.start} .. {f.end}"), page.cell(f.sessions, num=True), page.cell(f"#{f.chosen} " + " ".join(f.overrides))]
        cells += [page.cell(_num(getattr(f.in_sample, v.rank_by), 3), num=True), *_metric_cells(f.out_of_sample, v.rank_by)]
        cells += [page.cell(f"{f.oos_rank}/{n}", num=True), page.cell("yes" if f.top_quarter else "no")]
        for m in (f.baseline, *(f.benchmarks[k] for k in sorted(f.benchmarks))):
            cells += [page.cell("-" if m is None else _num(m.sharpe), num=True), page.cell("-" if m is None else _pct(m.total_return), num=True)]
        rows.append(page.row(cells))
    bench = sorted(v.folds[0].benchmarks) if v.folds else []
    headers = ["fold", "held out", "sessions", "chosen in sample", f"IS {v.rank_by}", f"OOS {v.rank_by}", "OOS Sharpe", "OOS return",
               "OOS rank", "top quarter", "base Sharpe", "base return", *(f"{b} {what}" for b in bench for what in ("Sharpe", "return"))]
    return page.section("folds", f"Folds ({len(v.folds)})", page.table(headers, rows, "fold-table"),
                        "Sharpe over the bill rate. Base: the config without the grid's overrides; IWM, SPY: buy and hold over the same sessions.")


def _out_of_sample(v: Validation) -> tuple[str, bytes]:
    curves = {name: _series(c) for name, c in v.stitched.items()}
    png = charts.curves_chart(curves, "Stitched out-of-sample equity: the in-sample winner of each fold, held out")
    rows = [page.row([page.cell(name), page.cell(_pct(m.total_return), num=True), page.cell(_pct(m.cagr), num=True), page.cell(_num(m.sharpe), num=True),
                      page.cell(_pct(m.max_drawdown), num=True)]) for name, m in v.stitched_metrics.items()]
    content = page.image(png, "stitched out-of-sample equity", "oos-chart") + page.table(["", "total", "CAGR", "Sharpe", "max drawdown"], rows)
    return page.section("out-of-sample", "Out of sample, stitched", content), png


def _overfitting(v: Validation) -> tuple[str, bytes | None]:
    o = v.judgement.overfitting
    if o is None:
        return page.section("overfitting", "Probability of backtest overfitting", f"<p>n/a: {escape(v.judgement.note)}</p>"), None
    png = charts.logit_chart(o.logits, o.pbo)
    note = (f"CSCV: {o.variants} variants x {o.observations} days cut into {o.blocks} blocks, {o.combinations} in/out splits. "
            "Bailey, Borwein, López de Prado and Zhu (2017).")
    return page.section("overfitting", "Probability of backtest overfitting", page.image(png, "CSCV logit distribution", "logit-chart"), note), png


def _robustness(v: Validation) -> tuple[str, list[bytes]]:
    points = parameter_points(v)
    pngs = [charts.parameter_chart(key, pts, v.rank_by) for key, pts in points.items()]
    images = "".join(page.image(png, f"{v.rank_by} against {key}", f"param-chart-{i}") for i, (key, png) in enumerate(zip(points, pngs, strict=True)))
    body = f"<div style=\"display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:10px\">{images}</div>" if images else ""
    note = f"The whole-window {v.rank_by} of every variant against each swept value: a plateau is robust, a lone spike is luck."
    return page.section("robustness", "Robustness", body or "<p>No parameter takes more than one value.</p>", note), pngs


def _variants(v: Validation, ordered: Sequence[int]) -> str:
    by_index = {r.index: r for r in v.variants}
    rows = []
    for i in ordered:
        r = by_index[i]
        m = r.metrics

        def num(key: str, digits: int = 2, m: dict[str, object] = m) -> str:
            x = m.get(key)
            return _num(float(x), digits) if isinstance(x, int | float) else "-"

        def pct(key: str, m: dict[str, object] = m) -> str:
            x = m.get(key)
            return _pct(float(x)) if isinstance(x, int | float) else "-"

        rows.append(page.row([page.cell(f"#{i}"), page.cell(" ".join(r.overrides) or "(no overrides)"), page.cell(num("sharpe"), num=True),
                              page.cell(pct("cagr"), num=True), page.cell(pct("max_drawdown"), num=True), page.cell(num(v.rank_by, 3), num=True),
                              page.cell(r.run_id)]))
    headers = ["variant", "overrides", "Sharpe", "CAGR", "max drawdown", v.rank_by, "run"]
    return page.section("variants", f"Variants ({len(v.variants)}), whole window", page.table(headers, rows, "variant-table"))


def build_validation_report(v: Validation, title: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The HTML and its charts as (name, PNG)."""
    oos_html, oos_png = _out_of_sample(v)
    over_html, over_png = _overfitting(v)
    robust_html, robust_pngs = _robustness(v)
    ordered = [r.index for r in sorted(v.variants, key=lambda r: -(r.metrics.get("sharpe") or -math.inf))]
    nav = "".join(f"<a href=\"#{s}\">{s}</a>" for s in SECTIONS)
    body = (f"<h1>Validation {escape(title)}</h1><p class=\"sub\">{len(v.variants)} variants, {v.start} .. {v.end}</p><nav>{nav}</nav>"
            + _verdict(v) + _folds(v) + oos_html + over_html + robust_html + _variants(v, ordered))
    pngs = [("out-of-sample", oos_png), *([("cscv", over_png)] if over_png else []), *((f"param-{i}", p) for i, p in enumerate(robust_pngs))]
    return page.page(f"validation {title}", body), pngs


def write_validation_report(v: Validation, title: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    html, _ = build_validation_report(v, title)
    out.write_text(html, encoding="utf-8")
    return out
