"""One self-contained HTML report of a run, and the same charts as PNG files.

Sections (each an element id the tests check): `run`, `metrics`, `equity` (against IWM and SPY buy and hold,
regimes shaded, FOMC decisions and trades marked), `drawdown`, `hedge` (put cost and payoff), `trades` and
`decisions` (the decision log with reasons).

Benchmarks: buy and hold from the run's first close, from closes the caller passes (`main.py` passes the store's
bars, which are dividend-adjusted) or, when none are passed, from the closes the bot itself saw in each
decision's snapshot. The report says which it used.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from tqdm import tqdm

from review import charts, page
from review.charts import FomcMark, TradeMark
from review.hedge import HedgeSummary, hedge_curve, hedge_summary
from review.metrics import SHARPE_LABEL, SORTINO_LABEL, Metrics, benchmark_curves, fmt_num, fmt_pct
from review.runs import ReviewError, RunRef, RunSource, config_summary
from review.timeline import LogEntry, decision_log, fomc_marks, journal_closes, regime_spans
from review.trades import Trade, pair_trades

log = logging.getLogger(__name__)

BENCHMARKS = ("IWM", "SPY")
SECTIONS = ("run", "metrics", "equity", "drawdown", "hedge", "trades", "decisions")


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: its file stem, caption and PNG bytes."""

    name: str
    title: str
    png: bytes


@dataclass(frozen=True, slots=True)
class Report:
    run_id: str
    html: str
    charts: tuple[Chart, ...]
    metrics: dict[str, Metrics]  # "strategy" and each benchmark
    benchmark_source: str


def build_report(
    source: RunSource,
    ref: RunRef,
    *,
    benchmark_closes: Mapping[str, pd.Series] | None = None,
    fomc: Sequence[FomcMark] | None = None,
    progress: TextIO | None = None,
) -> Report:
    """Read the run and render its report. `progress` (e.g. sys.stderr) shows a progress bar while it builds."""
    steps = ("reading the journal", "pairing trades", "metrics", "equity chart", "drawdown chart", "hedge chart", "decision log", "page")
    with tqdm(total=len(steps), file=progress, disable=progress is None, desc=f"report {ref.run_id}", unit="step", leave=False) as bar:

        def step(i: int) -> None:
            bar.set_postfix_str(steps[i], refresh=False)
            bar.update(1)

        equity_frame = source.equity(ref)
        if equity_frame.empty:
            raise ReviewError(f"run {ref.run_id} has no equity rows yet: nothing to report")
        equity = equity_frame["equity"]
        decisions = source.decisions(ref)
        step(0)
        trades = pair_trades(source, ref)
        fills = source.fills(ref)
        step(1)
        closes, bench_source = (dict(benchmark_closes), "the store's daily bars (dividend-adjusted closes)") if benchmark_closes else (
            journal_closes(decisions), "the closes in the bot's own decision snapshots")
        bench = benchmark_curves({s: c for s, c in closes.items() if s in BENCHMARKS}, equity)
        measured = {"strategy": source.measure(ref, equity), **{s: source.measure(ref, c) for s, c in bench.items()}}
        hedge = hedge_summary(source, ref)
        step(2)
        marks = list(fomc) if fomc is not None else fomc_marks(decisions)
        trade_marks = [TradeMark(date.fromisoformat(f["at"][:10]), f["symbol"], f["side"], f["asset_class"] == "option") for f in fills]
        chart_list = [Chart("equity", "Equity against buy and hold, regimes shaded, FOMC decisions and trades marked",
                            charts.equity_chart(equity, bench, regime_spans(decisions), marks, trade_marks, title=f"{ref.info.label} ({ref.run_id})"))]
        step(3)
        chart_list.append(Chart("drawdown", "Drawdown", charts.drawdown_chart({"strategy": equity, **bench})))
        step(4)
        chart_list.append(Chart("hedge", "Put hedge cost and payoff", charts.hedge_chart(hedge_curve(source, ref, pd.DatetimeIndex(equity.index)))))
        step(5)
        orders_by_day: dict[str, int] = {}
        for intent in source.intents(ref):
            orders_by_day[intent["decision_day"]] = orders_by_day.get(intent["decision_day"], 0) + 1
        entries = decision_log(decisions, orders_by_day)
        step(6)
        body = "\n".join([
            _header(ref, marks, bench_source),
            _run_section(ref),
            _metrics_section(measured, trades, hedge, equity_frame),
            page.section("equity", "Equity", page.image(chart_list[0].png, chart_list[0].title, "equity-chart") + _legend_note(),
                         f"Benchmarks: buy and hold from the first day's close, using {bench_source}."),
            page.section("drawdown", "Drawdown", page.image(chart_list[1].png, chart_list[1].title, "drawdown-chart")),
            page.section("hedge", "Put hedge: cost and payoff", _hedge_table(hedge) + page.image(chart_list[2].png, chart_list[2].title, "hedge-chart"),
                         "Put prices in a backtest are model prices (synthetic), not market prints."),
            _trades_section(trades),
            _decisions_section(entries, len(decisions)),
        ])
        html = page.page(f"cutcycle report: {ref.info.label} ({ref.run_id})", body)
        step(7)
    log.info("report for run %s: %d decisions, %d trades, %d bytes", ref.run_id, len(decisions), len(trades), len(html))
    return Report(ref.run_id, html, tuple(chart_list), measured, bench_source)


def write_report(report: Report, out: Path, png_dir: Path | None = None) -> list[Path]:
    """Write the HTML to `out` and each chart as `<png_dir>/<run>-<name>.png` (default: beside the HTML)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.html, encoding="utf-8")
    folder = png_dir if png_dir is not None else out.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = [out]
    for chart in report.charts:
        path = folder / f"{out.stem}-{chart.name}.png"
        path.write_bytes(chart.png)
        written.append(path)
    return written


def _header(ref: RunRef, marks: Sequence[FomcMark], bench_source: str) -> str:
    info = ref.info
    nav = "".join(f"<a href=\"#{s}\">{s}</a>" for s in SECTIONS)
    moves = sum(1 for m in marks if m.bp)
    return (f"<h1>{escape(info.label)}</h1><p class=\"sub\">{escape(info.kind)} run <code>{escape(info.run_id)}</code>, "
            f"{escape(info.start_day or '?')} to {escape(info.end_day or '?')}, {len(marks)} FOMC decisions ({moves} moves) in the window</p><nav>{nav}</nav>")


def _run_section(ref: RunRef) -> str:
    info = ref.info
    rows = [
        ("run id", info.run_id), ("kind", info.kind), ("label", info.label), ("parent", info.parent_id or ""), ("status", info.status),
        ("started", info.created_at), ("finished", info.finished_at or ""), ("window", f"{info.start_day} .. {info.end_day}"),
        ("config", config_summary(ref.config()) or "(see config hash)"), ("config hash", info.config_hash), ("code version", info.code_version),
        ("data versions", info.data_versions_json), ("journal", str(ref.path)),
    ]
    return page.section("run", "Run", page.table(["", ""], [page.row([page.cell(k), page.cell(v)]) for k, v in rows]))


def _metrics_section(measured: Mapping[str, Metrics], trades: Sequence[Trade], hedge: HedgeSummary, equity: pd.DataFrame) -> str:
    names = list(measured)
    spec: list[tuple[str, str]] = [
        ("total return", "total_return"), ("CAGR", "cagr"), ("volatility (annualised)", "volatility"), (SHARPE_LABEL, "sharpe"), (SORTINO_LABEL, "sortino"),
        ("max drawdown", "max_drawdown"), ("longest drawdown (sessions)", "longest_drawdown_days"), ("Calmar", "calmar"),
        ("start equity", "start_equity"), ("end equity", "end_equity"),
    ]
    rows = []
    for label, attr in spec:
        cells = [page.cell(label)]
        for name in names:
            value = getattr(measured[name], attr)
            if attr in ("total_return", "cagr", "volatility", "max_drawdown"):
                text = fmt_pct(value)
            else:
                text = fmt_num(value, 0 if attr.endswith(("days", "equity")) else 2)
            cells.append(page.cell(text, num=True))
        rows.append(page.row(cells))
    closed = [t for t in trades if t.closed]
    wins = sum(1 for t in closed if t.pnl > 0)
    invested = float((equity["shares_value"] / equity["equity"]).mean())
    extra = [
        ("trades (closed / open)", f"{len(closed)} / {len(trades) - len(closed)}"),
        ("win rate (closed trades)", fmt_pct(wins / len(closed)) if closed else "n/a"),
        ("P&L of closed trades", fmt_num(sum(t.pnl for t in closed))),
        ("time in IWM (average weight)", fmt_pct(invested)),
        ("put premium paid (with fees)", fmt_num(hedge.premium_paid + hedge.fees)),
        ("put hedge net P&L", fmt_num(hedge.net)),
        ("interest earned on cash", fmt_num(float(equity["interest"].sum()))),
        ("fees (all fills)", fmt_num(sum(t.fees for t in trades))),
    ]
    strategy_only = [page.row([page.cell(k), page.cell(v, num=True)]) for k, v in extra]
    return page.section("metrics", "Metrics", page.table(["", *names], rows, "metrics-table") + page.table(["strategy", ""], strategy_only))


def _hedge_table(hedge: HedgeSummary) -> str:
    rows = [("puts bought", hedge.purchases), ("premium paid", fmt_num(hedge.premium_paid)), ("fees", fmt_num(hedge.fees)),
            ("sold or settled for", fmt_num(hedge.proceeds)), ("still held, at mark", fmt_num(hedge.open_value)), ("net", fmt_num(hedge.net))]
    return page.table(["", ""], [page.row([page.cell(k), page.cell(v, num=True)]) for k, v in rows])


def _trades_section(trades: Sequence[Trade]) -> str:
    rows = []
    for t in trades:
        rows.append(page.row([
            page.cell(t.symbol), page.cell(f"{t.qty * t.direction:g}", num=True), page.cell(t.entry_day), page.cell(f"{t.entry_price:,.4f}", num=True),
            page.cell(t.exit_day or ""), page.cell(f"{t.exit_price:,.4f}", num=True), page.cell(t.exit_kind), page.cell(round(t.pnl, 2), num=True, signed=True),
            page.cell(fmt_pct(t.return_pct)), page.cell(t.entry.regime or ""), page.cell("; ".join(t.entry.reasons) + f" ({t.entry.order_reason})"),
            page.cell("" if t.exit is None else f"{t.exit.regime or ''}: {t.exit.order_reason}"), page.cell("model" if t.synthetic else ""),
        ]))
    headers = ["symbol", "qty", "entry", "price", "exit", "price", "how", "P&L", "return", "regime at entry", "why entered", "why exited", "prices"]
    return page.section("trades", f"Trades ({len(trades)})", page.table(headers, rows, "trades-table"),
                        "Lots paired first in first out; P&L net of fees; open lots are valued at the last mark.")


def _decisions_section(entries: Sequence[LogEntry], total: int) -> str:
    rows = []
    for e in entries:
        raw = e.target.get("weights")
        weights: dict[str, Any] = raw if isinstance(raw, dict) else {}
        puts = e.target.get("puts")
        target = ", ".join(f"{s} {w:.0%}" for s, w in sorted(weights.items()) if isinstance(w, int | float))
        if isinstance(puts, dict) and puts.get("contracts"):
            target += f"; {puts['contracts']} puts {puts.get('symbol') or ''}"
        if e.target.get("hold"):
            target = "hold (no change)"
        swatch = f"<span class=\"swatch\" style=\"background:{charts.regime_color(e.regime)}\"></span>{escape(e.regime)}"
        rows.append(page.row([
            page.cell(e.day), page.cell(swatch, raw=True), page.cell(e.runner_up or ""), page.cell(e.phase or ""), page.cell(target),
            page.cell("<br>".join(escape(r) for r in e.reasons), raw=True), page.cell(", ".join(e.changed)), page.cell(e.orders or "", num=True),
            page.cell(e.quiet_days_after or "", num=True),
        ], "changed" if e.changed else ""))
    headers = ["day", "regime", "runner-up", "phase", "target", "reasons", "changed", "orders", "quiet days after"]
    note = (f"{len(entries)} of {total} decisions: the first, every one that changed the regime, phase or target, and every one that placed orders. "
            "`main.py explain RUN DAY` shows any day in full.")
    return page.section("decisions", "Decision log", page.table(headers, rows, "decision-log"), note)


def _legend_note() -> str:
    return ("<p class=\"note\">Shading: the regime the bot called. Dashed red lines: FOMC cuts; dashed blue: hikes; "
            "dotted grey: holds (drawn in runs of up to 60 meetings). "
            "Triangles: IWM buys (up) and sells (down); purple diamonds: put trades.</p>")


def benchmark_closes_from_bars(bars: Mapping[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """Closes from bar frames indexed by day (as `Store.bars(symbol)` returns them)."""
    return {symbol: frame["close"].astype(float) for symbol, frame in bars.items()}
