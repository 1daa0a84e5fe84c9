"""A sweep on a Dask cluster (a LocalCluster here; a scheduler address in production) equals the local pool."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import distributed

from backtest.cluster import ClusterError, run_on_dask, run_tasks
from backtest.inputs import Inputs, history
from backtest.sweep import SharedInputs
from config.loader import load_config
from tests.integration.test_backtest_support import pack_inputs
from tests.integration.test_backtest_sweep import _tasks

__all__ = ["pack_inputs"]

START, END = date(2007, 1, 3), date(2008, 12, 31)


def test_dask_run_equals_local_run(pack_inputs: Inputs, tmp_path: Path) -> None:
    tasks, key = _tasks(tmp_path / "local", [0.3, 0.6, 1.0])
    days = pack_inputs.market.sessions("IWM", START, END)
    shared = SharedInputs(pack_inputs.market, {key: history(pack_inputs.pit, days, load_config().config.signals)})
    local = run_tasks(shared, tasks, processes=1)
    remote_tasks, _ = _tasks(tmp_path / "dask", [0.3, 0.6, 1.0])
    local_cluster: Any = distributed.LocalCluster  # distributed ships without type annotations
    with local_cluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        done: list[int] = []
        remote = run_on_dask(cluster.scheduler_address, shared, remote_tasks, on_done=lambda: done.append(1))
    assert len(done) == 3
    assert [r.index for r in remote] == [0, 1, 2]
    assert [r.metrics for r in remote] == [r.metrics for r in local]
    assert [r.curve for r in remote] == [r.curve for r in local]
    assert local[0].metrics != local[2].metrics
    assert all(Path(str(r.journal)).exists() for r in remote)  # the workers journaled every member


def test_no_scheduler_is_a_clear_error(pack_inputs: Inputs) -> None:
    shared = SharedInputs(pack_inputs.market, {})
    try:
        run_on_dask("tcp://127.0.0.1:9", shared, [], connect_timeout=1.0)
    except ClusterError as exc:
        assert "127.0.0.1:9" in str(exc)
    else:
        raise AssertionError("connecting to a closed port did not fail")
