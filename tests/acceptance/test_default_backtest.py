"""The default backtest on the real pack, end to end through `backtest_command`: its key metrics are pinned, a
rerun is identical, and the `--json` document has the documented shape.

The pins move when the playbook, the signal layer or the pack changes: re-pin deliberately, saying why.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backtest.cli import backtest_command
from clock import ManualClock

PINNED_STRATEGY = {
    "total_return": 4.095650540488592,
    "cagr": 0.06458053548615927,
    "volatility": 0.10690177048671531,
    "sharpe": 0.4659396175221981,
    "sortino": 0.6567287723265208,
    "max_drawdown": -0.21239414715105887,
    "calmar": 0.30405986394826756,
    "exposure": 0.47930721262375575,
    "turnover": 0.39211624244962523,
    "hedge_cost": 3147.6432528754244,
    "hedge_payoff": 1142.1619289665118,
}
PINNED_DRAWDOWN = ("2024-11-25", "2025-04-08")
PINNED_BENCHMARKS = {
    "IWM": {"total_return": 7.19797972226675, "cagr": 0.08421356925164147, "max_drawdown": -0.5863998978192563},
    "SPY": {"total_return": 7.053341145600662, "cagr": 0.08347211044072522, "max_drawdown": -0.5518944523851561},
}
REQUIRED = {"total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "exposure", "turnover"}


def _run(store_dir: Path) -> dict[str, Any]:
    clock = ManualClock(datetime(2026, 8, 22, tzinfo=UTC))
    out = backtest_command(None, [f'data.store_dir="{store_dir}"'], start=None, end=None, as_json=True, clock=clock, env=dict(os.environ), progress=False)
    doc: dict[str, Any] = json.loads(out.text)
    return doc


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    store = tmp_path_factory.mktemp("state")
    first = _run(store)
    second = _run(store)
    return first, second


def test_default_window_and_json_shape(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    doc, _ = runs
    assert set(doc) == {"run_id", "journal", "start", "end", "strategy", "benchmarks", "equity_curve"}
    assert (doc["start"], doc["end"]) == ("2000-06-01", "2026-06-09")
    assert set(doc["strategy"]) >= REQUIRED
    assert set(doc["benchmarks"]) == {"IWM", "SPY"} and all(set(m) >= REQUIRED for m in doc["benchmarks"].values())
    assert doc["equity_curve"][0][0] == "2000-06-01" and len(doc["equity_curve"]) == 6544
    assert Path(doc["journal"]).exists()


def test_pinned_metrics(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    doc, _ = runs
    for key, value in PINNED_STRATEGY.items():
        assert doc["strategy"][key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    assert (doc["strategy"]["max_drawdown_peak"], doc["strategy"]["max_drawdown_trough"]) == PINNED_DRAWDOWN
    for sym, pins in PINNED_BENCHMARKS.items():
        for key, value in pins.items():
            assert doc["benchmarks"][sym][key] == pytest.approx(value, rel=1e-9), (sym, key)


def test_rerun_is_identical(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    first, second = runs
    assert first["run_id"] != second["run_id"] or first["journal"] == second["journal"]
    for key in ("start", "end", "strategy", "benchmarks", "equity_curve"):
        assert first[key] == second[key], key
