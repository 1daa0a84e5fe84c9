"""What a sweep or a validation runs: the grid's configs, the shared inputs (loaded and computed once), one task per
variant, and where the member journals go. `main.py sweep` and `main.py validate` both start here."""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from backtest.inputs import gc_paused, journal_dir, load_inputs, open_store, signal_key, snapshot_cache_dir, window
from backtest.run import PROJECT_ROOT, RunSpec, code_version
from backtest.snapshot_cache import SnapshotCache
from backtest.sweep import Grid, GridError, SharedInputs, VariantTask, read_grid
from clock import Clock
from config.loader import ConfigError, load_config
from config.schema import AppConfig


@dataclass(frozen=True, slots=True)
class SweepPlan:
    sweep_id: str
    folder: Path  # member journals and results
    grid: Grid
    base: AppConfig  # the config without the grid's overrides
    first: date
    last: date
    shared: SharedInputs
    tasks: list[VariantTask]  # the grid's variants, index = position
    baseline: int | None  # the task index of the base config (a grid variant when one equals it, else an extra task)

    @property
    def variants(self) -> list[VariantTask]:
        """The grid's variants (without an extra baseline task)."""
        return self.tasks[: len(self.grid.variants)]

    def workers(self, processes: int | None) -> int:
        return worker_count(processes, self.grid)


def worker_count(processes: int | None, grid: Grid) -> int:
    """Worker processes: `processes` (the command line), else the grid's `[sweep] processes`; 0 or none = all cores."""
    return processes or grid.processes or (os.cpu_count() or 1)


def _effective(cfg: AppConfig) -> dict[str, object]:
    return {"strategy": cfg.strategy.model_dump(), "backtest": cfg.backtest.model_dump(), "signals": cfg.signals.model_dump()}


def plan_sweep(
    grid_file: Path,
    config_file: Path | None,
    overrides: Sequence[str],
    *,
    start: str | None,
    end: str | None,
    clock: Clock,
    env: Mapping[str, str],
    kind: str = "sweep",
    with_baseline: bool = False,
    label: str | None = None,
    full_journal: bool = False,
) -> SweepPlan:
    """Read the grid, load the data once, compute each distinct snapshot history once, and make the tasks.
    `with_baseline` adds the base config (without the grid's overrides) unless a variant already is it; `label`
    prefixes each member's label. Raises GridError when a grid value does not fit the config."""
    grid = read_grid(grid_file)
    configs = []
    for variant in grid.variants:
        try:
            configs.append(load_config(config_file, [*overrides, *variant]).config)
        except ConfigError as exc:
            raise GridError(f"{grid_file}: a [grid] value does not fit the config: {exc}") from None
    base = load_config(config_file, list(overrides)).config
    baseline = next((i for i, c in enumerate(configs) if _effective(c) == _effective(base)), None) if with_baseline else None
    extra = with_baseline and baseline is None
    everyone = [*configs, base] if extra else configs
    strategies = [c.strategy for c in everyone]
    costs = [c.backtest for c in everyone]
    signal_sets = {signal_key(c.signals): c.signals for c in everyone}
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
    with gc_paused():  # long-lived inputs, shared with forked workers: no collector passes over them, then frozen
        histories = {key: cache.history(inputs.pit, days, params, inputs.market.versions) for key, params in signal_sets.items()}
        gc.freeze()
    cache.save_new()  # the members run in other processes: what they pack into the journal blocks stays there
    created = clock.now()
    sweep_id = f"{kind}-{created:%Y%m%dT%H%M%S}"
    folder = journal_dir(base) / sweep_id
    version = code_version(PROJECT_ROOT)
    labels = [*grid.variants, ["(base config)"]] if extra else grid.variants
    tasks = []
    for i, (variant, cfg) in enumerate(zip(labels, everyone, strict=True)):
        sets = [] if extra and i == len(grid.variants) else variant
        effective = {**_effective(cfg), "overrides": [*overrides, *sets]}
        member_label = " ".join([f"{label}:" if label else "", *variant]).strip()
        spec = RunSpec(f"{sweep_id}-{i:04d}", member_label, created, effective, version, kind="sweep_member", parent_id=sweep_id)
        tasks.append(VariantTask(i, tuple(sets), cfg.strategy, cfg.backtest, signal_key(cfg.signals), first, last, spec, folder / f"member-{i:04d}.sqlite",
                                 full_journal))
    return SweepPlan(sweep_id, folder, grid, base, first, last, SharedInputs(inputs.market, histories), tasks, len(grid.variants) if extra else baseline)
