"""FRED and ALFRED through fredapi, made honest: a timeout on every request, bounded retries, the HTTP status kept.

fredapi opens URLs with no timeout and no retry, turns every HTTP error into a bare `ValueError`, and puts the API
key in the URL. `FredClient` keeps fredapi's request building and XML parsing and replaces only its one network
step (`Fred.__fetch_data`), so that every request

- times out after `fred.timeout_seconds` (each socket operation, and the body as a whole);
- retries 429, 5xx, timeouts, resets and unparseable bodies with exponential back-off, up to `fred.max_attempts`
  (the back-off sleeps through an injected callable, so tests run instantly on a manual clock);
- never logs a URL, and never lets the key into a message (every message is redacted before it leaves).

Errors, named by what the caller should do:

    SourceUnavailable(status)   FRED gave no usable answer after every attempt: skip this cycle, try again later
    SourceConfigError(status)   FRED refused the request (400/404: unknown series, bad key): fix the configuration
     └── MissingApiKey          FRED_API_KEY is not set: nothing was requested
    DataError                   FRED answered, but with content that cannot be stored (unparseable, truncated, empty)

`sync_fred` fetches each configured series and writes it in its own transaction, so one failure leaves every
stored series, its own included, exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from http.client import HTTPException, IncompleteRead, RemoteDisconnected
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import pandas as pd
from fredapi import Fred

from clock import Clock, monotonic, new_york
from config.schema import AppConfig, FredConfig, LabelOnly, SeriesSpec
from config.secrets import ENV_FRED_API_KEY, REDACTED, Secret, Secrets
from datastore.errors import DataError, SourceConfigError, SourceUnavailable, UnknownSeries
from datastore.releases import DEFAULT_CALENDAR, SeriesDerivation, stored_available_at
from datastore.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

VINTAGE_LATEST = "latest (release rule)"
VINTAGE_ALFRED = "alfred realtime_start"
MAX_RETRY_AFTER_SECONDS = 60.0
_READ_CHUNK = 64 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
_TOO_MANY_VINTAGES = re.compile(r"maximum number of vintage dates", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class MissingApiKey(SourceConfigError):
    """FRED_API_KEY is not in the environment, so no FRED request was made."""

    def __init__(self) -> None:
        super().__init__(
            f"{ENV_FRED_API_KEY} is not set in the environment, so no FRED series was fetched (a free key: https://fred.stlouisfed.org/docs/api/api_key.html)"
        )
        self.variable = ENV_FRED_API_KEY


# -- pure helpers ----------------------------------------------------------------------------------------------------


def redact(text: str, secret: str) -> str:
    """`text` with `secret` (raw or URL-quoted) replaced by the redaction mark."""
    if not secret:
        return text
    for form in {secret, quote(secret, safe="")}:
        text = text.replace(form, REDACTED)
    return text


def _squash(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _same(text: str) -> str:
    return text


def error_detail(body: bytes, redact_text: Callable[[str], str] = _same) -> str:
    """A short description of an error body: FRED's XML or JSON message, an HTML page's title, or its size.

    `redact_text` runs before anything is cut, so a key echoed in the body never survives in part.
    Never raises: error bodies come from proxies and load balancers as often as from FRED.
    """
    text = redact_text(body.decode("utf-8", errors="replace")).strip()
    if not text:
        return "empty body"
    try:
        root: ET.Element | None = ET.fromstring(body)
    except ET.ParseError:
        root = None
    if root is not None and root.get("message"):
        return _squash(redact_text(root.get("message", "")))
    if text.startswith("{"):
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("error_message"):
            return _squash(redact_text(str(parsed["error_message"])))
    title = _HTML_TITLE.search(text)
    if title and title.group(1).strip():
        return f"HTML body: {_squash(title.group(1), 80)}"
    if "<html" in text.lower():
        return f"HTML body ({len(body)} bytes)"
    return f"unexpected body ({len(body)} bytes): {_squash(text, 80)}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (HTTP dates are ignored: no wall clock here)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def backoff_delay(attempt: int, backoff_seconds: float, retry_after: float | None) -> float:
    """Sleep before the attempt after `attempt` (1-based): doubling back-off, or the server's Retry-After if longer."""
    delay = backoff_seconds * 2.0 ** (attempt - 1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def too_many_vintages(message: str) -> bool:
    """ALFRED refuses real-time ranges holding more than 2,000 vintage dates (long daily series)."""
    return bool(_TOO_MANY_VINTAGES.search(message))


Derives = SeriesSpec | SeriesDerivation


def as_derivation(how: Derives) -> SeriesDerivation:
    """A spec alone derives by its rule (no release record); pass a `SeriesDerivation` to use the record."""
    return how if isinstance(how, SeriesDerivation) else SeriesDerivation("", how, DEFAULT_CALENDAR, None)


def latest_available_at(how: Derives, period: date, fetched_at: datetime) -> datetime:
    """Latest-vintage mode: the record's or the rule's instant; a label-only series is known from when we fetched it."""
    derivation = as_derivation(how)
    if isinstance(derivation.spec.release, LabelOnly):
        return fetched_at
    return derivation.available_at(period)


def vintage_available_at(how: Derives, period: date, realtime_start: date) -> datetime:
    """When an ALFRED vintage became known (UTC): its day at the release time, never before the record or the rule.

    A label-only series has no release time: the end of that day.
    """
    derivation = as_derivation(how)
    if isinstance(derivation.spec.release, LabelOnly):
        return new_york((realtime_start + timedelta(days=1)).isoformat(), "00:00")
    return stored_available_at(derivation, period, realtime_start)


@dataclass(frozen=True, slots=True)
class VintageRow:
    """One value of one period as known from `available_at` on."""

    period: date
    value: float
    realtime_start: date
    available_at: datetime


def vintage_rows(how: Derives, frame: pd.DataFrame) -> list[VintageRow]:
    """fredapi's all-releases frame (date, realtime_start, value) -> rows sorted by (period, available_at).

    Values go through `pd.to_numeric(errors="coerce")`: fredapi hands '.' back as NaT in object columns, and a
    missing value must stay NaN, never zero. Two vintages of a period that map to the same instant (both dated
    before the release rule's day) keep the later one: at that instant the revision was already out.
    """
    if frame.empty:
        return []
    periods = pd.to_datetime(frame["date"]).dt.date
    starts = pd.to_datetime(frame["realtime_start"]).dt.date
    values = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    latest: dict[tuple[date, datetime], VintageRow] = {}
    for period, start, value in sorted(zip(periods, starts, values, strict=True), key=lambda r: (r[0], r[1])):
        row = VintageRow(period, float(value), start, vintage_available_at(how, period, start))
        latest[(period, row.available_at)] = row
    return sorted(latest.values(), key=lambda r: (r.period, r.available_at))


def content_hash(periods: Sequence[date], values: Sequence[float], starts: Sequence[date | None]) -> str:
    """sha256 over the stored rows (period, realtime_start, value), so an unchanged series hashes the same."""
    digest = hashlib.sha256()
    for period, start, value in zip(periods, starts, values, strict=True):
        digest.update(f"{period.isoformat()}|{start.isoformat() if start else ''}|{value!r}\n".encode())
    return digest.hexdigest()


# -- the client ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed attempt: the HTTP status (None without a response), what went wrong, and whether to retry."""

    status: int | None
    detail: str
    retry: bool
    retry_after: float | None = None

    def describe(self) -> str:
        return f"HTTP {self.status}: {self.detail}" if self.status is not None else self.detail


def _http_failure(exc: urllib.error.HTTPError, redact_text: Callable[[str], str]) -> _Failure:
    try:
        body = exc.read(_ERROR_BODY_LIMIT)
    except (OSError, HTTPException):
        body = b""
    finally:
        exc.close()
    status = exc.code
    retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers is not None else None)
    transient = status in (408, 429) or status >= 500 or status < 400
    return _Failure(status, error_detail(body, redact_text), retry=transient, retry_after=retry_after)


def _io_failure(exc: BaseException, timeout: float, redact_text: Callable[[str], str]) -> _Failure:
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        detail = f"no answer within {timeout:g} s (timed out)"
    elif isinstance(reason, RemoteDisconnected):
        detail = "the server closed the connection without an answer"
    elif isinstance(reason, ConnectionResetError):
        detail = "connection reset by the server"
    elif isinstance(reason, IncompleteRead):
        detail = f"truncated body ({len(reason.partial)} bytes, {reason.expected} more promised)"
    elif isinstance(reason, ConnectionRefusedError):
        detail = "connection refused"
    else:
        detail = f"{type(reason).__name__}: {_squash(redact_text(str(reason)), 120)}"
    return _Failure(None, detail, retry=True)


class FredClient(Fred):  # type: ignore[misc]  # fredapi ships no type information
    """fredapi's `Fred` with an honest network step. Use its usual methods (`get_series`, ...).

    Only `__fetch_data` (name-mangled `_Fred__fetch_data`) is replaced, so fredapi's own URL building and XML
    parsing still run. Note fredapi's constructor installs a global urllib opener when HTTP(S)_PROXY is set; the
    requests made here go through this client's own opener, which honours the same proxy variables.
    """

    def __init__(self, api_key: Secret, cfg: FredConfig, sleep: Callable[[float], None]) -> None:
        super().__init__(api_key=api_key.reveal())
        self.root_url = cfg.root_url.rstrip("/")
        self._key = api_key
        self._timeout = cfg.timeout_seconds
        self._max_attempts = cfg.max_attempts
        self._backoff = cfg.backoff_seconds
        self._sleep = sleep
        self._opener = urllib.request.build_opener()

    def redact(self, text: str) -> str:
        return redact(text, self._key.reveal())

    def _Fred__fetch_data(self, url: str) -> ET.Element:
        """Replaces fredapi's fetch: returns the parsed XML root, or raises one of this module's errors."""
        what = self._describe(url)
        failure: _Failure | None = None
        for attempt in range(1, self._max_attempts + 1):
            log.debug("FRED %s: attempt %d/%d", what, attempt, self._max_attempts)
            outcome = self._attempt(url)
            if isinstance(outcome, ET.Element):
                self._check_complete(outcome, what)
                return outcome
            failure = outcome
            if not failure.retry:
                raise SourceConfigError(self.redact(f"FRED refused {what}: {failure.describe()}"), status=failure.status)
            if attempt < self._max_attempts:
                delay = backoff_delay(attempt, self._backoff, failure.retry_after)
                log.warning(
                    "FRED %s: attempt %d/%d failed (%s); retrying in %.2f s",
                    what,
                    attempt,
                    self._max_attempts,
                    self.redact(failure.describe()),
                    delay,
                )
                self._sleep(delay)
        assert failure is not None  # max_attempts >= 1 (config schema)
        message = f"FRED {what} at {self.root_url}: {failure.describe()} (gave up after {self._max_attempts} attempts)"
        raise SourceUnavailable(self.redact(message), status=failure.status)

    def _attempt(self, url: str) -> ET.Element | _Failure:
        full = f"{url}&api_key={quote(self._key.reveal(), safe='')}"
        try:
            body = self._read(full)
        except urllib.error.HTTPError as exc:
            return _http_failure(exc, self.redact)
        except ValueError:  # urllib's "unknown url type": a bad root_url, and its message would carry the key
            return _Failure(None, "invalid request URL (check fred.root_url)", retry=False)
        except (OSError, HTTPException) as exc:  # URLError, timeouts, resets, truncated or garbled responses
            return _io_failure(exc, self._timeout, self.redact)
        try:
            return ET.fromstring(body)
        except ET.ParseError:
            return _Failure(200, f"unparseable XML ({len(body)} bytes)", retry=True)

    def _read(self, url: str) -> bytes:
        """The whole body, within the timeout: the socket timeout bounds each operation, the deadline the body."""
        deadline = monotonic() + self._timeout
        chunks: list[bytes] = []
        with self._opener.open(url, timeout=self._timeout) as response:
            while chunk := response.read(_READ_CHUNK):
                chunks.append(chunk)
                if monotonic() > deadline:
                    raise TimeoutError("body not complete within the timeout")
            promised = response.headers.get("Content-Length", "")
        body = b"".join(chunks)
        if promised.isdigit() and int(promised) > len(body):
            raise IncompleteRead(body, int(promised) - len(body))
        return body

    def _check_complete(self, root: ET.Element, what: str) -> None:
        """FRED caps observations per request and fredapi does not page: refuse a partial series."""
        count = root.get("count")
        if root.tag == "observations" and count is not None and count.isdigit() and int(count) > len(root):
            raise DataError(f"FRED {what}: returned {len(root)} of {count} observations; not storing a partial series")

    def _describe(self, url: str) -> str:
        """'series/observations CPIAUCSL (all releases)': what a request was for, without its URL."""
        parts = urlsplit(url)
        endpoint = parts.path[len(urlsplit(self.root_url).path) :].strip("/")
        query = parse_qs(parts.query)
        series = " ".join(query.get("series_id", []))
        suffix = " (all releases)" if "realtime_start" in query else ""
        return self.redact(f"{endpoint} {series}{suffix}".strip())


# -- fetching series -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchedSeries:
    """One series as fetched, in the columns `Store.replace_series` takes."""

    series: str
    periods: list[date]
    values: list[float]
    available_at: list[datetime]
    realtime_start: list[date | None] | None
    source: str
    vintage: str
    origin: str
    fetched_at: datetime
    note: str = ""


def _parsed(client: FredClient, series_id: str, call: Callable[[], T]) -> T:
    """Run a fredapi call; its parsing errors (bad values, missing data) become a `DataError`."""
    try:
        return call()
    except ValueError as exc:
        raise DataError(client.redact(f"FRED's answer could not be read: {exc}"), series=series_id) from None


def _origin(client: FredClient, series_id: str, all_releases: bool) -> str:
    origin = f"{client.root_url}/series/observations?series_id={series_id}"
    return client.redact(origin + ("&realtime_start=1776-07-04&realtime_end=9999-12-31" if all_releases else ""))


def fetch_latest(client: FredClient, series_id: str, spec: Derives, clock: Clock) -> FetchedSeries:
    """The latest vintage; each value known from its release rule's instant."""
    raw: pd.Series = _parsed(client, series_id, lambda: client.get_series(series_id))
    fetched_at = clock.now()
    if raw.empty:
        raise DataError("FRED returned no observations; keeping what is stored", series=series_id)
    periods = [pd.Timestamp(ts).date() for ts in raw.index]
    values = [float(v) for v in pd.to_numeric(raw, errors="coerce").astype(float)]
    available = [latest_available_at(spec, p, fetched_at) for p in periods]
    return FetchedSeries(series_id, periods, values, available, None, "fred", VINTAGE_LATEST, _origin(client, series_id, False), fetched_at)


def fetch_vintages(client: FredClient, series_id: str, spec: Derives, clock: Clock) -> FetchedSeries:
    """Every ALFRED vintage: one row per (period, vintage), known from the vintage's realtime_start."""
    frame: pd.DataFrame = _parsed(client, series_id, lambda: client.get_series_all_releases(series_id))
    rows = _parsed(client, series_id, lambda: vintage_rows(spec, frame))
    fetched_at = clock.now()
    if not rows:
        raise DataError("ALFRED returned no observations; keeping what is stored", series=series_id)
    return FetchedSeries(
        series_id,
        [r.period for r in rows],
        [r.value for r in rows],
        [r.available_at for r in rows],
        [r.realtime_start for r in rows],
        "alfred",
        VINTAGE_ALFRED,
        _origin(client, series_id, True),
        fetched_at,
    )


def fetch_series(client: FredClient, series_id: str, spec: Derives, clock: Clock, *, vintages: bool) -> FetchedSeries:
    """Vintages when asked; a series ALFRED refuses for having too many vintages falls back to the release rule."""
    if not vintages:
        return fetch_latest(client, series_id, spec, clock)
    try:
        return fetch_vintages(client, series_id, spec, clock)
    except SourceConfigError as exc:
        if not too_many_vintages(str(exc)):
            raise
        note = "ALFRED refused its vintages (more than 2,000 vintage dates); stored the latest values with the release rule"
        log.warning("FRED %s: %s", series_id, note)
        return replace(fetch_latest(client, series_id, spec, clock), note=note)


MAX_VINTAGE_DATES = 2000  # ALFRED's limit on vintage dates in one real-time range


def first_releases(frame: pd.DataFrame, clipped_at: date | None) -> dict[date, date]:
    """Period -> the day of its first non-missing vintage, from fredapi's all-releases frame.

    A '.' vintage is not a publication (ALFRED serves October 2025 CPI as '.'). With a real-time window that starts
    after the series' first vintage (`clipped_at`), a period whose first vintage falls on the window's start may have
    been published earlier: it is left out rather than dated late or early.
    """
    if frame.empty:
        return {}
    periods = pd.to_datetime(frame["date"]).dt.date
    starts = pd.to_datetime(frame["realtime_start"]).dt.date
    values = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    first: dict[date, date] = {}
    for period, start, value in zip(periods, starts, values, strict=True):
        if math.isnan(value):
            continue
        if period not in first or start < first[period]:
            first[period] = start
    return {p: d for p, d in first.items() if clipped_at is None or d > clipped_at}


def fetch_first_releases(client: FredClient, series_id: str) -> dict[date, date]:
    """Each period's first publication day from ALFRED: the series' vintage dates (`get_series_vintage_dates`), then
    its observations over the last 2,000 of them (`get_series_all_releases`), each period dated by its first vintage.

    Vintage dates alone cannot tell a new period from a revision (CPI's seasonal-factor days are vintages too), so
    the observations decide which period a vintage first published.
    """
    vintage_dates = _parsed(client, series_id, lambda: client.get_series_vintage_dates(series_id))
    days = sorted(pd.Timestamp(v).date() for v in vintage_dates)
    if not days:
        return {}
    limit = MAX_VINTAGE_DATES
    while limit >= 1:
        start = days[max(0, len(days) - limit)]
        try:
            frame: pd.DataFrame = _parsed(client, series_id, partial(client.get_series_all_releases, series_id, realtime_start=start.isoformat()))
        except SourceConfigError as exc:
            if not too_many_vintages(str(exc)):
                raise
            limit //= 2  # a server with a smaller limit than ALFRED's documented 2,000: halve the window and ask again
            continue
        return first_releases(frame, start if start > days[0] else None)
    raise DataError(f"ALFRED kept refusing {limit} vintage dates", series=series_id)


# -- sync into the store ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What `sync_fred` did for one series: stored (`ok`) or not, and why."""

    series: str
    ok: bool
    rows: int = 0
    source: str | None = None
    vintage: str | None = None
    status: int | None = None  # HTTP status of the failure, when FRED answered at all
    message: str = ""  # why it failed, or a note on how it was stored
    unreachable: bool = False  # FRED gave no HTTP answer at all after every attempt (no network, DNS, refused)


def _write(store: Store, fetched: FetchedSeries, derivation: str, first: dict[date, date] | None) -> None:
    starts = fetched.realtime_start or [None] * len(fetched.periods)
    with store.transaction():
        if first is not None:
            store.replace_release_dates(fetched.series, first, f"alfred first release (vintage dates), fetched {fetched.fetched_at:%Y-%m-%d}")
        store.replace_series(
            fetched.series,
            fetched.periods,
            fetched.values,
            fetched.available_at,
            fetched.realtime_start,
            source=fetched.source,
            origin=fetched.origin,
            content_hash=content_hash(fetched.periods, fetched.values, starts),
            fetched_at=fetched.fetched_at,
            vintage=fetched.vintage,
            derivation=derivation,
        )


def shrinks(store: Store, fetched: FetchedSeries) -> str | None:
    """Why `fetched` would lose stored history (R41), or None: a later start, an earlier end, or fewer periods."""
    held = store.period_span(fetched.series)
    if held is None:
        return None
    first, last, count = held
    got = {p for p, v in zip(fetched.periods, fetched.values, strict=True) if not math.isnan(v)}
    if not got:
        return f"FRED served no values; the store holds {count:,} periods {first}..{last}"
    new_first, new_last = min(got), max(got)
    if new_first > first or new_last < last or len(got) < count:
        return (
            f"FRED served {len(got):,} periods {new_first}..{new_last}, less than the {count:,} periods {first}..{last} "
            "the store holds: kept the stored copy"
        )
    return None


def sync_one(
    store: Store, client: FredClient, series_id: str, spec: Derives, clock: Clock, *, vintages: bool, release_dates: bool = False
) -> SyncResult:
    """Fetch one series and replace it in the store; on failure, or a shorter copy than stored, the store is untouched.

    With `release_dates`, a series that has a release record also gets each period's first-release day from ALFRED,
    stored beside it and used to date its values where the pack's record is silent (a failure there is a note, not a
    failure of the series: the stored days stay).
    """
    derivation = as_derivation(spec)
    first: dict[date, date] | None = None
    note = ""
    if release_dates and derivation.spec.release_record is not None:
        try:
            first = fetch_first_releases(client, series_id)
        except (SourceUnavailable, SourceConfigError, DataError) as exc:
            note = f"first-release days not updated: {exc}"
            log.warning("FRED %s: %s", series_id, note)
        if first is not None:
            derivation = SeriesDerivation(derivation.series or series_id, derivation.spec, derivation.cal, derivation.record, first)
    try:
        fetched = fetch_series(client, series_id, derivation, clock, vintages=vintages)
    except (SourceUnavailable, SourceConfigError) as exc:
        log.warning("FRED %s: not updated: %s", series_id, exc)
        return SyncResult(series_id, ok=False, status=exc.status, message=str(exc), unreachable=isinstance(exc, SourceUnavailable) and exc.status is None)
    except DataError as exc:
        log.warning("FRED %s: not updated: %s", series_id, exc)
        return SyncResult(series_id, ok=False, message=str(exc))
    short = shrinks(store, fetched)
    if short is not None:
        log.warning("FRED %s: not updated: %s", series_id, short)
        return SyncResult(series_id, ok=False, rows=len(fetched.periods), message=short)
    _write(store, fetched, derivation.digest if derivation.record is not None or derivation.fetched else "", first)
    log.info("FRED %s: stored %d rows (%s, %s)", series_id, len(fetched.periods), fetched.source, fetched.vintage)
    notes = "; ".join(n for n in (fetched.note, note, f"{len(first)} first-release days" if first else "") if n)
    return SyncResult(series_id, True, len(fetched.periods), fetched.source, fetched.vintage, message=notes)


def sync_fred(
    store: Store,
    cfg: AppConfig,
    secrets: Secrets,
    clock: Clock,
    series_ids: Iterable[str] | None = None,
    derivations: Mapping[str, SeriesDerivation] | None = None,
) -> list[SyncResult]:
    """Fetch `series_ids` (default: `fred.series`) and store each in its own transaction.

    `derivations` (from `datastore.releases.load_derivations`) date each value by the pack's release record; without
    them the rule dates it and the series is re-derived from the record by the next command that opens the store.

    Raises `MissingApiKey` when FRED_API_KEY is absent and `UnknownSeries` for an id without a `[series.<ID>]`
    entry, both before any request. Per-series failures are reported in the results, not raised. Once a series gets
    no HTTP answer at all after every attempt (no network, a name that does not resolve, a refused connection), the
    remaining series are reported skipped instead of each waiting through its own retries.
    """
    ids = list(cfg.fred.series if series_ids is None else series_ids)
    unknown = [s for s in ids if s not in cfg.series]
    if unknown:
        raise UnknownSeries(f"no [series.<ID>] entry in the config for {unknown}", series=", ".join(unknown))
    if secrets.fred_api_key is None:
        raise MissingApiKey()
    client = FredClient(secrets.fred_api_key, cfg.fred, clock.sleep)
    how = dict(derivations or {})
    out: list[SyncResult] = []
    down: SyncResult | None = None
    for sid in ids:
        if down is not None:  # no answer at all for one series (no network, DNS): the others would wait as long for nothing
            out.append(SyncResult(sid, ok=False, message=f"skipped: FRED gave no answer for {down.series}, not tried again in this sync",
                                  unreachable=True))
            continue
        result = sync_one(
            store, client, sid, how.get(sid) or SeriesDerivation(sid, cfg.series[sid], cfg.release_calendar, None), clock,
            vintages=cfg.fred.vintages, release_dates=cfg.fred.release_dates,
        )
        down = result if result.unreachable else None
        out.append(result)
    return out
