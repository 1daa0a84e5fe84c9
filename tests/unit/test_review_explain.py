"""`explain`: a day's full record agrees with the journal; `runs` lists runs; metrics measure curves correctly."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from journal.journal import Journal
from review.cli import explain_command, runs_command
from review.metrics import buy_and_hold, metrics
from review.runs import ReviewError, open_runs
from tests.unit.test_review_simulated_journal import Plan, Truth, simulate


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    folder = tmp_path_factory.mktemp("journals")
    return folder, simulate(folder / "sim.sqlite", Plan("sim-explain"))


def test_explain_agrees_with_the_journal(sim: tuple[Path, Truth]) -> None:
    folder, truth = sim
    journal = Journal(folder / "sim.sqlite")
    for day in truth.decisions_with_intents[:6]:
        record = json.loads(explain_command([folder], "sim-explain", date.fromisoformat(day), fmt="json"))
        row = journal.query("SELECT * FROM decisions WHERE day=?", (day,))[0]
        assert (record["regime"], record["phase"], record["as_of"]) == (row["regime"], row["phase"], row["as_of"])
        assert record["reasons"] == json.loads(row["reasons_json"])
        assert record["inputs"] == json.loads(row["inputs_json"]) and record["target"] == json.loads(row["target_json"])
        intents = journal.query("SELECT * FROM intents WHERE decision_day=? ORDER BY client_order_id", (day,))
        assert sorted(o["intent"]["client_order_id"] for o in record["orders"]) == [i["client_order_id"] for i in intents]
        for order in record["orders"]:
            cid = order["intent"]["client_order_id"]
            events = journal.query("SELECT status FROM order_events WHERE client_order_id=? ORDER BY seq", (cid,))
            fills = journal.query("SELECT * FROM fills WHERE client_order_id=?", (cid,))
            assert [e["status"] for e in order["events"]] == [e["status"] for e in events]
            assert [f["execution_id"] for f in order["fills"]] == [f["execution_id"] for f in fills]
        book = journal.query("SELECT equity FROM equity WHERE day=?", (day,))[0]
        assert record["book"]["equity"] == book["equity"]
    journal.close()


def test_explain_text_shows_inputs_with_when_they_became_known_and_the_rules(sim: tuple[Path, Truth]) -> None:
    folder, truth = sim
    day = truth.decisions_with_intents[3]
    text = explain_command([folder], "sim-explain", date.fromisoformat(day))
    journal = Journal(folder / "sim.sqlite")
    inputs = json.loads(journal.query("SELECT inputs_json FROM decisions WHERE day=?", (day,))[0][0])
    journal.close()
    assert inputs["series"]["UNRATE"]["available_at"] in text
    for needle in ("inputs (value", "FOMC phase:", "indicators:", "rules:", "unemployment_rising", "vix_spike", "target:", "orders (", "book at the close"):
        assert needle in text, needle
    assert "FIRED" in text and "[filled]" in text


def test_explain_a_day_without_a_decision_names_the_nearest(sim: tuple[Path, Truth]) -> None:
    with pytest.raises(ReviewError, match=r"no decision on 2019-06-08 .*nearest: 2019-06-07, 2019-06-10"):
        explain_command([sim[0]], "sim-explain", date(2019, 6, 8))


def test_runs_lists_every_run_with_headline_metrics(tmp_path: Path) -> None:
    simulate(tmp_path / "a.sqlite", Plan("run-a", sessions=120))
    simulate(tmp_path / "b.sqlite", Plan("paper-b", kind="paper", sessions=60, label="paper session"))
    rows = json.loads(runs_command([tmp_path], fmt="json"))
    assert [(r["run_id"], r["kind"], r["start"]) for r in rows] == [("paper-b", "paper", "2019-06-03"), ("run-a", "backtest", "2019-06-03")]
    with open_runs([tmp_path / "a.sqlite"]) as source:
        expected = metrics(source.equity(source.run("run-a"))["equity"])
    assert rows[1]["total_return"] == pytest.approx(expected.total_return)
    assert rows[1]["max_drawdown"] == pytest.approx(expected.max_drawdown)
    assert "2 run(s)" in runs_command([tmp_path])
    assert json.loads(runs_command([tmp_path], kind="paper", fmt="json"))[0]["run_id"] == "paper-b"
    with pytest.raises(ReviewError, match="no journal"):
        runs_command([tmp_path / "missing"])


def test_metrics_of_known_curves() -> None:
    days = pd.bdate_range("2020-01-01", periods=4)
    m = metrics(pd.Series([100.0, 120.0, 90.0, 110.0], index=days))
    assert m.total_return == pytest.approx(0.10)
    assert m.max_drawdown == pytest.approx(90.0 / 120.0 - 1.0)
    assert m.longest_drawdown_days == 2
    year = pd.Series([100.0, 200.0], index=pd.DatetimeIndex(["2020-01-01", "2020-12-31 12:00"]))
    assert metrics(year).cagr == pytest.approx(1.0, rel=1e-3)
    closes = pd.Series([50.0, 55.0, 44.0], index=pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-06"]))
    held = buy_and_hold(closes, pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-06"]), 1000.0)
    assert held.tolist() == pytest.approx([1000.0, 1000.0, 800.0])  # a day without a close keeps the last one
