"""Issue "newcomer inputs": a number, port, date or config value a newcomer gets wrong is refused up front, in one
line naming the option or key, instead of being accepted silently or failing later with `unexpected ...`."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from config.loader import PROJECT_ROOT
from journal.journal import Journal
from main import main
from tests.acceptance.test_newcomer_errors import NOW, one_line_error, run

GRID = str(PROJECT_ROOT / "examples" / "sweep-grid.toml")
KEYS = {"APCA_API_KEY_ID": "PKTEST", "APCA_API_SECRET_KEY": "secret"}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[str], dict[str, str], Path]]:
    """An empty state directory and the `--set` that points at it (no data: these inputs are refused before any)."""
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    yield ["--set", f'data.store_dir="{tmp_path}/state"'], {"PATH": "/usr/bin", **KEYS}, tmp_path / "state"


def refused_by_argparse(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str], *needles: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv, env=env, clock=NOW)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("main.py") or last.startswith("python -m emulator"), err
    for needle in needles:
        assert needle in last, (needle, last)


@pytest.mark.parametrize(("argv", "needles"), [
    (["runs", "prune", "--keep", "-3"], ("--keep", "-3", "whole number >= 0")),
    (["runs", "prune", "--keep", "two"], ("--keep", "'two'", "whole number >= 0")),
    (["runs", "prune", "--older-than", "-1"], ("--older-than", "-1", ">= 0")),
    (["runs", "prune", "--older-than", "nan"], ("--older-than", "nan")),
    (["sweep", GRID, "--processes", "-1"], ("--processes", "-1", ">= 0")),  # 0 = all cores, as in the grid file
    (["validate", GRID, "--processes", "-2"], ("--processes", "-2", ">= 0")),
    (["validate", GRID, "--folds", "walk-forward", "--in-sample-years", "0"], ("--in-sample-years", "> 0")),
    (["validate", GRID, "--folds", "walk-forward", "--out-of-sample-years", "-1"], ("--out-of-sample-years", "> 0")),
    (["validate", GRID, "--folds", "walk-forward", "--in-sample-years", "0.001"], ("--in-sample-years", "at least one day")),
    (["status", "--serve", "--port", "99999"], ("--port", "99999", "0 .. 65535")),
    (["status", "--serve", "--refresh", "0"], ("--refresh", "> 0")),
    (["doctor", "--min-free-mb", "-5"], ("--min-free-mb", ">= 0")),
    (["emulator", "--", "--port", "99999"], ("--port", "99999", "0 .. 65535")),
    (["emulator", "--", "--port", "-1"], ("--port", "0 .. 65535")),
])
def test_1_2_every_numeric_option_is_range_checked_by_argparse(capsys: pytest.CaptureFixture[str], home: tuple[list[str], dict[str, str], Path],
                                                               argv: list[str], needles: tuple[str, ...]) -> None:
    sets, env, _ = home
    refused_by_argparse(capsys, [*sets, *argv], env, *needles)


def _journal(path: Path, run_id: str, kind: str, created_at: datetime) -> None:
    journal = Journal(path)
    try:
        journal.start_run(run_id, kind=kind, label=kind, created_at=created_at, config={}, config_hash="x", data_versions={}, code_version="t")
    finally:
        journal.close()


def test_1_prune_keep_zero_keeps_none_and_ages_a_simulation_by_when_it_ran(capsys: pytest.CaptureFixture[str],
                                                                           home: tuple[list[str], dict[str, str], Path]) -> None:
    sets, env, state = home
    # A simulation of 2024 run an hour ago (its created_at is its simulated start), one run in January, two backtests.
    recent, old = "simulate-20240904-20240927-20260612T110000", "simulate-20240904-20240927-20260105T090000"
    _journal(state / "simulations" / recent / "paper.sqlite", recent, "simulation", datetime(2024, 9, 3, 22, 0, tzinfo=UTC))
    _journal(state / "simulations" / old / "paper.sqlite", old, "simulation", datetime(2024, 9, 3, 22, 0, tzinfo=UTC))
    _journal(state / "journals" / "bt-a.sqlite", "bt-a", "backtest", datetime(2026, 6, 1, tzinfo=UTC))
    _journal(state / "journals" / "bt-b.sqlite", "bt-b", "backtest", datetime(2026, 6, 10, tzinfo=UTC))

    code, out, err = run(capsys, [*sets, "runs", "prune", "--older-than", "30", "--dry-run"], env)
    assert code == 0, err
    assert f"would remove {old}" in out and recent not in out and "bt-" not in out, out

    code, out, err = run(capsys, [*sets, "runs", "prune", "--kind", "backtest", "--keep", "1", "--dry-run"], env)
    assert code == 0, err
    assert "would remove bt-a" in out and "bt-b" not in out and "would remove 1 run(s)" in out, out

    code, out, err = run(capsys, [*sets, "runs", "prune", "--kind", "backtest", "--keep", "0", "--dry-run"], env)
    assert code == 0, err
    assert "would remove 2 run(s)" in out, out

    code, out, err = run(capsys, [*sets, "runs", "prune", "--keep", "0"], env)  # alone: every run of every kind
    assert code == 0, err
    assert "removed 4 run(s)" in out, out
    assert not list(state.rglob("*.sqlite")), list(state.rglob("*.sqlite"))


def test_2_a_port_in_use_is_named_not_a_state_file(capsys: pytest.CaptureFixture[str], home: tuple[list[str], dict[str, str], Path]) -> None:
    sets, env, _ = home
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(capsys, [*sets, "status", "--serve", "--port", str(port)], env)
        assert code == 1, err
        one_line_error(err, f"port {port} is already in use", "--port")
        assert "state file" not in err
        code, _, err = run(capsys, [*sets, "emulator", "--", "--port", str(port)], env)
        assert code == 1, err
        one_line_error(err, f"port {port} is already in use", "--port")


@pytest.mark.parametrize(("args", "needle"), [
    (["--start", "notadate"], "--start 'notadate'"),
    (["--start", "2024-02-30T09:00"], "--start '2024-02-30T09:00'"),
    (["--start", "9999-01-01"], "--start 9999-01-01"),
    (["--store", "/nonexistent.sqlite", "--window", "2024-09-03", "soon"], "--window TO 'soon'"),
])
def test_2_emulator_dates_name_the_argument(capsys: pytest.CaptureFixture[str], home: tuple[list[str], dict[str, str], Path],
                                            args: list[str], needle: str) -> None:
    sets, env, _ = home
    code, _, err = run(capsys, [*sets, "emulator", "--", *args], env)
    assert code == 2, err
    one_line_error(err, needle)


@pytest.mark.parametrize(("setting", "needles"), [
    ("strategy.base_weight=true", ("--set strategy.base_weight=true", "'base_weight' = True", "got a boolean")),
    ('strategy.base_weight="0.6"', ("'base_weight' = '0.6'", "got a string")),
    ("backtest.initial_cash=false", ("'initial_cash' = False", "got a boolean")),
    ("signals.stability.warmup_sessions=\"5\"", ("'warmup_sessions' = '5'", "got a string")),
    ("data.store_dir=", ("data.store_dir", "an empty path")),
    ('data.store_dir="  "', ("data.store_dir", "an empty path")),
])
def test_3_a_number_is_a_number_and_a_path_is_not_empty(capsys: pytest.CaptureFixture[str], setting: str, needles: tuple[str, ...]) -> None:
    code, _, err = run(capsys, ["--set", setting, "config", "show"], {"PATH": "/usr/bin"})
    assert code == 2, err
    one_line_error(err, *needles)


def test_3_numbers_still_load_and_a_variant_file_is_checked_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for setting in ("strategy.base_weight=1", "backtest.initial_cash=100000", "strategy.base_weight=0.5"):  # a TOML int for a float
        code, _, err = run(capsys, ["--set", setting, "config", "show"], {"PATH": "/usr/bin"})
        assert code == 0, (setting, err)
    variant = tmp_path / "variant.toml"
    variant.write_text('[strategy]\nbase_weight = "0.6"\n')
    code, _, err = run(capsys, ["--config", str(variant), "config", "show"], {"PATH": "/usr/bin"})
    assert code == 2, err
    one_line_error(err, str(variant), "'base_weight' = '0.6'", "got a string")


def test_3_a_store_dir_that_is_a_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory\n")
    code, _, err = run(capsys, ["--set", f"data.store_dir={afile}", "runs"], {"PATH": "/usr/bin"})
    assert code == 2, err
    one_line_error(err, "data.store_dir", f"{afile} is a file, not a directory")


@pytest.mark.parametrize(("grid", "needles"), [
    ('"data.store_dir" = ["/tmp/a", "/tmp/b"]', ("'data.store_dir'", "varies only [strategy], [backtest], [signals]")),
    ('"alpaca.live" = [true, false]', ("'alpaca.live'", "varies only")),
    ('"backtest.start" = ["2001-01-02", "2008-01-02"]', ("'backtest.start'", "--start/--end")),
    ('"strategy.symbol" = ["IWM", "SPY"]', ("'strategy.symbol'", "one traded ETF")),
    ('"strategy.base_weight" = [0.3, 0.3]', ("'strategy.base_weight'", "0.3 more than once", "deflated Sharpe")),
    ('"strategy.soft_landing.lead_days" = [30, 30.0, 60]', ("lead_days", "more than once")),
])
@pytest.mark.parametrize("command", ["sweep", "validate"])
def test_4_a_grid_varies_only_what_a_member_can_and_each_value_once(capsys: pytest.CaptureFixture[str], home: tuple[list[str], dict[str, str], Path],
                                                                    tmp_path: Path, grid: str, needles: tuple[str, ...], command: str) -> None:
    sets, env, _ = home
    path = tmp_path / "grid.toml"
    path.write_text(f"[grid]\n{grid}\n")
    code, _, err = run(capsys, [*sets, command, str(path), "--no-progress"], env)
    assert code == 2, err
    one_line_error(err, str(path), *needles)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory, pack_dir: Path) -> Iterator[tuple[list[str], dict[str, str], str]]:
    """The pack imported and one short backtest journaled (2024-01-02 .. 2024-02-15); its run id."""
    root = tmp_path_factory.mktemp("inputs")
    sets = ["--set", f'data.store_dir="{root}/state"']
    env = {"CUTCYCLE_DATA_DIR": str(pack_dir), "PATH": "/usr/bin"}
    assert main([*sets, "backtest", "--start", "2024-01-02", "--end", "2024-02-15", "--no-progress", "--label", "short"], env=env, clock=NOW) == 0
    run_id = next(p.stem for p in (root / "state" / "journals").glob("*.sqlite"))
    yield sets, env, run_id


def test_5_silent_acceptances_are_refused_in_one_line(capsys: pytest.CaptureFixture[str], short: tuple[list[str], dict[str, str], str],
                                                      tmp_path: Path) -> None:
    sets, env, run_id = short
    history = ["--history", "2024-06-03", "2024-06-28"]
    cases = [
        (["regimes", "--start", "1980-01-01"], ("--start 1980-01-01 is before the store's sessions begin", "valid range")),
        (["regimes", "--start", "2024-03-01", "--end", "2024-01-01"], ("--end 2024-01-01 is before --start 2024-03-01",)),
        (["trades", run_id, "--from", "2024-01-01", "--to", "2023-01-01"], ("--to 2023-01-01 is before --from 2024-01-01",)),
        (["trades", run_id, "--from", "2030-01-01"], ("--from 2030-01-01 is after the run's last day", "2024-02-15")),
        (["trades", run_id, "--to", "2020-01-01"], ("--to 2020-01-01 is before the run's first day",)),
        (["signals", "--as-of", "2024-06-03", *history], ("--as-of and --history do not go together",)),
        (["signals", "--csv"], ("--csv goes with --history",)),
        (["signals", "--chart", str(tmp_path / "x.png")], ("--chart goes with --history",)),
        (["signals", *history, "--chart", str(tmp_path / "x.txt")], ("--chart", ".txt is not a format", ".png or .svg or .pdf")),
        (["signals", *history, "--chart", "/nonexistent/dir/x.png"], ("--chart", "the directory /nonexistent/dir does not exist")),
        (["events", "--chart", str(tmp_path / "x")], ("--chart", "no suffix is not a format")),
        (["regimes", "--chart", str(tmp_path)], ("--chart", "is not a format")),
        (["validate", GRID, "--out", "/nonexistent/dir/v.html"], ("--out", "/nonexistent/dir does not exist")),
        (["report", run_id, "--out", str(tmp_path / "r.txt")], ("--out", ".txt is not a format", ".html")),
        (["compare", run_id, run_id, "--out", "/nonexistent/c.html"], ("--out", "/nonexistent does not exist")),
        (["report", run_id, "--out", "/proc/r.html"], ("--out /proc/r.html: cannot write there",)),  # a directory that takes no files
        (["events", "--chart", "/proc/e.png"], ("--chart /proc/e.png: cannot write there",)),
        (["paper", "--notify"], ("--notify goes with --simulate",)),
    ]
    for argv, needles in cases:
        code, out, err = run(capsys, [*sets, *argv], env)
        assert code == 2, (argv, out, err)
        one_line_error(err, *needles)
    assert not Path("/nonexistent").exists()
    code, out, err = run(capsys, [*sets, "trades", run_id, "--from", "2024-01-02", "--to", "2024-02-15"], env)  # the run's own window
    assert code == 0, err


def test_7_explain_on_a_day_a_compact_sweep_member_did_not_keep_says_why(capsys: pytest.CaptureFixture[str],
                                                                        short: tuple[list[str], dict[str, str], str], tmp_path: Path) -> None:
    sets, env, _ = short
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\n"strategy.base_weight" = [0.3, 0.6]\n')
    code, _, err = run(capsys, [*sets, "sweep", str(grid), "--start", "2024-01-02", "--end", "2024-02-15", "--processes", "1", "--no-progress"], env)
    assert code == 0, err
    code, out, err = run(capsys, [*sets, "runs", "--kind", "sweep_member", "--json"], env)
    member = json.loads(out)[0]["run_id"]
    refused = []
    for day in pd.bdate_range("2024-01-03", "2024-02-14"):  # the sessions inside the window: some kept, the others not
        code, _, err = run(capsys, [*sets, "explain", member, f"{day:%Y-%m-%d}"], env)
        if code != 0:
            assert code == 2, err
            one_line_error(err, member, "compact journal", "only the days its target changed", "--full-journal")
            refused.append(day)
    assert refused


def test_cash_below_one_share_is_said_not_silently_compared(capsys: pytest.CaptureFixture[str], home: tuple[list[str], dict[str, str], Path]) -> None:
    sets, env, _ = home
    window = ["--start", "2024-01-02", "--end", "2024-01-31", "--no-progress"]
    code, out, err = run(capsys, [*sets, "--set", "backtest.initial_cash=1", "backtest", *window, "--json"], env)
    assert code == 0 and json.loads(out)["strategy"]["exposure"] == 0
    [note] = [line for line in err.splitlines() if line.startswith("note:")]
    assert "never held IWM" in note and "initial_cash = 1.00 buys less than one share" in note, err
    code, _, err = run(capsys, [*sets, "backtest", *window], env)
    assert code == 0 and "note:" not in err
