"""`main.py config show` and `main.py data status` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clock import ManualClock
from config.loader import PROJECT_ROOT
from main import main

NOW = ManualClock(datetime(2026, 6, 12, 12, 0, tzinfo=UTC))


def run(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    code = main(argv, env=env, clock=NOW)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env(tmp_path: Path, pack_dir: Path) -> dict[str, str]:
    return {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": "/usr/bin"}


def test_data_status_json_lists_every_pack_series(capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, ["--set", f"data.store_dir=\"{tmp_path}/state\"", "data", "status", "--json"], env)
    assert code == 0
    payload = json.loads(out)
    rows = {r["id"]: r for r in payload["series"]}
    for sid in ("CPIAUCSL", "UNRATE", "ICSA", "NFCI", "DGS2", "BAMLH0A0HYM2", "IWM", "SPY", "RUT", "GSPC", "VIX", "FOMC"):
        assert sid in rows
    for row in payload["series"]:
        assert set(row) >= {"id", "source", "first", "last", "rows", "last_available_at", "stale"}
    # At 2026-06-12: May CPI is due 2026-06-15, so the April print is current; SAHMREALTIME stopped in 2025.
    assert rows["CPIAUCSL"]["stale"] is False
    assert rows["CPIAUCSL"]["last_available_at"].startswith("2026-05-12T12:30")  # the record
    assert rows["SAHMREALTIME"]["stale"] is True
    assert rows["RUT"]["stale"] is True and rows["IWM"]["stale"] is False
    # NBER labels are stored as never available (never an input), yet the store holds them all: shown as such, not as empty
    assert rows["USREC"]["rows"] > 2000 and rows["USREC"]["first"] == "1854-12-01" and "label only" in rows["USREC"]["note"]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "state" / "store.sqlite").stat().st_mode & 0o777 == 0o600


def test_data_status_table_is_readable(capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, ["--set", f"data.store_dir=\"{tmp_path}/s\"", "data", "status"], env)
    assert code == 0
    assert "CPIAUCSL" in out and "STALE" in out and "last available (UTC)" in out


def test_data_status_as_of_a_past_date_shows_what_was_known_then(capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path) -> None:
    sets = ["--set", f"data.store_dir=\"{tmp_path}/s\""]
    code, out, _ = run(capsys, [*sets, "data", "status", "--as-of", "1990-01-01", "--json"], env)
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)["series"]}
    for sid, note in (("IWM", "no bars yet (first session 2000-05-26)"), ("VIX", "no bars yet"), ("DFEDTARU", "nothing published yet")):
        assert (rows[sid]["rows"], rows[sid]["last"], rows[sid]["stale"]) == (0, None, False) and rows[sid]["note"].startswith(note), rows[sid]
    assert rows["CPIAUCSL"]["last"] == "1989-11-01" and rows["CPIAUCSL"]["last_available_at"].startswith("1989-12")  # not 2026
    assert rows["GSPC"]["last"] == "1989-12-29"
    code, text, _ = run(capsys, [*sets, "data", "status", "--as-of", "1990-01-01"], env)
    iwm = next(line for line in text.splitlines() if line.startswith("IWM "))
    assert code == 0 and " ok " not in iwm and "no bars yet" in iwm


def test_missing_pack_exits_2_naming_the_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    env = {"CUTCYCLE_DATA_DIR": str(tmp_path / "no-pack")}
    code, _, err = run(capsys, ["--set", f"data.store_dir=\"{tmp_path}/s\"", "data", "status"], env)
    assert code == 2
    assert str(tmp_path / "no-pack") in err and "data pack directory not found" in err


def test_config_show_never_prints_secrets(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    env = {**env, "APCA_API_SECRET_KEY": "SENTINELSECRETVALUE", "FRED_API_KEY": "SENTINELFREDVALUE"}
    code, out, err = run(capsys, ["config", "show"], env)
    assert code == 0
    assert "SENTINEL" not in out + err
    assert "[fred]" in out and "FRED_API_KEY: set (redacted)" in out
    code, out, _ = run(capsys, ["config", "show", "--json"], env)
    assert json.loads(out)["config"]["alpaca"]["live"] is False


def test_bad_usage_exits_2_and_every_command_has_help() -> None:
    bad = subprocess.run([sys.executable, "main.py", "data", "nope"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    for argv in (["--help"], ["data", "--help"], ["data", "status", "--help"], ["data", "sync", "--help"], ["config", "show", "--help"]):
        done = subprocess.run([sys.executable, "main.py", *argv], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "usage:" in done.stdout, argv


def test_data_sync_without_keys_says_what_is_missing(capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, ["--set", f"data.store_dir=\"{tmp_path}/s\"", "data", "sync"], env)
    assert code == 2  # missing keys are bad input, as in `paper`
    assert "FRED: skipped: FRED_API_KEY is not set" in out
    assert "APCA_API_KEY_ID, APCA_API_SECRET_KEY not set" in out
