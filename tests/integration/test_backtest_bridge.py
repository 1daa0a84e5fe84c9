"""The backtrader bridge on real pack data with a scripted regime calendar (2007-2009: recession risk, crisis,
late cuts) and a real SQLite journal: equity identity on every bar, fills at the next open, synthetic flags."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from backtest.inputs import Inputs
from backtest.run import BacktestResult, RunSpec, run_backtest
from backtest.scripted import ScriptedDay, scripted_snapshots
from journal.journal import Journal
from strategies.params import BacktestParams, StrategyParams
from tests.integration.test_backtest_support import pack_inputs

__all__ = ["pack_inputs"]

START, END = date(2007, 1, 3), date(2009, 12, 31)
SCRIPT = [
    ScriptedDay(date(2006, 1, 1), "neutral"),
    ScriptedDay(date(2007, 8, 1), "recession_risk", "on_hold"),
    ScriptedDay(date(2008, 9, 15), "crisis", "cutting_later", date(2007, 9, 18)),
    ScriptedDay(date(2009, 1, 2), "late_cuts", "cutting_later", date(2007, 9, 18)),
]


@pytest.fixture(scope="module")
def run(pack_inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> tuple[BacktestResult, Path]:
    m = pack_inputs.market
    days = m.sessions("IWM", START, END)
    closes = {pd.Timestamp(d).date(): float(c) for d, c in m.bars["IWM"]["close"].items()}
    vix = {pd.Timestamp(d).date(): float(c) for d, c in m.vix["close"].items()}
    snaps = {s.day: s for s in scripted_snapshots(days, closes, vix, SCRIPT, bill_rate=3.0)}
    path = tmp_path_factory.mktemp("journal") / "run.sqlite"
    spec = RunSpec("bridge-test", "scripted", datetime(2026, 1, 1, tzinfo=UTC), {"script": "2007-2009"}, "test")
    params = StrategyParams.model_validate({"hedge": {"annual_budget": 0.03}})
    result = run_backtest(m, snaps, params, BacktestParams(), start=START, end=END, spec=spec, journal_path=path)
    return result, path


def test_equity_is_cash_plus_shares_plus_marked_options_on_every_bar(run: tuple[BacktestResult, Path], pack_inputs: Inputs) -> None:
    _, path = run
    j = Journal(path)
    equity = j.query("SELECT * FROM equity WHERE run_id='bridge-test' ORDER BY day")
    positions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pos in j.query("SELECT * FROM positions WHERE run_id='bridge-test'"):
        positions[pos["day"]].append(dict(pos))
    closes = pack_inputs.market.bars["IWM"]["close"]
    assert len(equity) == len(pack_inputs.market.sessions("IWM", START, END))
    options_days = 0
    for row in equity:
        assert row["equity"] == pytest.approx(row["cash"] + row["shares_value"] + row["options_value"], abs=1e-6)
        held = positions[row["day"]]
        shares = [p for p in held if p["asset_class"] == "equity"]
        opts = [p for p in held if p["asset_class"] == "option"]
        assert row["shares_value"] == pytest.approx(sum(float(p["market_value"]) for p in shares), abs=1e-6)
        assert row["options_value"] == pytest.approx(sum(float(p["market_value"]) for p in opts), abs=1e-6)
        for p in shares:
            if p["symbol"] == "IWM":
                assert p["mark"] == pytest.approx(float(closes.loc[pd.Timestamp(row["day"])]))
        assert all(p["synthetic"] == 1 for p in opts)
        options_days += bool(opts)
    assert options_days > 50  # the recession leg really held puts


def test_cash_is_rebuilt_from_fills_interest_and_settlements(run: tuple[BacktestResult, Path]) -> None:
    """Independent of the bridge's bookkeeping: start cash, plus every fill's cash flow, interest and expiry."""
    _, path = run
    j = Journal(path)
    flows: dict[str, float] = defaultdict(float)
    for f in j.query("SELECT * FROM fills WHERE run_id='bridge-test'"):
        mult = 100.0 if f["synthetic"] else 1.0
        sign = -1.0 if f["side"] == "buy" else 1.0
        flows[f["at"][:10]] += sign * f["qty"] * f["price"] * mult - f["fees"]
    import json

    for e in j.query("SELECT * FROM events WHERE run_id='bridge-test' AND kind='outside_event'"):
        flows[e["at"][:10]] += json.loads(e["detail_json"])["cash"]
    cash = BacktestParams().initial_cash
    for row in j.query("SELECT * FROM equity WHERE run_id='bridge-test' ORDER BY day"):
        cash += flows.get(row["day"], 0.0) + row["interest"]
        assert row["cash"] == pytest.approx(cash, abs=1e-6), row["day"]


def test_orders_fill_at_the_next_open_and_options_are_synthetic(run: tuple[BacktestResult, Path], pack_inputs: Inputs) -> None:
    _, path = run
    j = Journal(path)
    bars = pack_inputs.market.bars["IWM"]
    sessions = [d.date().isoformat() for d in bars.index]
    fills = j.query("SELECT f.*, i.decision_day FROM fills f JOIN intents i USING (client_order_id) WHERE f.run_id='bridge-test'")
    assert {f["synthetic"] for f in fills if f["symbol"] == "IWM"} == {0}
    assert {f["synthetic"] for f in fills if f["symbol"] != "IWM"} == {1}
    assert any(f["symbol"] != "IWM" and f["side"] == "buy" for f in fills)
    for f in fills:
        day = f["at"][:10]
        assert sessions.index(day) == sessions.index(f["decision_day"]) + 1  # the session after the decision
        if f["symbol"] == "IWM":
            opened = float(bars.loc[pd.Timestamp(day), "open"])
            slip = 5e-4 * opened
            assert (f["price"] - opened) * (1 if f["side"] == "buy" else -1) == pytest.approx(slip, rel=1e-6) or f["price"] in (
                float(bars.loc[pd.Timestamp(day), "high"]),
                float(bars.loc[pd.Timestamp(day), "low"]),
            )
            assert f["fees"] == pytest.approx(0.005 * f["qty"])


def test_every_session_has_a_journaled_decision_with_reasons(run: tuple[BacktestResult, Path]) -> None:
    result, path = run
    j = Journal(path)
    rows = j.query("SELECT day, regime, reasons_json, target_json FROM decisions WHERE run_id='bridge-test' ORDER BY day")
    assert [r["day"] for r in rows] == [d.isoformat() for d, _ in result.equity_curve]
    assert all(r["reasons_json"] != "[]" for r in rows)
    assert {r["regime"] for r in rows} == {"neutral", "recession_risk", "crisis", "late_cuts"}
    run_row = j.run("bridge-test")
    assert run_row is not None and run_row.status == "finished" and run_row.summary_json
    last = j.query(
        "SELECT status FROM order_events WHERE run_id='bridge-test' AND client_order_id IN (SELECT client_order_id FROM intents WHERE decision_day=?)",
        (END.isoformat(),),
    )
    assert all(e["status"] in ("pending_submit", "canceled") for e in last)  # the last bar sends nothing


def test_the_crisis_leg_is_in_cash_earning_the_bill_rate(run: tuple[BacktestResult, Path]) -> None:
    _, path = run
    j = Journal(path)
    rows = j.query("SELECT * FROM equity WHERE run_id='bridge-test' AND day BETWEEN '2008-10-01' AND '2008-12-31'")
    assert all(r["shares_value"] == 0 for r in rows)
    assert all(r["interest"] > 0 for r in rows)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_date_numbers_are_backtraders_own(unit: str) -> None:
    """The bridge's array conversion gives exactly `bt.date2num` of every day, whatever the index's resolution."""
    import backtrader as bt

    from broker.backtest_bridge import date_numbers

    index = pd.date_range("1900-01-01", "2100-12-31", freq="D", unit=unit)
    assert date_numbers(index) == [bt.date2num(ts.to_pydatetime()) for ts in index]


@pytest.mark.parametrize(
    "index",
    [pd.DatetimeIndex(["2024-01-02", "2024-01-03 09:30"]), pd.date_range("2024-01-02", periods=3, tz="America/New_York")],
    ids=["intraday stamp", "time-zone-aware"],
)
def test_date_numbers_refuse_what_is_not_a_day(index: pd.DatetimeIndex) -> None:
    from broker.backtest_bridge import date_numbers

    with pytest.raises(ValueError, match="daily bars must be indexed by"):
        date_numbers(index)
