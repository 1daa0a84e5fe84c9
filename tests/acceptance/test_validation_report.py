"""`main.py validate` on the real pack (2000-06..2004-12: the 2001 and 2002-03 cycles): the folds partition the window,
the stitched benchmarks agree with buy and hold computed from the store, the overfitting statistics come with their
inputs, and the report opens offline in headless Chromium with every chart."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backtest.cli import validate_command
from clock import ManualClock
from datastore.store import Store
from main import main
from review.validation_report import SECTIONS
from tests.acceptance.test_report_chromium import DevTools, chromium, devtools

__all__ = ["chromium", "devtools"]

GRID = '[grid]\n"strategy.base_weight" = [0.3, 0.5, 0.8]\n"strategy.hedge.moneyness" = [0.85, 0.9]\n'


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Path]:
    state = tmp_path_factory.mktemp("state")
    grid = state / "grid.toml"
    grid.write_text(GRID)
    out = validate_command(
        grid, None, [f'data.store_dir="{state}"'], folds="cycles", in_sample_years=8, out_of_sample_years=3, rolling=False, start="2000-06-01",
        end="2004-12-31", as_json=True, out=state / "report.html", clock=ManualClock(datetime(2026, 8, 22, tzinfo=UTC)), env=dict(os.environ),
        processes=2, progress=False,
    )
    return state, json.loads(out.text), out.report


def test_folds_partition_the_window_and_benchmarks_agree(validated: tuple[Path, dict[str, Any], Path]) -> None:
    state, doc, _ = validated
    assert [f["fold"] for f in doc["folds"]] == ["cycle 2001", "cycle 2002-03"]
    assert len(doc["variants"]) == 6  # the base config (0.5, 0.90) is one of them: no extra run
    assert doc["folds"][0]["start"] == "2000-06-01" and doc["folds"][-1]["end"] == "2004-12-31"
    assert doc["folds"][0]["end"] < doc["folds"][1]["start"]
    store = Store(state / "store.sqlite")
    try:
        closes = store.bars("IWM")["close"]
    finally:
        store.close()
    window = closes[(closes.index >= "2000-06-01") & (closes.index <= "2004-12-31")]
    assert sum(f["sessions"] for f in doc["folds"]) == len(window)
    # the held-out windows cover the whole run, so the stitched IWM curve is buy and hold over the window
    assert doc["stitched_out_of_sample"]["IWM"]["total_return"] == pytest.approx(window.iloc[-1] / window.iloc[0] - 1.0, rel=1e-9)
    base = next(v for v in doc["variants"] if v["overrides"] == ["strategy.base_weight=0.5", "strategy.hedge.moneyness=0.9"])
    assert doc["stitched_out_of_sample"]["base config"]["total_return"] == pytest.approx(base["metrics"]["total_return"], rel=1e-9)
    for fold in doc["folds"]:
        assert 1 <= fold["oos_rank"] <= 6 and fold["chosen"] in range(6)
        assert fold["benchmarks"]["IWM"]["sharpe"] is not None
    dsr, pbo = doc["deflated_sharpe"], doc["pbo"]
    assert dsr["trials"] == 6 and 1.0 <= dsr["effective_trials"] <= 6.0 and 0.0 <= dsr["dsr"] <= 1.0
    assert pbo["variants"] == 6 and pbo["blocks"] == 16 and pbo["combinations"] == 12870 and 0.0 <= pbo["pbo"] <= 1.0


def test_too_few_cycles_is_bad_input(validated: tuple[Path, dict[str, Any], Path], capsys: pytest.CaptureFixture[str]) -> None:
    state, _, _ = validated
    code = main([f'--set=data.store_dir="{state}"', "validate", str(state / "grid.toml"), "--start", "2005-01-03", "--end", "2006-12-29", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "fewer than two easing cycles" in err, err


def test_every_sweep_prints_the_overfitting_statistics(validated: tuple[Path, dict[str, Any], Path], capsys: pytest.CaptureFixture[str]) -> None:
    state, _, _ = validated
    code = main([f'--set=data.store_dir="{state}"', "sweep", str(state / "grid.toml"), "--start", "2003-01-02", "--end", "2004-12-31", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0 and max(len(line) for line in text.splitlines()) <= 120, text
    out = " ".join(text.split())  # the statistics' inputs wrap to fit the terminal
    assert "deflated Sharpe ratio of the best variant (#1 " in out and "N = 6 variants" in out and "mean correlation" in out
    assert "probability of backtest overfitting (CSCV): PBO = " in out and "in S = 16 blocks -> 12870 splits" in out
    doc = json.loads(next(state.glob("journals/sweep-*/overfitting.json")).read_text())
    assert doc["deflated_sharpe"]["trials"] == 6 and 0.0 <= doc["pbo"]["pbo"] <= 1.0


def test_report_opens_offline_with_every_chart(devtools: DevTools, validated: tuple[Path, dict[str, Any], Path]) -> None:
    _, doc, report = validated
    html = report.read_text()
    assert f"{doc['pbo']['pbo']:.3f}" in html and f"{doc['deflated_sharpe']['dsr']:.3f}" in html
    devtools.open(report.as_uri())
    assert devtools.problems() == []
    assert all(u.startswith(("file:", "data:")) for u in devtools.requests()), devtools.requests()
    state = devtools.call("Runtime.evaluate", returnByValue=True, expression=(
        "({sections: Array.from(document.querySelectorAll('section')).map(s => s.id),"
        " folds: document.querySelectorAll('#fold-table tbody tr').length,"
        " images: Array.from(document.images).map(i => [i.id, i.complete, i.naturalWidth, i.getBoundingClientRect().width])})"))["result"]["value"]
    assert state["sections"] == list(SECTIONS)
    assert state["folds"] == 2
    assert [i[0] for i in state["images"]] == ["oos-chart", "logit-chart", "param-chart-0", "param-chart-1"]
    assert all(complete and natural > 500 and shown > 300 for _, complete, natural, shown in state["images"]), state["images"]
