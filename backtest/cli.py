"""What `main.py backtest` and `main.py sweep` call: functions that take parsed arguments and return text.

No argparse here and no printing: `main.py` parses, calls, prints. The progress bar goes to stderr (tqdm).
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from backtest import metrics
from backtest.cluster import run_tasks
from backtest.curve import Curve
from backtest.folds import FoldMethod, make_folds
from backtest.inputs import (
    gc_paused,
    journal_dir,
    open_store,
    pit_source,
    signal_key,
    snapshot_cache_dir,
    window,
)
from backtest.plan import plan_sweep
from backtest.run import PROJECT_ROOT, BacktestResult, MarketData, RunSpec, code_version, config_hash, load_market, run_backtest
from backtest.snapshot_cache import SnapshotCache
from backtest.sweep import rank, ranked_table, write_outputs
from backtest.validate import Validation, judge, judgement_text, validate
from backtest.validate import render as render_validation
from cli.boundary import state_file
from clock import Clock
from config.loader import load_config
from review.tables import fit_width


class FoldError(ValueError):
    """The window gives no fold for the chosen method: stop and say why."""


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    """The result and the text `main.py` prints."""

    result: BacktestResult
    text: str
    notes: tuple[str, ...] = ()  # what the user should know about the result (printed to stderr, apart from --json)


def backtest_command(
    config_file: Path | None,
    overrides: Sequence[str],
    *,
    start: str | None,
    end: str | None,
    as_json: bool,
    clock: Clock,
    env: Mapping[str, str],
    progress: bool = True,
    label: str | None = None,
) -> BacktestOutcome:
    """`main.py backtest [--config F] [--set k=v ...] [--start D] [--end D] [--json]`.

    Loads the config, fills the store from the pack if it is empty, computes the snapshot history, runs the
    shared core in backtrader with a journal under `<store_dir>/journals/`, and renders the metrics."""
    loaded = load_config(config_file, overrides)
    cfg = loaded.config
    strategy, costs, signals = cfg.strategy, cfg.backtest, cfg.signals
    store = open_store(cfg, env, clock)
    cache = SnapshotCache(snapshot_cache_dir(cfg))
    # the inputs live as long as the command: no collector pass while they are built or loaded (a full pass would
    # walk their million objects), then frozen out of every later pass
    with gc_paused():
        try:
            symbols = sorted({strategy.symbol, *costs.benchmarks} | ({strategy.crisis.defensive_symbol} - {""}))
            market = load_market(store, symbols)
            first, last = window(market, strategy.symbol, costs, start, end)
            days = market.sessions(strategy.symbol, first, last)
            snapshots = cache.history(pit_source(store, cfg), days, signals, market.versions)  # loads the PIT data on a miss only
        finally:
            store.close()
        gc.freeze()
    created = clock.now()
    effective = {"strategy": strategy.model_dump(), "backtest": costs.model_dump(), "signals": signals.model_dump(), "sources": list(loaded.sources)}
    base_id = f"bt-{created:%Y%m%dT%H%M%S}-{config_hash(effective)[:6]}"
    run_id, n = base_id, 1
    while (journal_dir(cfg) / f"{run_id}.sqlite").exists():  # one journal file per run: never reuse one
        n += 1
        run_id = f"{base_id}-{n}"
    spec = RunSpec(run_id, label or " ".join(["backtest", *overrides]), created, effective, code_version(PROJECT_ROOT))
    path = journal_dir(cfg) / f"{run_id}.sqlite"
    with state_file(path), tqdm(total=len(days), desc="backtest", unit="day", file=sys.stderr, disable=not progress, mininterval=0.5) as bar:
        result = run_backtest(
            market,
            snapshots,
            strategy,
            costs,
            start=first,
            end=last,
            spec=spec,
            journal_path=path,
            progress=lambda: bar.update(1),
            clock=clock,
        )
    cache.save_new()  # with the journal blocks this run packed: the next run on the same data copies them
    return BacktestOutcome(result, render(result, as_json), affordability_notes(market, strategy.symbol, costs.initial_cash, first, result))


def affordability_notes(market: MarketData, symbol: str, cash: float, first: date, result: BacktestResult) -> tuple[str, ...]:
    """A note when the strategy never held its ETF because the starting cash buys less than one share (the
    benchmarks' buy-and-hold holds fractions, so the comparison would mislead without it)."""
    closes = market.bars[symbol]["close"]
    from_first = closes[closes.index >= pd.Timestamp(first)]
    price = float(from_first.iloc[0]) if len(from_first) else float("nan")
    if result.strategy.exposure > 0 or not cash < price:
        return ()
    return (f"note: the strategy never held {symbol}: backtest.initial_cash = {cash:,.2f} buys less than one share ({symbol} closed at "
            f"{price:,.2f} on {first}); the buy-and-hold benchmarks hold fractions of a share",)


def render(result: BacktestResult, as_json: bool) -> str:
    """The `--json` document, or a readable report."""
    if as_json:
        return json.dumps(result.to_json(), allow_nan=False)
    rows = {"strategy": result.strategy, **{f"{k} buy&hold": v for k, v in result.benchmarks.items()}}
    return "\n".join(
        [
            f"backtest {result.run_id}: {result.start} .. {result.end}",
            "",
            metrics.table(rows),
            "",
            "returns by regime in force (decided at the previous close):",
            metrics.regime_table(result.strategy),
            "",
            f"journal: {result.journal}",
        ]
    )


def sweep_command(
    grid_file: Path,
    config_file: Path | None,
    overrides: Sequence[str],
    *,
    start: str | None,
    end: str | None,
    clock: Clock,
    env: Mapping[str, str],
    processes: int | None = None,
    dask: str = "",
    progress: bool = True,
    label: str | None = None,
    full_journal: bool = False,
) -> str:
    """`main.py sweep GRID_FILE [--config F] [--set k=v ...] [--start D] [--end D] [--dask ADDRESS]`: every grid point
    over the same window, in parallel (all cores unless the grid or `processes` says otherwise, or on a Dask
    cluster); a ranked table, CSV and JSON, and the deflated Sharpe ratio and PBO of the grid. Members write compact
    journals unless `full_journal`."""
    plan = plan_sweep(grid_file, config_file, overrides, start=start, end=end, clock=clock, env=env, label=label, full_journal=full_journal)
    grid = plan.grid
    with tqdm(total=len(plan.tasks), desc="sweep", unit="run", file=sys.stderr, disable=not progress) as bar:
        address = dask or plan.base.cluster.dask_scheduler
        results = run_tasks(plan.shared, plan.tasks, processes=plan.workers(processes), dask=address, on_done=lambda: bar.update(1))
    ranked = rank(results, grid.rank_by)
    csv_path, json_path = write_outputs(plan.folder, ranked)
    judgement = judge(results, ranked[0].index)
    (plan.folder / "overfitting.json").write_text(json.dumps(judgement.to_json(), indent=1, allow_nan=False))
    return fit_width("\n".join(
        [
            f"{plan.sweep_id}{f' ({label})' if label else ''}: {len(plan.tasks)} variants, {plan.first} .. {plan.last}, ranked by {grid.rank_by}",
            ranked_table(ranked, grid.rank_by),
            "",
            judgement_text(judgement, f"#1 {' '.join(ranked[0].overrides)}"),
            "",
            f"results:  {csv_path}",
            f"          {json_path}",
            f"          {plan.folder / 'overfitting.json'}",
            f"journals: {plan.folder}/member-*.sqlite",
        ]
    ))


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    validation: Validation
    text: str
    report: Path


def validate_command(
    grid_file: Path,
    config_file: Path | None,
    overrides: Sequence[str],
    *,
    folds: FoldMethod,
    in_sample_years: float,
    out_of_sample_years: float,
    rolling: bool,
    start: str | None,
    end: str | None,
    as_json: bool,
    out: Path | None,
    clock: Clock,
    env: Mapping[str, str],
    processes: int | None = None,
    dask: str = "",
    progress: bool = True,
) -> ValidationOutcome:
    """`main.py validate GRID_FILE [--folds cycles|walk-forward] [--json] [--out report.html]`: the grid run once
    (plus the base config), folds scored out of sample, DSR and PBO, and a self-contained HTML report."""
    plan = plan_sweep(grid_file, config_file, overrides, start=start, end=end, clock=clock, env=env, kind="validate", with_baseline=True)
    days = plan.shared.market.sessions(plan.base.strategy.symbol, plan.first, plan.last)
    snapshots = plan.shared.histories[signal_key(plan.base.signals)]
    chosen_folds = make_folds(folds, days, snapshots, in_sample_years=in_sample_years, out_of_sample_years=out_of_sample_years, anchored=not rolling)
    if not chosen_folds:
        why = "it holds fewer than two easing cycles (try --folds walk-forward)" if folds == "cycles" else "it is not longer than one in-sample window"
        raise FoldError(f"no {folds} folds in {plan.first} .. {plan.last}: {why}")
    with tqdm(total=len(plan.tasks), desc="validate", unit="run", file=sys.stderr, disable=not progress) as bar:
        address = dask or plan.base.cluster.dask_scheduler
        results = run_tasks(plan.shared, plan.tasks, processes=plan.workers(processes), dask=address, on_done=lambda: bar.update(1))
    variants = results[: len(plan.grid.variants)]
    baseline = None if plan.baseline is None else results[plan.baseline]
    reference = variants[0].curve
    if reference is None:
        raise RuntimeError("a variant came back without its daily curve")
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    benchmarks = {
        sym: Curve.buy_and_hold(days, plan.shared.market.bars[sym]["close"].reindex(index).to_numpy(dtype=float).tolist(), reference.rf)
        for sym in plan.base.backtest.benchmarks
    }
    how = folds if folds == "cycles" else f"walk-forward ({'rolling' if rolling else 'anchored'} {in_sample_years:g}y in sample, {out_of_sample_years:g}y out)"
    validation = validate(variants, baseline, benchmarks, chosen_folds, method=how, rank_by=plan.grid.rank_by)
    ranked = rank(variants, plan.grid.rank_by)
    write_outputs(plan.folder, ranked)
    (plan.folder / "validation.json").write_text(json.dumps(validation.to_json(), indent=1, default=str, allow_nan=False))
    report_path = out if out is not None else plan.folder / "validation.html"
    from review.validation_report import write_validation_report  # matplotlib: 0.4 s of import a backtest never needs

    write_validation_report(validation, plan.sweep_id, report_path)
    header = (
        f"{plan.sweep_id}: {len(variants)} variants{' + the base config' if plan.baseline == len(variants) else ''}, "
        f"{plan.first} .. {plan.last}, {len(chosen_folds)} folds by {how}, chosen by {plan.grid.rank_by}"
    )
    if as_json:
        text = json.dumps({"validation_id": plan.sweep_id, **validation.to_json(), "report": str(report_path)}, default=str, allow_nan=False)
    else:
        text = "\n".join(
            [
                render_validation(validation, header),
                "",
                f"report: {report_path}",
                f"results: {plan.folder}/validation.json  results.csv",
                f"journals: {plan.folder}/member-*.sqlite",
            ]
        )
    return ValidationOutcome(validation, text, report_path)
