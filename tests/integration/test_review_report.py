"""`report` and `compare` end to end on simulated journals: every section, embedded charts, PNG files, nothing remote."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from review.cli import compare_command, report_command
from review.report import SECTIONS, build_report
from review.runs import open_runs
from tests.unit.test_review_simulated_journal import WEIGHTS, Plan, Truth, simulate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    folder = tmp_path_factory.mktemp("journals")
    truth = simulate(folder / "base.sqlite", Plan("base", label="base variant"))
    simulate(folder / "defensive.sqlite", Plan("defensive", label="defensive variant", weights={**WEIGHTS, "late_cuts": 0.6, "soft_landing": 0.9}))
    return folder, truth


def test_report_holds_every_section_and_embeds_its_charts(journals: tuple[Path, Truth], tmp_path: Path) -> None:
    folder, truth = journals
    progress = io.StringIO()
    written = report_command([folder], "base", out=tmp_path / "base.html", progress=progress)
    html = (tmp_path / "base.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html, section
    for table in ("metrics-table", "trades-table", "decision-log"):
        assert f'id="{table}"' in html
    images = re.findall(r'<img class="chart" id="([a-z-]+)" alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert [name for name, _ in images] == ["equity-chart", "drawdown-chart", "hedge-chart"]
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for _, data in images)
    # nothing that would be fetched: no remote URL in any src/href, no script, a CSP that forbids the network
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "<script" not in html and "default-src 'none'" in html
    assert [p.name for p in written] == ["base.html", "base-equity.png", "base-drawdown.png", "base-hedge.png"]
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in written[1:])
    assert "report base" in progress.getvalue() and "/8 [" in progress.getvalue()  # a tqdm bar over the build steps
    # the decision log shows the reasons of the days that changed; the regime changes are all there
    for regime in WEIGHTS:
        assert regime in html
    assert "late_cuts: scripted playbook" in html
    assert f"{len(truth.meetings)} FOMC decisions" in html


def test_report_metrics_and_benchmarks(journals: tuple[Path, Truth]) -> None:
    folder, truth = journals
    with open_runs([folder]) as source:
        ref = source.run("base")
        from_journal = build_report(source, ref)
        closes = {"IWM": pd.Series(truth.iwm).rename(index=pd.Timestamp), "SPY": pd.Series(truth.spy).rename(index=pd.Timestamp)}
        from_store = build_report(source, ref, benchmark_closes=closes)
        equity = source.equity(ref)["equity"]
    assert set(from_journal.metrics) == {"strategy", "IWM", "SPY"}
    iwm_days = sorted(truth.iwm)
    assert from_journal.metrics["IWM"].total_return == pytest.approx(truth.iwm[iwm_days[-1]] / truth.iwm[iwm_days[0]] - 1.0)
    assert from_store.metrics["SPY"].total_return == pytest.approx(from_journal.metrics["SPY"].total_return)
    assert from_journal.metrics["strategy"].end_equity == pytest.approx(float(equity.iloc[-1]))
    assert "decision snapshots" in from_journal.benchmark_source and "store" in from_store.benchmark_source


def test_report_is_deterministic(journals: tuple[Path, Truth]) -> None:
    with open_runs([journals[0]]) as source:
        ref = source.run("base")
        assert build_report(source, ref).html == build_report(source, ref).html


def test_compare_shows_both_runs_and_why_their_decisions_differ(journals: tuple[Path, Truth], tmp_path: Path) -> None:
    folder, _ = journals
    result = json.loads(compare_command([folder], "base", "defensive", fmt="json", out=tmp_path / "cmp.html"))
    expected = {("strategy.weights.late_cuts", 0.8, 0.6), ("strategy.weights.soft_landing", 1.0, 0.9)}
    assert {(d["key"], d["a"], d["b"]) for d in result["config_diff"]} == expected
    diffs = result["decision_diffs"]
    assert diffs and {d["regime_a"] for d in diffs} <= {"late_cuts", "soft_landing", "crisis", "recession_risk"}
    late = [d for d in diffs if d["regime_a"] == "late_cuts"]
    assert late and all(d["regime_b"] == "late_cuts" and d["what"][-1] == "target" for d in late)
    assert all("configs differ" in " ".join(d["why"]) for d in late)
    assert result["metrics"]["a"]["end_equity"] != result["metrics"]["b"]["end_equity"]
    html = (tmp_path / "cmp.html").read_text()
    assert 'id="equity-chart"' in html and 'id="decision-diffs"' in html
    assert (tmp_path / "cmp.png").read_bytes().startswith(PNG_MAGIC)
    text = compare_command([folder], "base", "defensive")
    assert "day(s) where the decisions differ" in text and "because same inputs and regime: the configs differ" in text


def test_a_label_in_a_script_the_font_lacks_draws_without_a_warning_on_the_terminal() -> None:
    import warnings

    from review import charts

    curve = pd.Series([100.0, 101.0, 99.5], index=pd.date_range("2024-01-02", periods=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's 'Glyph ... missing from font' would raise here
        png = charts.curves_chart({"crisé 危机 🚀": curve, "base": curve * 1.01}, "危机 vs base")
    assert png.startswith(PNG_MAGIC)
