"""The regime scorecard: how the calls behaved and what followed each one (`main.py regimes`).

Pure functions of the daily calls (one per session, as `signals --history` prints them), the IWM and SPY closes, and
the NBER recession months. The recession months are labels for judging the calls afterwards, never an input to one.

- **Call statistics**, per regime: share of sessions, spells, their median length, blips (a spell shorter than
  `BLIP_SESSIONS` sessions between two spells of the same regime); overall changes and flips per year.
- **What followed each entry**: IWM and SPY returns from the close of the entry session to the last close on or
  before the same date 1, 3, 6 and 12 months later, and small minus large; averages per regime count complete
  windows of real entries only (the count says how many; the window's first spell is not an entry).
- **Recessions**: for each NBER recession (its first month with USREC = 1, i.e. the month after the peak), the
  first recession-risk, late-cuts and crisis call in the `LOOKBACK_MONTHS` before it or during it, as a lead in
  days (negative = the call came after the recession began); and every cautious call that no recession followed
  within `FOLLOW_MONTHS` (pending when the labels do not reach that far).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from statistics import median
from typing import Any

import pandas as pd

from signals.events import add_months

BLIP_SESSIONS = 5
HORIZONS: tuple[int, ...] = (1, 3, 6, 12)
LOOKBACK_MONTHS = 18
FOLLOW_MONTHS = 12
WARNING_CALLS: tuple[str, ...] = ("recession_risk", "late_cuts", "crisis")


@dataclass(frozen=True, slots=True)
class Forward:
    """Returns over one horizon from an entry's close."""

    months: int
    iwm: float | None
    spy: float | None
    complete: bool  # both closes reach the horizon's end

    @property
    def small_minus_large(self) -> float | None:
        return None if self.iwm is None or self.spy is None else self.iwm - self.spy


@dataclass(frozen=True, slots=True)
class Spell:
    """Consecutive sessions with the same call."""

    regime: str
    start: date
    end: date
    sessions: int
    previous: str | None
    following: str | None
    forward: tuple[Forward, ...] = ()

    @property
    def blip(self) -> bool:
        return self.sessions < BLIP_SESSIONS and self.previous is not None and self.previous == self.following


@dataclass(frozen=True, slots=True)
class RegimeStats:
    regime: str
    sessions: int
    share: float
    spells: int
    median_sessions: float
    blips: int
    # months -> (mean IWM, mean SPY, mean small minus large, complete windows counted)
    forward: dict[int, tuple[float | None, float | None, float | None, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecessionCalls:
    """One NBER recession and how early each cautious call came."""

    start: date  # first month with USREC = 1
    end: date  # last month with USREC = 1
    first_call: dict[str, date | None]  # regime -> entry of its first spell in the lookback window or the recession
    lead_days: dict[str, int | None]  # regime -> start minus that entry, days (negative: after the start)


@dataclass(frozen=True, slots=True)
class Alarm:
    """A cautious call and whether a recession followed it."""

    regime: str
    start: date
    sessions: int
    followed: bool | None  # None: the labels do not yet cover FOLLOW_MONTHS after it


@dataclass(frozen=True, slots=True)
class Scorecard:
    start: date
    end: date
    sessions: int
    changes: int
    flips_per_year: float
    blips: int
    regimes: tuple[RegimeStats, ...]
    spells: tuple[Spell, ...]
    recessions: tuple[RecessionCalls, ...]
    alarms: tuple[Alarm, ...]

    def to_json(self) -> dict[str, Any]:
        def fwd(f: Forward) -> dict[str, Any]:
            return {"iwm": f.iwm, "spy": f.spy, "small_minus_large": f.small_minus_large, "complete": f.complete}

        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "sessions": self.sessions, "changes": self.changes,
            "flips_per_year": self.flips_per_year, "blips": self.blips,
            "regimes": [{"regime": r.regime, "sessions": r.sessions, "share": r.share, "spells": r.spells, "median_sessions": r.median_sessions,
                         "blips": r.blips, "forward": {f"{m}m": {"iwm": v[0], "spy": v[1], "small_minus_large": v[2], "count": v[3]}
                                                       for m, v in r.forward.items()}} for r in self.regimes],
            "spells": [{"regime": s.regime, "start": s.start.isoformat(), "end": s.end.isoformat(), "sessions": s.sessions,
                        "previous": s.previous, "next": s.following, "blip": s.blip, "forward": {f"{f.months}m": fwd(f) for f in s.forward}}
                       for s in self.spells],
            "recessions": [{"start": r.start.isoformat(), "end": r.end.isoformat(),
                            "first_call": {k: v.isoformat() if v else None for k, v in r.first_call.items()}, "lead_days": r.lead_days}
                           for r in self.recessions],
            "alarms": [{"regime": a.regime, "start": a.start.isoformat(), "sessions": a.sessions, "recession_followed": a.followed} for a in self.alarms],
        }


def spells(days: Sequence[date], calls: Sequence[str]) -> list[Spell]:
    """The runs of equal calls, in order."""
    runs: list[list[Any]] = []
    for day, call in zip(days, calls, strict=True):
        if runs and runs[-1][0] == call:
            runs[-1][2], runs[-1][3] = day, runs[-1][3] + 1
        else:
            runs.append([call, day, day, 1])
    return [Spell(r[0], r[1], r[2], r[3], runs[i - 1][0] if i > 0 else None, runs[i + 1][0] if i + 1 < len(runs) else None)
            for i, r in enumerate(runs)]


def forward_returns(closes: Mapping[str, pd.Series], entry: date) -> tuple[Forward, ...]:
    """IWM and SPY from the close of `entry` to the last close on or before the same date N months later."""
    out = []
    for months in HORIZONS:
        target = add_months(entry, months)
        rets: list[float | None] = []
        complete = True
        for symbol in ("IWM", "SPY"):
            series = closes.get(symbol)
            if series is None or pd.Timestamp(entry) not in series.index:
                rets.append(None)
                complete = False
                continue
            upto = series.loc[: pd.Timestamp(target)]
            rets.append(float(upto.iloc[-1] / series.loc[pd.Timestamp(entry)] - 1.0))
            complete = complete and series.index[-1] >= pd.Timestamp(target)
        out.append(Forward(months, rets[0], rets[1], complete))
    return tuple(out)


def recession_spans(months: pd.Series) -> list[tuple[date, date]]:
    """(first, last) month of each run of USREC = 1."""
    out: list[tuple[date, date]] = []
    run: list[date] = []
    ordered = months.sort_index()
    for period, value in zip(pd.DatetimeIndex(ordered.index), ordered.to_numpy(float), strict=True):
        if value > 0.5:
            run.append(period.date())
        elif run:
            out.append((run[0], run[-1]))
            run = []
    if run:
        out.append((run[0], run[-1]))
    return out


def _stats(regime: str, of: list[Spell], total: int) -> RegimeStats:
    n = sum(s.sessions for s in of)
    forward: dict[int, tuple[float | None, float | None, float | None, int]] = {}
    for i, months in enumerate(HORIZONS):
        done = [s.forward[i] for s in of if s.previous is not None and len(s.forward) > i and s.forward[i].complete]

        def avg(values: list[float | None]) -> float | None:
            kept = [v for v in values if v is not None]
            return sum(kept) / len(kept) if kept else None

        forward[months] = (avg([f.iwm for f in done]), avg([f.spy for f in done]), avg([f.small_minus_large for f in done]), len(done))
    return RegimeStats(regime, n, n / total if total else 0.0, len(of), float(median(s.sessions for s in of)) if of else 0.0,
                       sum(s.blip for s in of), forward)


def scorecard(days: Sequence[date], calls: Sequence[str], closes: Mapping[str, pd.Series], recession_months: pd.Series) -> Scorecard:
    """The scorecard of one call series (see the module doc)."""
    if not days:
        raise ValueError("no sessions to score")
    runs = [Spell(s.regime, s.start, s.end, s.sessions, s.previous, s.following, forward_returns(closes, s.start)) for s in spells(days, calls)]
    order = [r for r in ("soft_landing", "neutral", "tightening", "recession_risk", "late_cuts", "crisis", "unknown") if any(s.regime == r for s in runs)]
    order += sorted({s.regime for s in runs} - set(order))
    stats = tuple(_stats(r, [s for s in runs if s.regime == r], len(days)) for r in order)
    years = max((days[-1] - days[0]).days / 365.25, 1e-9)
    labels = recession_months.sort_index()
    last_label = pd.Timestamp(labels.index[-1]).date() if len(labels) else None
    recessions = []
    for first, last in recession_spans(labels):
        if first < days[0] or first > days[-1]:
            continue
        window_start = add_months(first, -LOOKBACK_MONTHS)
        calls_at: dict[str, date | None] = {}
        for regime in WARNING_CALLS:
            hit = next((s for s in runs if s.regime == regime and s.end >= window_start and s.start <= add_months(last, 1)), None)
            calls_at[regime] = hit.start if hit else None
        recessions.append(RecessionCalls(first, last, calls_at, {k: (first - v).days if v else None for k, v in calls_at.items()}))
    alarms = tuple(Alarm(s.regime, s.start, s.sessions, _followed(labels, s.start, last_label)) for s in runs if s.regime in WARNING_CALLS)
    return Scorecard(days[0], days[-1], len(days), len(runs) - 1, (len(runs) - 1) / years, sum(s.blip for s in runs), stats,
                     tuple(runs), tuple(recessions), alarms)


def _followed(labels: pd.Series, start: date, last_label: date | None) -> bool | None:
    """A recession month within FOLLOW_MONTHS after `start` (or under way at it); None when the labels stop short."""
    end = add_months(start, FOLLOW_MONTHS)
    span = labels.loc[pd.Timestamp(start.replace(day=1)) : pd.Timestamp(end)]
    if bool((span > 0.5).any()):
        return True
    if last_label is None or last_label < end.replace(day=1):
        return None
    return False
