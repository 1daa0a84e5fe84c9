"""No look-ahead: a run that ends at T, on data cut at T, makes exactly the decisions of the full run up to T."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from backtest.inputs import Inputs, history
from backtest.run import BacktestResult, RunSpec, run_backtest
from signals.build import session_as_of
from signals.params import SignalParams
from strategies.params import BacktestParams, StrategyParams
from tests.integration.test_backtest_support import pack_inputs

__all__ = ["pack_inputs"]

START, END = date(2007, 1, 3), date(2009, 6, 30)
CUTS = [date(2007, 8, 16), date(2008, 3, 17), date(2008, 10, 10), date(2009, 3, 9)]
SPEC = RunSpec("lookahead", "test", datetime(2026, 1, 1, tzinfo=UTC), {}, "test")


def _run(inputs: Inputs, end: date, *, cut: bool) -> BacktestResult:
    params = SignalParams()
    pit = inputs.pit.truncated(session_as_of(end, params)) if cut else inputs.pit
    days = inputs.market.sessions("IWM", START, end)
    return run_backtest(inputs.market, history(pit, days, params), StrategyParams(), BacktestParams(), start=START, end=end, spec=SPEC, journal_path=None)


@pytest.fixture(scope="module")
def full(pack_inputs: Inputs) -> BacktestResult:
    return _run(pack_inputs, END, cut=False)


@pytest.mark.parametrize("cut_day", CUTS)
def test_run_to_t_on_data_cut_at_t_matches_the_full_run(pack_inputs: Inputs, full: BacktestResult, cut_day: date) -> None:
    short = _run(pack_inputs, cut_day, cut=True)
    upto = [d for d in full.decisions if d[0] <= cut_day]
    assert short.decisions == upto
    assert len(short.decisions) == len(pack_inputs.market.sessions("IWM", START, cut_day))
    # The books agree too: equity on every shared day is identical (fills before T do not depend on after T).
    assert short.equity_curve == full.equity_curve[: len(short.equity_curve)]


def test_the_window_exercises_more_than_one_regime(full: BacktestResult) -> None:
    assert len({regime for _, regime, _ in full.decisions}) >= 3
