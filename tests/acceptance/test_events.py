"""The event study on the real pack, checked against returns recomputed here from the raw price CSVs."""

from __future__ import annotations

import csv
import json
from calendar import monthrange
from datetime import date
from pathlib import Path

import pytest

from signals.cli import events_chart, events_json, events_table
from signals.params import SignalParams
from signals.study import CycleStudy, run_event_study
from tests.integration.signals_data import pack_store


@pytest.fixture(scope="module")
def studies() -> list[CycleStudy]:
    store, pit, _ = pack_store()
    labels = store.observations("USREC").set_index("period")["value"]
    return run_event_study(pit, labels, SignalParams())


def raw_closes(symbol: str) -> dict[date, float]:
    pack = pack_store()[2]
    with (pack / "prices" / f"{symbol}.csv").open(newline="") as fh:
        return {date.fromisoformat(r["date"]): float(r["close"]) for r in csv.DictReader(fh)}


def months_later(day: date, n: int) -> date:
    y, m = divmod(day.month - 1 + n, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def independent_return(closes: dict[date, float], start: date, n: int) -> float:
    end = max(d for d in closes if d <= months_later(start, n))
    return closes[end] / closes[start] - 1.0


def test_cycles_found_by_the_phase_rules(studies: list[CycleStudy]) -> None:
    assert [s.first_cut.isoformat() for s in studies] == [
        "1995-07-06", "1998-09-29", "2001-01-03", "2002-11-06", "2007-09-18", "2019-07-31", "2024-09-18",
    ]
    assert [s.later_phase_start.isoformat() if s.later_phase_start else None for s in studies] == [
        "1995-12-19", None, None, "2003-06-25", "2008-10-07", "2020-03-03", "2025-09-17",
    ]
    assert [s.recession_followed for s in studies] == [False, False, True, False, True, True, False]
    assert studies[4].later_session == date(2008, 10, 8)  # the 7 Oct call was announced the next morning


def test_the_2020_emergency_cut_is_measured_from_its_announcement_session(studies: list[CycleStudy]) -> None:
    """Announced 2020-03-03 10:00 ET (the target range shows it from 2020-03-04): windows start at the 03-03 close."""
    s = studies[5]
    assert (s.later_phase_start, s.later_session) == (date(2020, 3, 3), date(2020, 3, 3))
    later = s.after_later_phase
    assert later is not None
    rut, gspc = raw_closes("RUT"), raw_closes("GSPC")
    assert later[12].start == date(2020, 3, 3)
    assert later[12].small == pytest.approx(independent_return(rut, date(2020, 3, 3), 12), abs=1e-12)
    assert (round(later[12].small, 3), round(later[12].large, 3)) == (0.486, 0.272)
    assert later[12].large == pytest.approx(independent_return(gspc, date(2020, 3, 3), 12), abs=1e-12)


def test_returns_match_an_independent_computation_from_the_raw_csvs(studies: list[CycleStudy]) -> None:
    prices = {sym: raw_closes(sym) for sym in ("RUT", "GSPC", "IWM", "SPY")}
    pairs = {"index": ("RUT", "GSPC"), "etf": ("IWM", "SPY")}
    checked = 0
    for s in studies:
        windows = list(s.after_first_cut.values()) + list((s.after_later_phase or {}).values())
        for w in windows:
            if not w.complete:
                continue
            small_sym, large_sym = pairs[w.source]
            assert w.small == pytest.approx(independent_return(prices[small_sym], w.start, w.months), abs=1e-12)
            assert w.large == pytest.approx(independent_return(prices[large_sym], w.start, w.months), abs=1e-12)
            checked += 1
    assert checked >= 40
    # pinned: the 2024 cycle's first 12 months, Russell 2000 vs S&P 500 price indexes
    w = studies[-1].after_first_cut[12]
    assert (w.source, w.complete, w.end) == ("index", True, date(2025, 9, 18))
    assert w.small == pytest.approx(prices["RUT"][date(2025, 9, 18)] / prices["RUT"][date(2024, 9, 18)] - 1)


def test_windows_beyond_the_index_data_use_the_etfs_and_say_so(studies: list[CycleStudy]) -> None:
    later = studies[-1].after_later_phase
    assert later is not None
    assert later[3].source == "index" and later[3].complete  # ^RUT reaches 2025-12-17
    assert later[6].source == "etf" and later[6].complete  # ^RUT ends 2026-02-20: IWM/SPY to 2026-03-17
    assert later[12].source == "etf" and not later[12].complete and later[12].end == date(2026, 6, 9)


def test_json_shape(studies: list[CycleStudy]) -> None:
    data = json.loads(events_json(studies))
    first = data["cycles"][0]
    for key in ("first_cut", "later_phase_start", "recession_followed", "regime_at_first_cut", "after_first_cut",
                "after_later_phase", "max_drawdown_12m"):
        assert key in first
    assert set(first["after_first_cut"]) == {"1m", "3m", "6m", "12m"}
    assert {"small", "large", "complete"} <= set(first["after_first_cut"]["12m"])
    assert first["regime_at_first_cut"] in {"soft_landing", "recession_risk", "crisis", "late_cuts", "tightening", "neutral"}
    assert data["cycles"][2]["after_later_phase"] is None
    assert len(data["claims"]) == 5


def test_table_and_chart(studies: list[CycleStudy], tmp_path: Path) -> None:
    text = events_table(studies)
    assert "2024-09-18" in text and "incomplete" in text and "1. small caps" in text
    out = events_chart(studies, tmp_path / "events.png")
    assert out.stat().st_size > 10_000
