"""Processes on a wall clock the test moves: Debian's libfaketime, one timestamp file shared by every process.

`FakeWall(folder)` writes the clock file and a `sitecustomize.py`; `env()` is what a child process needs:
LD_PRELOAD, FAKETIME_TIMESTAMP_FILE (re-read at most once a second: FAKETIME_CACHE_DURATION=1) and
FAKETIME_DONT_FAKE_MONOTONIC=1 (with a faked monotonic clock, timed waits such as APScheduler's hang). With the real
monotonic clock, Python 3.11's `time.sleep` fails with EINVAL under libfaketime 0.9.10, so the sitecustomize routes
it through `select.select` (see ../shared/docs/STACK-FACTS.md, APScheduler 3.11). The file holds an offset from the
real clock, so faked time runs at real speed between moves. The test process itself is never faked.
"""

from __future__ import annotations

import glob
import os
from datetime import date, datetime, timedelta
from pathlib import Path

from clock import NEW_YORK, SystemClock, ensure_utc

LIB_PATTERNS = (
    "/usr/lib/*/faketime/libfaketime.so.1",  # Debian and Ubuntu (multiarch)
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/lib64/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
)

SITECUSTOMIZE = '''"""Test harness only: libfaketime with the real monotonic clock breaks time.sleep (EINVAL); select does not."""
import select
import time


def _sleep(seconds: float) -> None:
    if seconds > 0:
        select.select([], [], [], seconds)


time.sleep = _sleep
'''


def libfaketime() -> Path | None:
    """The installed libfaketime, wherever the distribution put it (FAKETIME_LIB wins)."""
    named = os.environ.get("FAKETIME_LIB")
    if named:
        return Path(named) if Path(named).is_file() else None
    for pattern in LIB_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    return None


class FakeWall:
    """The faked wall clock of every process started with `env()`."""

    def __init__(self, folder: Path, lib: Path) -> None:
        self.lib = lib
        self.site = folder / "faketime-site"
        self.site.mkdir(parents=True, exist_ok=True)
        (self.site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.file = folder / "faketime.rc"
        self._offset = 0.0
        self._write()

    def set(self, instant: datetime) -> None:
        """Move every faked process to `instant` (they see it within FAKETIME_CACHE_DURATION, one second)."""
        self._offset = (ensure_utc(instant) - SystemClock().now()).total_seconds()
        self._write()

    def now(self) -> datetime:
        """What the faked processes read now (give or take the one-second cache)."""
        return SystemClock().now() + timedelta(seconds=self._offset)

    def _write(self) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(f"{self._offset:+.3f}\n")
        tmp.replace(self.file)  # atomic: a process never reads half a line

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return base | {
            "LD_PRELOAD": str(self.lib), "FAKETIME_TIMESTAMP_FILE": str(self.file), "FAKETIME_CACHE_DURATION": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": str(self.site),
        }


def new_york(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    """A New York wall-clock instant on `day` (the faked clock is set in these)."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=NEW_YORK)
