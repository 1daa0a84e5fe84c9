"""`main.py regimes` on the real pack: the scorecard against an independent computation from `signals --history`'s CSV
and the pack's own files, the lead times of the 2001 and 2008 recessions, and the look-ahead property of the
carried state.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import median
from typing import Any

import pytest

from clock import ManualClock
from datastore.pit import PitData
from main import main
from signals.build import build_snapshot, session_as_of, session_days, snapshot_history
from signals.params import SignalParams
from tests.integration.signals_data import pack_store

CLOCK = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
START, END = "1999-01-04", "2012-12-31"
P = SignalParams()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("state"))


def _cli(state: str, pack_dir: Path, *argv: str) -> str:
    """Run main.py in-process and return what it printed (a module-scoped fixture cannot use capsys)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["--set", f'data.store_dir="{state}"', *argv], env={"CUTCYCLE_DATA_DIR": str(pack_dir)}, clock=CLOCK) == 0
    return buf.getvalue()


@pytest.fixture(scope="module")
def outputs(state: str, pack_dir: Path) -> tuple[list[dict[str, str]], dict[str, Any], str]:
    rows = list(csv.DictReader(io.StringIO(_cli(state, pack_dir, "signals", "--history", START, END, "--csv"))))
    card = json.loads(_cli(state, pack_dir, "regimes", "--start", START, "--end", END, "--json"))
    return rows, card, _cli(state, pack_dir, "regimes", "--start", START, "--end", END)


def _closes(pack_dir: Path, symbol: str) -> dict[date, float]:
    with (pack_dir / "prices" / f"{symbol}.csv").open() as fh:
        return {date.fromisoformat(r["date"]): float(r["close"]) for r in csv.DictReader(fh)}


def _months_later(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in range(day.day, 27, -1):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


def _forward(closes: dict[date, float], entry: date, months: int) -> tuple[float | None, bool]:
    if entry not in closes:
        return None, False
    target = _months_later(entry, months)
    last = max(d for d in closes if d <= target)
    return closes[last] / closes[entry] - 1.0, max(closes) >= target


def test_call_statistics_match_an_independent_count_of_the_history_csv(outputs: tuple[list[dict[str, str]], dict[str, Any], str]) -> None:
    rows, card, text = outputs
    calls = [(date.fromisoformat(r["day"]), r["regime"]) for r in rows]
    runs: list[list[Any]] = []
    for day, call in calls:
        if runs and runs[-1][0] == call:
            runs[-1][2] += 1
        else:
            runs.append([call, day, 1])
    assert card["sessions"] == len(calls) and card["changes"] == len(runs) - 1
    years = (calls[-1][0] - calls[0][0]).days / 365.25
    assert card["flips_per_year"] == pytest.approx((len(runs) - 1) / years)
    blips = [i for i in range(1, len(runs) - 1) if runs[i][2] < 5 and runs[i - 1][0] == runs[i + 1][0]]
    assert card["blips"] == len(blips)
    for r in card["regimes"]:
        mine = [x for x in runs if x[0] == r["regime"]]
        assert r["spells"] == len(mine)
        assert r["sessions"] == sum(x[2] for x in mine)
        assert r["share"] == pytest.approx(sum(x[2] for x in mine) / len(calls))
        assert r["median_sessions"] == pytest.approx(median(x[2] for x in mine))
    assert [(s["regime"], s["start"], s["sessions"]) for s in card["spells"]] == [(x[0], x[1].isoformat(), x[2]) for x in runs]
    assert f"{len(calls)} sessions, {len(runs) - 1} changes" in text


def test_forward_returns_after_each_entry_match_the_pack_files(outputs: tuple[list[dict[str, str]], dict[str, Any], str], pack_dir: Path) -> None:
    _, card, _ = outputs
    iwm, spy = _closes(pack_dir, "IWM"), _closes(pack_dir, "SPY")
    sums: dict[tuple[str, int], list[float]] = {}
    for s in card["spells"]:
        entry = date.fromisoformat(s["start"])
        for months in (1, 3, 6, 12):
            got = s["forward"][f"{months}m"]
            r_iwm, done_iwm = _forward(iwm, entry, months)
            r_spy, done_spy = _forward(spy, entry, months)
            for value, expected in ((got["iwm"], r_iwm), (got["spy"], r_spy)):
                assert value is None if expected is None else value == pytest.approx(expected, rel=1e-9)
            assert got["complete"] == (done_iwm and done_spy)
            if s["previous"] is not None and got["complete"] and r_iwm is not None and r_spy is not None:
                sums.setdefault((s["regime"], months), []).append(r_iwm - r_spy)
    for r in card["regimes"]:
        for months in (1, 3, 6, 12):
            mine = sums.get((r["regime"], months), [])
            got = r["forward"][f"{months}m"]
            assert got["count"] == len(mine)
            if mine:
                assert got["small_minus_large"] == pytest.approx(sum(mine) / len(mine), rel=1e-9)


def test_recession_lead_times_for_2001_and_2008(outputs: tuple[list[dict[str, str]], dict[str, Any], str], pack_dir: Path) -> None:
    _, card, text = outputs
    with (pack_dir / "fred" / "USREC.csv").open() as fh:
        months = [r["observation_date"] for r in csv.DictReader(fh) if r["USREC"] == "1" and START <= r["observation_date"] <= END]
    by_start = {r["start"]: r for r in card["recessions"]}
    assert set(by_start) == {"2001-04-01", "2008-01-01"} and set(months) >= {"2001-04-01", "2008-01-01"}
    r2001, r2008 = by_start["2001-04-01"], by_start["2008-01-01"]
    # Recession risk was called in the second half of 2000 and in August 2007: months ahead of the NBER dates.
    assert "2000-06-01" <= r2001["first_call"]["recession_risk"] <= "2000-12-31" and 90 <= r2001["lead_days"]["recession_risk"] <= 300
    assert r2008["first_call"]["recession_risk"].startswith("2007-08") and 120 <= r2008["lead_days"]["recession_risk"] <= 160
    # Late cuts from the first cut of each cycle (2001-01-03 inter-meeting, 2007-09-18), crises only once under way.
    assert r2001["first_call"]["late_cuts"] == "2001-01-03" and r2001["lead_days"]["late_cuts"] == (date(2001, 4, 1) - date(2001, 1, 3)).days
    assert r2008["first_call"]["late_cuts"] == "2007-09-18" and r2008["lead_days"]["late_cuts"] == (date(2008, 1, 1) - date(2007, 9, 18)).days
    assert r2001["lead_days"]["crisis"] < 0 and r2008["lead_days"]["crisis"] < 0
    for r in (r2001, r2008):
        for call, day in r["first_call"].items():
            assert (date.fromisoformat(r["start"]) - date.fromisoformat(day)).days == r["lead_days"][call]
    assert "2001-04 .. 2001-11" in text and "2008-01 .. 2009-06" in text


@pytest.fixture(scope="module")
def pit() -> PitData:
    return pack_store()[1]


def test_the_carried_state_is_point_in_time_and_start_independent_once_warm(pit: PitData) -> None:
    days = session_days(pit, date(2007, 6, 1), date(2008, 6, 30))
    history = snapshot_history(pit, days, P)
    held = [s for s in history if s.call is not None and s.call.held is not None]
    assert held, "the window must exercise a held call for this test to mean anything"
    later = snapshot_history(pit, days[60:], P)  # a run starting three months later agrees from its first day
    assert [(s.regime, s.call) for s in later] == [(s.regime, s.call) for s in history[60:]]
    for snap in (held[0], held[len(held) // 2], history[-1]):
        as_of = session_as_of(snap.day, P)
        cut = build_snapshot(pit.truncated(as_of), as_of, snap.day, P)
        assert (cut.regime, cut.call) == (snap.regime, snap.call)


RAW_RULES = """# every step taken the session the rules call it: the calls before stable calls (bands stay)
[signals.stability]
dwell_sessions = 0
[signals.stability.confirm]
crisis = 1
late_cuts = 1
recession_risk = 1
tightening = 1
neutral = 1
"""


def test_compare_shows_a_variants_scorecard_beside_the_default(state: str, pack_dir: Path, tmp_path: Path) -> None:
    window = ["--start", "2007-06-01", "--end", "2009-12-31"]
    (tmp_path / "raw.toml").write_text(RAW_RULES)
    raw_variant = ["--config", str(tmp_path / "raw.toml")]
    stable = json.loads(_cli(state, pack_dir, "backtest", *window, "--json", "--no-progress"))["run_id"]
    raw = json.loads(_cli(state, pack_dir, *raw_variant, "backtest", *window, "--json", "--no-progress"))["run_id"]
    cards = json.loads(_cli(state, pack_dir, "compare", stable, raw, "--json"))["scorecards"]
    a, b = cards["a"], cards["b"]
    # the default's journaled calls are exactly what `regimes` scores for the same sessions
    alone = json.loads(_cli(state, pack_dir, "regimes", *window, "--json"))
    assert a["spells"] == alone["spells"] and a["regimes"] == alone["regimes"]
    assert a["blips"] == 0 and b["changes"] > a["changes"]
    variant = json.loads(_cli(state, pack_dir, *raw_variant, "regimes", *window, "--json"))  # a variant's scorecard before any backtest
    assert b["spells"] == variant["spells"]
    text = _cli(state, pack_dir, "compare", stable, raw, "--out", str(tmp_path / "cmp.html"))
    assert f"regime calls: A {a['changes']} changes" in text and "recession from 2008-01: first call lead (A | B)" in text
    assert '<section id="regimes">' in (tmp_path / "cmp.html").read_text()


def _runs(calls: list[str]) -> list[tuple[str, int]]:
    out: list[list[Any]] = []
    for call in calls:
        if out and out[-1][0] == call:
            out[-1][1] += 1
        else:
            out.append([call, 1])
    return [(str(r[0]), int(r[1])) for r in out]


def test_1995_to_2026_has_no_blip_shorter_than_the_confirmation_and_at_most_half_the_rules_changes(pit: PitData) -> None:
    days = session_days(pit, date(1995, 1, 3), date(2026, 6, 9))
    stable = _runs([s.regime.name for s in snapshot_history(pit, days, P)])
    rules = _runs([s.call.rules_call for s in snapshot_history(pit, days, RULES_ONLY) if s.call is not None])
    assert len(stable) - 1 <= (len(rules) - 1) // 2, (len(stable) - 1, len(rules) - 1)
    shortest = min(*P.stability.confirm.model_dump().values(), P.stability.dwell_sessions)  # 10 sessions by default
    for before, spell, after in zip(stable, stable[1:], stable[2:], strict=False):
        if before[0] == after[0] and after[0] != "crisis":
            assert spell[1] >= shortest, (before, spell, after)


# The rules on their own: every band at its entry line, every step taken the session the rules call it.
RULES_ONLY = SignalParams.model_validate({
    "stability": {"dwell_sessions": 0, "confirm": dict.fromkeys(("crisis", "late_cuts", "recession_risk", "tightening", "neutral"), 1)},
    "regime": {
        "crisis": {"stlfsi_exit": 2.0, "nfci_exit": 0.5, "vix_exit": 35.0, "hy_oas_exit": 8.0, "baa_exit": 3.5},
        "recession": {"sahm_exit": 0.5, "claims_rise_exit": 0.15, "hy_change_exit": 1.0, "hy_z_exit": 1.5, "baa_change_exit": 0.35, "baa_z_exit": 1.5},
        "soft_landing": {"core_pce_exit": 3.0, "unemployment_rise_exit": 0.75, "hy_oas_exit": 5.5, "baa_exit": 2.75},
    },
})
