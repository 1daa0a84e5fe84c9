"""Notifications through Apprise: `Notifier.emit(event)` never blocks and never raises.

Each destination (one URL of CUTCYCLE_NOTIFY_URLS) has its own bounded queue and one sender thread, so a destination
that hangs delays only its own messages: a trading job only puts a message on the queues. Every send is bounded by
the connect and read timeouts given to Apprise; a failed message is logged, counted and dropped, never retried; after
`pause_after_failures` failures in a row a destination is paused for `pause_minutes` (its messages dropped and
counted). A full queue drops the new message and counts it. The same alert (same key) again within
`collapse_minutes` is counted instead of sent; the next one that goes out says how many were collapsed.

Destinations carry tokens and passwords: they are `Secret`s, every message is passed through the same redaction
as the log, and a destination is named in logs and counters only by its name or its position (`#1`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clock import monotonic
from config.schema import NotifyConfig
from config.secrets import RedactingFilter, Secret, Secrets, split_named

log = logging.getLogger(__name__)

Level = Literal["info", "success", "warning", "failure"]


@dataclass(frozen=True, slots=True)
class Event:
    """One message. `kind` is what the config routes on (config.schema.NOTIFY_EVENTS); `key` identifies the alert for
    collapsing (default: kind and title)."""

    kind: str
    title: str
    body: str
    level: Level = "info"
    key: str = ""

    @property
    def collapse_key(self) -> str:
        return self.key or f"{self.kind}:{self.title}"


@dataclass
class DestinationStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0  # queue full or destination paused
    last_error: str | None = None


def with_timeouts(url: str, seconds: float) -> str:
    """Add Apprise's connect/read timeouts (`cto`, `rto`) unless the URL sets them."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    keys = {k for k, _ in query}
    query += [(k, f"{seconds:g}") for k in ("cto", "rto") if k not in keys]
    return urlunsplit(parts._replace(query=urlencode(query, safe="@,:/")))


Send = Callable[[str, str, Level], bool]


def apprise_sender(url: str) -> Send:
    """One Apprise object for one URL (used from one thread only); raises ValueError if Apprise cannot parse it."""
    import apprise

    asset = apprise.AppriseAsset(storage_mode="memory")
    obj = apprise.Apprise(asset=asset)
    if not obj.add(url):
        raise ValueError("Apprise does not recognise this URL")
    types = {"info": apprise.NotifyType.INFO, "success": apprise.NotifyType.SUCCESS, "warning": apprise.NotifyType.WARNING,
             "failure": apprise.NotifyType.FAILURE}

    def send(title: str, body: str, level: Level) -> bool:
        return bool(obj.notify(body=body, title=title, notify_type=types[level]))

    return send


@dataclass
class Destination:
    """A queue and the thread that empties it."""

    name: str
    events: frozenset[str]
    send: Send
    cfg: NotifyConfig
    stats: DestinationStats = field(default_factory=DestinationStats)

    def __post_init__(self) -> None:
        self.queue: queue.Queue[tuple[str, str, Level] | None] = queue.Queue(maxsize=self.cfg.queue_size)
        self._failures_in_row = 0
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"notify-{self.name}", daemon=True)
        self.thread.start()

    def put(self, title: str, body: str, level: Level) -> None:
        try:
            self.queue.put_nowait((title, body, level))
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1
            log.warning("notifications to %s: queue full, message dropped", self.name)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self.queue.task_done()

    def _deliver(self, title: str, body: str, level: Level) -> None:
        if monotonic() < self._paused_until:
            with self._lock:
                self.stats.dropped += 1
            return
        try:
            ok, error = self.send(title, body, level), "Apprise reported a failed send"
        except Exception as exc:  # a plugin's bug must not kill the sender thread
            ok, error = False, f"{type(exc).__name__}: {exc}"
        with self._lock:
            if ok:
                self.stats.sent += 1
                self._failures_in_row = 0
                return
            self.stats.failed += 1
            self.stats.last_error = error
            self._failures_in_row += 1
            pause = self._failures_in_row >= self.cfg.pause_after_failures
            if pause:
                self._paused_until = monotonic() + self.cfg.pause_minutes * 60
                self._failures_in_row = 0
        log.warning("notification to %s failed (%s): dropped%s", self.name, error,
                    f"; paused for {self.cfg.pause_minutes:g} min" if pause else "")

    def finish(self) -> None:
        """Ask the thread to stop after the queued messages (a full queue loses its last message to make room)."""
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.queue.task_done()
                    with self._lock:
                        self.stats.dropped += 1
                except queue.Empty:
                    pass


class Notifier:
    """Routes events to destinations; thread-safe, non-blocking."""

    def __init__(self, destinations: Sequence[Destination], cfg: NotifyConfig, redact: Callable[[str], str]) -> None:
        self.destinations = list(destinations)
        self.cfg = cfg
        self.redact = redact
        self._lock = threading.Lock()
        self._recent: dict[str, tuple[float, int]] = {}  # key -> (when last sent, repeats collapsed since)
        self.collapsed = 0
        self.emitted = 0

    def emit(self, event: Event) -> None:
        if not self.destinations:
            return
        try:
            self._emit(event)
        except Exception as exc:  # a notification must never break a trading job
            log.error("notification %s not queued: %s: %s", event.kind, type(exc).__name__, self.redact(str(exc)))

    def _emit(self, event: Event) -> None:
        now = monotonic()
        key = event.collapse_key
        with self._lock:
            last = self._recent.get(key)
            if last is not None and now - last[0] < self.cfg.collapse_minutes * 60:
                self._recent[key] = (last[0], last[1] + 1)
                self.collapsed += 1
                return
            repeats = last[1] if last is not None else 0
            self._recent[key] = (now, 0)
            if len(self._recent) > 1000:  # bounded: forget the oldest half
                for old in sorted(self._recent, key=lambda k: self._recent[k][0])[:500]:
                    del self._recent[old]
            self.emitted += 1
        body = event.body + (f"\n({repeats} more like this were collapsed since the last message)" if repeats else "")
        title, body = self.redact(event.title), self.redact(body)
        for dest in self.destinations:
            if event.kind in dest.events:
                dest.put(title, body, event.level)

    def close(self) -> None:
        """Send what is queued, for `stop_flush_seconds` at most; a destination still busy then is abandoned (counted)."""
        deadline = monotonic() + self.cfg.stop_flush_seconds
        for dest in self.destinations:
            dest.finish()
        for dest in self.destinations:
            dest.thread.join(timeout=max(0.0, deadline - monotonic()))
            if dest.thread.is_alive():
                left = dest.queue.qsize()
                with dest._lock:
                    dest.stats.dropped += max(0, left - 1)
                log.warning("notifications to %s: %d message(s) not sent before stopping", dest.name, max(0, left - 1))

    def stats(self) -> dict[str, dict[str, object]]:
        return {d.name: {"sent": d.stats.sent, "failed": d.stats.failed, "dropped": d.stats.dropped,
                         "last_error": self.redact(d.stats.last_error) if d.stats.last_error else None} for d in self.destinations}


def parse_destinations(secrets: Secrets, cfg: NotifyConfig) -> list[tuple[str, Secret, frozenset[str]]]:
    """(name, URL, events) of each CUTCYCLE_NOTIFY_URLS entry; unnamed ones are `#1`, `#2`... and get `cfg.events`."""
    out: list[tuple[str, Secret, frozenset[str]]] = []
    for i, entry in enumerate(secrets.notify_urls, start=1):
        name, url = split_named(entry.reveal())
        events = cfg.routes.get(name, cfg.events) if name else cfg.events
        out.append((name or f"#{i}", Secret(url), frozenset(str(e) for e in events)))
    return out


def build_notifier(secrets: Secrets, cfg: NotifyConfig, *, sender: Callable[[str], Send] = apprise_sender) -> Notifier:
    """A notifier for the environment's destinations (none: a notifier that drops everything). A URL Apprise cannot
    parse is logged by name and left out."""
    flt = RedactingFilter(secrets.values())
    destinations = []
    for name, url, events in parse_destinations(secrets, cfg):
        try:
            send = sender(with_timeouts(url.reveal(), cfg.timeout_seconds))
        except ValueError as exc:
            log.error("notification destination %s left out: %s", name, exc)
            continue
        destinations.append(Destination(name, events, send, cfg))
    unknown = sorted(set(cfg.routes) - {n for n, _, _ in parse_destinations(secrets, cfg)})
    if unknown:
        log.warning("notify.routes names %s, which CUTCYCLE_NOTIFY_URLS does not define", ", ".join(unknown))
    return Notifier(destinations, cfg, flt.redact)
