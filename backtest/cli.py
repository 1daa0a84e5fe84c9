"""What `main.py backtest` and `main.py sweep` call: functions that take parsed arguments and return text.

No argparse here and no printing: `main.py` parses, calls, prints. The progress bar goes to stderr (tqdm).
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from backtest import metrics
from backtest.inputs import (
    journal_dir,
    load_inputs,
    open_store,
    pit_source,
    signal_key,
    snapshot_cache_dir,
    window,
)
from backtest.run import PROJECT_ROOT, BacktestResult, RunSpec, code_version, config_hash, load_market, run_backtest
from backtest.snapshot_cache import SnapshotCache
from backtest.sweep import SharedInputs, VariantTask, rank, ranked_table, read_grid, run_local, write_outputs
from clock import Clock
from config.loader import load_config


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    """The result and the text `main.py` prints."""

    result: BacktestResult
    text: str


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
) -> BacktestOutcome:
    """`main.py backtest [--config F] [--set k=v ...] [--start D] [--end D] [--json]`.

    Loads the config, fills the store from the pack if it is empty, computes the snapshot history, runs the
    shared core in backtrader with a journal under `<store_dir>/journals/`, and renders the metrics."""
    loaded = load_config(config_file, overrides)
    cfg = loaded.config
    strategy, costs, signals = cfg.strategy, cfg.backtest, cfg.signals
    store = open_store(cfg, env, clock)
    cache = SnapshotCache(snapshot_cache_dir(cfg))
    try:
        symbols = sorted({strategy.symbol, *costs.benchmarks} | ({strategy.crisis.defensive_symbol} - {""}))
        market = load_market(store, symbols)
        first, last = window(market, strategy.symbol, costs, start, end)
        days = market.sessions(strategy.symbol, first, last)
        snapshots = cache.history(pit_source(store, cfg), days, signals, market.versions)  # loads the PIT data on a miss only
    finally:
        store.close()
    gc.freeze()  # the inputs live as long as the command: the collector need not walk them again on every full pass
    created = clock.now()
    effective = {"strategy": strategy.model_dump(), "backtest": costs.model_dump(), "signals": signals.model_dump(), "sources": list(loaded.sources)}
    base_id = f"bt-{created:%Y%m%dT%H%M%S}-{config_hash(effective)[:6]}"
    run_id, n = base_id, 1
    while (journal_dir(cfg) / f"{run_id}.sqlite").exists():  # one journal file per run: never reuse one
        n += 1
        run_id = f"{base_id}-{n}"
    spec = RunSpec(run_id, " ".join(["backtest", *overrides]), created, effective, code_version(PROJECT_ROOT))
    path = journal_dir(cfg) / f"{run_id}.sqlite"
    with tqdm(total=len(days), desc="backtest", unit="day", file=sys.stderr, disable=not progress, mininterval=0.5) as bar:
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
    return BacktestOutcome(result, render(result, as_json))


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
    progress: bool = True,
    full_journal: bool = False,
) -> str:
    """`main.py sweep GRID_FILE [--config F] [--set k=v ...] [--start D] [--end D]`: every grid point over the same
    window, in parallel (all cores unless the grid or `processes` says otherwise); a ranked table, CSV and JSON."""
    grid = read_grid(grid_file)
    configs = [load_config(config_file, [*overrides, *variant]).config for variant in grid.variants]
    base = configs[0]
    strategies = [c.strategy for c in configs]
    costs = [c.backtest for c in configs]
    signal_sets = {signal_key(c.signals): c.signals for c in configs}
    symbols = sorted(
        {s.symbol for s in strategies} | {b for c in costs for b in c.benchmarks} | {s.crisis.defensive_symbol for s in strategies if s.crisis.defensive_symbol}
    )
    store = open_store(base, env, clock)
    try:
        inputs = load_inputs(store, base, symbols)
    finally:
        store.close()
    first, last = window(inputs.market, strategies[0].symbol, costs[0], start, end)
    days = inputs.market.sessions(strategies[0].symbol, first, last)
    cache = SnapshotCache(snapshot_cache_dir(base))
    histories = {key: cache.history(inputs.pit, days, params, inputs.market.versions) for key, params in signal_sets.items()}
    gc.freeze()  # long-lived inputs, shared with forked workers: no collector passes over them
    shared = SharedInputs(inputs.market, histories)
    created = clock.now()
    sweep_id = f"sweep-{created:%Y%m%dT%H%M%S}"
    folder = journal_dir(base) / sweep_id
    version = code_version(PROJECT_ROOT)
    tasks = []
    for i, (variant, cfg, strat, cost) in enumerate(zip(grid.variants, configs, strategies, costs, strict=True)):
        effective = {
            "strategy": strat.model_dump(),
            "backtest": cost.model_dump(),
            "signals": cfg.signals.model_dump(),
            "overrides": [*overrides, *variant],
        }
        spec = RunSpec(f"{sweep_id}-{i:04d}", " ".join(variant), created, effective, version, kind="sweep_member", parent_id=sweep_id)
        tasks.append(VariantTask(i, tuple(variant), strat, cost, signal_key(cfg.signals), first, last, spec, folder / f"member-{i:04d}.sqlite",
                                 full_journal))
    workers = processes if processes is not None else (grid.processes or (os.cpu_count() or 1))
    with tqdm(total=len(tasks), desc="sweep", unit="run", file=sys.stderr, disable=not progress) as bar:
        results = run_local(shared, tasks, min(workers, len(tasks)), on_done=lambda: bar.update(1))
    cache.save_new()
    ranked = rank(results, grid.rank_by)
    csv_path, json_path = write_outputs(folder, ranked)
    return "\n".join(
        [
            f"{sweep_id}: {len(tasks)} variants, {first} .. {last}, ranked by {grid.rank_by}",
            ranked_table(ranked, grid.rank_by),
            f"results: {csv_path}  {json_path}",
            f"journals: {folder}/member-*.sqlite",
        ]
    )
