"""One definition of the put hedge's cost and payoff: what `backtest` prints (and `runs` lists) is what the report
shows, computed from the journal's fills and settlements (review.hedge) and from the run's own log (backtest.run)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from backtest.inputs import Inputs, history
from backtest.run import RunSpec, run_backtest
from config.loader import load_config
from review.hedge import hedge_curve, hedge_summary
from review.runs import open_runs
from tests.integration.test_backtest_support import pack_inputs

__all__ = ["pack_inputs"]

START, END = date(2007, 6, 1), date(2009, 6, 30)  # puts bought, sold, rolled and settled


def test_the_report_and_the_backtest_give_the_same_hedge_cost_and_payoff(pack_inputs: Inputs, tmp_path: Path) -> None:
    cfg = load_config().config
    snaps = history(pack_inputs.pit, pack_inputs.market.sessions("IWM", START, END), cfg.signals)
    result = run_backtest(pack_inputs.market, snaps, cfg.strategy, cfg.backtest, start=START, end=END,
                          spec=RunSpec("hedged", "hedged", datetime(2026, 8, 22, tzinfo=UTC), {}, "test"), journal_path=tmp_path / "j.sqlite")
    assert result.strategy.hedge_cost > 0 and result.strategy.hedge_payoff > 0
    with open_runs([tmp_path / "j.sqlite"]) as source:
        ref = source.run("hedged")
        summary = hedge_summary(source, ref)
        days = source.equity(ref).index
        curve = hedge_curve(source, ref, days)
    assert summary.cost == pytest.approx(result.strategy.hedge_cost, abs=1e-6)
    assert summary.payoff == pytest.approx(result.strategy.hedge_payoff, abs=1e-6)
    assert summary.buy_fees > 0 and summary.sell_fees > 0  # both sides pay fees: the case where two definitions differed
    last = curve.iloc[-1]
    assert (last["cost"], last["proceeds"], last["net"]) == pytest.approx((summary.cost, summary.payoff, summary.net), abs=1e-6)
