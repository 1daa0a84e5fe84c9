"""A simulated paper session (the real runner, alpaca-py and the emulator seeded with the pack's bars) and a
backtest over the same 88 sessions make the same decisions: 2024-07-01 .. 2024-10-31 holds the FOMC meetings of
2024-07-31 and 2024-09-18 and the regime change neutral -> soft_landing at the September cut.

"The same decision" is the regime, the target weights, the put target, hold, and the reasons. Share counts may
differ by the fills (backtrader's slippage and commission vs the emulator's open price), so intents are compared
by symbol and side only.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from backtest.inputs import history, load_inputs
from backtest.run import RunSpec, run_backtest
from clock import NEW_YORK
from config.loader import load_config
from datastore.store import Store
from runner.simulate import simulate
from strategies.params import BacktestParams, StrategyParams
from tests.integration.test_paper_support import rig

START, END = date(2024, 7, 1), date(2024, 10, 31)


def _core(target: dict[str, Any]) -> tuple[object, ...]:
    return (target["regime"], sorted(target["weights"]), target["puts"], target["hold"], len(target["reasons"]), target["reasons"][-3:])


def test_paper_and_backtest_decide_the_same(pack_store: Store, tmp_path: Path) -> None:
    cfg = load_config().config
    # The emulator fills at the open with no slippage or commission and pays no interest: price the backtest alike.
    strategy, costs = StrategyParams(), BacktestParams(slippage_bps=0.0, commission_per_share=0.0)
    inputs = load_inputs(pack_store, cfg, ["IWM", "SPY"])
    days = inputs.market.sessions("IWM", START, END)
    assert len(days) >= 60
    snaps = history(inputs.pit, days, cfg.signals)
    spec = RunSpec("bt-parity", "parity", datetime(2026, 1, 1, tzinfo=NEW_YORK), {}, "test")
    bt = run_backtest(inputs.market, snaps, strategy, costs, start=START, end=END, spec=spec, journal_path=None)
    backtest = {d: t for d, _, t in bt.decisions}

    first_wake = datetime.combine(START, time(12, 0), tzinfo=NEW_YORK)  # after the open: no decision from before START
    with rig(pack_store, tmp_path, START, END, at=first_wake) as r, r.session(prefetch=(START, END)) as (session, runner):
        report = simulate(runner, r.clock, START, END, r.exchange.advance_to)
        rows = session.deps.journal.query("SELECT day, target_json FROM decisions ORDER BY day")
        sent = r.exchange.post_log
    assert report.failed == 0
    paper = {date.fromisoformat(row["day"]): json.loads(row["target_json"]) for row in rows}
    assert sorted(paper) == sorted(backtest) == days
    regimes = {t["regime"] for t in paper.values()}
    assert {"neutral", "soft_landing"} <= regimes
    for day in days:
        assert _core(paper[day]) == _core(backtest[day]), day
        for symbol, weight in backtest[day]["weights"].items():  # equal up to the interest the backtest credits
            assert abs(paper[day]["weights"][symbol] - weight) < 0.005, (day, symbol)
    assert sent, "the paper session traded"
