"""The decision's closes: the 16:30 decision decides on that session's close, as the backtest does, or says why not.

The 08:45 pre-open refresh leaves the store one session behind by the evening, so the decision job refreshes too:
the data refresh (FRED series and the Alpaca daily bars of `[alpaca] symbols`, the traded symbol and the benchmark)
runs, the snapshot source is reloaded (`runner.compose.StoreSnapshots.reload`, which also drops every cached
snapshot), and the store must then hold the session's bar for every one of those symbols, as of the snapshot's
instant.

When the refresh fails or a bar is still missing, the policy is: wait, then decide and say so.

- Until `STALE_FALLBACK` before the decision's deadline (the next session's pre-open cutoff, `runner.schedule`;
  08:42 New York on a normal morning, before the 08:45 pre-open sends) the job fails with `StaleClose`. It is not
  marked done: it is journaled as `job_failed`, listed under `failing` in the heartbeat and tried again every
  `RETRY_FAILED_AFTER` with a new refresh, as any failing job is. A bar that arrives late, or an Alpaca outage that
  ends in the evening, still gives the decision the day's close.
- From then on it decides on the last close the store holds rather than not at all (the stored intents of the
  morning would otherwise never be replaced), and says which: the decision's inputs carry a `closes` document
  (session, last close day per symbol, the symbols missing, the refresh error), a `stale_close` event names the
  close used, the job's outcome in the ledger ends with "on stale closes ...", and the heartbeat's `decision_closes`
  shows the last decision's document.

A failed refresh whose bars are nevertheless all there (FRED down, the bars synced earlier) decides normally; the
failure is reported as a `refresh_failed` event, as at the pre-open.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from broker.contract import BrokerError

log = logging.getLogger(__name__)

STALE_FALLBACK = timedelta(minutes=45)  # stop waiting this long before the decision's deadline


class StaleClose(Exception):
    """The store does not hold the session's close yet and waiting is still meaningful: retried later."""


@dataclass(frozen=True, slots=True)
class Closes:
    """Which close each symbol's snapshot reads for session `day`."""

    day: date
    last: Mapping[str, date | None]  # symbol -> the session of the last bar known at the snapshot's instant
    refresh_error: str | None = None

    @property
    def missing(self) -> list[str]:
        return sorted(s for s, d in self.last.items() if d != self.day)

    def describe(self) -> str:
        shown = ", ".join(f"{s} {d.isoformat() if d else 'none'}" for s, d in sorted(self.last.items()))
        error = f"; refresh failed: {self.refresh_error}" if self.refresh_error else ""
        return f"no {self.day.isoformat()} bar for {', '.join(self.missing)} (last closes: {shown}){error}"

    def doc(self) -> dict[str, Any]:
        return {"session": self.day.isoformat(), "last_close": {s: d.isoformat() if d else None for s, d in sorted(self.last.items())},
                "missing": self.missing, "stale": bool(self.missing), "refresh_error": self.refresh_error}


def fresh_closes(day: date, *, refresh: Callable[[], None] | None, last_close: Callable[[date], Mapping[str, date | None]],
                 now: datetime, give_up_at: datetime) -> Closes:
    """Refresh, then the closes the snapshot of `day` will read; `StaleClose` while one is missing before `give_up_at`."""
    error = None
    if refresh is not None:
        try:
            refresh()
        except Exception as exc:  # judged by the bars it leaves: FRED down with the bars in place still decides
            error = f"{type(exc).__name__}: {exc}"
            log.error("decision data refresh failed: %s", error, exc_info=not isinstance(exc, sqlite3.Error | OSError | BrokerError))
    closes = Closes(day, dict(last_close(day)), error)
    if closes.missing and now < give_up_at:
        raise StaleClose(f"{closes.describe()}; waiting for it (retried) until {give_up_at.isoformat()}, then deciding on the last close")
    return closes
