"""Read and validate the data pack (`../shared/data` by default): prices, FRED CSVs, FOMC meetings.

Everything is validated before anything is written: a bad date, a non-numeric value, a duplicate or unsorted
date, or an unexpected gap raises `DataError` naming the file, series and line. Empty cells and FRED's '.' are
missing values, never zero.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from config.schema import PriceSpec, SeriesSpec
from datastore.errors import DataError

MISSING = {"", "."}
PRICE_COLUMNS = ["date", "open", "high", "low", "close", "adj_close", "volume"]
FOMC_COLUMNS = ["date", "scheduled", "decision_bp", "target_low", "target_high", "source", "kind"]
FOMC_KINDS = {"scheduled", "unscheduled", "conference_call", "intermeeting_action"}
DEFAULT_MAX_GAP = {"daily": 6, "weekly": 7}
PRICE_MAX_GAP_DAYS = 14
# Reading stays bounded: the largest pack file is 1.8 MB (GSPC.csv), the longest cell a release row's source text.
MAX_FILE_BYTES = 16_000_000
MAX_CELL_CHARS = 64
MAX_SOURCE_CHARS = 2000
LAST_PLAUSIBLE_DATE = date(2100, 12, 31)
MAX_PRICE = 1e7  # no index or ETF level in the pack comes near (GSPC < 10,000)


@dataclass(frozen=True, slots=True)
class SeriesFile:
    """A FRED series read from the pack: periods ascending, values NaN where missing."""

    series: str
    path: Path
    sha256: str
    periods: list[date]
    values: list[float]


@dataclass(frozen=True, slots=True)
class PriceFile:
    symbol: str
    path: Path
    sha256: str
    days: list[date]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    lines: list[int]  # the file line of each day


@dataclass(frozen=True, slots=True)
class Meeting:
    day: date
    scheduled: bool
    decision_bp: float | None
    target_low: float | None
    target_high: float | None
    kind: str
    source: str


@dataclass(frozen=True, slots=True)
class MeetingsFile:
    path: Path
    sha256: str
    meetings: list[Meeting]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(
    path: Path, series: str | None, expected: list[str] | None, *, wide: int | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and non-blank rows (line numbers from 1 = header). Bounded: the file's size and every cell's length
    are checked before anything grows with them (column `wide` is free text: a source)."""
    if not path.is_file():
        raise DataError("file not found in the data pack", path=str(path), series=series)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(f"file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit for one pack file", path=str(path), series=series)
    header: list[str] | None = None
    body: list[tuple[int, list[str]]] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for line, row in enumerate(csv.reader(fh), start=1):
                for i, cell in enumerate(row):
                    limit = MAX_SOURCE_CHARS if i == wide or header is None else MAX_CELL_CHARS
                    if len(cell) > limit:
                        raise DataError(f"cell {i + 1} is {len(cell):,} characters (limit {limit})", path=str(path), series=series, line=line)
                if header is None:
                    header = [h.strip() for h in row]
                elif any(cell.strip() for cell in row):
                    body.append((line, row))
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path=str(path), series=series) from None
    except csv.Error as exc:
        raise DataError(f"unreadable CSV ({exc})", path=str(path), series=series) from None
    if header is None:
        raise DataError("empty file (no header)", path=str(path), series=series, line=1)
    if expected is not None and header != expected:
        raise DataError(f"header {header} != expected {expected}", path=str(path), series=series, line=1)
    if not body:
        raise DataError("no data rows", path=str(path), series=series, line=2)
    return header, body


def _parse_date(text: str, path: Path, series: str, line: int) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise DataError(f"bad date {text!r} (expected YYYY-MM-DD)", path=str(path), series=series, line=line) from None
    if day > LAST_PLAUSIBLE_DATE:
        raise DataError(f"implausible date {day} (after {LAST_PLAUSIBLE_DATE})", path=str(path), series=series, line=line)
    return day


def _parse_number(text: str, what: str, path: Path, series: str, line: int, *, allow_missing: bool) -> float:
    raw = text.strip()
    if raw in MISSING:
        if allow_missing:
            return math.nan
        raise DataError(f"missing {what}", path=str(path), series=series, line=line)
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"non-numeric {what} {raw!r}", path=str(path), series=series, line=line) from None
    if not math.isfinite(value):
        raise DataError(f"non-finite {what} {raw!r}", path=str(path), series=series, line=line)
    return value


def _check_order(days: list[date], lines: list[int], path: Path, series: str) -> None:
    for i in range(1, len(days)):
        if days[i] == days[i - 1]:
            raise DataError(f"duplicate date {days[i]}", path=str(path), series=series, line=lines[i])
        if days[i] < days[i - 1]:
            raise DataError(f"date {days[i]} after {days[i - 1]}: rows not sorted", path=str(path), series=series, line=lines[i])


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _check_gaps(spec: SeriesSpec, days: list[date], lines: list[int], path: Path, series: str) -> None:
    if spec.frequency == "monthly":
        for i, day in enumerate(days):
            if day.day != 1:
                raise DataError(f"monthly period {day} is not the first of a month", path=str(path), series=series, line=lines[i])
        allowed = set(spec.allowed_gaps)
        for i in range(1, len(days)):
            expect = _next_month(days[i - 1])
            while expect < days[i]:
                if expect not in allowed:
                    raise DataError(
                        f"gap: month {expect:%Y-%m} missing before {days[i]} "
                        "(list it in allowed_gaps if it was never published)",
                        path=str(path),
                        series=series,
                        line=lines[i],
                    )
                expect = _next_month(expect)
        return
    limit = spec.max_gap_days or DEFAULT_MAX_GAP[spec.frequency]
    for i in range(1, len(days)):
        if (days[i] - days[i - 1]).days > limit:
            raise DataError(
                f"gap: {days[i - 1]} -> {days[i]} is {(days[i] - days[i - 1]).days} days (limit {limit})",
                path=str(path),
                series=series,
                line=lines[i],
            )


def read_series(pack: Path, series: str, spec: SeriesSpec) -> SeriesFile:
    """Read `fred/<series>.csv` in FRED's CSV format (`observation_date,<ID>`, or the older `DATE,<ID>`)."""
    path = pack / "fred" / f"{series}.csv"
    header, body = _rows(path, series, None)
    if len(header) != 2 or header[0] not in ("observation_date", "DATE") or header[1] != series:
        raise DataError(f"header {header} != ['observation_date', '{series}']", path=str(path), series=series, line=1)
    periods: list[date] = []
    values: list[float] = []
    lines: list[int] = []
    for line, row in body:
        if len(row) != 2:
            raise DataError(f"expected 2 columns, got {len(row)}", path=str(path), series=series, line=line)
        periods.append(_parse_date(row[0], path, series, line))
        values.append(_parse_number(row[1], "value", path, series, line, allow_missing=True))
        lines.append(line)
    _check_order(periods, lines, path, series)
    _check_gaps(spec, periods, lines, path, series)
    return SeriesFile(series, path, file_sha256(path), periods, values)


def read_prices(pack: Path, symbol: str, spec: PriceSpec) -> PriceFile:
    """Read `prices/<file>`: date,open,high,low,close,adj_close,volume; every price present and positive."""
    path = pack / "prices" / spec.file
    _, body = _rows(path, symbol, PRICE_COLUMNS)
    cols: dict[str, list[float]] = {c: [] for c in ("open", "high", "low", "close", "volume")}
    days: list[date] = []
    lines: list[int] = []
    for line, row in body:
        if len(row) != len(PRICE_COLUMNS):
            raise DataError(f"expected {len(PRICE_COLUMNS)} columns, got {len(row)}", path=str(path), series=symbol, line=line)
        days.append(_parse_date(row[0], path, symbol, line))
        o, h, lo, c = (_parse_number(row[i], PRICE_COLUMNS[i], path, symbol, line, allow_missing=False) for i in range(1, 5))
        vol = _parse_number(row[6], "volume", path, symbol, line, allow_missing=True)
        if min(o, h, lo, c) <= 0:
            raise DataError("non-positive price", path=str(path), series=symbol, line=line)
        if max(o, h, lo, c) > MAX_PRICE:
            raise DataError(f"implausible price {max(o, h, lo, c):g} (over {MAX_PRICE:g})", path=str(path), series=symbol, line=line)
        if not math.isnan(vol) and vol < 0:
            raise DataError(f"negative volume {vol:g}", path=str(path), series=symbol, line=line)
        if lo > min(o, c) + 1e-9 or h < max(o, c) - 1e-9:
            raise DataError(f"inconsistent bar: low {lo} high {h} open {o} close {c}", path=str(path), series=symbol, line=line)
        for key, value in (("open", o), ("high", h), ("low", lo), ("close", c), ("volume", 0.0 if math.isnan(vol) else vol)):
            cols[key].append(value)
        lines.append(line)
    _check_order(days, lines, path, symbol)
    for i in range(1, len(days)):
        if (days[i] - days[i - 1]) > timedelta(days=PRICE_MAX_GAP_DAYS):
            raise DataError(f"gap: {days[i - 1]} -> {days[i]}", path=str(path), series=symbol, line=lines[i])
    return PriceFile(symbol, path, file_sha256(path), days, cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"], lines)


def _optional(text: str, what: str, path: Path, line: int) -> float | None:
    value = _parse_number(text, what, path, "FOMC", line, allow_missing=True)
    return None if math.isnan(value) else value


def read_meetings(pack: Path) -> MeetingsFile:
    """Read `fomc/fomc_meetings.csv`: one row per meeting, call or intermeeting action."""
    path = pack / "fomc" / "fomc_meetings.csv"
    _, body = _rows(path, "FOMC", FOMC_COLUMNS, wide=5)
    meetings: list[Meeting] = []
    lines: list[int] = []
    for line, row in body:
        if len(row) != len(FOMC_COLUMNS):
            raise DataError(f"expected {len(FOMC_COLUMNS)} columns, got {len(row)}", path=str(path), series="FOMC", line=line)
        flag = row[1].strip().lower()
        if flag not in ("true", "false"):
            raise DataError(f"scheduled must be true or false, got {row[1]!r}", path=str(path), series="FOMC", line=line)
        kind = row[6].strip()
        if kind not in FOMC_KINDS:
            raise DataError(f"unknown kind {kind!r} (expected one of {sorted(FOMC_KINDS)})", path=str(path), series="FOMC", line=line)
        meetings.append(
            Meeting(
                day=_parse_date(row[0], path, "FOMC", line),
                scheduled=flag == "true",
                decision_bp=_optional(row[2], "decision_bp", path, line),
                target_low=_optional(row[3], "target_low", path, line),
                target_high=_optional(row[4], "target_high", path, line),
                kind=kind,
                source=row[5].strip(),
            )
        )
        lines.append(line)
    _check_order([m.day for m in meetings], lines, path, "FOMC")
    return MeetingsFile(path, file_sha256(path), meetings)


RELEASE_COLUMNS = ["release", "reference_period", "published_date", "published_time_et", "source"]
_ONLY = re.compile(r"\.?\s*((?:[A-Z0-9]+)(?:\s*(?:,|and)\s*[A-Z0-9]+)*) only\W*$")


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    """One publication from the record: a reference period, its date and New York time (None = not recorded)."""

    period: date
    published: date
    time: str | None
    only: frozenset[str] | None  # the row covers only these series ("PAYEMS only"), None = every series of the release
    line: int


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    release: str
    path: Path
    sha256: str
    rows: list[ReleaseRow]


def _period(text: str, path: Path, series: str, line: int) -> date:
    raw = text.strip()
    if len(raw) == 7:
        raw += "-01"
    return _parse_date(raw, path, series, line)


def read_releases(pack: Path, release: str) -> ReleaseFile:
    """Read `releases/<release>.csv`: release,reference_period (YYYY-MM or a week's date),published_date,published_time_et,source."""
    path = pack / "releases" / f"{release}.csv"
    _, body = _rows(path, release, RELEASE_COLUMNS, wide=4)
    rows: list[ReleaseRow] = []
    for line, row in body:
        if len(row) != len(RELEASE_COLUMNS):
            raise DataError(f"expected {len(RELEASE_COLUMNS)} columns, got {len(row)}", path=str(path), series=release, line=line)
        period = _period(row[1], path, release, line)
        published = _parse_date(row[2], path, release, line)
        if published < period:
            raise DataError(f"published {published} before its period {period}", path=str(path), series=release, line=line)
        time = row[3].strip() or None
        if time is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", time):
            raise DataError(f"bad time {time!r} (expected HH:MM New York time)", path=str(path), series=release, line=line)
        match = _ONLY.search(row[4].strip())
        only = frozenset(re.split(r"\s*(?:,|and)\s*", match.group(1))) if match else None
        rows.append(ReleaseRow(period, published, time, only, line))
    _check_order([r.period for r in rows], [r.line for r in rows], path, release)
    return ReleaseFile(release, path, file_sha256(path), rows)
