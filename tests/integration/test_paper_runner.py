"""The paper runner end to end (real journal, real alpaca-py against the emulator, the pack's data) on the cases a
calendar or an outage makes hard: a fresh start, a long stop, a holiday and a half day, the DST changes, a dry run,
and stale FRED series (R20, R26-R28, R30)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, time
from pathlib import Path

from clock import NEW_YORK
from datastore.store import Store
from runner.guards import read_heartbeat
from runner.simulate import simulate
from tests.integration.test_paper_support import Rig, copy_store, rig


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NEW_YORK)


def _ledger(r: Rig) -> dict[tuple[str, str], tuple[str, datetime]]:
    with sqlite3.connect(r.folder / "paper" / "paper.sqlite") as db:
        rows = db.execute("SELECT job, trading_day, outcome, completed_at FROM job_ledger").fetchall()
    return {(job, day): (outcome, datetime.fromisoformat(at)) for job, day, outcome, at in rows}


def _decisions(r: Rig) -> dict[str, dict[str, object]]:
    with sqlite3.connect(r.folder / "paper" / "paper.sqlite") as db:
        rows = db.execute("SELECT day, regime, reasons_json, snapshot_json, inputs_json, target_json FROM decisions").fetchall()
    return {day: {"regime": regime, "reasons": json.loads(reasons), "snapshot": json.loads(snap), "inputs": json.loads(inputs),
                  "target": json.loads(target)} for day, regime, reasons, snap, inputs, target in rows}


def test_a_fresh_start_reports_nothing_missed_and_runs_what_is_still_meaningful(pack_store: Store, tmp_path: Path) -> None:
    wednesday = date(2024, 7, 10)
    with rig(pack_store, tmp_path, wednesday, date(2024, 7, 12), at=_at(wednesday, 12, 0)) as r, \
            r.session(mode="paper") as (s, runner):
        runner.wake()
        assert s.deps.health.jobs_missed == 0
        ledger = _ledger(r)
    assert not [k for k, (outcome, _) in ledger.items() if outcome == "missed"]
    assert ("expiry", "2024-07-10") in ledger  # 11:30 job, deadline 15:00: still meaningful at noon
    assert ("pre_open", "2024-07-10") not in ledger  # its deadline passed before the bot ever ran: not the bot's to miss


def test_a_stop_over_two_days_catches_up_only_what_is_still_meaningful(pack_store: Store, tmp_path: Path) -> None:
    wednesday, friday, monday = date(2024, 7, 10), date(2024, 7, 12), date(2024, 7, 15)
    with rig(pack_store, tmp_path, wednesday, monday, at=_at(wednesday, 16, 31)) as r:
        with r.session(mode="paper") as (_, runner):
            runner.wake()  # Wednesday's decision
        r.move(_at(monday, 8, 0))  # down from Wednesday evening to Monday 08:00
        with r.session(mode="paper") as (s, runner):
            runner.wake()
            missed = s.deps.health.jobs_missed
            r.move(_at(monday, 8, 46))
            runner.wake()
        ledger = _ledger(r)
        decisions = _decisions(r)
        posted = list(r.exchange.post_log)
    assert missed == 5  # Thursday's three jobs and Friday's pre-open and expiry
    assert {k for k, (o, _) in ledger.items() if o == "missed"} == {
        ("pre_open", "2024-07-11"), ("expiry", "2024-07-11"), ("decision", "2024-07-11"), ("pre_open", "2024-07-12"), ("expiry", "2024-07-12")}
    assert ledger[("decision", friday.isoformat())][0] != "missed"  # its intents are for Monday's open: still meaningful
    assert set(decisions) == {"2024-07-10", "2024-07-12"}
    assert ledger[("pre_open", monday.isoformat())][0].endswith("(decision 2024-07-12)")
    assert posted and all(p.client_order_id.startswith("cc-20240712-") for p in posted)  # Wednesday's stale intents never left


def test_a_holiday_has_no_jobs_and_a_half_day_decides_on_its_early_close(pack_store: Store, tmp_path: Path) -> None:
    start, end = date(2024, 11, 26), date(2024, 12, 2)  # Thanksgiving 2024-11-28, half day 2024-11-29
    with rig(pack_store, tmp_path, start, end, at=_at(start, 8, 0)) as r, r.session(mode="paper") as (_, runner):
        report = simulate(runner, r.clock, start, end, r.exchange.advance_to)
        ledger, decisions = _ledger(r), _decisions(r)
    assert report.failed == 0 and report.missed == 0
    assert not [k for k in ledger if k[1] == "2024-11-28"]
    assert {job for job, day in ledger if day == "2024-11-29"} == {"pre_open", "expiry", "decision"}
    half_day = decisions["2024-11-29"]
    assert half_day["target"]["day"] == "2024-11-29"
    # Wednesday's decision is acted on at Friday's open, the session after the holiday.
    assert ledger[("pre_open", "2024-11-29")][0].endswith("(decision 2024-11-27)")
    # The half day's decision sees its 13:00 close: the IWM close the decision marks with is that day's bar.
    bar = r.exchange.bar("IWM", date(2024, 11, 29))
    assert bar is not None
    assert half_day["inputs"]["marks"]["IWM"] == bar.close


def test_jobs_keep_their_new_york_wall_time_across_both_dst_changes(pack_store: Store, tmp_path: Path) -> None:
    for before, after in ((date(2024, 3, 8), date(2024, 3, 11)), (date(2024, 11, 1), date(2024, 11, 4))):
        folder = tmp_path / before.isoformat()
        with rig(pack_store, folder, before, after, at=_at(before, 8, 0)) as r, r.session(mode="paper") as (_, runner):
            report = simulate(runner, r.clock, before, after, r.exchange.advance_to)
            ledger = _ledger(r)
        assert report.failed == 0
        for job, wall in (("pre_open", "08:45"), ("expiry", "11:30"), ("decision", "16:30")):
            ran = [ledger[(job, d.isoformat())][1] for d in (before, after)]
            assert [at.astimezone(NEW_YORK).strftime("%H:%M") for at in ran] == [wall, wall], (job, ran)
            assert ran[0].astimezone(UTC).hour != ran[1].astimezone(UTC).hour  # the UTC hour moved by one


def test_dry_run_decides_and_journals_but_sends_nothing(pack_store: Store, tmp_path: Path) -> None:
    day = date(2024, 7, 9)
    with rig(pack_store, tmp_path, day, date(2024, 7, 12), at=_at(day, 16, 31)) as r, \
            r.session(mode="paper", dry_run=True) as (s, runner):
        runner.wake()
        r.move(_at(date(2024, 7, 10), 8, 46))
        runner.wake()
        held = s.deps.journal.query("SELECT message FROM events WHERE kind='orders_held'")
        intents = s.deps.journal.query("SELECT COUNT(*) FROM intents")[0][0]
        heartbeat = read_heartbeat(s.deps.state_dir / "status.json")
        ledger, decisions = _ledger(r), _decisions(r)
    assert decisions["2024-07-09"]["target"]["intents"], "the decision wanted to trade"
    assert r.exchange.post_log == [] and intents == 0
    assert held and "dry run" in held[0]["message"]
    assert ledger[("pre_open", "2024-07-10")][0].startswith("held (dry run)")
    assert heartbeat is not None and heartbeat["mode"] == "dry-run"


MACRO_SERIES = ("BAMLH0A0HYM2", "BAA10Y", "AAA10Y", "STLFSI4", "NFCI", "VIXCLS", "UNRATE", "SAHMREALTIME", "ICSA", "PAYEMS",
                "T10Y3M", "T10Y2Y", "DGS10", "PCEPILFE", "CPILFESL", "CPIAUCSL", "INDPRO")


def _cut(folder: Path, pack_store: Store, series: tuple[str, ...], after: str, *, vix_bars: bool = False) -> None:
    """A store whose `series` stopped updating at `after` (a dead feed): nothing published later is there."""
    path = copy_store(pack_store, folder)
    with sqlite3.connect(path) as db:
        db.executemany("DELETE FROM observations WHERE series=? AND available_at > ?", [(s, after) for s in series])
        if vix_bars:
            db.execute("DELETE FROM bars WHERE symbol='VIX' AND available_at > ?", (after,))


def test_a_stale_credit_series_is_journaled_with_the_fallback_that_stood_in(pack_store: Store, tmp_path: Path) -> None:
    day = date(2024, 7, 9)
    _cut(tmp_path, pack_store, ("BAMLH0A0HYM2",), "2024-01-01")
    with rig(pack_store, tmp_path, day, date(2024, 7, 12), at=_at(day, 16, 31)) as r, r.session(mode="paper") as (_, runner):
        runner.wake()
        decision = _decisions(r)[day.isoformat()]
    regime = decision["snapshot"]["regime"]
    assert isinstance(regime, dict)
    assert "hy_oas stale since 2023-12-" in regime["fallback"] and "unknown" in regime["fallback"]
    assert "Baa-10y" in regime["fallback"]  # the documented stand-in for HY OAS
    assert decision["regime"] in ("neutral", "soft_landing")  # the call is still made from the other inputs


def test_every_macro_feed_dead_makes_the_regime_unknown_and_adds_no_risk(pack_store: Store, tmp_path: Path) -> None:
    day = date(2024, 7, 9)
    _cut(tmp_path, pack_store, MACRO_SERIES, "2024-02-01", vix_bars=True)
    with rig(pack_store, tmp_path, day, date(2024, 7, 12), at=_at(day, 16, 31)) as r, r.session(mode="paper") as (_, runner):
        runner.wake()
        r.move(_at(date(2024, 7, 10), 8, 46))
        runner.wake()
        decision = _decisions(r)[day.isoformat()]
    assert decision["regime"] == "unknown"
    regime = decision["snapshot"]["regime"]
    assert isinstance(regime, dict) and "no macro call" in regime["fallback"]
    reasons = decision["reasons"]
    assert isinstance(reasons, list) and "no new risk" in reasons[0]
    assert decision["target"]["intents"] == [] and r.exchange.post_log == []  # from cash, nothing is bought


def test_the_expiry_job_closes_a_put_only_inside_the_roll_window_by_a_day_limit(pack_store: Store, tmp_path: Path) -> None:
    from emulator.records import EmuPosition
    from emulator.seed import seed_put_chain

    expiry, outside, inside = date(2024, 8, 16), date(2024, 7, 24), date(2024, 7, 29)  # 23 and 18 days to expiry; roll at 21
    with rig(pack_store, tmp_path, outside, inside, at=_at(outside, 11, 0)) as r:
        bar = r.exchange.bar("IWM", date(2024, 7, 23))
        assert bar is not None
        [put] = seed_put_chain(r.exchange, "IWM", as_of=outside, spot=bar.close, expirations=[expiry], strikes=[200.0])
        r.exchange.positions[put] = EmuPosition(put, "us_option", 2, 3.0)  # two puts bought before the bot started
        r.exchange.cash -= 2 * 100 * 3.0
        with r.session(mode="paper") as (s, runner):
            r.move(_at(outside, 11, 31))
            runner.wake()
            before = list(r.exchange.post_log)
            r.move(_at(inside, 11, 31))
            runner.wake()
            ledger = _ledger(r)
            quote = r.exchange.quotes[put]
            [order] = [o for o in r.exchange.orders.values() if o.symbol == put]
    assert before == [] and ledger[("expiry", outside.isoformat())][0] == "no puts to close"
    assert ledger[("expiry", inside.isoformat())][0] == "sent 1/1"
    assert (order.side, order.qty, order.type, order.time_in_force) == ("sell", 2, "limit", "day")
    mid = (quote.bid + quote.ask) / 2
    assert order.limit_price == max(0.01, round(mid * (1 - s.deps.strategy.hedge.limit_slack), 2))
