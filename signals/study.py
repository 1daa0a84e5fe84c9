"""The event study assembled from the store: cycles, their windows, the regime at each event, and the thesis check.

`run_event_study(pit, recession_months, params)` is what `main.py events` calls; `study_json` gives the issue's
JSON shape; `thesis_claims` states which claims of ../shared/docs/THESIS.md hold in the data, with the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from statistics import mean
from typing import Any

import pandas as pd

from clock import ensure_utc
from datastore.pit import PitData
from signals.build import snapshot_history, target_path
from signals.events import (
    HORIZONS,
    Window,
    easing_cycles,
    event_session,
    max_drawdown,
    recession_followed,
    run_up,
    window,
)
from signals.fomc import CalendarMeeting, derive_decisions
from signals.params import SignalParams

PRICE_SYMBOLS = ("RUT", "GSPC", "IWM", "SPY")
FAR_FUTURE = "2200-01-01T00:00:00+00:00"


@dataclass(frozen=True, slots=True)
class CycleStudy:
    """One easing cycle's events and what small and large caps did after them."""

    first_cut: date
    first_cut_bp: float
    first_cut_intermeeting: bool
    first_session: date | None
    pause_start: date | None
    later_phase_start: date | None
    later_session: date | None
    recession_followed: bool | None
    regime_at_first_cut: str | None
    regime_at_later_phase: str | None
    run_up_1m: Window | None
    after_first_cut: dict[int, Window]
    after_later_phase: dict[int, Window] | None
    max_drawdown_12m: tuple[float | None, float | None]
    worst_12m: tuple[float | None, float | None]


def closes(pit: PitData, symbols: Sequence[str] = PRICE_SYMBOLS) -> dict[str, pd.Series]:
    """Close prices by symbol (all history in the store)."""
    far = ensure_utc(datetime.fromisoformat(FAR_FUTURE))
    return {s: pit.bars_as_of(s, far)["close"] for s in symbols if s in pit.symbols()}


def run_event_study(
    pit: PitData, recession_months: pd.Series, params: SignalParams, schedule: Sequence[CalendarMeeting] = ()
) -> list[CycleStudy]:
    """Every easing cycle since 1990 (NBER `recession_months` label history only; never a trading input)."""
    far = ensure_utc(datetime.fromisoformat(FAR_FUTURE))
    decisions = derive_decisions(target_path(pit, far), pit.meetings, params.phase)
    prices = closes(pit)
    calendar_closes = prices.get("GSPC", next(iter(prices.values())))
    cycles = easing_cycles(decisions, params.phase)
    sessions = {
        d.day: event_session(d.known_at, calendar_closes)
        for c in cycles
        for d in (c.first_cut, c.later_phase_start)
        if d is not None
    }
    days = sorted({s for s in sessions.values() if s is not None})
    regimes = {snap.day: snap.regime.name for snap in snapshot_history(pit, days, params, schedule)}
    out = []
    for c in cycles:
        first = sessions.get(c.first_cut.day)
        later = sessions.get(c.later_phase_start.day) if c.later_phase_start else None
        after_first = {m: window(prices, first, m) for m in HORIZONS} if first else {}
        dd = max_drawdown(prices, after_first[12]) if first else (None, None, None, None)
        out.append(
            CycleStudy(
                first_cut=c.first_cut.day,
                first_cut_bp=c.first_cut.bp,
                first_cut_intermeeting=c.first_cut.intermeeting,
                first_session=first,
                pause_start=c.pause_start,
                later_phase_start=c.later_phase_start.day if c.later_phase_start else None,
                later_session=later,
                recession_followed=recession_followed(recession_months, c.first_cut.day),
                regime_at_first_cut=regimes.get(first) if first else None,
                regime_at_later_phase=regimes.get(later) if later else None,
                run_up_1m=run_up(prices, first) if first else None,
                after_first_cut=after_first,
                after_later_phase={m: window(prices, later, m) for m in HORIZONS} if later else None,
                max_drawdown_12m=(dd[0], dd[1]),
                worst_12m=(dd[2], dd[3]),
            )
        )
    return out


def _window_json(w: Window) -> dict[str, Any]:
    return {
        "small": w.small,
        "large": w.large,
        "small_minus_large": w.small_minus_large,
        "complete": w.complete,
        "source": w.source,
        "small_symbol": {"index": "^RUT", "etf": "IWM"}.get(w.source),
        "large_symbol": {"index": "^GSPC", "etf": "SPY"}.get(w.source),
        "start": w.start.isoformat(),
        "end": w.end.isoformat(),
        "target_end": w.target_end.isoformat(),
    }


def study_json(studies: Sequence[CycleStudy]) -> dict[str, Any]:
    """The issue's shape: {"cycles": [{first_cut, later_phase_start, recession_followed, ...}]} plus the evidence."""
    cycles = []
    for s in studies:
        cycles.append(
            {
                "first_cut": s.first_cut.isoformat(),
                "first_cut_bp": s.first_cut_bp,
                "first_cut_intermeeting": s.first_cut_intermeeting,
                "first_cut_session": s.first_session.isoformat() if s.first_session else None,
                "pause_start": s.pause_start.isoformat() if s.pause_start else None,
                "later_phase_start": s.later_phase_start.isoformat() if s.later_phase_start else None,
                "later_phase_session": s.later_session.isoformat() if s.later_session else None,
                "recession_followed": s.recession_followed,
                "regime_at_first_cut": s.regime_at_first_cut,
                "regime_at_later_phase": s.regime_at_later_phase,
                "before_first_cut_1m": _window_json(s.run_up_1m) if s.run_up_1m else None,
                "after_first_cut": {f"{m}m": _window_json(w) for m, w in s.after_first_cut.items()},
                "after_later_phase": {f"{m}m": _window_json(w) for m, w in s.after_later_phase.items()} if s.after_later_phase else None,
                "max_drawdown_12m": {"small": s.max_drawdown_12m[0], "large": s.max_drawdown_12m[1]},
                "worst_close_vs_start_12m": {"small": s.worst_12m[0], "large": s.worst_12m[1]},
            }
        )
    return {"cycles": cycles, "claims": [asdict(c) for c in thesis_claims(studies)]}


@dataclass(slots=True)
class ClaimCheck:
    claim: str
    verdict: str  # holds | partly | does not hold | not testable
    evidence: str


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f}%"


def _pp(x: float | None) -> str:
    """A difference of two returns: percentage points, not percent."""
    return "n/a" if x is None else f"{x * 100:+.1f} pp"


def thesis_claims(studies: Sequence[CycleStudy]) -> list[ClaimCheck]:
    """The five claims of THESIS.md ("Claims the event study should check"), tested on complete windows only."""
    out = []
    full = [s for s in studies if 12 in s.after_first_cut and s.after_first_cut[12].complete]
    diffs = [s.after_first_cut[12].small_minus_large or 0.0 for s in full]
    if full:
        ms = mean(s.after_first_cut[12].small or 0.0 for s in full)
        ml = mean(s.after_first_cut[12].large or 0.0 for s in full)
        md = mean(diffs)
        wins = sum(d > 0 for d in diffs)
        verdict = "holds" if md >= 0.06 else ("partly" if md > 0 else "does not hold")
        out.append(ClaimCheck(
            "1. small caps beat large caps by ~12 pp on average in the 12 months after a first cut (+35% vs +23%)", verdict,
            f"{len(full)} complete cycles: small {_pct(ms)}, large {_pct(ml)}, average difference {_pp(md)}; small ahead in {wins} of {len(full)} "
            f"({', '.join(f'{s.first_cut.year}: {_pp(d)}' for s, d in zip(full, diffs, strict=True))})",
        ))
    later = [s for s in studies if s.after_later_phase and s.after_later_phase[12].complete]
    if later:
        ld = [(s.later_phase_start, s.after_later_phase[12].small_minus_large) for s in later if s.after_later_phase]
        ok = all((d or 0.0) > 0 for _, d in ld)
        out.append(ClaimCheck(
            "2. small caps beat large caps in the 12 months after every later-phase start", "holds" if ok else "does not hold",
            "; ".join(f"{day}: small minus large {_pp(d)}" for day, d in ld),
        ))
    named = [s for s in studies if s.first_cut.year in (2001, 2007, 2019)]
    if named:
        falls = [(s.first_cut.year, s.worst_12m[0], s.max_drawdown_12m[0]) for s in named]
        big = [w is not None and w <= -0.30 for _, w, _ in falls]
        out.append(ClaimCheck(
            "3. small caps fell 30-50% soon after the first cuts of 2001, 2007 and 2019",
            "holds" if all(big) else ("partly" if any(big) else "does not hold"),
            "; ".join(f"{y}: worst close vs the cut day {_pct(w)}, peak-to-trough {_pct(d)} (within 12 months)" for y, w, d in falls),
        ))
    soft = [s for s in full if s.regime_at_first_cut == "soft_landing" and not s.first_cut_intermeeting and s.first_cut_bp >= -50]
    if soft:
        sd = [s.after_first_cut[12].small_minus_large or 0.0 for s in soft]
        out.append(ClaimCheck(
            "4. soft landing plus gradual cuts means small-cap outperformance",
            "holds" if all(d > 0 for d in sd) else ("partly" if mean(sd) > 0 else "does not hold"),
            "; ".join(f"{s.first_cut}: 12m small-minus-large {_pp(d)}" for s, d in zip(soft, sd, strict=True)),
        ))
    else:
        out.append(ClaimCheck("4. soft landing plus gradual cuts means small-cap outperformance", "not testable",
                              "no complete cycle began in a soft-landing regime with a gradual first cut"))
    around = [s for s in studies if s.run_up_1m and s.run_up_1m.small_minus_large is not None and 1 in s.after_first_cut]
    if around:
        under = [(s.first_cut.year, s.run_up_1m.small_minus_large if s.run_up_1m else None, s.after_first_cut[1].small_minus_large) for s in around]
        n_under = sum(1 for _, b, a in under if (b or 0.0) + (a or 0.0) < 0)
        out.append(ClaimCheck(
            "5. small caps often underperform around the first cut itself",
            "holds" if n_under * 3 >= len(under) * 2 else ("partly" if n_under else "does not hold"),
            f"small-minus-large from 1 month before to 1 month after the cut negative in {n_under} of {len(under)}: "
            + "; ".join(f"{y}: before {_pp(b)}, after {_pp(a)}" for y, b, a in under),
        ))
    return out
