"""One unreadable journal under the state directory (not a database, a truncated copy) does not break review: it is
skipped with one warning naming it and what to do; every other run still lists, explains and prunes; a run asked for
by id that is not found names the skipped files; a bad file named on its own is an error naming it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clock import ManualClock
from main import main

NOW = ManualClock(datetime(2026, 6, 12, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory, pack_dir: Path) -> Iterator[tuple[Path, list[str], dict[str, str]]]:
    """A state directory with one short backtest, a file that is not a database and a truncated copy of the journal."""
    root = tmp_path_factory.mktemp("badfiles") / "state"
    sets = ["--set", f'data.store_dir="{root}"']
    env = {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": os.environ.get("PATH", "/usr/bin")}
    argv = [*sets, "backtest", "--start", "2024-01-02", "--end", "2024-02-15", "--no-progress", "--label", "healthy"]
    assert main(argv, env=env, clock=NOW) == 0
    journals = root / "journals"
    (good,) = journals.glob("*.sqlite")
    (journals / "junk.sqlite").write_text("garbage\n")
    truncated = journals / "truncated.sqlite"
    shutil.copyfile(good, truncated)
    os.truncate(truncated, good.stat().st_size // 2)
    yield root, sets, env


def run(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    code = main(argv, env=env, clock=NOW)
    out, err = capsys.readouterr()
    return code, out, err


def warnings_name_both(err: str, root: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2, err
    junk, truncated = sorted(lines)
    assert junk.startswith("warning: skipped ") and str(root / "journals" / "junk.sqlite") in junk and "not a cutcycle journal" in junk, junk
    assert str(root / "journals" / "truncated.sqlite") in truncated and "damaged" in truncated, truncated
    assert all("move it out of" in line and "runs prune" in line for line in lines)
    assert "Traceback" not in err


def test_listing_explaining_and_pruning_skip_the_bad_files(capsys: pytest.CaptureFixture[str], state: tuple[Path, list[str], dict[str, str]]) -> None:
    root, sets, env = state
    code, out, err = run(capsys, [*sets, "runs"], env)
    assert code == 0 and "1 run(s) in 1 journal file(s)" in out, out + err
    warnings_name_both(err, root)
    run_id = next(line.split()[0] for line in out.splitlines() if line.startswith("bt-"))
    code, out, err = run(capsys, [*sets, "explain", run_id, "2024-01-03"], env)
    assert code == 0 and "FOMC phase:" in out, out + err
    warnings_name_both(err, root)
    code, out, err = run(capsys, [*sets, "trades", run_id, "--csv"], env)
    assert code == 0 and out.startswith("symbol"), out + err
    code, out, err = run(capsys, [*sets, "runs", "prune", "--dry-run", "--older-than", "0"], env)
    assert code == 0 and f"would remove {run_id}" in out, out + err
    warnings_name_both(err, root)


def test_a_run_not_found_names_the_files_that_could_not_be_read(capsys: pytest.CaptureFixture[str],
                                                                 state: tuple[Path, list[str], dict[str, str]]) -> None:
    root, sets, env = state
    code, _, err = run(capsys, [*sets, "explain", "bt-19990101", "2024-01-03"], env)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: no run 'bt-19990101'"), err
    assert str(root / "journals" / "junk.sqlite") in last and str(root / "journals" / "truncated.sqlite") in last, last


def test_a_bad_file_named_on_its_own_is_an_error_naming_it(tmp_path: Path) -> None:
    from review.runs import ReviewError, open_runs

    bad = tmp_path / "junk.sqlite"
    bad.write_text("garbage\n")
    with pytest.raises(ReviewError, match=f"{bad}.*not a cutcycle journal"), open_runs([bad]):
        pass
