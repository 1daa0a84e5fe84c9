"""NYSE session closes (regular and early) from exchange_calendars, offline.

A price bar is known at its session's close. The calendar is `clock.nyse_calendar` (from 1990); days before it
close at the regular time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import pandas as pd

from clock import NEW_YORK
from nyse import nyse_calendar


@lru_cache(maxsize=8)
def _early_close_times(end_year: int) -> dict[date, tuple[int, int]]:
    cal = nyse_calendar(end_year)
    closes = cal.schedule["close"].dt.tz_convert(NEW_YORK)
    early = closes[(closes.dt.hour < 16)]
    return {ts.date(): (ts.hour, ts.minute) for ts in early}


def close_instants(days: list[date], regular_close: str) -> pd.DatetimeIndex:
    """UTC instants at which each session's bar became final; early closes shift by the same offset."""
    hour, minute = (int(p) for p in regular_close.split(":"))
    end_year = max(days).year + 1 if days else 2030
    early = _early_close_times(end_year)
    out = []
    for day in days:
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)
        if day in early:
            eh, em = early[day]
            local = datetime(day.year, day.month, day.day, eh, em, tzinfo=NEW_YORK) + timedelta(minutes=minute)
        out.append(local.astimezone(UTC))
    return pd.DatetimeIndex(out)
