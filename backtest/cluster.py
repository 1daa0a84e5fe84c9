"""Where a sweep's variants run: the local process pool, or a Dask distributed cluster through the executor seam.

On Dask the shared inputs (market data and snapshot histories, tens of megabytes) are scattered to every worker
once (`broadcast=True`) and each task receives the handle; `run_variant` is the same pure task function the local
pool runs, so the results are identical. Member journals are written by the workers at the task's journal path:
on a real cluster that path must be on a filesystem the workers share with this machine (or the journals stay
on the workers; the results, metrics and curves come back either way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backtest.sweep import SharedInputs, VariantResult, VariantTask, run_local, run_on_executor
from config.schema import scheduler_address


class ClusterError(RuntimeError):
    """The Dask scheduler could not be reached: stop and say which address."""


def run_on_dask(
    address: str, shared: SharedInputs, tasks: Sequence[VariantTask], on_done: Callable[[], None] | None = None, *, connect_timeout: float = 30.0
) -> list[VariantResult]:
    """Every task on the Dask cluster whose scheduler is at `address` (e.g. `tcp://10.0.0.5:8786`)."""
    import distributed  # imported here: only sweeps sent to a cluster pay for it

    connect: Any = distributed.Client  # distributed ships without type annotations
    try:
        client = connect(address, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"no Dask scheduler at {address}: {exc}") from None
    try:
        handle = client.scatter(shared, broadcast=True)
        out = []
        for result in run_on_executor(client.get_executor(pure=False), handle, tasks):
            out.append(result)
            if on_done:
                on_done()
        return sorted(out, key=lambda r: r.index)
    finally:
        client.close()


def run_tasks(
    shared: SharedInputs, tasks: Sequence[VariantTask], *, processes: int, dask: str = "", on_done: Callable[[], None] | None = None
) -> list[VariantResult]:
    """On the Dask scheduler at `dask` when one is given, else on `processes` local processes."""
    if dask:
        return run_on_dask(scheduler_address(dask), shared, tasks, on_done)
    return run_local(shared, tasks, max(1, min(processes, len(tasks))), on_done)
