"""`trades`: fills paired into lots agree with the journal (P&L adds up to the equity change, decisions match)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from journal.journal import Journal
from review.cli import trades_command
from review.runs import ReviewError, RunSource, open_runs
from review.trades import pair_trades, select_trades
from strategies.intents import OrderIntent
from tests.unit.test_review_simulated_journal import START_CASH, Plan, Truth, simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    folder = tmp_path_factory.mktemp("journals")
    return folder, simulate(folder / "sim.sqlite", Plan("sim-trades"))


@pytest.fixture
def source(sim: tuple[Path, Truth]) -> Iterator[RunSource]:
    with open_runs([sim[0]]) as src:
        yield src


def test_trade_pnl_plus_interest_is_the_change_in_equity(source: RunSource, sim: tuple[Path, Truth]) -> None:
    ref = source.run("sim-trades")
    trades = pair_trades(source, ref)
    final = float(source.equity(ref)["equity"].iloc[-1])
    assert sum(t.pnl for t in trades) + sim[1].interest == pytest.approx(final - START_CASH, abs=1e-6)


def test_every_trade_carries_the_decision_behind_it(source: RunSource) -> None:
    ref = source.run("sim-trades")
    decisions = {r["day"]: r for r in source.decisions(ref)}
    intents = {(i["decision_day"], i["symbol"], i["side"]): i for i in source.intents(ref)}
    trades = pair_trades(source, ref)
    for t in trades:
        row = decisions[t.entry.day]
        assert t.entry.regime == row["regime"]
        assert list(t.entry.reasons) == json.loads(row["reasons_json"])
        assert t.entry.order_reason == intents[(t.entry.day, t.symbol, "buy")]["reason"]
        assert t.entry_day > t.entry.day  # filled at the open after the decision
        if t.exit is not None:
            assert t.exit.regime == decisions[t.exit.day]["regime"]


def test_quantities_are_conserved_and_open_lots_match_the_last_book(source: RunSource) -> None:
    ref = source.run("sim-trades")
    trades = pair_trades(source, ref)
    bought: dict[str, float] = {}
    for f in source.fills(ref):
        if f["side"] == "buy":
            bought[f["symbol"]] = bought.get(f["symbol"], 0.0) + f["qty"]
    assert {s: sum(t.qty for t in trades if t.symbol == s) for s in bought} == bought
    positions = source.positions(ref)
    last = {p["symbol"]: p["qty"] for p in positions if p["day"] == positions[-1]["day"]}
    assert {s: sum(t.qty for t in trades if t.symbol == s and t.exit_kind == "open") for s in last} == last
    assert any(t.exit_kind == "expiry" and t.asset_class == "option" for t in trades)
    assert all(t.synthetic for t in trades if t.asset_class == "option")


def test_fifo_splits_lots_and_shares_fees(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "tiny.sqlite")
    t0 = datetime(2024, 1, 2, 14, tzinfo=UTC)
    journal.start_run("tiny", kind="backtest", label="tiny", created_at=t0, config={}, config_hash="h", data_versions={}, code_version="t")
    for n, (side, qty, price, fees) in enumerate([("buy", 100, 10.0, 1.0), ("buy", 50, 12.0, 0.0), ("sell", 120, 15.0, 1.2)]):
        day = date(2024, 1, 2 + n)
        journal.record_decision("tiny", day=day.isoformat(), as_of=t0.replace(day=2 + n), regime="neutral", runner_up=None, phase=None, reasons=[f"r{n}"],
                                snapshot={}, inputs={}, target={})
        intent = OrderIntent(day, "IWM", "equity", side, qty, "market_on_open", f"why {n}")
        journal.record_intent("tiny", intent, at=t0.replace(day=2 + n))
        journal.record_fill("tiny", execution_id=f"x{n}", client_order_id=intent.client_order_id, symbol="IWM", side=side, qty=qty, price=price, fees=fees,
                            at=t0.replace(day=3 + n))
    journal.record_day("tiny", day="2024-01-05", cash=0.0, shares_value=30 * 16.0, options_value=0.0, equity=0.0, interest=0.0, fees=0.0, regime="neutral",
                       positions=[{"symbol": "IWM", "asset_class": "equity", "qty": 30, "mark": 16.0, "market_value": 480.0}])
    journal.close()
    with open_runs([tmp_path]) as src:
        trades = pair_trades(src, src.run("tiny"))
    expected = [(100, 10.0, 15.0, "fill"), (20, 12.0, 15.0, "fill"), (30, 12.0, 16.0, "open")]
    assert [(t.qty, t.entry_price, t.exit_price, t.exit_kind) for t in trades] == expected
    assert trades[0].pnl == pytest.approx(500 - 1.0 - 1.0)
    assert trades[1].pnl == pytest.approx(60 - 0.2)
    assert trades[2].pnl == pytest.approx(120.0)
    assert (trades[0].entry.reasons, trades[0].exit.reasons if trades[0].exit else None) == (("r0",), ("r2",))


def test_trades_command_filters_and_formats(sim: tuple[Path, Truth], source: RunSource) -> None:
    folder = sim[0]
    everything = pair_trades(source, source.run("sim-trades"))
    window = select_trades(everything, start=date(2020, 1, 1), end=date(2020, 3, 31))
    assert 0 < len(window) < len(everything)
    rows = list(csv.DictReader(io.StringIO(trades_command([folder], "sim-trades", start=date(2020, 1, 1), end=date(2020, 3, 31), fmt="csv"))))
    assert len(rows) == len(window)
    assert all(r["entry_day"] <= "2020-03-31" and (r["exit_day"] == "" or r["exit_day"] >= "2020-01-01") for r in rows)
    puts = json.loads(trades_command([folder], "sim-trades", symbol="IWM", fmt="json"))
    assert len(puts) == len(everything)  # options on IWM count as IWM
    one_put = next(t.symbol for t in everything if t.asset_class == "option")
    assert {t["symbol"] for t in json.loads(trades_command([folder], "sim-trades", symbol=one_put, fmt="json"))} == {one_put}
    text = trades_command([folder], "sim-", fmt="text")  # an unambiguous prefix is enough
    assert "late_cuts" in text and "net of fees" in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120 and "…" not in text  # the whole reason, wrapped under its trade
    assert any(line.startswith(one_put + " ") for line in lines)  # an OCC symbol is never cut
    assert sum(line.startswith("    why: ") for line in lines) == len(everything)
    with pytest.raises(ReviewError, match="no run"):
        trades_command([folder], "nope")
