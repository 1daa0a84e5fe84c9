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
from signals.fomc import CalendarMeeting, TargetPath, at_new_york, calendar, derive_decisions
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


def _compose(readings: dict[str, Reading], phases: PhaseTracker, as_of: datetime, day: date, params: SignalParams) -> Snapshot:
    pricing = Pricing(readings["two_year"].value, readings["bill_3m"].value, readings["effr"].value)
    phase = phases.at(as_of, pricing)
    regime = classify(readings, phase, as_of, params.regime)
    warnings = phase.warnings + ((f"regime fallback: {regime.fallback}",) if regime.fallback else ())
    return Snapshot(as_of, day, phase, readings, regime, _market(readings), warnings)


def build_snapshot(
    pit: PitData, as_of: datetime, day: date, params: SignalParams, schedule: Sequence[CalendarMeeting] = ()
) -> Snapshot:
    """Everything known at `as_of` (after the close of session `day`): phase, indicators, regime, market.

    `schedule` is the published schedule of upcoming meetings (`signals.fomc.load_schedule`); history comes from
    the store's meeting list.
    """
    as_of = ensure_utc(as_of)
    book = IndicatorBook.build(pit, as_of, params.indicators)
    decisions = derive_decisions(target_path(pit, as_of), pit.meetings, params.phase)
    phases = PhaseTracker(calendar(pit.meetings, schedule), decisions, params.phase)
    snap = _compose(book.readings(as_of), phases, as_of, day, params)
    for warning in snap.phase.warnings:
        log.warning("as of %s: %s", as_of.isoformat(), warning)
    return snap


def snapshot_history(
    pit: PitData, days: Sequence[date], params: SignalParams, schedule: Sequence[CalendarMeeting] = ()
) -> list[Snapshot]:
    """One snapshot per session day, each at `session_as_of(day)`; equal to `build_snapshot` day by day."""
    if not days:
        return []
    instants = [session_as_of(d, params) for d in days]
    cutoff = max(instants)
    book = IndicatorBook.build(pit, cutoff, params.indicators)
    decisions = derive_decisions(target_path(pit, cutoff), pit.meetings, params.phase)
    phases = PhaseTracker(calendar(pit.meetings, schedule), decisions, params.phase)  # one pass over the decisions
    rows = book.readings_at(instants)
    out = [_compose(r, phases, t, d, params) for r, t, d in zip(rows, instants, days, strict=True)]
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
