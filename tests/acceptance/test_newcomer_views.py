"""Issue 16, items 6-12: every view shows the same number under one definition, output fits a terminal, runs know
their window and their size, and old runs can be pruned. Short backtests through `main.py`, as a user runs them."""

from __future__ import annotations

import json
import os
import re
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


def test_7_text_reads_right(capsys: pytest.CaptureFixture[str], two_runs: tuple[list[str], dict[str, str], dict[str, dict[str, object]]]) -> None:
    sets, env, _ = two_runs
    code, out, _ = run(capsys, [*sets, "signals", "--as-of", "2024-01-06"], env)  # a Saturday
    assert code == 0 and "2024-01-06 is not a trading session; the last session was 2024-01-05" in out and "(session 2024-01-06)" not in out
    assert "<10" not in out and "2023-12-01" in out  # indicator periods print as dates
    code, out, _ = run(capsys, [*sets, "signals", "--as-of", "2006-01-06"], env)  # no easing cycle under way
    assert code == 0 and "None" not in out and "no easing cycle under way" in out
    code, out, _ = run(capsys, [*sets, "events"], env)
    assert code == 0 and "average difference" in out
    assert not re.search(r"average difference [+-]\d+\.\d%", out) and re.search(r"average difference [+-]\d+\.\d pp", out)
    # A source that does not answer is named by its URL; a missing key is bad input (2) in data sync as in paper.
    fred = {**env, "FRED_API_KEY": "abcdefabcdefabcdefabcdefabcdef12"}
    code, out, err = run(capsys, [*sets, "--set", 'fred.root_url="http://127.0.0.1:1/fred"', "--set", "fred.max_attempts=1", "data", "sync",
                                  "--series", "CPIAUCSL"], fred)
    assert code == 1 and "at http://127.0.0.1:1/fred: connection refused" in out and "URLError" not in out + err and "abcdef" not in out + err
    code, _, _ = run(capsys, [*sets, "data", "sync"], env)
    assert code == 2
    assert run(capsys, [*sets, "paper"], env)[0] == 2


def test_8_output_fits_a_terminal(capsys: pytest.CaptureFixture[str], two_runs: tuple[list[str], dict[str, str], dict[str, dict[str, object]]]) -> None:
    sets, env, docs = two_runs
    ids = {label: str(doc["run_id"]) for label, doc in docs.items()}
    code, out, _ = run(capsys, [*sets, "runs"], env)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 120
    assert "heavy  [strategy.base_weight=0.9]" in out and "Sharpe is over the bill rate" in out
    code, wide, _ = run(capsys, [*sets, "runs", "--wide"], env)
    assert max(len(line) for line in wide.splitlines()) > 120 and str(docs["base"]["journal"]) in wide
    code, out, _ = run(capsys, [*sets, "explain", ids["base"], "2020-03-16"], env)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 120
    assert not re.search(r"\d\.\d{7,}", out), re.findall(r"\S*\d\.\d{7,}\S*", out)[:5]
    rules = out[out.index("rules:"):]
    assert rules.index("FIRED") < rules.index("not fired")  # the rules that fired first
    code, out, _ = run(capsys, [*sets, "compare", ids["base"], ids["heavy"], "--json"], env)
    compared = json.loads(out)
    code, text, _ = run(capsys, [*sets, "compare", ids["base"], ids["heavy"]], env)
    assert code == 0 and max(len(line) for line in text.splitlines()) <= 120
    differing, spans = len(compared["decision_diffs"]), len(compared["spans"])
    assert differing > 50 and spans < differing / 3 and f"{differing} day(s) where the decisions differ, in {spans} span(s)" in text
    assert sum(s["days"] for s in compared["spans"]) == differing
    assert "NOTE: the windows differ" not in text
    # the settings that differ, not where they came from (the --set list each run journals as its sources)
    assert [d["key"] for d in compared["config_diff"]] == ["strategy.base_weight"] and "sources" not in text, compared["config_diff"]


@pytest.mark.parametrize("command", [["events"], ["regimes"], ["data", "status"], ["data", "releases"], ["data", "releases", "--upcoming"],
                                     ["signals", "--as-of", "2020-03-16"], ["doctor"]])
def test_8b_every_text_view_fits_a_terminal(command: list[str], capsys: pytest.CaptureFixture[str],
                                            two_runs: tuple[list[str], dict[str, str], dict[str, dict[str, object]]]) -> None:
    """The tables and their notes fit 120 columns (a cell too long wraps inside its column; prose wraps under its label)."""
    sets, env, _ = two_runs
    code, out, _ = run(capsys, [*sets, *command], env)
    assert code in (0, 1) and out.strip(), (code, out)
    assert max(len(line) for line in out.splitlines()) <= 120, [line for line in out.splitlines() if len(line) > 120][:3]


def test_9_every_run_knows_its_window(capsys: pytest.CaptureFixture[str], two_runs: tuple[list[str], dict[str, str], dict[str, dict[str, object]]],
                                      tmp_path: Path) -> None:
    sets, env, docs = two_runs
    for label, doc in docs.items():
        out = tmp_path / f"{label}.html"
        assert run(capsys, [*sets, "report", str(doc["run_id"]), "--out", str(out)], env)[0] == 0
        html = out.read_text()
        assert f"{doc['start']} to {doc['end']}" in html and "? to ?" not in html and "None .. None" not in html
        hedged = doc["strategy"]["hedge_cost"] > 0  # type: ignore[index]
        assert ('<section id="hedge">' in html) == hedged and ('id="hedge-chart"' in html) == hedged
        if hedged:  # one definition of the hedge's cost and payoff: the backtest's figures are the report's
            for key in ("hedge_cost", "hedge_payoff"):
                shown = f"{doc['strategy'][key]:,.2f}"  # type: ignore[index]
                assert shown in html, (key, shown)
    # a run started but never finished (a crashed session) still shows the days it journaled
    from journal.journal import Journal

    journal = Journal(tmp_path / "open.sqlite")
    journal.start_run("open-session", kind="simulation", label="crashed", created_at=datetime(2026, 1, 5, tzinfo=UTC), config={}, config_hash="x",
                      data_versions={}, code_version="test")
    for day, cash in (("2024-09-03", 100.0), ("2024-09-04", 101.0)):
        journal.record_day("open-session", day=day, cash=cash, shares_value=0.0, options_value=0.0, equity=cash, interest=0.0, fees=0.0, regime=None,
                           positions=[])
    journal.close()
    from review.cli import runs_command

    listed = json.loads(runs_command([tmp_path / "open.sqlite"], fmt="json"))
    assert (listed[0]["start"], listed[0]["end"]) == ("2024-09-03", "2024-09-04")


def test_12_runs_show_their_disk_and_prune_frees_it(capsys: pytest.CaptureFixture[str], tmp_path: Path, pack_dir: Path) -> None:
    sets = ["--set", f'data.store_dir="{tmp_path}/state"']
    env = {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": os.environ.get("PATH", "/usr/bin")}
    window = ["--start", "2024-01-02", "--end", "2024-01-31", "--no-progress"]
    for label in ("old", "new"):
        assert run(capsys, [*sets, "backtest", *window, "--label", label], env)[0] == 0
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.base_weight" = [0.3, 0.6]\n')
    code, out, _ = run(capsys, [*sets, "sweep", str(grid), *window, "--processes", "1", "--label", "tiny"], env)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 120, out
    header = next(line for line in out.splitlines() if line.startswith("#"))
    assert " (tiny): 2 variants" in out and header.split() == ["#", "Sharpe", "CAGR", "max", "DD", "Calmar", "overrides"], out
    from journal.journal import Journal

    paper = Journal(tmp_path / "state" / "paper" / "paper.sqlite")  # a paper trader's record (real journal, no orders)
    paper.start_run("paper-1", kind="paper", label="paper", created_at=datetime(2026, 1, 5, tzinfo=UTC), config={}, config_hash="x",
                    data_versions={}, code_version="test")
    paper.close()
    code, out, _ = run(capsys, [*sets, "runs", "--json"], env)
    listed = json.loads(out)
    assert len(listed) == 5 and all(r["bytes"] > 0 for r in listed)
    assert {r["label"] for r in listed} >= {"old", "new", "tiny: strategy.base_weight=0.3", "tiny: strategy.base_weight=0.6"}
    code, out, _ = run(capsys, [*sets, "runs"], env)
    assert re.search(r"5 run\(s\) in 5 journal file\(s\), [\d.]+ [kM]B on disk", out), out
    code, _, err = run(capsys, [*sets, "runs", "prune"], env)
    assert code == 2 and "--older-than" in err
    code, out, _ = run(capsys, [*sets, "runs", "prune", "--kind", "backtest", "--keep", "1", "--dry-run"], env)
    assert code == 0 and "would remove 1 run(s)" in out and len(json.loads(run(capsys, [*sets, "runs", "--json"], env)[1])) == 5
    code, out, _ = run(capsys, [*sets, "runs", "prune", "--older-than", "0"], env)  # everything, but the paper session is kept
    assert code == 0 and "removed 4 run(s)" in out and "kept 1 paper session(s)" in out
    assert not list((tmp_path / "state" / "journals").iterdir())  # the sweep's folder and results went with its members
    assert [r["kind"] for r in json.loads(run(capsys, [*sets, "runs", "--json"], env)[1])] == ["paper"]
    code, out, _ = run(capsys, [*sets, "runs", "prune", "--older-than", "0", "--force"], env)
    assert "removed 1 run(s)" in out and not (tmp_path / "state" / "paper" / "paper.sqlite").exists()


def test_a_report_without_out_goes_beside_the_journals_whatever_the_directory(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                                                two_runs: tuple[list[str], dict[str, str], dict[str, dict[str, object]]],
                                                                                tmp_path: Path) -> None:
    sets, env, docs = two_runs
    monkeypatch.chdir(tmp_path)  # somewhere else than the repository
    run_id = str(docs["base"]["run_id"])
    code, out, _ = run(capsys, [*sets, "report", run_id], env)
    state = Path(sets[1].split("=", 1)[1].strip('"'))
    expected = state / "reports" / f"{run_id}.html"
    assert code == 0 and expected.is_file() and str(expected) in out
    assert not (tmp_path / "reports").exists()
