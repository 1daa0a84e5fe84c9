"""A changed release rule or override takes effect on the next command, without deleting the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clock import ManualClock
from datastore.store import Store
from main import main

CLOCK = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
LATE_CLAIMS = 'series.ICSA.release={rule="days_after",days=12,time="08:30"}'


def claims(capsys: pytest.CaptureFixture[str], state: Path, pack_dir: Path, *overrides: str) -> dict[str, object]:
    argv = ["--set", f'data.store_dir="{state}"', *[a for o in overrides for a in ("--set", o)], "signals", "--as-of", "2024-03-15", "--json"]
    assert main(argv, env={"CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=CLOCK) == 0
    out, _ = capsys.readouterr()
    reading: dict[str, object] = json.loads(out)["indicators"]["claims_4w"]
    return reading


def test_a_rule_change_rederives_the_stored_series(capsys: pytest.CaptureFixture[str], tmp_path: Path, pack_dir: Path) -> None:
    state = tmp_path / "state"
    default = claims(capsys, state, pack_dir)
    assert (default["period"], default["available_at"]) == ("2024-03-09", "2024-03-14T12:30:00+00:00")
    store_file = state / "store.sqlite"
    inode = store_file.stat().st_ino
    version_before = versions(store_file)

    late = claims(capsys, state, pack_dir, LATE_CLAIMS)  # claims 12 days after the week: the 2024-03-09 week is not out
    assert (late["period"], late["available_at"]) == ("2024-03-02", "2024-03-14T12:30:00+00:00")
    late_version = versions(store_file)
    assert late_version.rsplit(":", 1)[0] == version_before.rsplit(":", 1)[0]  # same values, hash and fetch ...
    assert late_version != version_before  # ... released at other times: another version
    overridden = claims(capsys, state, pack_dir, 'series.ICSA.release_overrides={"2024-03-09"="2024-03-15T08:30"}')
    assert (overridden["period"], overridden["available_at"]) == ("2024-03-09", "2024-03-15T12:30:00+00:00")
    assert claims(capsys, state, pack_dir) == default  # and back

    assert store_file.stat().st_ino == inode  # the same store, never deleted or rebuilt
    assert versions(store_file) == version_before

    # the example: on 2025-01-06 the December report (2025-01-10) is not out, November's 4.2 % is what was known
    argv = ["--set", f'data.store_dir="{state}"', "signals", "--as-of", "2025-01-06", "--json"]
    assert main(argv, env={"CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=CLOCK) == 0
    unemployment = json.loads(capsys.readouterr()[0])["indicators"]["unemployment"]
    assert (unemployment["value"], unemployment["period"]) == (4.2, "2024-11-01")


def versions(path: Path) -> str:
    store = Store(path)
    try:
        return store.versions()["fred:ICSA"]
    finally:
        store.close()
