"""The signal layer on the real data pack: decisions, phases of known cycles, regimes on known dates, no look-ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from clock import monotonic
from datastore.pit import PitData
from signals.build import build_snapshot, session_as_of, session_days, snapshot_history, target_path
from signals.fomc import at_new_york, cross_check, derive_decisions, load_schedule
from signals.params import SignalParams
from signals.snapshot import Snapshot
from tests.integration.signals_data import pack_store

P = SignalParams()
ROOT = Path(__file__).resolve().parents[2]
SCHEDULE = load_schedule(ROOT / "config" / "fomc_schedule.toml")


@pytest.fixture(scope="module")
def pit() -> PitData:
    return pack_store()[1]


def snap(pit: PitData, day: str) -> Snapshot:
    d = date.fromisoformat(day)
    return build_snapshot(pit, session_as_of(d, P), d, P, SCHEDULE)


def test_decisions_agree_with_the_meeting_list_and_mark_emergency_moves(pit: PitData) -> None:
    far = datetime(2100, 1, 1, tzinfo=UTC)
    decisions = derive_decisions(target_path(pit, far), pit.meetings, P.phase)
    assert cross_check(decisions, pit.meetings) == []
    by_day = {d.day: d for d in decisions}
    assert by_day[date(2020, 3, 15)].bp == -100 and by_day[date(2020, 3, 15)].intermeeting
    assert by_day[date(2008, 1, 21)].intermeeting and by_day[date(2008, 1, 21)].known_at.date() == date(2008, 1, 22)
    assert by_day[date(2024, 9, 18)].bp == -50 and not by_day[date(2024, 9, 18)].intermeeting
    assert by_day[date(2024, 9, 18)].known_at == at_new_york(date(2024, 9, 18), "14:15")
    assert by_day[date(2026, 6, 17)].source == "meeting list"  # beyond the target series (ends 2026-06-05)
    assert not any(d.kind == "unlisted" for d in decisions)


@pytest.mark.parametrize(
    ("day", "phase"),
    [
        ("2024-09-18", "cutting_early"), ("2024-11-20", "cutting_early"), ("2024-12-31", "cutting_early"),
        ("2025-02-14", "pause"), ("2025-06-30", "pause"), ("2025-09-16", "pause"),
        ("2025-09-17", "cutting_later"), ("2025-11-14", "cutting_later"),
        ("2001-01-03", "cutting_early"), ("2001-11-30", "cutting_early"), ("2002-06-28", "pause"),
        ("2007-09-18", "cutting_early"), ("2008-05-30", "cutting_early"), ("2008-07-15", "pause"), ("2008-09-15", "pause"),
        ("2008-10-08", "cutting_later"), ("2008-12-31", "cutting_later"),
        ("2019-08-15", "cutting_early"), ("2020-01-15", "pause"), ("2020-03-04", "cutting_later"),
        ("2022-06-30", "tightening"), ("2023-12-29", "on_hold"), ("2016-06-30", "on_hold"),
    ],
)
def test_phase_on_known_cycles(pit: PitData, day: str, phase: str) -> None:
    assert snap(pit, day).phase.name == phase


def test_cycle_bookkeeping_at_the_2025_restart(pit: PitData) -> None:
    p = snap(pit, "2025-09-17").phase
    assert p.cycle_first_cut == date(2024, 9, 18) and p.later_phase_start == date(2025, 9, 17)
    assert p.cuts_in_cycle == 4 and p.cumulative_bp == -125 and p.target_upper == 4.25
    assert p.next_meeting == date(2025, 10, 29)
    before = snap(pit, "2025-09-16").phase
    assert before.meetings_since_last_cut == 5 and before.in_blackout and before.days_to_next_meeting == 1


def test_market_pricing_uses_h15_values_known_the_next_business_day(pit: PitData) -> None:
    p = snap(pit, "2024-09-17").phase
    assert p.cuts_expected is True and p.cuts_priced_bp is not None and p.cuts_priced_bp < -100
    s = snap(pit, "2024-09-17")
    assert s.indicators["two_year"].period == date(2024, 9, 16)  # Tuesday's snapshot sees Monday's H.15 value


@pytest.mark.parametrize(
    ("day", "regime", "reason_fragment"),
    [
        ("2008-10-15", "crisis", "stress stlfsi"),
        ("2008-11-20", "crisis", "VIX"),
        ("2020-03-20", "crisis", "stress"),
        ("2022-06-30", "tightening", "phase tightening"),
        ("2023-03-31", "tightening", "last move"),
        ("2024-09-18", "soft_landing", "inflation cooling: True"),
        ("2019-07-31", "soft_landing", "credit calm: True"),
        ("2001-03-30", "late_cuts", "warnings on"),
        ("2007-12-31", "late_cuts", "credit"),
        ("2007-08-31", "recession_risk", "credit"),
        ("2014-06-30", "neutral", "no rule fired"),
    ],
)
def test_regime_on_known_dates_with_reasons(pit: PitData, day: str, regime: str, reason_fragment: str) -> None:
    call = snap(pit, day).regime
    assert call.name == regime, call.reasons
    assert reason_fragment in call.reasons[0]
    assert len(call.rules) == 5 and call.runner_up is not None and call.runner_up != call.name


def test_stale_inputs_are_reported_with_their_fallback(pit: PitData) -> None:
    s = snap(pit, "2026-04-15")  # STLFSI4 ends 2026-02-06, SAHMREALTIME 2025-08, DTB3 2026-03-26
    assert "stlfsi" in s.regime.missing_inputs and "sahm_realtime" in s.regime.missing_inputs
    assert s.regime.fallback is not None and "NFCI" in s.regime.fallback
    assert s.indicators["stlfsi"].stale and s.indicators["stlfsi"].value is None
    assert s.market.bill_rate_source == "DFF"


def test_capitulation_inputs(pit: PitData) -> None:
    m = snap(pit, "2020-03-23").market
    assert m.iwm_drawdown is not None and m.iwm_drawdown < -0.35
    assert m.vix_peak is not None and m.vix_peak >= 82 and m.vix_off_peak is not None and m.vix_off_peak < 0


def test_too_few_future_meetings_warn_loudly(pit: PitData) -> None:
    d = date(2026, 8, 21)
    without = build_snapshot(pit, session_as_of(d, P), d, P)  # pack history only: Sep, Oct, Dec 2026
    assert without.phase.future_meetings_known == 3 and without.warnings
    assert build_snapshot(pit, session_as_of(d, P), d, P, SCHEDULE).phase.warnings == ()


def test_history_equals_day_by_day_and_is_fast(pit: PitData) -> None:
    days = session_days(pit, date(2000, 1, 1), date(2026, 8, 21), "GSPC")
    started = monotonic()
    history = snapshot_history(pit, days, P, SCHEDULE)
    assert monotonic() - started < 30
    by_day = {s.day: s for s in history}
    for day in ["2001-01-03", "2008-10-08", "2020-03-16", "2024-09-18", "2025-09-17", "2025-11-03", "2026-06-17"]:
        assert by_day[date.fromisoformat(day)] == snap(pit, day), day


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    day=st.dates(min_value=date(1995, 1, 1), max_value=date(2026, 8, 21)),
    minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
)
@example(day=date(2024, 9, 18), minutes=14 * 60 + 20)  # just after a statement, before the target series shows it
@example(day=date(2008, 10, 7), minutes=16 * 60 + 30)  # an emergency call announced the next morning
@example(day=date(2026, 6, 5), minutes=16 * 60)  # the end of the target series
def test_no_look_ahead(pit: PitData, day: date, minutes: int) -> None:
    """The snapshot at T is the same whether the store holds data up to T or up to today."""
    as_of = at_new_york(day, "00:00") + timedelta(minutes=minutes)
    full = build_snapshot(pit, as_of, day, P, SCHEDULE)
    cut = build_snapshot(pit.truncated(as_of), as_of, day, P, SCHEDULE)
    assert full == cut
