"""A simulated paper session (the real runner, alpaca-py and the emulator seeded with the pack's bars) and a
backtest over the same 87 sessions make the same decisions: 2024-07-01 .. 2024-10-31 holds the FOMC meetings of
2024-07-31 and 2024-09-18 and the regime change neutral -> soft_landing at the September cut.

"The same decision" is the regime, the target weights, the put target, hold, and the reasons. Share counts may
differ by the fills (backtrader's slippage and commission vs the emulator's open price), so intents are compared
by symbol and side only.

The session is simulated once (module fixture) and then checked by `parity` too: replayed through the backtest
runner `main.py parity` uses, it shows no differences but the ones the bill-rate interest the backtest credits
(and the emulator does not pay) explains, each attributed to it; a value revised in the store after the session
shows up as a decision difference with its cause.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from backtest.inputs import history, load_inputs
from backtest.replay import session_plan, store_replayer
from backtest.run import RunSpec, run_backtest
from clock import NEW_YORK, ManualClock
from config.loader import load_config
from datastore.store import Store
from main import main
from review.cli import parity_command
from review.runs import ReviewError, open_runs
from runner.simulate import simulate
from strategies.params import BacktestParams, StrategyParams
from tests.integration.test_paper_support import copy_store, rig

START, END = date(2024, 7, 1), date(2024, 10, 31)
REPLAYED_AT = datetime(2026, 1, 2, 12, tzinfo=UTC)
# What may set a paper session and its zero-cost replay apart: the interest the backtest credits on cash, and what
# follows from it (a share more in a tranche bought with that interest).
INTEREST_AND_ITS_CONSEQUENCES = (
    "book differed: interest",
    "interest differs",  # the session's daily P&L from its journaled end-of-day book, the replay's with interest
    "follows the order difference (other quantity)",
    "position differs (from an earlier order or fill)",
)
PLANTED_DAY = "2024-08-21"  # a soft-landing day, IWM fully built, past the dwell of the 2024-07-31 step back to soft landing
HY_OAS = "BAMLH0A0HYM2"


@dataclass(frozen=True)
class Session:
    folder: Path  # the rig's folder: store.sqlite, paper/paper.sqlite (the store_dir the rig's config names)
    run_id: str
    decisions: dict[date, dict[str, Any]]  # day -> target
    failed: int
    sent: int


@pytest.fixture(scope="module")
def session(pack_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """The 87-session simulation, run once for every test here."""
    folder = tmp_path_factory.mktemp("paper_parity")
    first_wake = datetime.combine(START, time(12, 0), tzinfo=NEW_YORK)  # after the open: no decision from before START
    with rig(pack_store, folder, START, END, at=first_wake) as r, r.session(prefetch=(START, END)) as (paper, runner):
        report = simulate(runner, r.clock, START, END, r.exchange.advance_to)
        rows = paper.deps.journal.query("SELECT day, target_json FROM decisions ORDER BY day")
        run_id, sent = paper.deps.run_id, len(r.exchange.post_log)
    decisions = {date.fromisoformat(row["day"]): json.loads(row["target_json"]) for row in rows}
    return Session(folder, run_id, decisions, report.failed, sent)


def _core(target: dict[str, Any]) -> tuple[object, ...]:
    return (target["regime"], sorted(target["weights"]), target["puts"], target["hold"], len(target["reasons"]), target["reasons"][-3:])


def _regimes(journal: Path, run_id: str) -> dict[str, tuple[str, str]]:
    with open_runs([journal]) as source:
        return {row["day"]: (row["regime"], row["phase"]) for row in source.decisions(source.run(run_id))}


def _as_of(session: Session, day: str) -> str:
    """The instant the session's decision of `day` saw."""
    with open_runs([session.folder / "paper"]) as source:
        row = source.decision(source.run(session.run_id), day)
    assert row is not None
    return str(row["as_of"])


def _replay(session: Session, store_folder: Path, journals: Path) -> dict[str, Any]:
    """`parity` through the backtest runner main.py wires, on the store in `store_folder`; the JSON report."""
    cfg = load_config(None, [f'data.store_dir="{store_folder}"']).config
    store = Store(store_folder / "store.sqlite")
    try:
        replay = store_replayer(cfg, store, ManualClock(REPLAYED_AT), journal_folder=journals)
        report: dict[str, Any] = json.loads(parity_command([session.folder / "paper"], session.run_id, replay=replay, fmt="json"))
    finally:
        store.close()
    return report


def test_paper_and_backtest_decide_the_same(pack_store: Store, session: Session) -> None:
    cfg = load_config().config
    # The emulator fills at the open with no slippage or commission and pays no interest: price the backtest alike.
    strategy, costs = StrategyParams(), BacktestParams(slippage_bps=0.0, commission_per_share=0.0)
    inputs = load_inputs(pack_store, cfg, ["IWM", "SPY"])
    days = inputs.market.sessions("IWM", START, END)
    assert len(days) >= 60
    snaps = history(inputs.pit, days, cfg.signals)
    spec = RunSpec("bt-parity", "parity", datetime(2026, 1, 1, tzinfo=NEW_YORK), {}, "test")
    bt = run_backtest(inputs.market, snaps, strategy, costs, start=START, end=END, spec=spec, journal_path=None)
    backtest = {d: t for d, _, t in bt.decisions}

    assert session.failed == 0
    paper = session.decisions
    assert sorted(paper) == sorted(backtest) == days
    regimes = {t["regime"] for t in paper.values()}
    assert {"neutral", "soft_landing"} <= regimes
    for day in days:
        assert _core(paper[day]) == _core(backtest[day]), day
        for symbol, weight in backtest[day]["weights"].items():  # equal up to the interest the backtest credits
            assert abs(paper[day]["weights"][symbol] - weight) < 0.005, (day, symbol)
    assert session.sent, "the paper session traded"


def test_parity_replays_the_session_and_attributes_what_interest_sets_apart(session: Session, tmp_path: Path) -> None:
    report = _replay(session, session.folder, tmp_path / "journals")
    days = [d.isoformat() for d in sorted(session.decisions)]
    assert report["session"] == session.run_id
    assert report["days"] == days and report["days_compared"] == len(days) == 87
    assert not any("no end-of-day book" in note for note in report["notes"])  # the decision job journals the broker's book
    with sqlite3.connect(session.folder / "paper" / "paper.sqlite") as db:
        booked = [d for (d,) in db.execute("SELECT day FROM equity WHERE run_id=? ORDER BY day", (session.run_id,))]
    assert booked == days

    # the replay is journaled as a backtest of the session's window, named after it
    [journal] = sorted((tmp_path / "journals").glob("*.sqlite"))
    with open_runs([journal]) as source:
        replayed = source.run(report["replay"])
    assert replayed.info.kind == "backtest" and replayed.info.label == f"replay of {session.run_id}" and replayed.info.parent_id == session.run_id
    assert (replayed.info.start_day, replayed.info.end_day) == (days[0], days[-1])
    assert replayed.config()["backtest"]["slippage_bps"] == 0.0 and replayed.config()["backtest"]["initial_cash"] == 100_000.0

    # same regime and phase every day; where the weights differ, it is the interest, and parity says so
    assert _regimes(journal, report["replay"]) == _regimes(session.folder / "paper" / "paper.sqlite", session.run_id)
    decisions = [d for d in report["diffs"] if d["aspect"] == "decision"]
    assert decisions, "the backtest credits interest on cash the emulator does not pay: the tranche weights differ a little"
    for diff in decisions:
        assert diff["cause"].startswith("book differed: interest"), diff
        assert diff["detail"].startswith("soft_landing/") and " in both; weights " in diff["detail"], diff
    assert any(d["aspect"] == "pnl" and d["cause"].startswith("interest differs") for d in report["diffs"])
    # fills at the same open price and time as the emulator's: nothing else is left
    for diff in report["diffs"]:
        assert diff["cause"].startswith(INTEREST_AND_ITS_CONSEQUENCES), diff


def test_parity_finds_a_value_revised_in_the_store_after_the_session(session: Session, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    original = Store(session.folder / "store.sqlite")
    try:
        copy_store(original, planted)
    finally:
        original.close()
    as_of = _as_of(session, PLANTED_DAY)
    db = sqlite3.connect(planted / "store.sqlite")
    try:
        period, seen = db.execute(
            "SELECT period, value FROM observations WHERE series=? AND available_at <= ? ORDER BY period DESC LIMIT 1", (HY_OAS, as_of)
        ).fetchone()
        with db:  # high-yield spreads revised from ~3.5 to 9 pp for the day the session read: credit is no longer calm
            assert db.execute("UPDATE observations SET value=9.0 WHERE series=? AND period=?", (HY_OAS, period)).rowcount >= 1
    finally:
        db.close()

    report = _replay(session, planted, tmp_path / "journals")
    decisions = [d for d in report["diffs"] if d["aspect"] == "decision"]
    first = next(d for d in decisions if not d["cause"].startswith("book differed: interest"))
    assert first["day"] == PLANTED_DAY, first
    assert first["cause"].startswith("data revised after the fact"), first
    # named by series, period and the moment it became known: the journaled readings of both decisions are compared
    assert f"indicators.hy_oas for {period} was {seen} (known " in first["cause"] and " 9 (known " in first["cause"], first
    assert first["detail"].startswith("session soft_landing/") and "replay soft_landing/" not in first["detail"]
    orders = [d for d in report["diffs"] if d["aspect"] == "order" and d["day"] == PLANTED_DAY]
    assert orders and all(d["cause"] == "follows the decision difference" for d in orders)


def test_main_parity_replays_the_session_from_its_journal(session: Session, pack_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`main.py parity SESSION --json` finds the session under <store_dir>/paper and writes the replay under <store_dir>/journals."""
    argv = ["--set", f'data.store_dir="{session.folder}"', "parity", session.run_id, "--json"]
    code = main(argv, env={"CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=ManualClock(REPLAYED_AT))
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["session"] == session.run_id and report["days"] == [d.isoformat() for d in sorted(session.decisions)]
    assert (session.folder / "journals" / f"{report['replay']}.sqlite").is_file()
    assert report["diffs"] and all(d["cause"].startswith(INTEREST_AND_ITS_CONSEQUENCES) for d in report["diffs"])


def test_a_session_config_this_code_cannot_rebuild_stops_the_replay(session: Session, tmp_path: Path) -> None:
    journal = tmp_path / "paper.sqlite"
    src, dst = sqlite3.connect(session.folder / "paper" / "paper.sqlite"), sqlite3.connect(journal)
    src.backup(dst)
    src.close()
    config = json.loads(dst.execute("SELECT config_json FROM runs WHERE run_id=?", (session.run_id,)).fetchone()[0])
    config["strategy"]["base_weight"] = 7.0  # a weight above 1: this code refuses it
    with dst:
        dst.execute("UPDATE runs SET config_json=? WHERE run_id=?", (json.dumps(config), session.run_id))
    dst.close()
    with open_runs([journal]) as source, pytest.raises(ReviewError, match=r"stored strategy config cannot be rebuilt .*strategy\.base_weight"):
        session_plan(source.run(session.run_id))
