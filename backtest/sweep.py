"""Parameter sweeps: a grid of `--set` overrides, run in parallel, every member journaled, a ranked table.

Shape: the parent loads data and computes each distinct snapshot history once (`SharedInputs`); each variant is a
small picklable `VariantTask`; `run_variant(shared, task)` is a pure task function (inputs in, metrics out, one
journal file written). Locally a `multiprocessing` pool runs it with the shared inputs handed to each worker once
at start-up. Any `concurrent.futures.Executor` runs the same function through `run_on_executor`: Dask's
`Client.get_executor()` or Ray's `ray.util.multiprocessing.Pool`-backed executors take it unchanged, with the
shared inputs broadcast once (`client.scatter(shared, broadcast=True)` on Dask) — strategy code is not touched.

Grid file (TOML):

    [grid]
    "strategy.base_weight" = [0.3, 0.5]
    "strategy.hedge.moneyness" = [0.85, 0.9]

    [sweep]              # optional
    rank_by = "sharpe"   # any metric name; higher is better (max_drawdown: closer to 0 is better)
    processes = 0        # 0 = all cores
"""

from __future__ import annotations

import csv
import itertools
import json
import multiprocessing
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from backtest.curve import Curve
from backtest.run import BacktestResult, MarketData, RunSpec, run_backtest
from journal.decision_blocks import SnapshotBlocks
from signals.snapshot import Snapshot
from strategies.params import BacktestParams, StrategyParams


class GridError(ValueError):
    """The grid file is wrong: stop and say where."""


@dataclass(frozen=True, slots=True)
class Grid:
    variants: list[list[str]]  # each a list of `--set` overrides
    rank_by: str
    processes: int


def _literal(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | bool) else str(value)


SWEEP_KEYS = ("rank_by", "processes")


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`[grid]` keys as dotted names: a quoted "strategy.base_weight" and an unquoted strategy.base_weight (which
    TOML reads as a nested table) are the same key."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# What a member can change: the sections each variant gets its own copy of (backtest/plan.py `_effective`) ...
VARIED_SECTIONS = ("strategy", "backtest", "signals")
# ... except what the whole sweep shares: one window and one calendar of sessions.
SHARED_KEYS = {
    "backtest.start": "the window is one for the whole sweep: give it with --start/--end",
    "backtest.end": "the window is one for the whole sweep: give it with --start/--end",
    "strategy.symbol": "the sweep's sessions come from one traded ETF: set it for the whole sweep with --set strategy.symbol=...",
}


def _same(value: Any) -> str:
    """A value's identity for the duplicate check: 1 and 1.0 are one value."""
    return repr(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else _literal(value)


def read_grid(path: Path) -> Grid:
    """The cartesian product of the `[grid]` lists, as `--set key=value` lists. A GridError names the file, the key
    and what is valid."""
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise GridError(f"{path}: grid file not found (examples/sweep-grid.toml is one to copy)") from None
    except IsADirectoryError:
        raise GridError(f"{path}: is a directory, not a grid file") from None
    except UnicodeDecodeError as exc:
        raise GridError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise GridError(f"{path}: cannot read the grid file: {exc.strerror}") from None
    unknown_tables = sorted(set(doc) - {"grid", "sweep"})
    if unknown_tables:
        raise GridError(f"{path}: unknown table(s) {', '.join(unknown_tables)}; a grid file has [grid] and an optional [sweep]")
    raw = doc.get("grid")
    if not isinstance(raw, dict) or not raw:
        raise GridError(f'{path}: needs a [grid] table of "section.key" = [values], e.g. "strategy.base_weight" = [0.3, 0.5]')
    grid = _flatten(raw)
    keys = sorted(grid)
    for key in keys:
        if "." not in key:
            raise GridError(f'{path}: [grid] key {key!r} names no config key: use "section.key" = [values], e.g. "strategy.base_weight"')
        if not isinstance(grid[key], list) or not grid[key]:
            raise GridError(f"{path}: [grid] key {key!r} = {grid[key]!r}: needs a non-empty list of values, e.g. {key!r} = [0.3, 0.5]")
        if key.split(".", 1)[0] not in VARIED_SECTIONS:
            raise GridError(f"{path}: [grid] key {key!r}: a sweep varies only [{'], ['.join(VARIED_SECTIONS)}] keys per member; "
                            f"set {key} for the whole sweep with --set or --config")
        if key in SHARED_KEYS:
            raise GridError(f"{path}: [grid] key {key!r}: {SHARED_KEYS[key]}")
        seen = [_same(v) for v in grid[key]]
        repeated = sorted({_literal(v) for v, c in zip(grid[key], seen, strict=True) if seen.count(c) > 1})
        if repeated:
            raise GridError(f"{path}: [grid] key {key!r} lists {', '.join(repeated)} more than once: each value once (a repeated variant "
                            "inflates the trial count of the deflated Sharpe ratio)")
    variants = [[f"{k}={_literal(v)}" for k, v in zip(keys, combo, strict=True)] for combo in itertools.product(*(grid[k] for k in keys))]
    sweep = doc.get("sweep", {})
    if not isinstance(sweep, dict):
        raise GridError(f"{path}: [sweep] must be a table with {' and/or '.join(SWEEP_KEYS)}")
    unknown = sorted(set(sweep) - set(SWEEP_KEYS))
    if unknown:
        raise GridError(f"{path}: unknown [sweep] key(s) {', '.join(unknown)}; valid: {', '.join(SWEEP_KEYS)}")
    rank_by = sweep.get("rank_by", "sharpe")
    if rank_by not in COLUMNS:
        raise GridError(f"{path}: [sweep] rank_by = {rank_by!r} is not a metric; choose one of {', '.join(COLUMNS)}")
    processes = sweep.get("processes", 0)
    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 0:
        raise GridError(f"{path}: [sweep] processes = {processes!r}: needs a whole number >= 0 (0 = all cores)")
    return Grid(variants, rank_by, processes)


@dataclass(frozen=True, slots=True)
class SharedInputs:
    """Read-only inputs every variant shares: market data and the snapshot histories by signal key."""

    market: MarketData
    histories: Mapping[str, Mapping[date, Snapshot]]


@dataclass(frozen=True, slots=True)
class VariantTask:
    index: int
    overrides: tuple[str, ...]
    strategy: StrategyParams
    costs: BacktestParams
    signal_key: str
    start: date
    end: date
    spec: RunSpec
    journal_path: Path | None
    full_journal: bool = False  # journal everything, like a backtest (default: the compact member journal)


@dataclass(frozen=True, slots=True)
class VariantResult:
    index: int
    overrides: tuple[str, ...]
    run_id: str
    journal: str | None
    metrics: dict[str, Any]
    curve: Curve | None = None  # daily equity and bill returns: what validation and the overfitting statistics score


def run_variant(shared: SharedInputs, task: VariantTask) -> VariantResult:
    """The pure task: one backtest of one variant (its journal written to `task.journal_path`)."""
    result: BacktestResult = run_backtest(
        shared.market,
        shared.histories[task.signal_key],
        task.strategy,
        task.costs,
        start=task.start,
        end=task.end,
        spec=task.spec,
        journal_path=task.journal_path,
        snapshot_detail="full" if task.full_journal else "compact",
    )
    return VariantResult(task.index, task.overrides, result.run_id, result.journal, result.strategy.to_json(), Curve.of(result))


@dataclass(slots=True)
class _Worker:
    """The shared inputs a pool worker received at start-up (one per process, set by `_start_worker`)."""

    shared: SharedInputs | None = None


_WORKER = _Worker()  # process-local: written once by the pool initializer, read by `_run_in_worker`


def _start_worker(shared: SharedInputs) -> None:
    _WORKER.shared = shared


def _run_in_worker(task: VariantTask) -> VariantResult:
    if _WORKER.shared is None:
        raise RuntimeError("sweep worker started without shared inputs")
    return run_variant(_WORKER.shared, task)


def run_local(shared: SharedInputs, tasks: Sequence[VariantTask], processes: int, on_done: Callable[[], None] | None = None) -> list[VariantResult]:
    """All tasks on a local process pool (`processes` workers; 1 = in this process)."""
    out: list[VariantResult] = []
    if processes <= 1:
        for task in tasks:
            out.append(run_variant(shared, task))
            if on_done:
                on_done()
        return out
    for history in shared.histories.values():  # pack the journal blocks once, before the workers fork: each inherits them
        pack = getattr(history, "blocks", None)
        if isinstance(pack, SnapshotBlocks):
            for detail in {"full" if t.full_journal else "compact" for t in tasks}:
                pack.pack_all(detail)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes, initializer=_start_worker, initargs=(shared,)) as pool:
        for res in pool.imap_unordered(_run_in_worker, tasks):
            out.append(res)
            if on_done:
                on_done()
    return sorted(out, key=lambda r: r.index)


def run_on_executor(executor: Executor, shared: Any, tasks: Sequence[VariantTask]) -> Iterator[VariantResult]:
    """The distributed path: any `concurrent.futures.Executor` (a Dask client's executor, Ray's, or a local
    `ProcessPoolExecutor`). `shared` is the SharedInputs or a handle the engine resolves (a scattered future)."""
    futures = [executor.submit(run_variant, shared, task) for task in tasks]
    for fut in futures:
        yield fut.result()


_LOWER_IS_BETTER: frozenset[str] = frozenset({"volatility", "turnover", "hedge_cost"})


def rank(results: Sequence[VariantResult], by: str) -> list[VariantResult]:
    """Best first by metric `by` (missing values last)."""
    sign = 1.0 if by in _LOWER_IS_BETTER else -1.0

    def key(r: VariantResult) -> tuple[int, float]:
        v = r.metrics.get(by)
        return (1, 0.0) if not isinstance(v, int | float) else (0, sign * float(v))

    return sorted(results, key=key)


COLUMNS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "exposure", "turnover", "hedge_cost", "hedge_payoff")


def write_outputs(folder: Path, ranked: Sequence[VariantResult]) -> tuple[Path, Path]:
    """results.csv and results.json, best first."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / "results.csv", folder / "results.json"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "overrides", "run_id", "journal", *COLUMNS])
        for i, r in enumerate(ranked, 1):
            w.writerow([i, " ".join(r.overrides), r.run_id, r.journal, *(r.metrics.get(c) for c in COLUMNS)])
    json_path.write_text(
        json.dumps(
            [{"rank": i, "overrides": list(r.overrides), "run_id": r.run_id, "journal": r.journal, "metrics": r.metrics} for i, r in enumerate(ranked, 1)],
            indent=1,
            default=str,
        )
    )
    return csv_path, json_path


_SHOWN = {"sharpe": "Sharpe", "cagr": "CAGR", "max_drawdown": "max DD", "calmar": "Calmar"}
_FORMATS = {"sharpe": "{:.2f}", "cagr": "{:.2%}", "max_drawdown": "{:.1%}", "calmar": "{:.2f}", "sortino": "{:.2f}", "total_return": "{:.1%}",
            "volatility": "{:.1%}", "exposure": "{:.0%}", "turnover": "{:.2f}", "hedge_cost": "{:,.0f}", "hedge_payoff": "{:,.0f}"}


def ranked_table(ranked: Sequence[VariantResult], by: str, limit: int = 20) -> str:
    """The best `limit` variants: rank, Sharpe, CAGR, max drawdown, Calmar, the ranking metric when it is none of
    these, and the overrides (wrapped to fit 120 columns)."""
    from review.tables import text_table

    columns = [*_SHOWN, *([by] if by not in _SHOWN else [])]

    def cell(metrics: dict[str, Any], key: str) -> str:
        value = metrics.get(key)
        return "-" if value is None else _FORMATS.get(key, "{:.4g}").format(value)

    rows = [[i, *(cell(r.metrics, k) for k in columns), " ".join(r.overrides)] for i, r in enumerate(ranked[:limit], 1)]
    table = text_table(["#", *(_SHOWN.get(k, k) for k in columns), "overrides"], rows, wrap=[len(columns) + 1])
    more = f"\n... {len(ranked) - limit} more in results.csv" if len(ranked) > limit else ""
    return f"{table}{more}\nSharpe: daily returns over the bill rate, annualized"
