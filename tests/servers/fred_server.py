"""A small FRED-API-compatible HTTP server, so tests run the real fredapi client over real sockets.

It speaks FRED's XML (https://fred.stlouisfed.org/docs/api/fred/) for the three endpoints fredapi's series calls
use, under `/fred`:

    /fred/series                  series info (`Fred.get_series_info`)
    /fred/series/observations     observations; output_type 1 rows (a value valid over a real-time period), clipped
                                  to the requested `realtime_start`..`realtime_end` (default: `today`, the latest
                                  vintage), filtered by `observation_start`/`observation_end`. fredapi's
                                  all-releases and as-of-date calls send realtime 1776-07-04..9999-12-31. A range
                                  holding more than `max_vintage_dates` vintage dates is refused with FRED's message.
    /fred/series/vintagedates     the vintage dates (`Fred.get_series_vintage_dates`)

Like FRED it answers 400 with an `<error code=... message=...>` body for a missing or wrong `api_key`, an unknown
series, a bad date or an unknown parameter. Faults are set per path (optionally per series) and each fires `times`
times (or forever): an HTTP status with FRED's error body, an HTML error page, an empty body, a hang (the request is
read and never answered, until `hang_seconds` pass or the server stops), a TCP reset, a truncated body. Every request
is logged (path, parameters, headers) so tests can count retries and see where the key travelled.

    with FredServer(api_key=KEY) as server:
        server.add(ServedSeries.from_pack_csv(path, released=date(2026, 6, 1)))
        server.fail("/fred/series/observations", Fault.too_many_requests(times=2))
        ... Fred(api_key=KEY) with root_url = server.root_url ...
"""

from __future__ import annotations

import csv
import socket
import struct
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

EARLIEST = date(1776, 7, 4)
FAR_FUTURE = date(9999, 12, 31)
ROOT = "/fred"
SERIES_PATH = f"{ROOT}/series"
OBSERVATIONS_PATH = f"{ROOT}/series/observations"
VINTAGEDATES_PATH = f"{ROOT}/series/vintagedates"
KEY_HELP = "Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."
ALLOWED = {
    SERIES_PATH: {"api_key", "file_type", "series_id", "realtime_start", "realtime_end"},
    OBSERVATIONS_PATH: {
        "api_key",
        "file_type",
        "series_id",
        "observation_start",
        "observation_end",
        "realtime_start",
        "realtime_end",
        "limit",
        "offset",
        "sort_order",
        "units",
        "output_type",
    },
    VINTAGEDATES_PATH: {"api_key", "file_type", "series_id", "realtime_start", "realtime_end", "limit", "offset"},
}


# -- data ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Observation:
    """One ALFRED row: `value` (as FRED writes it, '.' when missing) held from realtime_start to realtime_end."""

    period: date
    value: str
    realtime_start: date
    realtime_end: date = FAR_FUTURE


def _text(value: str | float | None) -> str:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return "."
    return value if isinstance(value, str) else repr(value)


@dataclass(frozen=True, slots=True)
class ServedSeries:
    """A series the server knows: its metadata and every vintage row."""

    id: str
    observations: tuple[Observation, ...]
    title: str = ""
    frequency: str = "Monthly"

    @classmethod
    def latest(cls, series_id: str, values: Mapping[date, str | float | None], *, released: date, title: str = "", frequency: str = "Monthly") -> ServedSeries:
        """One vintage only: every value known from `released` on."""
        rows = tuple(Observation(p, _text(v), released) for p, v in sorted(values.items()))
        return cls(series_id, rows, title or series_id, frequency)

    @classmethod
    def with_vintages(
        cls,
        series_id: str,
        history: Mapping[date, Sequence[tuple[date, str | float | None]]],
        *,
        title: str = "",
        frequency: str = "Monthly",
    ) -> ServedSeries:
        """`history`: period -> [(realtime_start, value), ...]; each vintage holds until the day before the next."""
        rows: list[Observation] = []
        for period, vintages in sorted(history.items()):
            ordered = sorted(vintages, key=lambda v: v[0])
            for i, (start, value) in enumerate(ordered):
                end = ordered[i + 1][0] - timedelta(days=1) if i + 1 < len(ordered) else FAR_FUTURE
                rows.append(Observation(period, _text(value), start, end))
        return cls(series_id, tuple(rows), title or series_id, frequency)

    @classmethod
    def from_pack_csv(cls, path: Path, *, released: date, start: date | None = None, end: date | None = None, frequency: str = "Monthly") -> ServedSeries:
        """A pack file (`observation_date,<ID>`; empty cells are missing) served as one vintage."""
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            values: dict[date, str | float | None] = {}
            for row in reader:
                if not row:
                    continue
                day = date.fromisoformat(row[0])
                if (start is None or day >= start) and (end is None or day <= end):
                    values[day] = row[1] if len(row) > 1 else ""
        return cls.latest(header[1], values, released=released, frequency=frequency)

    def vintage_dates(self) -> list[date]:
        return sorted({o.realtime_start for o in self.observations})


# -- faults and the request log ---------------------------------------------------------------------------------------

FaultKind = Literal["status", "html", "empty", "hang", "reset", "truncated"]


@dataclass(slots=True)
class Fault:
    """What to do instead of answering. `times=None` fires on every matching request."""

    kind: FaultKind
    status: int = 500
    times: int | None = None
    series_id: str | None = None
    message: str = "Internal Server Error"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def too_many_requests(cls, times: int | None = None, retry_after: int | None = None) -> Fault:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls("status", 429, times, message="Too Many Requests.  Exceeded Rate Limit", headers=headers)

    @classmethod
    def http_status(cls, status: int, message: str, times: int | None = None, series_id: str | None = None) -> Fault:
        """`status` with FRED's XML error body."""
        return cls("status", status, times, series_id, message)

    @classmethod
    def bad_request(cls, times: int | None = None, series_id: str | None = None) -> Fault:
        return cls.http_status(400, "Bad Request.  The series does not exist.", times, series_id)

    @classmethod
    def html(cls, status: int = 500, times: int | None = None, series_id: str | None = None) -> Fault:
        """An error page from a proxy or load balancer, not from FRED."""
        return cls("html", status, times, series_id)

    @classmethod
    def empty(cls, status: int = 500, times: int | None = None, series_id: str | None = None) -> Fault:
        return cls("empty", status, times, series_id)

    @classmethod
    def hang(cls, times: int | None = None, series_id: str | None = None) -> Fault:
        return cls("hang", 0, times, series_id)

    @classmethod
    def reset(cls, times: int | None = None, series_id: str | None = None) -> Fault:
        return cls("reset", 0, times, series_id)

    @classmethod
    def truncated(cls, times: int | None = None, series_id: str | None = None) -> Fault:
        """A 200 whose body stops half-way (Content-Length promises more)."""
        return cls("truncated", 200, times, series_id)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as the server saw it."""

    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    target: str  # the raw request target, path and query
    fault: FaultKind | None


class FredApiError(Exception):
    """An answer in FRED's error format."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _xml(root: ET.Element) -> bytes:
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


def error_body(status: int, message: str) -> bytes:
    root = ET.Element("error", {"code": str(status), "message": message})
    return _xml(root)


HTML_500 = (
    b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
    b"<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p><hr><address>nginx</address>"
    b"</body></html>\n"
)


# -- the server ------------------------------------------------------------------------------------------------------


class FredServer:
    """Serves `ServedSeries` on 127.0.0.1 (a free port) until `stop()`; use it as a context manager."""

    def __init__(
        self,
        api_key: str,
        *,
        today: date = date(2026, 8, 31),
        max_vintage_dates: int = 2000,
        row_limit: int = 100_000,
        hang_seconds: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.today = today
        self.max_vintage_dates = max_vintage_dates
        self.row_limit = row_limit
        self.hang_seconds = hang_seconds
        self._series: dict[str, ServedSeries] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self.release = threading.Event()  # set on stop: hanging requests give up
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up --

    def add(self, series: ServedSeries) -> None:
        with self._lock:
            self._series[series.id] = series

    def fail(self, path: str, fault: Fault) -> None:
        """Add a fault for requests to `path` (e.g. OBSERVATIONS_PATH); faults fire in the order added."""
        with self._lock:
            self._faults.setdefault(path, []).append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def root_url(self) -> str:
        """What to set as fredapi's `root_url`."""
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{ROOT}"

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self._log if path is None or r.path == path]

    # -- life cycle --

    def start(self) -> FredServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fred = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FredServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler --

    def record(self, path: str, params: dict[str, list[str]], headers: dict[str, str], target: str) -> Fault | None:
        """Log the request and take the fault (if any) that applies to it."""
        series_id = _one(params, "series_id", "") or None
        fault: Fault | None = None
        with self._lock:
            for candidate in self._faults.get(path, []):
                if candidate.times != 0 and candidate.series_id in (None, series_id):
                    fault = candidate
                    if candidate.times is not None:
                        candidate.times -= 1
                    break
            self._log.append(LoggedRequest(path, params, headers, target, fault.kind if fault else None))
        return fault

    def answer(self, path: str, params: dict[str, list[str]]) -> bytes:
        """The XML FRED would send, or raises `FredApiError`."""
        allowed = ALLOWED.get(path)
        if allowed is None:
            raise FredApiError(404, "Not Found.  The requested resource does not exist.")
        for name in params:
            if name not in allowed:
                raise FredApiError(400, f"Bad Request.  Variable {name} is not one of the allowed variables.")
        keys = params.get("api_key", [])
        if not keys:
            raise FredApiError(400, f"Bad Request.  Variable api_key is not set.  {KEY_HELP}")
        if keys != [self.api_key]:
            raise FredApiError(400, f"Bad Request.  The value for variable api_key is not registered.  {KEY_HELP}")
        if _one(params, "file_type", "xml") != "xml":
            raise FredApiError(400, "Bad Request.  This test server speaks XML only.")
        series_id = _one(params, "series_id", "")
        if not series_id:
            raise FredApiError(400, "Bad Request.  Variable series_id is not set.")
        with self._lock:
            series = self._series.get(series_id)
        if series is None:
            raise FredApiError(400, "Bad Request.  The series does not exist.")
        if path == SERIES_PATH:
            return self._series_info(series)
        if path == VINTAGEDATES_PATH:
            return self._vintage_dates(series, params)
        return self._observations(series, params)

    def _series_info(self, series: ServedSeries) -> bytes:
        today = self.today.isoformat()
        root = ET.Element("seriess", {"realtime_start": today, "realtime_end": today})
        periods = [o.period for o in series.observations]
        ET.SubElement(root, "series", {
            "id": series.id, "realtime_start": today, "realtime_end": today, "title": series.title,
            "observation_start": min(periods).isoformat() if periods else "",
            "observation_end": max(periods).isoformat() if periods else "",
            "frequency": series.frequency, "frequency_short": series.frequency[:1], "units": "Index",
            "units_short": "Index", "seasonal_adjustment": "Seasonally Adjusted", "seasonal_adjustment_short": "SA",
            "last_updated": f"{today} 07:44:02-05", "popularity": "90", "notes": "served by the cutcycle test server",
        })  # fmt: skip
        return _xml(root)

    def _vintage_dates(self, series: ServedSeries, params: dict[str, list[str]]) -> bytes:
        start, end = _date(params, "realtime_start", EARLIEST), _date(params, "realtime_end", FAR_FUTURE)
        dates = [d for d in series.vintage_dates() if start <= d <= end]
        root = ET.Element("vintage_dates", {
            "realtime_start": start.isoformat(), "realtime_end": end.isoformat(), "order_by": "vintage_date",
            "sort_order": "asc", "count": str(len(dates)), "offset": "0", "limit": "10000",
        })  # fmt: skip
        for d in dates:
            ET.SubElement(root, "vintage_date").text = d.isoformat()
        return _xml(root)

    def _observations(self, series: ServedSeries, params: dict[str, list[str]]) -> bytes:
        rt_start, rt_end = _date(params, "realtime_start", self.today), _date(params, "realtime_end", self.today)
        if rt_start > rt_end:
            raise FredApiError(400, "Bad Request.  The real-time start date must be on or before the real-time end date.")
        vintages = sum(1 for d in series.vintage_dates() if rt_start <= d <= rt_end)
        if vintages > self.max_vintage_dates:
            raise FredApiError(
                400,
                f"Bad Request.  There are {vintages} vintage dates in the specified real-time period: {rt_start} to "
                f"{rt_end}.  This exceeds the maximum number of vintage dates allowed ({self.max_vintage_dates}).",
            )
        obs_start, obs_end = _date(params, "observation_start", EARLIEST), _date(params, "observation_end", FAR_FUTURE)
        rows = sorted(
            (o for o in series.observations
             if o.realtime_start <= rt_end and o.realtime_end >= rt_start and obs_start <= o.period <= obs_end),
            key=lambda o: (o.period, o.realtime_start),
        )  # fmt: skip
        limit = min(int(_one(params, "limit", str(self.row_limit))), self.row_limit)
        offset = int(_one(params, "offset", "0"))
        root = ET.Element("observations", {
            "realtime_start": rt_start.isoformat(), "realtime_end": rt_end.isoformat(),
            "observation_start": obs_start.isoformat(), "observation_end": obs_end.isoformat(), "units": "lin",
            "output_type": "1", "file_type": "xml", "order_by": "observation_date", "sort_order": "asc",
            "count": str(len(rows)), "offset": str(offset), "limit": str(limit),
        })  # fmt: skip
        for o in rows[offset : offset + limit]:
            ET.SubElement(root, "observation", {
                "realtime_start": max(o.realtime_start, rt_start).isoformat(),
                "realtime_end": min(o.realtime_end, rt_end).isoformat(),
                "date": o.period.isoformat(), "value": o.value,
            })  # fmt: skip
        return _xml(root)


def _one(params: dict[str, list[str]], name: str, default: str) -> str:
    values = params.get(name)
    return values[-1] if values else default


def _date(params: dict[str, list[str]], name: str, default: date) -> date:
    text = _one(params, name, "")
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FredApiError(400, f"Bad Request.  Variable {name} is not a YYYY-MM-DD formatted date (e.g. 2000-02-24).") from None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fred: FredServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "FredTestServer/1.0"

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the default writes request lines, and with them the api_key, to stderr."""

    def do_GET(self) -> None:
        fred = self.server.fred
        parts = urlsplit(self.path)
        params = parse_qs(parts.query, keep_blank_values=True)
        fault = fred.record(parts.path, params, dict(self.headers.items()), self.path)
        if fault is not None and fault.kind == "hang":
            fred.release.wait(fred.hang_seconds)
            self.close_connection = True
            return
        if fault is not None and fault.kind == "reset":
            # SO_LINGER 0: closing sends a TCP RST instead of a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "status":
            self._send(fault.status, error_body(fault.status, fault.message), fault.headers)
            return
        if fault is not None and fault.kind == "html":
            self._send(fault.status, HTML_500, {"Content-Type": "text/html"})
            return
        if fault is not None and fault.kind == "empty":
            self._send(fault.status, b"")
            return
        try:
            status, body = 200, fred.answer(parts.path, params)
        except FredApiError as exc:
            status, body = exc.status, error_body(exc.status, exc.message)
        if fault is not None and fault.kind == "truncated":
            self._send(status, body[: len(body) // 2], length=len(body))
            return
        self._send(status, body)

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None, length: int | None = None) -> None:
        self.send_response(status)
        extra = dict(headers or {})
        self.send_header("Content-Type", extra.pop("Content-Type", "text/xml; charset=UTF-8"))
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
