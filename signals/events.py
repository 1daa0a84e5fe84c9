"""Event study: what each easing cycle since 1990 did to small caps versus large caps.

Cycles, first cuts, pauses and later-phase starts come from the phase rules (signals/phase.py) run over every
FOMC decision. An event's session is the first session whose close comes after the decision was known
(`Decision.known_at`). Returns run from that close to the close of the last session on or before the same calendar
date N months later. Small/large are the Russell 2000 and S&P 500 *indexes* (price returns, as published claims
quote them) when both cover the window; otherwise the ETFs IWM and SPY (dividend-adjusted, total return); each
window says which. A window the data does not reach to its end is marked incomplete and its return runs to the
last close available, never presented as complete. NBER recession labels are used here only, never as inputs.
"""

from __future__ import annotations

import calendar as month_calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from clock import NEW_YORK
from signals.fomc import Decision
from signals.params import PhaseParams
from signals.phase import phase_history

HORIZONS: tuple[int, ...] = (1, 3, 6, 12)
PAIRS: tuple[tuple[str, str, str], ...] = (("index", "RUT", "GSPC"), ("etf", "IWM", "SPY"))
CLOSE = time(16, 0)


@dataclass(frozen=True, slots=True)
class CycleEvents:
    """One easing cycle as the phase rules see it."""

    first_cut: Decision
    pause_start: date | None  # the first scheduled meeting without a cut that made it a pause
    later_phase_start: Decision | None


@dataclass(frozen=True, slots=True)
class Window:
    months: int
    start: date  # the session whose close starts the window
    end: date  # the last session used
    target_end: date  # the same calendar date N months later
    source: str  # "index" (^RUT/^GSPC) or "etf" (IWM/SPY)
    small: float | None
    large: float | None
    complete: bool

    @property
    def small_minus_large(self) -> float | None:
        return None if self.small is None or self.large is None else self.small - self.large


def easing_cycles(decisions: Sequence[Decision], params: PhaseParams, since: date = date(1990, 1, 1)) -> list[CycleEvents]:
    """Every easing cycle whose first cut is on or after `since`."""
    out: list[CycleEvents] = []
    current: dict[str, Any] | None = None
    for d, phase, first_cut, later in phase_history(decisions, params):
        if first_cut is None:
            if current is not None:
                out.append(CycleEvents(current["first"], current["pause"], current["later"]))
                current = None
            continue
        if current is None or current["first"].day != first_cut:
            if current is not None:
                out.append(CycleEvents(current["first"], current["pause"], current["later"]))
            current = {"first": d, "pause": None, "later": None}
        if phase == "pause" and current["pause"] is None:
            current["pause"] = d.day
        if later is not None and current["later"] is None:
            current["later"] = d
    if current is not None:
        out.append(CycleEvents(current["first"], current["pause"], current["later"]))
    return [c for c in out if c.first_cut.day >= since]


def add_months(day: date, months: int) -> date:
    """The same calendar date `months` later (the month's last day when it has fewer days)."""
    m0 = day.month - 1 + months
    year, month = day.year + m0 // 12, m0 % 12 + 1
    return date(year, month, min(day.day, month_calendar.monthrange(year, month)[1]))


def event_session(known_at: datetime, closes: pd.Series) -> date | None:
    """The first session whose close (16:00 New York) is at or after the moment the decision was known."""
    local = known_at.astimezone(NEW_YORK)
    day = local.date() if local.time() <= CLOSE else local.date() + timedelta(days=1)
    i = int(closes.index.searchsorted(pd.Timestamp(day)))
    return None if i >= len(closes) else closes.index[i].date()


def _covers(closes: pd.Series, start: date, target_end: date) -> bool:
    if len(closes) == 0 or closes.index[0] > pd.Timestamp(start):
        return False
    last = closes.index[-1].date()
    return last >= target_end or int(np.busday_count(last + timedelta(days=1), target_end + timedelta(days=1))) == 0


def _ret(closes: pd.Series, start: date, target_end: date) -> tuple[float | None, date | None]:
    if pd.Timestamp(start) not in closes.index:
        return None, None
    upto = closes.loc[: pd.Timestamp(target_end)]
    return float(upto.iloc[-1] / closes.loc[pd.Timestamp(start)] - 1.0), upto.index[-1].date()


def window(prices: Mapping[str, pd.Series], start: date, months: int) -> Window:
    """Small and large returns over `months` from the close of `start` (see the module doc for the source rule)."""
    target_end = add_months(start, months)
    best: tuple[bool, pd.Timestamp, str, pd.Series, pd.Series] | None = None
    for source, small_sym, large_sym in PAIRS:
        small, large = prices.get(small_sym), prices.get(large_sym)
        if small is None or large is None or pd.Timestamp(start) not in small.index or pd.Timestamp(start) not in large.index:
            continue
        complete = _covers(small, start, target_end) and _covers(large, start, target_end)
        reach = min(small.index[-1], large.index[-1], pd.Timestamp(target_end))
        if best is None or (complete, reach) > (best[0], best[1]):
            best = (complete, reach, source, small, large)
        if complete:
            break
    if best is None:
        return Window(months, start, start, target_end, "none", None, None, False)
    complete, reach, source, small, large = best
    rs, end_s = _ret(small, start, reach.date())
    rl, end_l = _ret(large, start, reach.date())
    ends = [e for e in (end_s, end_l) if e is not None]
    return Window(months, start, min(ends) if ends else start, target_end, source, rs, rl, complete)


def run_up(prices: Mapping[str, pd.Series], event: date, months: int = 1) -> Window:
    """The `months` before an event: from the last close on or before the same date earlier to the event's close."""
    origin = add_months(event, -months)
    for source, small_sym, large_sym in PAIRS:
        small, large = prices.get(small_sym), prices.get(large_sym)
        if small is None or large is None or pd.Timestamp(event) not in small.index or pd.Timestamp(event) not in large.index:
            continue
        s0, l0 = small.loc[: pd.Timestamp(origin)], large.loc[: pd.Timestamp(origin)]
        if len(s0) == 0 or len(l0) == 0:
            continue
        rs = float(small.loc[pd.Timestamp(event)] / s0.iloc[-1] - 1.0)
        rl = float(large.loc[pd.Timestamp(event)] / l0.iloc[-1] - 1.0)
        return Window(-months, s0.index[-1].date(), event, event, source, rs, rl, True)
    return Window(-months, origin, event, event, "none", None, None, False)


def max_drawdown(prices: Mapping[str, pd.Series], w: Window) -> tuple[float | None, float | None, float | None, float | None]:
    """(small, large) worst peak-to-trough, then (small, large) worst close versus the start, within window `w`."""
    syms = next(((s, lg) for src, s, lg in PAIRS if src == w.source), None)
    if syms is None:
        return None, None, None, None
    out: list[float | None] = []
    lows: list[float | None] = []
    for sym in syms:
        path = prices[sym].loc[pd.Timestamp(w.start) : pd.Timestamp(w.end)]
        out.append(float((path / path.cummax() - 1.0).min()) if len(path) else None)
        lows.append(float(path.min() / path.iloc[0] - 1.0) if len(path) else None)
    return out[0], out[1], lows[0], lows[1]


def recession_followed(recession_months: pd.Series, first_cut: date, months: int = 12) -> bool | None:
    """True when an NBER recession month falls within `months` after the first cut (or is under way at it)."""
    start = pd.Timestamp(first_cut.replace(day=1))
    end = pd.Timestamp(add_months(first_cut, months))
    span = recession_months.loc[start:end]
    if len(span) == 0:
        return None
    return bool((span > 0.5).any())
