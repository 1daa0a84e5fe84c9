"""R38: what the user sets (`--config` variant files, `--set`) reaches paper and simulated sessions exactly as it
reaches a backtest, section by section, and the session journals the effective configuration.

`main.py paper --simulate` runs in process against the emulator (real alpaca-py over HTTP on 127.0.0.1); the
simulation's journal is then read back: the journaled config and what the decisions did with it."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from backtest.replay import session_plan
from clock import NEW_YORK, ManualClock
from config.loader import load_config
from datastore.store import Store
from main import main
from review.runs import open_runs
from tests.integration.test_paper_support import KEYS, Rig, rig

START, END = date(2024, 7, 1), date(2024, 7, 3)  # neutral regime: IWM held at [strategy] base_weight
WALL = datetime(2026, 11, 2, 12, tzinfo=NEW_YORK)


def _simulate(r: Rig, pack_dir: Path, *options: str) -> tuple[dict[str, Any], list[sqlite3.Row]]:
    """`main.py [options] paper --simulate START END` against the rig's emulator; (journaled config, decisions)."""
    argv = [f'--set=data.store_dir="{r.folder}"', f'--set=alpaca.trading_url="{r.server.url}"', f'--set=alpaca.data_url="{r.server.url}"',
            *options, "paper", "--simulate", START.isoformat(), END.isoformat()]
    assert main(argv, env={**KEYS, "CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=ManualClock(WALL)) == 0
    [journal] = (r.folder / "simulations").glob("*/paper.sqlite")
    db = sqlite3.connect(journal)
    db.row_factory = sqlite3.Row
    try:
        run = db.execute("SELECT config_json FROM runs WHERE kind='simulation'").fetchone()
        decisions = db.execute("SELECT day, as_of, target_json FROM decisions ORDER BY day").fetchall()
    finally:
        db.close()
    return json.loads(run["config_json"]), decisions


def _iwm_weights(decisions: list[sqlite3.Row]) -> set[float]:
    return {json.loads(d["target_json"])["weights"]["IWM"] for d in decisions}


def _strategy(config: dict[str, Any], decisions: list[sqlite3.Row], _url: str) -> None:
    assert config["strategy"]["base_weight"] == 0.9 and _iwm_weights(decisions) == {0.9}  # journaled and sized with


def _signals(config: dict[str, Any], decisions: list[sqlite3.Row], _url: str) -> None:
    assert config["signals"]["decision_time"] == "16:20"  # the snapshot is taken at the configured time
    assert {datetime.fromisoformat(d["as_of"]).astimezone(NEW_YORK).time() for d in decisions} == {time(16, 20)}


def _backtest(config: dict[str, Any], _decisions: list[sqlite3.Row], _url: str) -> None:
    assert config["backtest"]["initial_cash"] == 50000 and config["backtest"]["option_haircut"] == 0.2  # journaled as given


def _alpaca(config: dict[str, Any], _decisions: list[sqlite3.Row], url: str) -> None:
    assert config["alpaca"]["feed"] == "sip" and config["alpaca"]["read_timeout_seconds"] == 7.5
    assert config["alpaca"]["trading_url"] == url  # the URL the clients really used


SECTIONS: dict[str, tuple[list[str], Callable[[dict[str, Any], list[sqlite3.Row], str], None]]] = {
    "strategy": (["--set", "strategy.base_weight=0.9"], _strategy),
    "signals": (["--set", 'signals.decision_time="16:20"'], _signals),
    "backtest": (["--set", "backtest.initial_cash=50000", "--set", "backtest.option_haircut=0.2"], _backtest),
    "alpaca": (["--set", 'alpaca.feed="sip"', "--set", "alpaca.read_timeout_seconds=7.5"], _alpaca),
}


@pytest.mark.parametrize("section", list(SECTIONS))
def test_set_overrides_of_each_section_reach_the_simulated_session(pack_store: Store, pack_dir: Path, tmp_path: Path, section: str) -> None:
    options, check = SECTIONS[section]
    with rig(pack_store, tmp_path, START, END) as r:
        config, decisions = _simulate(r, pack_dir, *options)
    # the Friday before START is decided at the first wake-up (its intents are for START's open), then each day
    assert [d["day"] for d in decisions] == ["2024-06-28", "2024-07-01", "2024-07-02", "2024-07-03"]
    assert config["mode"] == "simulate"
    check(config, decisions, r.server.url)
    with open_runs([r.folder / "simulations"]) as source:  # `parity` replays the session with what it journaled
        plan = session_plan(source.run("simulate-"))
    given = load_config(None, options[1::2]).config
    assert (plan.strategy, plan.signals, plan.backtest) == (given.strategy, given.signals, given.backtest)
    assert stat.S_IMODE((r.folder / "simulations").stat().st_mode) == 0o700  # R34: every state directory is private


def test_a_variant_file_reaches_the_simulated_session(pack_store: Store, pack_dir: Path, tmp_path: Path) -> None:
    variant = tmp_path / "variant.toml"
    variant.write_text("[strategy]\nbase_weight = 0.7\n\n[signals.regime.crisis]\nvix_min = 40.0\n\n[backtest]\nslippage_bps = 1.0\n")
    with rig(pack_store, tmp_path / "rig", START, END) as r:
        config, decisions = _simulate(r, pack_dir, "--config", str(variant))
    assert _iwm_weights(decisions) == {0.7}
    assert config["strategy"]["base_weight"] == 0.7
    assert config["signals"]["regime"]["crisis"]["vix_min"] == 40.0
    assert config["backtest"]["slippage_bps"] == 1.0
    # everything else is the parsed default, exactly as a backtest of the same variant would read it
    expected = load_config(variant, [f'data.store_dir="{r.folder}"']).config.model_dump(mode="json")
    assert {k: config[k] for k in ("strategy", "signals", "backtest", "series", "prices")} == \
        {k: expected[k] for k in ("strategy", "signals", "backtest", "series", "prices")}


def test_a_paper_session_decides_with_the_configured_strategy(pack_store: Store, tmp_path: Path) -> None:
    day = date(2024, 7, 9)
    with rig(pack_store, tmp_path, day, date(2024, 7, 12), at=datetime.combine(day, time(16, 31), tzinfo=NEW_YORK)) as r:
        r.cfg = r.cfg.model_copy(update={"strategy": r.cfg.strategy.model_copy(update={"base_weight": 0.8})})
        with r.session(mode="paper") as (s, runner):
            runner.wake()
            [decision] = s.deps.journal.query("SELECT target_json FROM decisions")
            [run] = s.deps.journal.query("SELECT config_json FROM runs")
    assert json.loads(decision["target_json"])["weights"]["IWM"] == 0.8
    assert json.loads(run["config_json"])["strategy"]["base_weight"] == 0.8


def test_a_decision_time_after_the_decision_job_is_refused(pack_store: Store, pack_dir: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with rig(pack_store, tmp_path, START, END) as r:
        argv = [f'--set=data.store_dir="{r.folder}"', f'--set=alpaca.trading_url="{r.server.url}"', '--set=signals.decision_time="17:00"',
                "paper", "--simulate", START.isoformat(), END.isoformat()]
        assert main(argv, env={**KEYS, "CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=ManualClock(WALL)) == 2
        assert r.exchange.post_log == []
    err = capsys.readouterr().err
    assert "signals.decision_time = '17:00'" in err and "Traceback" not in err
