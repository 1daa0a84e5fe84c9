"""`main.py data releases`: per series, the last publication the store holds and the next one expected.

Each instant says where it comes from: `record` (the pack's release record, `releases/*.csv`), `override` (a known
exception in the config), `rule` (the series' release rule, erring late), or `fetched` for a label-only series.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from datastore.releases import NEVER, LabelOnlySeries, SeriesDerivation, next_expected
from datastore.store import Store


@dataclass(frozen=True, slots=True)
class ReleaseLine:
    series: str
    last_period: date | None
    last_published: datetime | None
    last_basis: str
    next_period: date | None
    next_published: datetime | None
    next_basis: str


def release_lines(store: Store, derivations: Mapping[str, SeriesDerivation], now: datetime, series: list[str] | None = None) -> list[ReleaseLine]:
    """One line per series (those asked for, else every stored series the config knows), as the store knows at `now`."""
    ids = series or [s for s in derivations if s in set(store.series_ids())]
    out: list[ReleaseLine] = []
    for sid in ids:
        derivation = derivations[sid]
        frame = store.observations(sid)
        known = frame[frame["value"].notna() & (frame["available_at"] <= now)]
        if known.empty:
            out.append(ReleaseLine(sid, None, None, "nothing published yet", None, None, ""))
            continue
        last = known.sort_values(["period", "available_at"]).iloc[-1]
        period = last["period"].date()
        try:
            basis = derivation.published(period).basis
            nxt_period, nxt = next_expected(derivation, period)
        except LabelOnlySeries:
            out.append(ReleaseLine(sid, period, last["available_at"].to_pydatetime(), "fetched (label only)", None, None, "never a trading input"))
            continue
        if derivation.spec.discontinued:
            out.append(ReleaseLine(sid, period, last["available_at"].to_pydatetime(), basis, None, None, derivation.spec.discontinued))
            continue
        out.append(ReleaseLine(sid, period, last["available_at"].to_pydatetime(), basis, nxt_period, nxt.at, nxt.basis))
    return out


def upcoming(lines: list[ReleaseLine]) -> list[ReleaseLine]:
    """What the bot is waiting for: the lines with a next release, soonest (or most overdue) first."""
    waiting = [line for line in lines if line.next_published is not None]
    return sorted(waiting, key=lambda line: (line.next_published or NEVER, line.series))
