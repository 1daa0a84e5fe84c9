"""Data freshness: each dataset's range, rows, last available_at and whether it is stale against its schedule.

A series is stale when the next release its schedule promises (plus a grace period) has passed at `now` without
the store holding it. Price bars are stale when more than a few sessions behind the last completed session. Range,
rows and last values are what was known at `now` (`data status --as-of` in the past shows the past, and a dataset
not yet published then is neither current nor stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from config.schema import AppConfig, LabelOnly, SeriesSpec
from datastore.releases import DEFAULT_CALENDAR, SeriesDerivation, next_expected
from datastore.store import Store
from nyse import CALENDAR_START, nyse_calendar

GRACE_DAYS = {"daily": 4, "weekly": 4, "monthly": 10}
PRICE_GRACE_SESSIONS = 2


@dataclass(frozen=True, slots=True)
class SeriesStatus:
    id: str
    source: str
    kind: str
    first: str | None
    last: str | None
    rows: int
    last_available_at: str | None
    next_release: str | None
    stale: bool
    note: str


def _series_status(store: Store, sid: str, derivation: SeriesDerivation, now: datetime) -> SeriesStatus:
    spec: SeriesSpec = derivation.spec
    info = store.dataset(f"fred:{sid}")
    if info is None or info.last is None:
        return SeriesStatus(sid, "-", "series", None, None, 0, None, None, True, "missing from the store: run `main.py data sync`")
    frame = store.observations(sid)
    if isinstance(spec.release, LabelOnly):  # stored as never available (labels, not inputs): its rows and range as they are
        labels = frame[frame["value"].notna()]
        first_label = labels["period"].min().date().isoformat() if len(labels) else None
        last_label = labels["period"].max().date().isoformat() if len(labels) else None
        return SeriesStatus(sid, info.source, "series", first_label, last_label, len(labels), None, None, False,
                            "label only (NBER dates): never a trading input")
    known = frame[frame["value"].notna() & (frame["available_at"] <= now)]
    if known.empty:  # as of a date before the series' first publication: nothing known yet, and nothing overdue
        return SeriesStatus(sid, info.source, "series", None, None, 0, None, None, False, f"nothing published yet (first period {info.first})")
    # what was known at `now`: range, rows and last period as of then (the whole stored series when `now` is today)
    first, last = known["period"].min().date().isoformat(), known["period"].max().date().isoformat()
    last_available = known["available_at"].max().isoformat()
    last_period = date.fromisoformat(last)
    if spec.discontinued and last == info.last:
        return SeriesStatus(sid, info.source, "series", first, last, len(known), last_available, None, False, spec.discontinued)
    due = next_expected(derivation, last_period)[1].at
    grace = timedelta(days=spec.stale_after_days or GRACE_DAYS[spec.frequency])
    stale = now > due + grace
    note = f"next release was due {due:%Y-%m-%d %H:%M} UTC" if stale else "current"
    return SeriesStatus(sid, info.source, "series", first, last, len(known), last_available, due.isoformat(), stale, note)


def _bars_status(store: Store, symbol: str, now: datetime) -> SeriesStatus:
    info = store.dataset(f"bars:{symbol}")
    if info is None or info.last is None:
        return SeriesStatus(symbol, "-", "bars", None, None, 0, None, None, True, "missing from the store: run `main.py data sync`")
    bars = store.bars(symbol)
    known = bars[bars["available_at"] <= now]
    if known.empty:
        return SeriesStatus(symbol, info.source, "bars", None, None, 0, None, None, False, f"no bars yet (first session {info.first})")
    first, last = known.index.min().date().isoformat(), known.index.max().date().isoformat()
    last_available = known["available_at"].max().isoformat()
    cal = nyse_calendar(max(now.year, date.fromisoformat(last).year) + 1)
    sessions = cal.sessions_in_range(max(last, CALENDAR_START), now.date().isoformat()) if now.date().isoformat() >= CALENDAR_START else []
    closed = [s for s in sessions if cal.session_close(s) <= now]
    behind = max(len(closed) - 1, 0)
    stale = behind > PRICE_GRACE_SESSIONS
    note = f"{behind} sessions behind" if behind else "current"
    return SeriesStatus(symbol, info.source, "bars", first, last, len(known), last_available, None, stale, note)


def data_status(store: Store, cfg: AppConfig, now: datetime, derivations: Mapping[str, SeriesDerivation] | None = None) -> list[SeriesStatus]:
    """`derivations` (datastore.releases.load_derivations) date the next release by the record; without, by the rule."""
    how = dict(derivations or {})
    rows = [
        _series_status(store, sid, how.get(sid) or SeriesDerivation(sid, spec, cfg.release_calendar or DEFAULT_CALENDAR, None), now)
        for sid, spec in cfg.series.items()
    ]
    rows += [_bars_status(store, sym, now) for sym in cfg.prices]
    meetings = store.dataset("fomc:meetings")
    if meetings is not None:
        rows.append(
            SeriesStatus("FOMC", meetings.source, "meetings", meetings.first, meetings.last, meetings.rows, None, None, False, "calendar and decisions")
        )
    return rows
