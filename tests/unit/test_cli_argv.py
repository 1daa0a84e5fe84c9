"""The command line before and after argparse: global options after the subcommand, and the hint for an option this
CLI spells differently (`--from` for `--start`), checked on main.py's real parser."""

from __future__ import annotations

import pytest

from cli.argv import hoist_global_options
from main import GLOBAL_OPTIONS, main


def test_global_options_after_the_subcommand_move_in_front() -> None:
    argv = ["backtest", "--set", "strategy.base_weight=0.3", "--start", "2024-01-02", "--config=x.toml", "--", "--set"]
    assert hoist_global_options(argv, GLOBAL_OPTIONS, GLOBAL_OPTIONS) == [
        "--set", "strategy.base_weight=0.3", "--config=x.toml", "backtest", "--start", "2024-01-02", "--", "--set"]


@pytest.mark.parametrize(("argv", "hint"), [
    (["backtest", "--from", "2020-01-01"], "did you mean --start (not --from)? (`main.py backtest --help` lists the options)"),
    (["backtest", "--strat", "2020-01-01"], "did you mean --start (not --strat)?"),
    (["data", "status", "--asof", "2020-01-01"], "did you mean --as-of (not --asof)? (`main.py data status --help`"),
    (["signals", "--date", "2024-01-02"], "did you mean --as-of (not --date)?"),
    (["sweep", "grid.toml", "--to", "2024-01-02"], "did you mean --end (not --to)?"),
])
def test_an_option_spelt_as_elsewhere_gets_the_one_this_command_has(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv, env={})
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "unrecognized arguments" in err and hint in err, err
    assert "Traceback" not in err


def test_nothing_close_gives_argparse_own_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["backtest", "--zzz"], env={})
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err == "main.py backtest: error: unrecognized arguments: --zzz (`main.py backtest --help` shows the usage)\n", err


@pytest.mark.parametrize(("argv", "says"), [
    ([], "main.py: error: the following arguments are required: COMMAND"),
    (["nosuch"], "main.py: error: argument COMMAND: invalid choice: 'nosuch'"),
    (["data"], "main.py data: error: the following arguments are required: ACTION"),
    (["config", "shw"], "main.py config: error: argument ACTION: invalid choice: 'shw'"),
    (["backtest", "--start"], "main.py backtest: error: argument --start: expected one argument"),
    (["backtest", "stray"], "main.py backtest: error: unrecognized arguments: stray"),
    (["--log-level", "LOUD", "backtest"], "main.py: error: argument --log-level: invalid choice: 'LOUD'"),
    (["signals", "--history", "2020-01-02"], "main.py signals: error: argument --history: expected 2 arguments"),
    (["emulator", "--", "--port", "x"], "main.py emulator --: error: argument --port: 'x': expected a whole number"),
    (["sweep", "grid.toml", "--dask", "notaurl"], "main.py sweep: error: argument --dask: 'notaurl': expected tcp://HOST:PORT"),
    (["validate", "grid.toml", "--dask", "http://h:8786"], "main.py validate: error: argument --dask: 'http://h:8786': unknown protocol 'http'"),
    (["sweep", "grid.toml", "--processes", "-1"], "main.py sweep: error: argument --processes: -1: expected a whole number >= 0"),
])
def test_every_refusal_of_the_command_line_is_one_line_naming_the_argument(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    """No usage block before the error: the one line that says what is wrong, and where the usage is."""
    with pytest.raises(SystemExit) as stop:
        main(argv, env={})
    captured = capsys.readouterr()
    assert stop.value.code == 2 and captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(says) and line.endswith("--help` shows the usage)"), line


@pytest.mark.parametrize("label", ["x\x1b[31mred", "tab\there", "  "])
def test_a_label_with_control_characters_or_nothing_is_refused(label: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["backtest", "--label", label], env={})
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --label: a label must" in err, err


def test_series_ids_are_taken_in_any_case_and_a_near_miss_is_named() -> None:
    from cli.boundary import UsageError
    from main import catalogue_ids

    catalogue = ["CPIAUCSL", "CPILFESL", "UNRATE"]
    assert catalogue_ids(["cpiaucsl", " Unrate "], catalogue, "--series") == ["CPIAUCSL", "UNRATE"]
    assert catalogue_ids(None, catalogue, "--series") == []
    with pytest.raises(UsageError, match=r"--series: CPIAUCS not in the series catalogue; did you mean CPIAUCSL\?"):
        catalogue_ids(["CPIAUCS"], catalogue, "--series")


def test_a_scheduler_address_in_the_config_is_checked_before_anything_connects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--set", 'cluster.dask_scheduler="foo:bar"', "config", "show"], env={}) == 2
    err = capsys.readouterr().err
    assert "cluster.dask_scheduler" in err and "expected tcp://HOST:PORT" in err and len(err.strip().splitlines()) == 1, err


def test_zero_processes_means_all_cores_on_the_command_line_as_in_the_grid() -> None:
    import os

    from backtest.plan import worker_count
    from backtest.sweep import Grid

    cores = os.cpu_count() or 1
    assert worker_count(0, Grid([], "sharpe", 0)) == worker_count(None, Grid([], "sharpe", 0)) == cores
    assert worker_count(0, Grid([], "sharpe", 2)) == worker_count(None, Grid([], "sharpe", 2)) == 2
    assert worker_count(3, Grid([], "sharpe", 2)) == 3
