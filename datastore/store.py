"""The local store: one SQLite file holding every observation, bar and FOMC meeting, with where it came from.

Everything downstream reads only the store. Each dataset (a series, a symbol's bars, the meeting list) records
its source (pack, fred, alfred, alpaca), when it was fetched, what it was read from and a content hash. A write
replaces a whole dataset inside one transaction, so a failed import leaves the previous data untouched.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from clock import ensure_utc
from datastore.errors import DataError, UnknownSeries
from datastore.pack import Meeting
from sqlite_read import connect_read_only, writable_dir

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,            -- 'fred:CPIAUCSL', 'bars:IWM', 'fomc:meetings'
    kind TEXT NOT NULL CHECK (kind IN ('series', 'bars', 'meetings')),
    source TEXT NOT NULL,           -- pack | fred | alfred | alpaca
    origin TEXT NOT NULL,           -- file path or endpoint (never a URL with a key)
    content_hash TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    rows INTEGER NOT NULL,
    first TEXT,
    last TEXT,
    vintage TEXT NOT NULL           -- 'latest (release rule)' or 'alfred realtime_start'
);
CREATE TABLE IF NOT EXISTS observations (
    series TEXT NOT NULL,
    period TEXT NOT NULL,
    value REAL,                     -- NULL = missing ('.' or empty), never zero
    available_at TEXT NOT NULL,     -- UTC, ISO 8601
    realtime_start TEXT,            -- ALFRED vintage date when known
    PRIMARY KEY (series, period, available_at)
);
CREATE TABLE IF NOT EXISTS bars (
    symbol TEXT NOT NULL,
    day TEXT NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL,
    available_at TEXT NOT NULL,
    PRIMARY KEY (symbol, day)
);
CREATE TABLE IF NOT EXISTS release_dates (
    series TEXT NOT NULL,
    period TEXT NOT NULL,
    published TEXT NOT NULL,        -- the day ALFRED first shows a value for the period (its first vintage)
    source TEXT NOT NULL,           -- e.g. 'alfred first release, fetched 2026-08-31'
    PRIMARY KEY (series, period)
);
CREATE TABLE IF NOT EXISTS fomc_meetings (
    day TEXT PRIMARY KEY,
    scheduled INTEGER NOT NULL,
    decision_bp REAL, target_low REAL, target_high REAL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL
);
"""


def iso_utc(instant: datetime | pd.Timestamp) -> str:
    return ensure_utc(instant.to_pydatetime() if isinstance(instant, pd.Timestamp) else instant).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    id: str
    kind: str
    source: str
    origin: str
    content_hash: str
    fetched_at: str
    rows: int
    first: str | None
    last: str | None
    vintage: str


class Store:
    """One SQLite file, used by one thread at a time (the paper trader hands it to its job thread); one per process."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the store for reading and writing; on storage this process cannot write (a read-only
        mount, a directory or file it may not write) an existing store is opened read-only instead (`sqlite_read`):
        every read works, and a write (a changed pack to import, a sync) fails naming the file."""
        self.path = path
        self.read_only = path.exists() and not (writable_dir(path) and os.access(path, os.W_OK))
        if self.read_only:
            self._db = connect_read_only(path, check_same_thread=False)
            self._db.isolation_level = None
            found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        else:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            path.chmod(0o600)
        if found is not None and int(found[0]) > SCHEMA_VERSION:
            raise DataError(f"store schema {found[0]} is newer than this code ({SCHEMA_VERSION}): upgrade cutcycle", path=str(path))

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        if self.read_only:
            raise sqlite3.OperationalError(f"read-only: cannot write in {self.path.parent} (the store must be updated: the data pack changed,"
                                           " or a sync was asked for)")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writes (call inside `transaction()`) ---------------------------------------------------------------------

    def _record(self, info: DatasetInfo) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO datasets VALUES (?,?,?,?,?,?,?,?,?,?)",
            (info.id, info.kind, info.source, info.origin, info.content_hash, info.fetched_at, info.rows, info.first, info.last, info.vintage),
        )

    def replace_series(
        self,
        series: str,
        periods: Sequence[date],
        values: Sequence[float],
        available_at: Sequence[datetime],
        realtime_start: Sequence[date | None] | None,
        *,
        source: str,
        origin: str,
        content_hash: str,
        fetched_at: datetime,
        vintage: str,
        derivation: str = "",
    ) -> None:
        """Replace a series; `derivation` is the digest of what derived `available_at` ('' = re-derive on next open)."""
        starts = realtime_start if realtime_start is not None else [None] * len(periods)
        if not (len(periods) == len(values) == len(available_at) == len(starts)):
            raise ValueError("replace_series: columns differ in length")
        self._db.execute("DELETE FROM observations WHERE series=?", (series,))
        self._db.executemany(
            "INSERT INTO observations VALUES (?,?,?,?,?)",
            [
                (series, p.isoformat(), None if math.isnan(v) else float(v), iso_utc(a), None if r is None else r.isoformat())
                for p, v, a, r in zip(periods, values, available_at, starts, strict=True)
            ],
        )
        self._record(
            DatasetInfo(
                f"fred:{series}", "series", source, origin, content_hash, iso_utc(fetched_at), len(periods),
                min(periods).isoformat() if periods else None, max(periods).isoformat() if periods else None, vintage,
            )
        )
        self.set_derivation(series, derivation)

    def replace_bars(
        self,
        symbol: str,
        frame: pd.DataFrame,
        *,
        source: str,
        origin: str,
        content_hash: str,
        fetched_at: datetime,
        vintage: str,
    ) -> None:
        """`frame`: index of dates; columns open, high, low, close, volume, available_at (UTC)."""
        self._db.execute("DELETE FROM bars WHERE symbol=?", (symbol,))
        rows = [
            (symbol, day.isoformat(), float(o), float(h), float(lo), float(c), float(v), iso_utc(a))
            for day, o, h, lo, c, v, a in zip(
                frame.index, frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"], frame["available_at"], strict=True
            )
        ]
        self._db.executemany("INSERT INTO bars VALUES (?,?,?,?,?,?,?,?)", rows)
        days = list(frame.index)
        self._record(
            DatasetInfo(
                f"bars:{symbol}", "bars", source, origin, content_hash, iso_utc(fetched_at), len(rows),
                min(days).isoformat() if days else None, max(days).isoformat() if days else None, vintage,
            )
        )

    def replace_meetings(self, meetings: Sequence[Meeting], *, origin: str, content_hash: str, fetched_at: datetime) -> None:
        self._db.execute("DELETE FROM fomc_meetings")
        self._db.executemany(
            "INSERT INTO fomc_meetings VALUES (?,?,?,?,?,?,?)",
            [(m.day.isoformat(), int(m.scheduled), m.decision_bp, m.target_low, m.target_high, m.kind, m.source) for m in meetings],
        )
        self._record(
            DatasetInfo(
                "fomc:meetings", "meetings", "pack", origin, content_hash, iso_utc(fetched_at), len(meetings),
                meetings[0].day.isoformat() if meetings else None, meetings[-1].day.isoformat() if meetings else None, "as published",
            )
        )

    def replace_release_dates(self, series: str, first: Mapping[date, date], source: str) -> None:
        """Store each period's first publication day as FRED/ALFRED reports it (replacing the series' earlier copy)."""
        self._db.execute("DELETE FROM release_dates WHERE series=?", (series,))
        self._db.executemany(
            "INSERT INTO release_dates VALUES (?,?,?,?)", [(series, p.isoformat(), d.isoformat(), source) for p, d in sorted(first.items())]
        )

    # -- reads ----------------------------------------------------------------------------------------------------

    def release_dates(self) -> dict[str, dict[date, date]]:
        """Series -> period -> first publication day, as `data sync` fetched them from ALFRED."""
        out: dict[str, dict[date, date]] = {}
        for series, period, published in self._db.execute("SELECT series, period, published FROM release_dates ORDER BY series, period"):
            out.setdefault(series, {})[date.fromisoformat(period)] = date.fromisoformat(published)
        return out

    def datasets(self) -> list[DatasetInfo]:
        return [DatasetInfo(*row) for row in self._db.execute("SELECT * FROM datasets ORDER BY kind, id")]

    def versions(self) -> dict[str, str]:
        """Dataset id -> "source:hash:fetched_at[:derivation]": what a run read, for its journal entry.

        A series' version ends with the hash of what derived its available_at (record, rule, overrides, calendar),
        so two runs over the same values released at different times do not look alike.
        """
        derived = self.derivations()
        out = {}
        for ds in self.datasets():
            version = f"{ds.source}:{ds.content_hash[:16]}:{ds.fetched_at}"
            digest = derived.get(ds.id.split(":", 1)[1]) if ds.kind == "series" else None
            out[ds.id] = f"{version}:{digest[:12]}" if digest else version
        return out

    def derivations(self) -> dict[str, str]:
        """Series id -> the digest of what derived its stored available_at ('' = unknown: re-derive)."""
        rows = self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'derivation:%'").fetchall()
        return {key.split(":", 1)[1]: value for key, value in rows}

    def set_derivation(self, series: str, digest: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"derivation:{series}", digest))

    def rederive(self, series: str, available: Callable[[date, date | None], datetime], digest: str) -> int:
        """Recompute every stored row's available_at from (period, realtime_start); values stay. Returns rows kept.

        Two vintages of a period that now fall on the same instant keep the later vintage (it was out by then).
        """
        rows = self._db.execute(
            "SELECT period, value, realtime_start FROM observations WHERE series=? ORDER BY period, realtime_start", (series,)
        ).fetchall()
        latest: dict[tuple[str, str], tuple[str, float | None, str, str | None]] = {}
        for period, value, start in rows:
            at = iso_utc(available(date.fromisoformat(period), date.fromisoformat(start) if start else None))
            latest[(period, at)] = (period, value, at, start)
        self._db.execute("DELETE FROM observations WHERE series=?", (series,))
        self._db.executemany("INSERT INTO observations VALUES (?,?,?,?,?)", [(series, *row) for row in latest.values()])
        self.set_derivation(series, digest)
        return len(latest)

    def dataset(self, dataset_id: str) -> DatasetInfo | None:
        row = self._db.execute("SELECT * FROM datasets WHERE id=?", (dataset_id,)).fetchone()
        return DatasetInfo(*row) if row else None

    def observations(self, series: str) -> pd.DataFrame:
        """Every stored row of a series (all vintages, missing values as NaN): period, value, available_at."""
        if self.dataset(f"fred:{series}") is None:
            raise UnknownSeries(f"not in the store (known: {self.series_ids()}); run `main.py data sync`", series=series)
        rows = self._db.execute(
            "SELECT period, value, available_at, realtime_start FROM observations WHERE series=? ORDER BY available_at, period",
            (series,),
        ).fetchall()
        frame = pd.DataFrame(rows, columns=["period", "value", "available_at", "realtime_start"])
        frame["period"] = pd.to_datetime(frame["period"])
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
        frame["available_at"] = pd.to_datetime(frame["available_at"], utc=True)
        return frame

    def period_span(self, series: str) -> tuple[date, date, int] | None:
        """First and last period with a value, and how many periods have one; None when nothing is stored."""
        row = self._db.execute(
            "SELECT MIN(period), MAX(period), COUNT(DISTINCT period) FROM observations WHERE series=? AND value IS NOT NULL", (series,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return date.fromisoformat(row[0]), date.fromisoformat(row[1]), int(row[2])

    def as_of(self, series: str, ts: datetime) -> pd.DataFrame:
        """What was known of `series` at `ts`: the latest vintage per period with available_at <= ts.

        Indexed by period; columns value and available_at; missing values are left out.
        """
        from datastore.pit import PitSeries

        return PitSeries.from_frame(series, self.observations(series)).as_of(ts)

    def bars(self, symbol: str) -> pd.DataFrame:
        if self.dataset(f"bars:{symbol}") is None:
            raise UnknownSeries(f"no bars for {symbol} in the store; run `main.py data sync`", series=symbol)
        rows = self._db.execute(
            "SELECT day, open, high, low, close, volume, available_at FROM bars WHERE symbol=? ORDER BY day", (symbol,)
        ).fetchall()
        frame = pd.DataFrame(rows, columns=["day", "open", "high", "low", "close", "volume", "available_at"])
        frame["day"] = pd.to_datetime(frame["day"])
        frame["available_at"] = pd.to_datetime(frame["available_at"], utc=True)
        return frame.set_index("day")

    def meetings(self) -> list[Meeting]:
        rows = self._db.execute("SELECT * FROM fomc_meetings ORDER BY day").fetchall()
        return [Meeting(date.fromisoformat(r[0]), bool(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def series_ids(self) -> list[str]:
        return [r[0].split(":", 1)[1] for r in self._db.execute("SELECT id FROM datasets WHERE kind='series' ORDER BY id")]

    def symbols(self) -> list[str]:
        return [r[0].split(":", 1)[1] for r in self._db.execute("SELECT id FROM datasets WHERE kind='bars' ORDER BY id")]
