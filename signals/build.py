"""Build snapshots: one instant (`build_snapshot`) or a day per session for a whole backtest (`snapshot_history`).

Both read only observations with `available_at <= as_of` and share every computation, so the history equals
building each day's snapshot separately (tests check it on several dates). `snapshot_history` computes each
indicator kernel and the FOMC decision list once, then answers each day by binary search: 2000-2026 takes a few
seconds on one core.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

import pandas as pd

from clock import ensure_utc
from datastore.pit import PitData
from datastore.store import Store
from signals import stability
from signals.fomc import CalendarMeeting, Decision, TargetPath, at_new_york, calendar, derive_decisions
from signals.indicators import SERIES_IDS, SYMBOLS, IndicatorBook
from signals.params import SignalParams
from signals.phase import PhaseTracker, Pricing
from signals.regime import classify
from signals.snapshot import Market, Reading, Snapshot

log = logging.getLogger(__name__)

TARGET_SERIES = ("DFEDTAR", "DFEDTARU", "DFEDTARL")
REQUIRED_SERIES: tuple[str, ...] = tuple(dict.fromkeys((*SERIES_IDS, *TARGET_SERIES)))
REQUIRED_SYMBOLS: tuple[str, ...] = tuple(dict.fromkeys((*SYMBOLS, "RUT", "GSPC")))


def load_pit(store: Store) -> PitData:
    """Everything the signal layer and the event study read, loaded once from the store."""
    return PitData.load(store, REQUIRED_SERIES, REQUIRED_SYMBOLS)


def session_as_of(day: date, params: SignalParams) -> datetime:
    """The instant of a session's daily snapshot: `decision_time` New York time on that day (after the close)."""
    return at_new_york(day, params.decision_time)


def target_path(pit: PitData, as_of: datetime) -> TargetPath:
    """The target rate path known at `as_of` (DFEDTAR, then the DFEDTARU/DFEDTARL range)."""
    return TargetPath.from_frames(*(pit.as_of(s, as_of) for s in TARGET_SERIES))


def _market(r: dict[str, Reading]) -> Market:
    vix = r["vix"].value if r["vix"].value is not None else r["vix_fred"].value
    peak = r["vix_peak"].value
    bill, source = r["bill_3m"].value, "DTB3"
    if bill is None and r["effr"].value is not None:
        bill, source = r["effr"].value, "DFF"
    return Market(
        iwm_close=r["iwm_close"].value,
        spy_close=r["spy_close"].value,
        vix=vix,
        iwm_drawdown=r["iwm_drawdown"].value,
        vix_peak=peak,
        vix_off_peak=None if vix is None or not peak else round(vix / peak - 1.0, 10),
        bill_rate=bill,
        bill_rate_source=source if bill is not None else None,
        iwm_trailing_high=r["iwm_high"].value,
    )


def _compose(
    readings: dict[str, Reading],
    phases: PhaseTracker,
    as_of: datetime,
    day: date,
    params: SignalParams,
    previous: Snapshot | None,
) -> Snapshot:
    """One session's snapshot; `previous` (the session before, or None) carries the stable call's state."""
    pricing = Pricing(readings["two_year"].value, readings["bill_3m"].value, readings["effr"].value)
    phase = phases.at(as_of, pricing)
    held = previous.regime.name if previous is not None else None
    rules = classify(readings, phase, as_of, params.regime, held)
    regime, call = stability.step(held, previous.call if previous is not None else None, rules, params.stability)
    warnings = phase.warnings + ((f"regime fallback: {regime.fallback}",) if regime.fallback else ())
    return Snapshot(as_of, day, phase, readings, regime, _market(readings), warnings, call)


def warmup_days(pit: PitData, first: date, params: SignalParams) -> list[date]:
    """The `stability.warmup_sessions` sessions before `first` (known at its snapshot), where the carried state starts."""
    n = params.stability.warmup_sessions
    if n == 0 or "SPY" not in pit.symbols():
        return []
    bars = pit.bars_as_of("SPY", session_as_of(first, params))
    before = bars.index[bars.index < pd.Timestamp(first)]
    return [ts.date() for ts in before[-n:]]


def _chain(
    book: IndicatorBook,
    decisions: Sequence[Decision],
    meetings: Sequence[CalendarMeeting],
    days: Sequence[date],
    instants: Sequence[datetime],
    params: SignalParams,
) -> list[Snapshot]:
    """Snapshots for consecutive sessions, the stable call's state carried from each to the next."""
    out: list[Snapshot] = []
    previous: Snapshot | None = None
    phases = PhaseTracker(meetings, decisions, params.phase)  # one pass over the decisions: the instants ascend
    for readings, as_of, day in zip(book.readings_at(instants), instants, days, strict=True):
        previous = _compose(readings, phases, as_of, day, params, previous)
        out.append(previous)
    return out


def build_snapshot(
    pit: PitData, as_of: datetime, day: date, params: SignalParams, schedule: Sequence[CalendarMeeting] = ()
) -> Snapshot:
    """Everything known at `as_of` (after the close of session `day`): phase, indicators, regime, market.

    `schedule` is the published schedule of upcoming meetings (`signals.fomc.load_schedule`); history comes from
    the store's meeting list. The stable call is carried from the warm-up sessions before `day`.
    """
    as_of = ensure_utc(as_of)
    book = IndicatorBook.build(pit, as_of, params.indicators)
    decisions = derive_decisions(target_path(pit, as_of), pit.meetings, params.phase)
    warm = [d for d in warmup_days(pit, day, params) if session_as_of(d, params) <= as_of]
    snap = _chain(book, decisions, calendar(pit.meetings, schedule), [*warm, day], [*(session_as_of(d, params) for d in warm), as_of], params)[-1]
    for warning in snap.phase.warnings:
        log.warning("as of %s: %s", as_of.isoformat(), warning)
    return snap


def snapshot_history(
    pit: PitData, days: Sequence[date], params: SignalParams, schedule: Sequence[CalendarMeeting] = ()
) -> list[Snapshot]:
    """One snapshot per session day, each at `session_as_of(day)`; equal to `build_snapshot` day by day.

    The stable call's state is carried through every session from the warm-up before the first day to the last
    (sessions between sparse `days`, such as event dates, are evaluated too and not returned).
    """
    if not days:
        return []
    first, last = min(days), max(days)
    cutoff = session_as_of(last, params)
    between: list[date] = []
    if "SPY" in pit.symbols():
        index = pit.bars_as_of("SPY", cutoff).index
        between = [ts.date() for ts in index[(index >= pd.Timestamp(first)) & (index <= pd.Timestamp(last))]]
    every = sorted({*warmup_days(pit, first, params), *between, *days})
    instants = [session_as_of(d, params) for d in every]
    book = IndicatorBook.build(pit, cutoff, params.indicators)
    decisions = derive_decisions(target_path(pit, cutoff), pit.meetings, params.phase)
    by_day = {s.day: s for s in _chain(book, decisions, calendar(pit.meetings, schedule), every, instants, params)}
    out = [by_day[d] for d in days]
    seen: set[str] = set()
    for snap in out:
        for warning in snap.phase.warnings:
            if warning.split(" at ")[0] not in seen:
                seen.add(warning.split(" at ")[0])
                log.warning("as of %s: %s", snap.as_of.isoformat(), warning)
    return out


def session_days(pit: PitData, start: date, end: date, symbol: str = "SPY") -> list[date]:
    """Session days between start and end (inclusive) from a symbol's bars (the ETFs trade every NYSE session)."""
    bars = pit.bars_as_of(symbol, ensure_utc(datetime.fromisoformat("2200-01-01T00:00:00+00:00")))
    index = bars.index[(bars.index >= pd.Timestamp(start)) & (bars.index <= pd.Timestamp(end))]
    return [ts.date() for ts in index]
