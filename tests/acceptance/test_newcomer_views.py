"""Issue 16, items 6-12: every view shows the same number under one definition, output fits a terminal, runs know
their window and their size, and old runs can be pruned. Short backtests through `main.py`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clock import ManualClock
from config.loader import PROJECT_ROOT
from main import main
from review.metrics import SHARPE_LABEL, fmt_num

NOW = ManualClock(datetime(2026, 6, 12, 12, 0, tzinfo=UTC))
WINDOW = ["--start", "2019-01-02", "--end", "2020-12-31"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, pack_dir: Path) -> Iterator[tuple[list[str], dict[str, str], dict[str, dict[str, object]]]]:
    """Two variants backtested over the same two years; their `backtest --json` documents by label."""
    root = tmp_path_factory.mktemp("views")
    sets = ["--set", f'data.store_dir="{root}/state"']
    env = {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": os.environ.get("PATH", "/usr/bin")}
    docs: dict[str, dict[str, object]] = {}
    for label, extra in (("base", []), ("heavy", ["--set", "strategy.base_weight=0.9"])):
        out = subprocess.run([sys.executable, "main.py", *sets, "backtest", *WINDOW, *extra, "--json", "--no-progress", "--label", label],
                             cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True, timeout=120)
        docs[label] = json.loads(out.stdout)
    yield sets, env, docs


def run(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    code = main(argv, env=env, clock=NOW)
    out, err = capsys.readouterr()
    return code, out, err


def test_6_one_sharpe_over_bills_in_every_view(capsys: pytest.CaptureFixture[str], two_runs: tuple[list[str], dict[str, str], dict[str, dict[str, object]]],
                                              tmp_path: Path) -> None:
    sets, env, docs = two_runs
    sharpe = {label: doc["strategy"]["sharpe"] for label, doc in docs.items()}  # type: ignore[index]
    ids = {label: str(doc["run_id"]) for label, doc in docs.items()}
    code, out, _ = run(capsys, [*sets, "runs", "--json"], env)
    listed = {r["label"]: r for r in json.loads(out)}
    assert code == 0
    for label in docs:
        assert listed[label]["sharpe"] == pytest.approx(sharpe[label], rel=1e-9)
    code, out, _ = run(capsys, [*sets, "compare", ids["base"], ids["heavy"], "--json"], env)
    compared = json.loads(out)["metrics"]
    assert compared["a"]["sharpe"] == pytest.approx(sharpe["base"], rel=1e-9)
    assert compared["b"]["sharpe"] == pytest.approx(sharpe["heavy"], rel=1e-9)
    code, out, _ = run(capsys, [*sets, "compare", ids["base"], ids["heavy"]], env)
    row = next(line for line in out.splitlines() if line.startswith(SHARPE_LABEL))
    assert fmt_num(sharpe["base"]) in row and fmt_num(sharpe["heavy"]) in row  # type: ignore[arg-type]
    report = tmp_path / "r.html"
    code, _, _ = run(capsys, [*sets, "report", ids["base"], "--out", str(report)], env)
    html = report.read_text()
    assert code == 0 and SHARPE_LABEL in html and "vs zero" not in html
    iwm = docs["base"]["benchmarks"]["IWM"]["sharpe"]  # type: ignore[index]
    assert f">{fmt_num(sharpe['base'])}<" in html and f">{fmt_num(iwm)}<" in html  # type: ignore[arg-type]
