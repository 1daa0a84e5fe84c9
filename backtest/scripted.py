"""Snapshots from a scripted regime calendar: for tests, what-if runs and the time before the signal layer exists.

The market part (IWM close, drawdown from the trailing high, VIX peak and fade, bill rate) is computed from the
bars as they stood at each close; the regime and phase come from the script, not from data. A scripted run is
labelled as such in the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from signals.snapshot import Market, Phase, PhaseName, RegimeCall, RegimeName, Snapshot


@dataclass(frozen=True, slots=True)
class ScriptedDay:
    """What the script says from `start` on (until the next entry)."""

    start: date
    regime: RegimeName
    phase: PhaseName = "on_hold"
    cycle_first_cut: date | None = None
    days_to_next_meeting: int | None = None
    cuts_expected: bool | None = None


def _phase(entry: ScriptedDay) -> Phase:
    return Phase(
        name=entry.phase,
        next_meeting=None,
        days_to_next_meeting=entry.days_to_next_meeting,
        in_blackout=False,
        cycle_first_cut=entry.cycle_first_cut,
        later_phase_start=None,
        cuts_in_cycle=0,
        cumulative_bp=0.0,
        last_decision=None,
        last_decision_bp=None,
        meetings_since_last_cut=0,
        cuts_priced_bp=None,
        cuts_expected=entry.cuts_expected,
        target_upper=None,
    )


def scripted_snapshots(
    days: Sequence[date],
    iwm_close: Mapping[date, float],
    vix_close: Mapping[date, float],
    script: Sequence[ScriptedDay],
    *,
    spy_close: Mapping[date, float] | None = None,
    bill_rate: float | Mapping[date, float] = 0.0,
    high_window: int = 252,
    vix_window: int = 63,
) -> list[Snapshot]:
    """One snapshot per day, after its close. `script` must be sorted by start and begin on or before days[0]."""
    ordered = sorted(script, key=lambda s: s.start)
    if not ordered or ordered[0].start > days[0]:
        raise ValueError("the script must start on or before the first day")
    out: list[Snapshot] = []
    closes: list[float] = []
    vixes: list[float] = []
    k = 0
    for day in days:
        while k + 1 < len(ordered) and ordered[k + 1].start <= day:
            k += 1
        entry = ordered[k]
        close = iwm_close[day]
        closes.append(close)
        vix = vix_close.get(day)
        if vix is not None:
            vixes.append(vix)
        high = max(closes[-high_window:])
        peak = max(vixes[-vix_window:]) if vixes else None
        rate = bill_rate if isinstance(bill_rate, float | int) else bill_rate.get(day, 0.0)
        market = Market(
            iwm_close=close,
            spy_close=None if spy_close is None else spy_close.get(day),
            vix=vix,
            iwm_drawdown=close / high - 1.0,
            vix_peak=peak,
            vix_off_peak=None if vix is None or peak is None else vix / peak - 1.0,
            bill_rate=float(rate),
        )
        regime = RegimeCall(entry.regime, None, (f"scripted: {entry.regime} from {entry.start}",), ())
        as_of = datetime.combine(day, time(21, 30), tzinfo=UTC)
        out.append(Snapshot(as_of, day, _phase(entry), {}, regime, market))
    return out
