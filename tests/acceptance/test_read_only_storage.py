"""A state directory on storage that cannot be written (a read-only bind mount; skipped where mounting is not
allowed): the read-only commands still read the store and the journals and create nothing there; a journal that can
only be read by writing next to it (a pending write-ahead log) is named with that cause, not "not a journal"; a
command that must write (a backtest) says it cannot write there."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clock import ManualClock
from main import main

NOW = ManualClock(datetime(2026, 6, 12, 12, 0, tzinfo=UTC))


def _mount(*argv: str) -> bool:
    return subprocess.run(["mount", *argv], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory, pack_dir: Path) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """A state with one short backtest and a journal with a pending WAL, seen through a read-only bind mount."""
    base = tmp_path_factory.mktemp("readonly")
    state, view = base / "state", base / "view"
    env = {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": os.environ.get("PATH", "/usr/bin")}
    argv = ["--set", f'data.store_dir="{state}"', "backtest", "--start", "2024-01-02", "--end", "2024-02-15", "--no-progress"]
    assert main(argv, env=env, clock=NOW) == 0
    (journal,) = (state / "journals").glob("*.sqlite")
    run_id = journal.stem
    writer = sqlite3.connect(journal)  # a copy taken while a writer has the log: the -wal is not empty
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("INSERT INTO meta VALUES ('note', 'pending')")
    writer.commit()
    shutil.copyfile(journal, state / "journals" / "pending.sqlite")
    shutil.copyfile(journal.with_name(journal.name + "-wal"), state / "journals" / "pending.sqlite-wal")
    writer.close()
    for side in (state / "journals").glob("*-shm"):
        side.unlink()
    view.mkdir()
    if not (_mount("--bind", str(state), str(view)) and _mount("-o", "remount,ro,bind", str(view))):
        subprocess.run(["umount", str(view)], capture_output=True, check=False)
        pytest.skip("no permission to mount a read-only bind (needs root with CAP_SYS_ADMIN)")
    try:
        yield view, run_id, env
    finally:
        subprocess.run(["umount", str(view)], capture_output=True, check=True)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_read_only_commands_read_a_read_only_state_and_write_nothing(capsys: pytest.CaptureFixture[str],
                                                                    read_only: tuple[Path, str, dict[str, str]]) -> None:
    view, run_id, env = read_only
    sets = ["--set", f'data.store_dir="{view}"']
    before = listing(view)
    commands = ((["runs"], run_id), (["explain", run_id, "2024-01-03"], "FOMC phase:"), (["trades", run_id, "--csv"], "symbol"),
                (["data", "status"], "datasets"), (["signals", "--as-of", "2024-03-01"], "PHASE"), (["regimes", "--start", "2020-01-02"], "late_cuts"))
    for argv, needle in commands:
        code = main([*sets, *argv], env=env, clock=NOW)
        out, err = capsys.readouterr()
        assert code == 0 and needle in out, (argv, out[-500:], err)
        assert "error" not in err and "Traceback" not in err, (argv, err)
        if argv[0] in ("runs", "explain", "trades"):  # the journal with a pending log: one warning with its real cause
            (line,) = err.strip().splitlines()
            assert line.startswith("warning: skipped ") and "pending.sqlite" in line and f"cannot write in {view / 'journals'}" in line, line
    assert listing(view) == before  # no -shm / -wal left: the journals were read immutable


def test_a_command_that_must_write_says_it_cannot_write_there(capsys: pytest.CaptureFixture[str], read_only: tuple[Path, str, dict[str, str]]) -> None:
    view, _, env = read_only
    code = main(["--set", f'data.store_dir="{view}"', "backtest", "--start", "2024-01-02", "--end", "2024-02-01", "--no-progress"], env=env, clock=NOW)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and err.startswith(f"error: {view / 'journals'}") and "cannot write there" in err, err


def test_a_changed_pack_on_a_read_only_store_names_the_store_and_why(capsys: pytest.CaptureFixture[str], read_only: tuple[Path, str, dict[str, str]],
                                                                     tmp_path: Path) -> None:
    view, _, env = read_only
    pack = tmp_path / "pack"
    shutil.copytree(env["CUTCYCLE_DATA_DIR"], pack)
    unrate = pack / "fred" / "UNRATE.csv"
    lines = unrate.read_text().splitlines()
    day, value = lines[-1].split(",")
    unrate.write_text("\n".join([*lines[:-1], f"{day},{float(value) + 0.2:.1f}"]) + "\n")
    code = main(["--set", f'data.store_dir="{view}"', "data", "status"], env={**env, "CUTCYCLE_DATA_DIR": str(pack)}, clock=NOW)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and line.startswith(f"error: {view / 'store.sqlite'}: read-only: cannot write in {view}") and "data pack changed" in line, line
