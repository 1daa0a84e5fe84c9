"""Issue 16, items 1-5: the mistakes a newcomer makes end in one line naming the argument, file or key, exit 2 for bad
input and 1 for a failure, never a traceback. Each example of the issue is an input here."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clock import ManualClock
from config.loader import PROJECT_ROOT
from datastore.fred_source import error_detail, redact
from main import main
from tests.servers.ports import free_port

NOW = ManualClock(datetime(2026, 6, 12, 12, 0, tzinfo=UTC))
BAD_DATES = ("2024-13-01", "2024/01/01", "2000-02-30", "0000-01-01", "1899-01-01", "9999-12-31")


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory, pack_dir: Path) -> Iterator[tuple[list[str], dict[str, str]]]:
    """A state directory with the pack imported and one short backtest journaled; the `--set` that points at it."""
    root = tmp_path_factory.mktemp("newcomer")
    sets = ["--set", f'data.store_dir="{root}/state"']
    env = {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": os.environ.get("PATH", "/usr/bin")}
    assert main([*sets, "backtest", "--start", "2024-01-02", "--end", "2024-02-15", "--no-progress", "--label", "short"], env=env, clock=NOW) == 0
    yield sets, env


def run(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    code = main(argv, env=env, clock=NOW)
    out, err = capsys.readouterr()
    return code, out, err


def process(argv: list[str], env: dict[str, str], preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", *argv], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
                          preexec_fn=preexec_fn)


def one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_1_every_date_argument_is_parsed_and_range_checked_once(capsys: pytest.CaptureFixture[str], state: tuple[list[str], dict[str, str]]) -> None:
    sets, env = state
    for bad in BAD_DATES:  # every example through the two commands that printed tracebacks, two through the others
        for argv, arg in (
            (["backtest", "--start", bad, "--no-progress"], "--start"),
            (["backtest", "--end", bad, "--no-progress"], "--end"),
            (["sweep", str(PROJECT_ROOT / "examples" / "sweep-grid.toml"), "--start", bad, "--no-progress"], "--start"),
        ):
            code, _, err = run(capsys, [*sets, *argv], env)
            assert code == 2, (argv, err)
            one_line_error(err, arg, bad, "valid range")
    for bad in ("2024/01/01", "9999-12-31"):
        for argv, arg in (
            (["signals", "--as-of", bad], "--as-of"),
            (["signals", "--history", "2024-01-02", bad], "--history END"),
            (["data", "status", "--as-of", bad], "--as-of"),
            (["explain", "bt-", bad], "DATE"),
            (["paper", "--simulate", bad, "2024-09-27"], "--simulate START"),
        ):
            code, _, err = run(capsys, [*sets, *argv], env)
            assert code == 2, (argv, err)
            one_line_error(err, arg, bad, "valid range")
    windows = {
        ("2024-03-01", "2024-01-01"): "is before --start",  # the end before the start
        ("2024-01-05", "2024-01-05"): "only 1 trading session",  # one day
        ("2024-01-06", "2024-01-07"): "no trading session",  # a weekend
        ("1990-01-02", "1991-01-02"): "before IWM's bars begin",  # outside the data
    }
    for (start, end), says in windows.items():
        for command in (["backtest"], ["sweep", str(PROJECT_ROOT / "examples" / "sweep-grid.toml")]):
            code, _, err = run(capsys, [*sets, *command, "--start", start, "--end", end, "--no-progress"], env)
            assert code == 2, err
            one_line_error(err, says, "valid range 2000-05-26 ..")
    code, _, err = run(capsys, [*sets, "paper", "--simulate", "2024-01-06", "2024-01-07"], env)  # a weekend: checked before any broker
    assert code == 2
    one_line_error(err, "--simulate START 2024-01-06", "no trading session", "valid range")
    code, _, err = run(capsys, [*sets, "signals", "--as-of", "1950-01-03"], env)
    assert code == 2
    one_line_error(err, "--as-of 1950-01-03", "valid range")
    done = process([*sets, "backtest", "--start", "2024-13-01"], env)  # the process itself: exit 2, one line, no traceback
    assert done.returncode == 2
    one_line_error(done.stderr, "--start '2024-13-01'")


def test_2_one_error_boundary_for_files_sqlite_and_pipes(state: tuple[list[str], dict[str, str]], tmp_path: Path) -> None:
    sets, env = state
    # A reader that stops early: no BrokenPipeError, nothing on stderr.
    for argv in (["data", "status", "--json"], ["config", "show"], ["runs", "--json"]):
        shell = " ".join([f"'{sys.executable}'", "main.py", *[f"'{a}'" for a in [*sets, *argv]]]) + " | head -n 2"
        done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert len(done.stdout.splitlines()) == 2 and done.stderr == "", (argv, done.stderr)
    trades = subprocess.run(["bash", "-c", f"'{sys.executable}' main.py {' '.join(repr(a) for a in sets)} trades bt- --csv | head -n 1"],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert trades.stderr == "" and trades.stdout.startswith("symbol"), trades.stderr
    # A corrupt store: one line naming the file and what to do, exit 1; DEBUG also shows the trace.
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "store.sqlite").write_bytes(b"this is not a database" * 100)
    bad_store = ["--set", f'data.store_dir="{corrupt}"']
    done = process([*bad_store, "data", "status"], env)
    assert done.returncode == 1
    one_line_error(done.stderr, str(corrupt / "store.sqlite"), "move it aside")
    debug = process(["--log-level", "DEBUG", *bad_store, "data", "status"], env)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "move it aside" in debug.stderr
    # A state directory that cannot be written (a file where the directory should be: root ignores permissions).
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file")
    done = process(["--set", f'data.store_dir="{blocker}/state"', "data", "status"], env)
    assert done.returncode == 1
    one_line_error(done.stderr, str(blocker), "data.store_dir")
    # A disk that fills during a backtest: the run is marked failed, one line says so.
    full = tmp_path / "full"
    assert process(["--set", f'data.store_dir="{full}"', "data", "status"], env).returncode == 0

    def small_disk() -> None:  # the journal may not grow past 512 kB (the store is only read)
        resource.setrlimit(resource.RLIMIT_FSIZE, (512_000, 512_000))

    done = process(["--set", f'data.store_dir="{full}"', "backtest", "--start", "2008-01-02", "--end", "2012-12-31", "--no-progress"], env,
                   preexec_fn=small_disk)
    assert done.returncode == 1, done.stderr
    one_line_error(done.stderr, str(full / "journals"), "disk is full")
    code = subprocess.run([sys.executable, "main.py", "--set", f'data.store_dir="{full}"', "runs", "--json"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert '"status": "failed"' in code.stdout, code.stdout + code.stderr


GRIDS = {
    "missing.toml": (None, "grid file not found"),
    "bad.toml": ("[grid\n", "not valid TOML"),
    "unknown.toml": ('[grid]\n"strategy.base_weight" = [0.3]\n[sweep]\nrankby = "sharpe"\n', "unknown [sweep] key(s) rankby; valid: rank_by, processes"),
    "dotted.toml": ("[grid]\nstrategy.base_weight = 0.3\n", "'strategy.base_weight' = 0.3: needs a non-empty list of values"),
    "rank.toml": ('[grid]\n"strategy.base_weight" = [0.3]\n[sweep]\nrank_by = "sharp"\n', "rank_by = 'sharp' is not a metric; choose one of"),
    "typo.toml": ('[grid]\n"strategy.base_wieght" = [0.3]\n', "did you mean 'strategy.base_weight'"),
}


def test_3_sweep_grid_mistakes_name_the_file_key_and_choices(capsys: pytest.CaptureFixture[str], state: tuple[list[str], dict[str, str]],
                                                              tmp_path: Path) -> None:
    sets, env = state
    for name, (text, says) in GRIDS.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        code, _, err = run(capsys, [*sets, "sweep", str(path), "--no-progress"], env)
        assert code == 2, err
        one_line_error(err, str(path), says)
    # The shipped examples the README uses are valid: a variant file and a grid.
    from backtest.sweep import read_grid
    from config.loader import load_config

    grid = read_grid(PROJECT_ROOT / "examples" / "sweep-grid.toml")
    assert len(grid.variants) >= 2 and grid.rank_by == "sharpe"
    for variant in sorted((PROJECT_ROOT / "examples").glob("variant-*.toml")):
        assert load_config(variant).sources[-1] == str(variant)
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "examples/sweep-grid.toml" in readme and "examples/variant-" in readme


def test_4_config_edges_name_the_right_file(capsys: pytest.CaptureFixture[str], state: tuple[list[str], dict[str, str]], tmp_path: Path) -> None:
    sets, env = state
    latin = tmp_path / "latin1.toml"
    latin.write_bytes("[strategy]\n# caf\u00e9\nbase_weight = 0.3\n".encode("latin-1"))
    cross = tmp_path / "cross.toml"
    cross.write_text("[strategy.hedge]\nmin_dte = 10\nroll_dte = 20\n")
    cases = [
        (["--config", str(latin)], [str(latin), "not UTF-8"]),
        (["--config", str(tmp_path)], [str(tmp_path), "is a directory"]),
        (["--set", "backtest.initial_cash=1e308"], ["backtest.initial_cash", "less than or equal to 1000000000000"]),
        (["--config", str(cross)], [str(cross), "roll_dte must be below min_dte"]),
        (["--set", "strategy.base_wieght=0.3"], ["did you mean 'strategy.base_weight'?"]),
    ]
    for extra, needles in cases:
        code, _, err = run(capsys, [*sets, *extra, "config", "show"], env)
        assert code == 2, err
        one_line_error(err, *needles)
        assert len(err) < 300 and "default.toml" not in err
    # --set after the subcommand, as the README's users type it.
    code, out, _ = run(capsys, [*sets, "config", "show", "--json", "--set", "strategy.base_weight=0.4"], env)
    assert code == 0 and '"base_weight": 0.4' in out


def test_5_a_secret_is_redacted_before_anything_is_cut() -> None:
    key = "abcdef0123456789abcdef0123456789"
    body = f"<html><head><title>Bad gateway for GET /fred/series/observations?series_id=CPIAUCSL&api_key={key}</title></head></html>".encode()
    detail = error_detail(body, lambda text: redact(text, key))
    assert key[:4] not in detail and "***" in detail


def test_6_a_paper_trader_that_cannot_start_says_why_in_one_line(state: tuple[list[str], dict[str, str]]) -> None:
    sets, env = state
    no_keys = process([*sets, "paper"], env)
    assert no_keys.returncode == 2, no_keys.stderr
    one_line_error(no_keys.stderr, "missing APCA_API_KEY_ID, APCA_API_SECRET_KEY")
    refused = {**env, "APCA_API_KEY_ID": "PKNEWCOMER", "APCA_API_SECRET_KEY": "supersecret123", "APCA_API_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    down = process([*sets, "paper"], refused)
    assert down.returncode == 1, down.stderr
    one_line_error(down.stderr, "cannot start", "GET account")
    assert "supersecret123" not in down.stdout + down.stderr
