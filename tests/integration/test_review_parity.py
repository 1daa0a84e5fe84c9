"""`parity`: a session replayed exactly shows no differences; planted differences are found with their causes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from review.cli import parity_command
from review.parity import parity_diff, render_parity, replay_and_diff
from review.runs import ReviewError, RunRef, open_runs
from tests.unit.test_review_simulated_journal import Plan, simulate

SESSION = Plan("paper-1", kind="paper", label="paper session", sessions=200)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("journals")
    simulate(path / "paper.sqlite", SESSION)
    return path


def test_a_faithful_replay_shows_no_differences(folder: Path, tmp_path: Path) -> None:
    simulate(tmp_path / "replay.sqlite", Plan("replay-1", sessions=SESSION.sessions))
    out = parity_command([folder / "paper.sqlite", tmp_path / "replay.sqlite"], "paper-1", against="replay-1")
    assert "no differences" in out
    report = json.loads(parity_command([folder / "paper.sqlite", tmp_path / "replay.sqlite"], "paper-1", against="replay-1", fmt="json"))
    assert report["identical"] and report["days_compared"] == SESSION.sessions


def test_planted_differences_are_found_with_their_causes(folder: Path, tmp_path: Path) -> None:
    planted = Plan(
        "replay-2", sessions=SESSION.sessions,
        fill_price_factor={"2019-06-04": 1.01},  # the model filled the first buy 1 % higher
        fill_delay_minutes={"2019-08-27": 30},  # a fill came half an hour later
        revised={"2019-10-21": (4.4, "recession_risk")},  # UNRATE was revised after the session saw it; the regime flips
    )
    simulate(tmp_path / "replay.sqlite", planted)
    with open_runs([folder]) as session_src, open_runs([tmp_path]) as replay_src:
        report = parity_diff(session_src, session_src.run("paper-1"), replay_src, replay_src.run("replay-2"))
    by = {(d.day, d.aspect, d.cause.split(":")[0]) for d in report.diffs}
    assert ("2019-06-04", "fill", "fill price") in by
    assert ("2019-06-04", "pnl", "fill price") in by
    assert ("2019-08-27", "fill", "fill timing") in by
    assert ("2019-10-21", "decision", "data revised after the fact") in by
    revised = next(d for d in report.diffs if d.day == "2019-10-21" and d.aspect == "decision")
    assert "UNRATE" in revised.cause and "4.4" in revised.cause
    # nothing before the first planted difference
    assert min(d.day for d in report.diffs) == "2019-06-04"
    # the orders of the flipped day follow the decision
    assert any(d.day == "2019-10-21" and d.aspect == "order" and d.cause == "follows the decision difference" for d in report.diffs)
    text = render_parity(report)
    assert "difference(s)" in text and "data revised after the fact" in text


def test_replay_runs_through_the_runner_the_composition_root_supplies(folder: Path, tmp_path: Path) -> None:
    calls: list[str] = []

    def replay(session: RunRef) -> tuple[Path, str]:
        calls.append(f"{session.info.start_day}..{session.info.end_day}")
        simulate(tmp_path / "replay.sqlite", Plan("replay-3", sessions=SESSION.sessions, weights=session.config()["strategy"]["weights"]))
        return tmp_path / "replay.sqlite", "replay-3"

    assert "no differences" in parity_command([folder], "paper-1", replay=replay)
    assert calls == ["2019-06-03..2020-03-06"]
    with open_runs([tmp_path]) as source, pytest.raises(ReviewError, match="not a paper session"):
        replay_and_diff(source, source.run("replay-3"), replay)
    with pytest.raises(ReviewError, match="parity needs a replay"):
        parity_command([folder], "paper-1")
