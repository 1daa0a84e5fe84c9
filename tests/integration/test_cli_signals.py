"""`main.py signals` and `main.py events` through the CLI entry point, on the real pack."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clock import ManualClock
from main import main

CLOCK = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("state"))


def run(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--set", f'data.store_dir="{state}"', *argv], env={"CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=CLOCK)
    out, err = capsys.readouterr()
    return code, out, err


def test_signals_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path) -> None:
    code, out, _ = run(capsys, state, pack_dir, "signals", "--as-of", "2008-10-15", "--json")
    assert code == 0
    snap = json.loads(out)
    assert {"as_of", "phase", "indicators", "regime"} <= set(snap)
    assert snap["regime"]["name"] == "crisis"
    assert snap["regime"]["runner_up"] in {"soft_landing", "recession_risk", "late_cuts", "tightening", "neutral"}
    assert snap["regime"]["reasons"]


def test_signals_history_csv_and_chart(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path, tmp_path: Path) -> None:
    chart = tmp_path / "regimes.png"
    code, out, _ = run(capsys, state, pack_dir, "signals", "--history", "2024-06-03", "2024-12-31", "--csv", "--chart", str(chart))
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("day") and len(lines) > 100
    assert chart.stat().st_size > 10_000 and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_events_json_cycles(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path) -> None:
    code, out, _ = run(capsys, state, pack_dir, "events", "--json")
    assert code == 0
    cycles = json.loads(out)["cycles"]
    firsts = [c["first_cut"] for c in cycles]
    assert {"2001-01-03", "2007-09-18", "2019-07-31", "2024-09-18"} <= set(firsts)
    for c in cycles:
        assert set(c["after_first_cut"]) == {"1m", "3m", "6m", "12m"}


def test_bad_dates_exit_2(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path) -> None:
    assert run(capsys, state, pack_dir, "signals", "--as-of", "2008-13-01")[0] == 2
    assert run(capsys, state, pack_dir, "signals", "--history", "2024-12-01", "2024-01-01")[0] == 2
