"""PBO and DSR on real backtests over a synthetic IWM: a planted edge is found, noise is not.

The snapshot history (regimes, phases, bill rates) is the real one for 2002-2004 (late cuts, neutral, soft landing
and tightening all occur); IWM's bars are replaced by a seeded random walk, and the decisions size with its
closes. With the edge planted, IWM drifts up only on the days the regime in force is neutral or tightening, the
regimes in which `strategy.base_weight` sets the weight: a higher base weight is better in every stretch of the
data, so the in-sample best stays best out of sample. Without it, the grid only reshuffles noise.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from backtest.inputs import Inputs, history, signal_key
from backtest.run import MarketData, RunSpec
from backtest.sweep import SharedInputs, VariantResult, VariantTask, rank, run_local
from backtest.validate import judge
from config.loader import load_config
from signals.snapshot import Snapshot
from tests.integration.test_backtest_support import pack_inputs

__all__ = ["pack_inputs"]

START, END = date(2002, 1, 2), date(2004, 12, 31)
WEIGHTS = [0.2, 0.4, 0.6, 0.8]


def _synthetic(inputs: Inputs, snapshots: dict[date, Snapshot], edge: float, seed: int) -> SharedInputs:
    real = inputs.market.bars["IWM"]
    frame = real[(real.index >= pd.Timestamp(START)) & (real.index <= pd.Timestamp(END))].copy()
    days = [d.date() for d in frame.index]
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.012, len(days))
    in_force = ["none"] + [snapshots[d].regime.name for d in days[:-1]]  # decided at the previous close
    r += edge * np.array([name in ("neutral", "tightening") for name in in_force])
    close = float(frame["close"].iloc[0]) * np.cumprod(1.0 + r)
    opens = np.concatenate([[close[0]], close[:-1]])
    frame["open"], frame["close"] = opens, close
    frame["high"], frame["low"] = np.maximum(opens, close), np.minimum(opens, close)
    market = MarketData({**inputs.market.bars, "IWM": frame}, inputs.market.vix, inputs.market.versions)
    snaps = {d: dataclasses.replace(s, market=dataclasses.replace(s.market, iwm_close=float(c))) for (d, s), c in zip(
        ((d, snapshots[d]) for d in days), close, strict=True)}
    return SharedInputs(market, {signal_key(load_config().config.signals): snaps})


def _grid(shared: SharedInputs) -> list[VariantResult]:
    cfg = load_config().config
    created = datetime(2026, 1, 1, tzinfo=UTC)
    tasks = []
    for i, w in enumerate(WEIGHTS):
        spec = RunSpec(f"pl-{i}", f"base_weight={w}", created, {"base_weight": w}, "test", kind="sweep_member", parent_id="pl")
        strat = cfg.strategy.model_copy(update={"base_weight": w})
        tasks.append(VariantTask(i, (f"strategy.base_weight={w}",), strat, cfg.backtest, signal_key(cfg.signals), START, END, spec, None))
    return run_local(shared, tasks, 2)


@pytest.fixture(scope="module")
def real_history(pack_inputs: Inputs) -> dict[date, Snapshot]:
    days = pack_inputs.market.sessions("IWM", START, END)
    return history(pack_inputs.pit, days, load_config().config.signals)


def test_a_planted_edge_gives_a_low_pbo(pack_inputs: Inputs, real_history: dict[date, Snapshot]) -> None:
    results = _grid(_synthetic(pack_inputs, real_history, 0.002, seed=11))
    ranked = rank(results, "sharpe")
    assert [r.index for r in ranked] == [3, 2, 1, 0]  # the more exposure to the edge, the better
    j = judge(results, ranked[0].index)
    assert j.overfitting is not None and j.overfitting.pbo < 0.1, j.overfitting
    assert j.deflated.significant, j.deflated


def test_noise_is_not_mistaken_for_an_edge(pack_inputs: Inputs, real_history: dict[date, Snapshot]) -> None:
    results = _grid(_synthetic(pack_inputs, real_history, 0.0, seed=11))
    j = judge(results, rank(results, "sharpe")[0].index)
    assert j.overfitting is not None and j.overfitting.pbo >= 0.3, j.overfitting
    assert not j.deflated.significant, j.deflated
