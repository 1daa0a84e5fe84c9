"""Validation folds over a backtest's sessions: leave-one-easing-cycle-out, or walk-forward.

A fold is a held-out (out-of-sample) stretch of sessions and the in-sample sessions the variant is chosen on.
Pure functions of the session list and, for cycles, the easing cycles the signal layer found.

Leave-one-cycle-out, the rule for the calm years: each easing cycle spans its first cut to its last cut (the phase
rules of signals/phase.py, as the snapshots saw them at the time). The sessions between two cycles are split at the
calendar midpoint between the last cut of the one and the first cut of the next; the sessions before the first
cycle go to the first and those after the last to the last. So every session belongs to exactly one fold, and each
fold holds one cycle with the run-up before it and the aftermath behind it. A fold's in-sample set is every other
session. Cycles that ended before the window starts (1995, 1998 for a run from 2000) have no sessions and no fold.

Walk-forward: the first out-of-sample window starts `in_sample_years` after the first session; windows of
`out_of_sample_years` follow back to back to the last session (a remainder shorter than half a window joins the
last window; otherwise it is a shorter last window). In-sample is everything
before the window (anchored) or the `in_sample_years` just before it (rolling).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from signals.snapshot import Snapshot

FoldMethod = Literal["cycles", "walk-forward"]


@dataclass(frozen=True, slots=True)
class Fold:
    """Sessions are given as positions in the run's session list (half-open ranges [start, stop))."""

    name: str
    test: tuple[int, int]
    train: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if self.test[0] >= self.test[1]:
            raise ValueError(f"fold {self.name}: an empty out-of-sample window")
        if not self.train:
            raise ValueError(f"fold {self.name}: no in-sample sessions to choose a variant on")
        for a, b in self.train:
            if a >= b or not (b <= self.test[0] or a >= self.test[1]):
                raise ValueError(f"fold {self.name}: in-sample range {a}..{b} overlaps the out-of-sample window")


@dataclass(frozen=True, slots=True)
class Cycle:
    first_cut: date
    last_cut: date


def easing_cycles(snapshots: Mapping[date, Snapshot]) -> list[Cycle]:
    """The easing cycles in a snapshot history: each first cut with the last cut the cycle made."""
    spans: dict[date, date] = {}
    for day in sorted(snapshots):
        phase = snapshots[day].phase
        first = phase.cycle_first_cut
        if first is None:
            continue
        last = phase.last_move if phase.last_move is not None and (phase.last_move_bp or 0) < 0 else first
        spans[first] = max(spans.get(first, first), last)
    return [Cycle(f, spans[f]) for f in sorted(spans)]


def _position(days: Sequence[date], day: date) -> int:
    """The index of the first session on or after `day`."""
    lo, hi = 0, len(days)
    while lo < hi:
        mid = (lo + hi) // 2
        if days[mid] < day:
            lo = mid + 1
        else:
            hi = mid
    return lo


def cycle_folds(days: Sequence[date], cycles: Sequence[Cycle]) -> list[Fold]:
    """Leave-one-cycle-out folds (the rule in the module docstring); none unless at least two cycles have sessions."""
    if not days:
        return []
    cuts = [0]
    for before, after in itertools.pairwise(cycles):
        middle = before.last_cut + timedelta(days=(after.first_cut - before.last_cut).days // 2)
        cuts.append(_position(days, middle + timedelta(days=1)))
    cuts.append(len(days))
    spans = [(cycle, a, b) for cycle, a, b in zip(cycles, cuts, cuts[1:], strict=False) if a < b]
    if len(spans) < 2:
        return []
    folds = []
    for cycle, a, b in spans:
        train = tuple(r for r in ((0, a), (b, len(days))) if r[0] < r[1])
        name = f"{cycle.first_cut.year}" if cycle.last_cut.year == cycle.first_cut.year else f"{cycle.first_cut.year}-{cycle.last_cut:%y}"
        folds.append(Fold(f"cycle {name}", (a, b), train))
    return folds


def _add_years(day: date, years: float) -> date:
    return day + timedelta(days=round(years * 365.25))


def walk_forward_folds(days: Sequence[date], in_sample_years: float, out_of_sample_years: float, *, anchored: bool = True) -> list[Fold]:
    """Walk-forward folds (the rule in the module docstring)."""
    if round(in_sample_years * 365.25) < 1 or round(out_of_sample_years * 365.25) < 1:  # a zero step would never end
        raise ValueError("walk-forward windows need lengths of at least one day")
    if not days:
        return []
    folds = []
    start = _add_years(days[0], in_sample_years)
    while True:
        a = _position(days, start)
        if a >= len(days):
            break
        end = _add_years(start, out_of_sample_years)
        b = _position(days, end)
        if b < len(days) and (days[-1] - days[b]).days < out_of_sample_years * 365.25 / 2:
            b, end = len(days), days[-1] + timedelta(days=1)  # a stub shorter than half a window joins this one
        train_start = 0 if anchored else _position(days, _add_years(start, -in_sample_years))
        if a > train_start:
            folds.append(Fold(f"{days[a]}..{days[b - 1]}", (a, b), ((train_start, a),)))
        start = end
    return folds


def make_folds(
    method: FoldMethod, days: Sequence[date], snapshots: Mapping[date, Snapshot], *, in_sample_years: float, out_of_sample_years: float, anchored: bool
) -> list[Fold]:
    if method == "cycles":
        in_window = {d: s for d, s in snapshots.items() if days and days[0] <= d <= days[-1]}
        return cycle_folds(days, easing_cycles(in_window))
    return walk_forward_folds(days, in_sample_years, out_of_sample_years, anchored=anchored)
