"""The review commands as plain functions for `main.py` to wire: `runs`, `trades`, `explain`, `report`, `compare`, `parity`.

Each takes the journal files (or directories) to search and returns text (or writes files and returns their
paths); `fmt` picks text, CSV or JSON where it makes sense. Bad arguments (an unknown run, a day without a
decision, no journal) raise `ReviewError`: main.py prints it and exits 2.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from review.compare import compare_html, compare_runs, render_compare
from review.explain import explain_day, render_explain
from review.metrics import benchmark_curves, fmt_num, fmt_pct
from review.parity import Replayer, parity_diff, render_parity, replay_and_diff
from review.report import build_report, write_report
from review.runs import ReviewError, RunRef, RunSource, config_summary, open_runs
from review.tables import TERMINAL_WIDTH, Format, csv_table, fit_width, records, text_table, to_json
from review.trades import TRADE_COLUMNS, pair_trades, select_trades, trade_row

RUN_COLUMNS = ("run_id", "kind", "label", "overrides", "parent", "start", "end", "status", "config", "total_return", "cagr", "max_drawdown", "sharpe",
               "bytes", "journal")


def _headline(source: RunSource, ref: RunRef) -> tuple[float | None, float | None, float | None, float | None]:
    """Total return, CAGR, max drawdown, Sharpe (over bills): from the equity rows, else from the run's summary."""
    equity = source.equity(ref)["equity"]
    if len(equity) >= 2 and (equity > 0).all():
        m = source.measure(ref, equity)
        return m.total_return, m.cagr, m.max_drawdown, m.sharpe
    summary = ref.summary()

    def number(key: str) -> float | None:
        value = summary.get(key)
        return float(value) if isinstance(value, int | float) else None

    return number("total_return"), number("cagr"), number("max_drawdown"), number("sharpe")


def overrides(config: dict[str, Any]) -> str:
    """What a run changed from the defaults: its variant file and `--set` overrides (where state lives is left out)."""
    items = [str(x) for x in config.get("overrides") or []]
    for source in config.get("sources") or []:
        text = str(source)
        if text.startswith("--set "):
            items.append(text.removeprefix("--set "))
        elif not text.endswith("config/default.toml"):
            items.append(f"--config {Path(text).name}")
    return " ".join(dict.fromkeys(i for i in items if not i.startswith("data.store_dir=")))


def journal_bytes(path: Path) -> int:
    """The disk a journal uses, with its write-ahead log."""
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists())


def human_bytes(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def runs_command(journals: Sequence[Path], *, kind: str | None = None, fmt: Format = "text", wide: bool = False) -> str:
    """Every backtest, sweep member and paper session in the journals: id, kind, label and overrides, window, status,
    headline metrics, the disk its journal uses. Text fits 120 columns; `wide` adds the parent, config and journal."""
    with open_runs(journals) as source:
        rows: list[list[Any]] = []
        for ref in source.runs():
            if kind and ref.info.kind != kind:
                continue
            total, cagr, dd, sharpe = _headline(source, ref)
            config = config_summary(ref.config()) or f"hash {ref.info.config_hash[:10]}"
            start, end = source.window(ref)
            rows.append([ref.run_id, ref.info.kind, ref.info.label, overrides(ref.config()), ref.info.parent_id or "", start or "", end or "",
                         source.status(ref), config, total, cagr, dd, sharpe, journal_bytes(ref.path), str(ref.path)])
    if fmt == "json":
        return to_json(records(RUN_COLUMNS, rows))
    if fmt == "csv":
        return csv_table(RUN_COLUMNS, rows)
    files = {r[14]: r[13] for r in rows}
    footer = f"\n{len(rows)} run(s) in {len(files)} journal file(s), {human_bytes(sum(files.values()))} on disk; Sharpe is over the bill rate"
    if wide:
        headers = ["run_id", "kind", "label", "overrides", "parent", "window", "status", "config", "return", "CAGR", "max DD", "Sharpe", "disk",
                   "journal"]
        shown = [[r[0], r[1], r[2], r[3], r[4], f"{r[5]}..{r[6]}", r[7], r[8], fmt_pct(r[9]), fmt_pct(r[10]), fmt_pct(r[11]), fmt_num(r[12]),
                  human_bytes(r[13]), r[14]] for r in rows]
        return text_table(headers, shown, max_width=400, width=None) + footer
    headers = ["run_id", "kind", "window", "status", "return", "CAGR", "max DD", "Sharpe", "disk"]
    shown = [[r[0], r[1], f"{r[5]}..{r[6]}", r[7], fmt_pct(r[9]), fmt_pct(r[10]), fmt_pct(r[11]), fmt_num(r[12]), human_bytes(r[13])] for r in rows]
    lines = text_table(headers, shown, width=None).splitlines()
    out = lines[:2]
    for line, r in zip(lines[2:], rows, strict=True):
        described = r[2] if not r[3] or r[3] in r[2] else f"{r[2]}  [{r[3]}]"
        out += [line, *textwrap.wrap(described, TERMINAL_WIDTH, initial_indent="    ", subsequent_indent="    ")]
    return "\n".join(out) + footer


def session_summary(journals: Sequence[Path], kind: str, benchmark_closes: Mapping[str, pd.Series]) -> str:
    """The newest run of `kind` in one paragraph: its P&L against IWM and SPY bought and held over the same days, and
    where it is journaled (what `paper --simulate` ends with)."""
    with open_runs(journals) as source:
        refs = [r for r in source.runs() if r.info.kind == kind]
        if not refs:
            return f"no {kind} run journaled"
        ref = refs[-1]
        equity = source.equity(ref)["equity"]
        where = f"journal {ref.path} (run {ref.run_id}; `main.py report {ref.run_id}` for the full report)"
        if len(equity) < 2:
            return f"{ref.run_id}: fewer than two days of equity, no P&L yet; {where}"
        start, end = float(equity.iloc[0]), float(equity.iloc[-1])
        bench = benchmark_curves({s: c for s, c in benchmark_closes.items() if s in ("IWM", "SPY")}, equity)
    versus = ", ".join(f"{s} {fmt_pct(float(c.iloc[-1]) / float(c.iloc[0]) - 1.0)}" for s, c in bench.items())
    return (f"{ref.run_id}: P&L {end - start:+,.2f} ({fmt_pct(end / start - 1.0)}) from {start:,.2f} to {end:,.2f} over {len(equity)} sessions "
            f"{equity.index[0].date()} .. {equity.index[-1].date()}; buy and hold over the same days: {versus or 'no benchmark bars'}\n{where}")


def _check_within(ref: RunRef, start: date | None, end: date | None) -> None:
    """`--from/--to` must overlap the run's window: a range wholly outside it can only list nothing."""
    first, last = ref.info.start_day, ref.info.end_day
    window = f"run {ref.run_id} covers {first or '?'} .. {last or '?'}"
    if start is not None and last and start.isoformat() > last:
        raise ReviewError(f"trades: --from {start} is after the run's last day; {window}")
    if end is not None and first and end.isoformat() < first:
        raise ReviewError(f"trades: --to {end} is before the run's first day; {window}")


def trades_command(journals: Sequence[Path], run_id: str, *, start: date | None = None, end: date | None = None, symbol: str | None = None,
                   fmt: Format = "text") -> str:
    """The run's trades (lots paired first in first out) held within [start, end], with the decision behind each and its P&L."""
    with open_runs(journals) as source:
        ref = source.run(run_id)
        _check_within(ref, start, end)
        trades = select_trades(pair_trades(source, ref), start=start, end=end, symbol=symbol)
    if fmt == "json":
        return to_json([t.to_json() for t in trades])
    rows = [trade_row(t) for t in trades]
    if fmt == "csv":
        return csv_table(TRADE_COLUMNS, rows)
    closed = [t for t in trades if t.closed]
    shown = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6], fmt_num(r[7]), fmt_pct(r[8]), r[11]] for r in rows]
    headers = ["symbol", "qty", "entry", "price", "exit", "price", "how", "P&L", "return", "regime"]
    table = text_table(headers, shown, width=None).splitlines()  # a row never wraps: an OCC symbol stays whole
    lines = table[:2]
    for line, r in zip(table[2:], rows, strict=True):  # each trade's reason on its own line under it, as explain shows it
        lines += [line, f"    why: {r[12]}" if r[12] else "    why: -"]
    total = sum(t.pnl for t in trades)
    lines.append(f"{len(trades)} trade(s), {len(closed)} closed; P&L {fmt_num(total)} (closed {fmt_num(sum(t.pnl for t in closed))}), net of fees")
    return fit_width("\n".join(lines))


def explain_command(journals: Sequence[Path], run_id: str, day: date, *, fmt: Format = "text", wide: bool = False) -> str:
    """The full decision record of one day: inputs and when each became known, phase, indicators, rules, target, orders, fills."""
    with open_runs(journals) as source:
        record = explain_day(source, source.run(run_id), day)
    if fmt == "csv":
        raise ReviewError("explain has text and JSON output, not CSV")
    return to_json(record.to_json()) if fmt == "json" else render_explain(record, width=None if wide else TERMINAL_WIDTH)


def report_command(journals: Sequence[Path], run_id: str, *, out: Path | None = None, png_dir: Path | None = None,
                   benchmark_closes: Mapping[str, pd.Series] | None = None, progress: TextIO | None = None,
                   reports_dir: Path = Path("reports")) -> list[Path]:
    """Write the run's HTML report (default `<reports_dir>/<run>.html`; `main.py` passes `<data.store_dir>/reports`, so
    reports sit beside the journals whatever the current directory) and its charts as PNGs; returns the files written."""
    with open_runs(journals) as source:
        ref = source.run(run_id)
        report = build_report(source, ref, benchmark_closes=benchmark_closes, progress=progress)
    return write_report(report, out if out is not None else reports_dir / f"{ref.run_id}.html", png_dir)


def compare_command(journals: Sequence[Path], run_a: str, run_b: str, *, fmt: Format = "text", out: Path | None = None,
                    closes: dict[str, pd.Series] | None = None, recession_months: pd.Series | None = None) -> str:
    """Two runs side by side; with `out`, also a self-contained HTML page (and its chart as `<out>.png`); with IWM/SPY
    `closes` and the NBER `recession_months`, the two runs' regime scorecards side by side too."""
    with open_runs(journals) as source:
        comparison = compare_runs(source, source.run(run_a), source.run(run_b), closes, recession_months)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(compare_html(comparison), encoding="utf-8")
        out.with_suffix(".png").write_bytes(comparison.chart)
    if fmt == "json":
        return to_json(comparison.to_json())
    if fmt == "csv":
        rows = [[d.day, ";".join(d.what), d.regime_a, d.regime_b, " | ".join(d.why)] for d in comparison.diffs]
        return csv_table(["day", "what", "regime_a", "regime_b", "why"], rows)
    return render_compare(comparison) + (f"\nwrote {out}" if out is not None else "")


def parity_command(journals: Sequence[Path], session_id: str, *, against: str | None = None, replay: Replayer | None = None, fmt: Format = "text") -> str:
    """Diff a paper (or simulated) session against its replay: an existing run (`against`) or one `replay` runs now
    (the backtest runner main.py supplies: `backtest.replay.store_replayer`)."""
    with open_runs(journals) as source:
        session = source.run(session_id)
        if against is not None:
            report = parity_diff(source, session, source, source.run(against))
        elif replay is not None:
            report = replay_and_diff(source, session, replay)
        else:
            raise ReviewError("parity needs a replay: pass the backtest runner (main.py does) or name an existing replay run")
    if fmt == "json":
        return to_json(report.to_json())
    if fmt == "csv":
        return csv_table(["day", "aspect", "cause", "detail"], [[d.day, d.aspect, d.cause, d.detail] for d in report.diffs])
    return render_parity(report)
