"""The NYSE calendar: exchange_calendars' XNYS (sessions, holidays, early closes), built on first use.

The one home of the exchange calendar: the pack's session closes, price checks, `data status`, the paper trader's
offline calendar and option expiries all read it. The library is imported, and the calendar built, only when a
caller asks (about 0.25 s together), so a run that never needs it does not pay for it. Pure (no clock, no I/O):
the decision core may use it.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import exchange_calendars

CALENDAR_START = "1990-01-02"  # XNYS sessions are built from here (exchange_calendars' default start is recent)


@lru_cache(maxsize=4)
def nyse_calendar(end_year: int) -> exchange_calendars.ExchangeCalendar:
    """XNYS from `CALENDAR_START` to the end of `end_year` (one calendar per end year, up to four kept)."""
    import exchange_calendars as xcals

    # exchange_calendars 4.13 trips a pandas 3.1 deprecation (Series.values on tz-aware data) while building.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray", category=FutureWarning)
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray", category=DeprecationWarning)
        return xcals.get_calendar("XNYS", start=CALENDAR_START, end=f"{end_year}-12-31")
