"""Sweeps: a grid file, a process pool and a concurrent.futures executor (the Dask/Ray path) agree."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from backtest.inputs import Inputs, history, signal_key
from backtest.run import RunSpec
from backtest.sweep import GridError, SharedInputs, VariantTask, rank, read_grid, run_local, run_on_executor, write_outputs
from config.loader import load_config
from journal.decision_blocks import decision_rows
from journal.journal import Journal, open_read_only
from tests.integration.test_backtest_support import pack_inputs

__all__ = ["pack_inputs"]

START, END = date(2007, 1, 3), date(2008, 12, 31)


def test_grid_file(tmp_path: Path) -> None:
    grid = tmp_path / "g.toml"
    grid.write_text('[grid]\n"strategy.base_weight" = [0.2, 0.8]\n"strategy.crisis.defensive_symbol" = ["", "SPY"]\n[sweep]\nrank_by = "calmar"\n')
    g = read_grid(grid)
    assert len(g.variants) == 4 and g.rank_by == "calmar"
    assert g.variants[0] == ["strategy.base_weight=0.2", 'strategy.crisis.defensive_symbol=""']
    grid.write_text("[grid]\n")
    with pytest.raises(GridError):
        read_grid(grid)


def _tasks(tmp: Path, weights: list[float]) -> tuple[list[VariantTask], str]:
    """One task per IWM weight cap: the cap binds in every regime that holds IWM, so the variants differ in any window
    (base_weight alone binds only in neutral and tightening days, which a window may not have)."""
    cfg = load_config().config
    key = signal_key(cfg.signals)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    tasks = []
    for i, w in enumerate(weights):
        strat = cfg.strategy.model_copy(update={"max_iwm_weight": w})
        spec = RunSpec(f"sw-{i}", f"max_iwm_weight={w}", created, {"max_iwm_weight": w}, "test", kind="sweep_member", parent_id="sw")
        tasks.append(VariantTask(i, (f"strategy.max_iwm_weight={w}",), strat, cfg.backtest, key, START, END, spec, tmp / f"m{i}.sqlite"))
    return tasks, key


def test_pool_and_executor_paths_agree(pack_inputs: Inputs, tmp_path: Path) -> None:
    tasks, key = _tasks(tmp_path / "a", [0.3, 1.0])
    days = pack_inputs.market.sessions("IWM", START, END)
    shared = SharedInputs(pack_inputs.market, {key: history(pack_inputs.pit, days, load_config().config.signals)})
    pooled = run_local(shared, tasks, 2)
    tasks_b, _ = _tasks(tmp_path / "b", [0.3, 1.0])
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
        executed = list(run_on_executor(ex, shared, tasks_b))
    assert [r.metrics for r in pooled] == [r.metrics for r in executed]
    assert pooled[0].metrics != pooled[1].metrics
    ranked = rank(pooled, "sharpe")
    assert ranked[0].metrics["sharpe"] >= ranked[1].metrics["sharpe"]
    csv_path, json_path = write_outputs(tmp_path / "out", ranked)
    assert csv_path.read_text().count("\n") == 3 and json_path.exists()
    for r in pooled:  # every member journaled, compact snapshots
        j = Journal(Path(str(r.journal)))
        run = j.run(r.run_id)
        assert run is not None and run.kind == "sweep_member" and run.status == "finished"
        # compact: the decisions that changed the target or sent orders, no end-of-day positions; equity every day
        db = open_read_only(Path(str(r.journal)))
        rows = decision_rows(db, r.run_id)
        db.close()
        held = [{k: v for k, v in json.loads(row["target_json"]).items() if k not in ("day", "reasons")} for row in rows]
        ordered = {i["decision_day"] for i in j.query("SELECT decision_day FROM intents WHERE run_id=?", (r.run_id,))}
        assert rows[0]["day"] == days[0].isoformat() and len(rows) < len(days) / 2
        assert all(held[k] != held[k - 1] or rows[k]["day"] in ordered for k in range(1, len(rows)))
        assert j.query("SELECT COUNT(*) AS n FROM equity")[0]["n"] == len(days)
        assert j.query("SELECT COUNT(*) AS n FROM positions")[0]["n"] == 0
        j.close()
    full = dataclasses.replace(tasks[0], journal_path=tmp_path / "full.sqlite", full_journal=True)
    (whole,) = run_local(shared, [full], 1)
    j = Journal(tmp_path / "full.sqlite")
    assert whole.metrics == pooled[0].metrics
    assert j.query("SELECT COUNT(*) AS n FROM decisions")[0]["n"] == len(days)
    assert j.query("SELECT COUNT(*) AS n FROM positions")[0]["n"] > 0
    j.close()
