"""The HTTP layer under alpaca-py: timeouts, a shared rate limiter, and status handling before the SDK sees it.

alpaca-py sets no timeout (a silent server blocks forever) and re-POSTs orders by itself on 429 and 504 (three
times, three seconds apart). Both are fixed here without touching the SDK's code: every client's requests session
gets a `GuardedTransport` mounted for http:// and https:// (the transport-adapter hook requests documents). It

- applies (connect, read) timeouts to every request (R14);
- takes a token from the one `RateLimiter` all clients share, and pauses everyone until X-Ratelimit-Reset after a
  429 (R15);
- answers 429 and 5xx itself by raising `TransportStatusError`, so the SDK never retries an order POST behind our
  back: whether an order went through is decided by lookup in the adapter (R02);
- runs the live-endpoint guard on every request (each carries the keys), on the URL actually used (R33, R39).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from clock import Clock, SystemClock, monotonic

log = logging.getLogger(__name__)

MAX_RATE_LIMIT_PAUSE_SECONDS = 60.0


class TransportStatusError(requests.RequestException):
    """A 429 or 5xx answer, raised by the transport so the SDK cannot retry it. Carries no URL and no headers."""

    def __init__(self, status: int, method: str, *, retry_after: float | None, body_excerpt: str) -> None:
        super().__init__(f"HTTP {status} on {method} ({body_excerpt or 'empty body'})")
        self.status = status
        self.method = method
        self.retry_after = retry_after


class RateLimiter:
    """A token bucket shared by every Alpaca client: `per_minute` requests a minute, small bursts, 429 pauses."""

    def __init__(self, per_minute: int, *, now: Callable[[], float] = monotonic, sleep: Callable[[float], None] | None = None) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1")
        self.rate = per_minute / 60.0
        # Any 60 s window admits at most capacity + per_minute requests; keep the burst small.
        self.capacity = float(max(1, min(10, per_minute // 10)))
        self._tokens = self.capacity
        self._now = now
        self._sleep = sleep or SystemClock().sleep
        self._stamp = now()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def pause(self, seconds: float) -> None:
        """Block every caller for `seconds` (a 429 told us when the window resets)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._now() + max(0.0, min(seconds, MAX_RATE_LIMIT_PAUSE_SECONDS)))

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._now()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if now >= self._paused_until and self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = max(self._paused_until - now, (1.0 - self._tokens) / self.rate, 0.001)
            self.waited_seconds += wait
            self._sleep(wait)


def reset_wait(headers: Mapping[str, str], wall: Clock) -> float | None:
    """Seconds until X-Ratelimit-Reset (epoch seconds), or a Retry-After; None if neither parses.

    Alpaca's window is one minute, so a reset further away than that was stamped by a clock other than `wall` (an
    emulator behind or ahead of a simulation's clock: "retry in 73189233 s"); it is not trusted (None: the caller's
    short default), rather than stalling every caller for the longest pause."""
    for name in ("X-Ratelimit-Reset", "Retry-After"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if name == "Retry-After":
            return max(0.0, number)
        wait = number - wall.now().timestamp()
        if wait > MAX_RATE_LIMIT_PAUSE_SECONDS:
            log.warning("X-Ratelimit-Reset is %.0f s away, beyond Alpaca's one-minute window: another clock's stamp, not trusted", wait)
            return None
        return max(0.0, wait)
    return None


class GuardedTransport(HTTPAdapter):
    """requests transport adapter: timeouts, rate limit, 429/5xx handling and the endpoint guard."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, limiter: RateLimiter, wall: Clock,
                 guard: Callable[[str, str], None] | None = None) -> None:
        super().__init__(max_retries=0)
        self._timeouts = (connect_timeout, read_timeout)
        self._limiter = limiter
        self._wall = wall
        self._guard = guard

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Any = None) -> requests.Response:
        method = request.method or "GET"
        if self._guard is not None:  # reads carry the keys too
            self._guard(method, request.url or "")
        self._limiter.acquire()
        response = super().send(request, stream=stream, timeout=timeout or self._timeouts, verify=verify, cert=cert, proxies=proxies)
        status = response.status_code
        if status == 429 or status >= 500:
            wait = reset_wait(response.headers, self._wall)
            if status == 429:
                self._limiter.pause(1.0 if wait is None else wait)
            excerpt = " ".join(response.text[:120].split())
            response.close()
            log.warning("Alpaca answered HTTP %s to %s; retry in %s s", status, method, "?" if wait is None else f"{wait:.1f}")
            raise TransportStatusError(status, method, retry_after=wait, body_excerpt=excerpt)
        return response


def install(session: requests.Session, transport: GuardedTransport) -> None:
    """Mount the transport for every URL the session may use."""
    session.mount("http://", transport)
    session.mount("https://", transport)
