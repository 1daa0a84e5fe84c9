"""One self-contained HTML report of a run, and the same charts as PNG files.

Sections (each an element id the tests check): `run`, `metrics`, `equity` (against IWM and SPY buy and hold,
regimes shaded, FOMC decisions and trades marked), `drawdown`, `hedge` (put cost and payoff), `trades` and
`decisions` (the decision log with reasons).

Benchmarks: buy and hold from the run's first close, from closes the caller passes (`main.py` passes the store's
bars, which are dividend-adjusted) or, when none are passed, from the closes the bot itself saw in each
decision's snapshot. The report says which it used.
"""

from __future__ import annotations

import json
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
from review.palette import regime_color
from review.runs import ReviewError, RunRef, RunSource, config_summary
from review.timeline import LogEntry, decision_log, fomc_marks, journal_closes, regime_spans
from review.trades import Trade, pair_trades

log = logging.getLogger(__name__)

BENCHMARKS = ("IWM", "SPY")
# In page order: what a trader reads first (the window, the headline against IWM and SPY, the equity chart), the
# record (hashes, versions) last. `hedge` is left out when the run bought no puts.
SECTIONS = ("headline", "equity", "drawdown", "metrics", "hedge", "trades", "decisions", "run")


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
        if hedge.purchases:
            chart_list.append(Chart("hedge", "Put hedge cost and payoff", charts.hedge_chart(hedge_curve(source, ref, pd.DatetimeIndex(equity.index)))))
        step(5)
        orders_by_day: dict[str, int] = {}
        for intent in source.intents(ref):
            orders_by_day[intent["decision_day"]] = orders_by_day.get(intent["decision_day"], 0) + 1
        entries = decision_log(decisions, orders_by_day)
        step(6)
        window = source.window(ref)
        hedge_section = page.section(
            "hedge", "Put hedge: cost and payoff", _hedge_table(hedge) + page.image(chart_list[2].png, chart_list[2].title, "hedge-chart"),
            "Put prices in a backtest are model prices (synthetic), not market prints.") if hedge.purchases else ""
        body = "\n".join([
            _header(ref, window, marks, hedge.purchases > 0),
            _headline_section(measured),
            page.section("equity", "Equity (log scale)", page.image(chart_list[0].png, chart_list[0].title, "equity-chart") + _legend_note(),
                         f"Benchmarks: buy and hold from the first day's close, using {bench_source}."),
            page.section("drawdown", "Drawdown", page.image(chart_list[1].png, chart_list[1].title, "drawdown-chart")),
            _metrics_section(measured, trades, hedge, equity_frame),
            hedge_section,
            _trades_section(trades),
            _decisions_section(entries, len(decisions)),
            _run_section(ref, window, source.status(ref)),
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


def _header(ref: RunRef, window: tuple[str | None, str | None], marks: Sequence[FomcMark], hedged: bool) -> str:
    info = ref.info
    nav = "".join(f"<a href=\"#{s}\">{s}</a>" for s in SECTIONS if hedged or s != "hedge")
    moves = sum(1 for m in marks if m.bp)
    first, last = window
    span = f"{first} to {last}" if first and last else "no sessions recorded yet"
    return (f"<h1>{escape(info.label)}</h1><p class=\"sub\"><b>{escape(span)}</b> &middot; {escape(info.kind)} run <code>{escape(info.run_id)}</code>"
            f" &middot; {len(marks)} FOMC decisions ({moves} moves) in the window</p><nav>{nav}</nav>")


def _headline_section(measured: Mapping[str, Metrics]) -> str:
    """The first thing a trader reads: the strategy against IWM and SPY on the figures that decide whether it is worth it."""
    spec = (("total return", "total_return", True), ("CAGR", "cagr", True), (SHARPE_LABEL, "sharpe", False), ("max drawdown", "max_drawdown", True),
            ("volatility", "volatility", True))
    rows = [page.row([page.cell(label), *[page.cell(fmt_pct(getattr(m, attr)) if pct else fmt_num(getattr(m, attr)), num=True)
                                          for m in measured.values()]]) for label, attr, pct in spec]
    return page.section("headline", "Headline", page.table(["", *measured], rows, "headline-table"),
                        "Against buy and hold of IWM and SPY over the same sessions; Sharpe is of daily returns over the 3-month bill rate.")


def _run_section(ref: RunRef, window: tuple[str | None, str | None], status: str) -> str:
    info = ref.info
    rows = [
        ("run id", info.run_id), ("kind", info.kind), ("label", info.label), ("parent", info.parent_id or ""), ("status", status),
        ("started", info.created_at), ("finished", info.finished_at or ""), ("window", f"{window[0] or 'n/a'} .. {window[1] or 'n/a'}"),
        ("config", config_summary(ref.config()) or "(see config hash)"), ("journal", str(ref.path)),
    ]
    hashes = [("config hash", info.config_hash), ("code version", info.code_version),
              *sorted(_data_versions(info.data_versions_json).items())]
    record = page.table(["", ""], [page.row([page.cell(k), page.cell(v)]) for k, v in rows])
    versions = page.table(["dataset", "version"], [page.row([page.cell(k), page.cell(v)]) for k, v in hashes])
    return page.section("run", "Run", record + f"<details id=\"versions\"><summary>config, code and data versions ({len(hashes)})</summary>"
                        f"{versions}</details>")


def _data_versions(raw: str) -> dict[str, str]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"data versions": raw}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {"data versions": raw}


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
        ("put hedge cost (premium and buying fees)", fmt_num(hedge.cost)),
        ("put hedge payoff (sales and settlements, after fees)", fmt_num(hedge.payoff)),
        ("put hedge net P&L", fmt_num(hedge.net)),
        ("interest earned on cash", fmt_num(float(equity["interest"].sum()))),
        ("fees (all fills)", fmt_num(sum(t.fees for t in trades))),
    ]
    strategy_only = [page.row([page.cell(k), page.cell(v, num=True)]) for k, v in extra]
    return page.section("metrics", "Metrics", page.table(["", *names], rows, "metrics-table") + page.table(["strategy", ""], strategy_only))


def _hedge_table(hedge: HedgeSummary) -> str:
    rows = [("puts bought", hedge.purchases), ("premium paid", fmt_num(hedge.premium_paid)), ("buying fees", fmt_num(hedge.buy_fees)),
            ("cost", fmt_num(hedge.cost)), ("sold or settled for", fmt_num(hedge.proceeds)), ("selling fees", fmt_num(hedge.sell_fees)),
            ("payoff", fmt_num(hedge.payoff)), ("still held, at mark", fmt_num(hedge.open_value)), ("net", fmt_num(hedge.net))]
    return page.table(["", ""], [page.row([page.cell(k), page.cell(v, num=True)]) for k, v in rows])


def _trades_section(trades: Sequence[Trade]) -> str:
    rows = []
    for t in trades:
        rows.append(page.row([
            page.cell(t.symbol), page.cell(f"{t.qty * t.direction:g}", num=True), page.cell(t.entry_day), page.cell(f"{t.entry_price:,.4f}", num=True),
            page.cell(t.exit_day or ""), page.cell(f"{t.exit_price:,.4f}", num=True), page.cell(t.exit_kind), page.cell(round(t.pnl, 2), num=True, signed=True),
            page.cell(fmt_pct(t.return_pct)), page.cell(t.entry.regime or ""), page.cell("; ".join(t.entry.fired) + f" ({t.entry.order_reason})"),
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
        swatch = f"<span class=\"swatch sw-{escape(e.regime)}\"></span>{escape(e.regime)}"
        rows.append(page.row([
            page.cell(e.day), page.cell(swatch, raw=True), page.cell(e.runner_up or ""), page.cell(e.phase or ""), page.cell(target),
            page.cell("<br>".join(escape(r) for r in _log_reasons(e)), raw=True), page.cell(", ".join(e.changed)),
            page.cell(e.orders or "", num=True), page.cell(e.quiet_days_after or "", num=True),
        ], "changed" if e.changed else ""))
    headers = ["day", "regime", "runner-up", "phase", "target", "reasons", "changed", "orders", "quiet days after"]
    note = (f"{len(entries)} of {total} decisions: the first, every one that changed the regime, phase or target, and every one that placed orders. "
            "`main.py explain RUN DAY` shows any day in full.")
    colours = "".join(f".sw-{escape(r)}{{background:{regime_color(r)}}}" for r in sorted({e.regime for e in entries}))
    table = f"<style>{colours}</style>" + page.table(headers, rows, "decision-log")
    return page.section("decisions", "Decision log", f"<details><summary>{len(entries)} decisions (open the log)</summary>{table}</details>", note)


def _log_reasons(entry: LogEntry) -> list[str]:
    """The reasons worth a line in the log: the strategy's, and the regime rules that fired when the regime changed
    (on other days they repeat the regime's case with new numbers; `explain` shows them)."""
    fired = [r for r in entry.reasons if "(not fired)" not in r]
    if "regime" in entry.changed or len(entry.reasons) <= 1:
        return fired
    return [r for r in fired if not r.startswith("regime:")] or fired[:1]


def _legend_note() -> str:
    return ("<p class=\"note\">Shading: the regime the bot called. Dashed red lines: FOMC cuts; dashed blue: hikes; "
            "dotted grey: holds (drawn in runs of up to 60 meetings). "
            "Triangles: IWM buys (up) and sells (down); purple diamonds: put trades.</p>")


def benchmark_closes_from_bars(bars: Mapping[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """Closes from bar frames indexed by day (as `Store.bars(symbol)` returns them)."""
    return {symbol: frame["close"].astype(float) for symbol, frame in bars.items()}
