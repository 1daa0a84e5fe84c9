"""`main.py data releases`: what was last published and what the bot waits for, record or rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clock import ManualClock
from main import main

CLOCK = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("state"))


def run(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--set", f'data.store_dir="{state}"', "data", "releases", *argv], env={"CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=CLOCK)
    out, err = capsys.readouterr()
    return code, out, err


def rows(out: str) -> dict[str, dict[str, Any]]:
    return {r["series"]: r for r in json.loads(out)["series"]}


def test_in_the_2025_shutdown_the_bot_waits_for_the_recorded_catch_up(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path) -> None:
    code, out, _ = run(capsys, state, pack_dir, "--as-of", "2025-11-19", "--series", "UNRATE", "--series", "CPIAUCSL", "--series", "DGS10", "--json")
    assert code == 0
    got = rows(out)
    assert list(got) == ["UNRATE", "CPIAUCSL", "DGS10"]
    unrate = got["UNRATE"]
    assert (unrate["last_period"], unrate["last_published"], unrate["last_from"]) == ("2025-08-01", "2025-09-05T12:30:00+00:00", "record")
    assert (unrate["next_period"], unrate["next_expected"], unrate["next_from"]) == ("2025-09-01", "2025-11-20T13:30:00+00:00", "record")
    assert unrate["overdue"] is False
    # October CPI was never published: after September comes November, on 2025-12-18
    assert (got["CPIAUCSL"]["next_period"], got["CPIAUCSL"]["next_expected"]) == ("2025-11-01", "2025-12-18T13:30:00+00:00")
    assert (got["DGS10"]["next_from"], got["DGS10"]["next_expected"]) == ("rule", "2025-11-20T21:15:00+00:00")


def test_upcoming_is_sorted_and_marks_overdue_releases(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path) -> None:
    code, out, _ = run(capsys, state, pack_dir, "--as-of", "2025-11-19", "--upcoming")
    assert code == 0
    lines = out.splitlines()
    assert "record" in lines[0] and lines[1].split()[:2] == ["series", "last"]
    body = [line.split()[0] for line in lines[3:]]
    assert body.index("ICSA") < body.index("DFF") < body.index("DGS10")  # 08:30, 09:00, 16:15 on 2025-11-20
    assert "USREC" not in body  # label only: never awaited
    code, out, _ = run(capsys, state, pack_dir, "--upcoming", "--series", "SAHMREALTIME", "--json")  # it ends in 2025-08
    assert rows(out)["SAHMREALTIME"]["overdue"] is True


def test_unknown_series_exits_2(capsys: pytest.CaptureFixture[str], state: str, pack_dir: Path) -> None:
    code, _, err = run(capsys, state, pack_dir, "--series", "NOPE")
    assert code == 2 and "NOPE" in err and err[-1] == "\n" and err.count("\n") == 1
