"""R15: the shared rate limiter keeps any 60 s window under Alpaca's 200 requests and honours a 429 pause."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.alpaca.http import RateLimiter, reset_wait
from clock import ManualClock, new_york


class FakeTime:
    """Monotonic seconds that only move when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def read(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


@settings(max_examples=25, deadline=None)
@given(per_minute=st.integers(min_value=30, max_value=600), calls=st.integers(min_value=50, max_value=800))
def test_no_window_of_60_seconds_exceeds_the_limit_plus_burst(per_minute: int, calls: int) -> None:
    t = FakeTime()
    limiter = RateLimiter(per_minute, now=t.read, sleep=t.sleep)
    stamps = []
    for _ in range(calls):
        limiter.acquire()
        stamps.append(t.now)
    j = 0
    for i, start in enumerate(stamps):
        while stamps[j] < start - 60 + 1e-9:
            j += 1
        assert i - j + 1 <= per_minute + limiter.capacity


def test_default_config_stays_under_alpacas_200_per_minute() -> None:
    t = FakeTime()
    limiter = RateLimiter(180, now=t.read, sleep=t.sleep)
    for _ in range(1000):
        limiter.acquire()
    assert 1000 / (t.now / 60) < 200


def test_a_429_pauses_every_caller_until_the_reset() -> None:
    t = FakeTime()
    limiter = RateLimiter(6000, now=t.read, sleep=t.sleep)
    limiter.pause(12.5)
    limiter.acquire()
    assert t.now >= 12.5
    limiter.pause(10_000)  # capped: a wild header never blocks for hours
    before = t.now
    limiter.acquire()
    assert t.now - before <= 60.0 + 1e-9


def test_reset_header_is_epoch_seconds_against_the_wall_clock() -> None:
    wall = ManualClock(new_york("2026-03-02", "10:00"))
    now = wall.now().timestamp()
    assert reset_wait({"X-Ratelimit-Reset": str(int(now) + 7)}, wall) == 7
    assert reset_wait({"X-Ratelimit-Reset": str(int(now) - 7)}, wall) == 0
    assert reset_wait({"Retry-After": "3"}, wall) == 3
    assert reset_wait({"X-Ratelimit-Reset": "soon"}, wall) is None


def test_a_reset_stamped_by_another_clock_is_not_trusted() -> None:
    """A simulation at 2024 against an emulator whose clock is in 2026 said "retry in 73189233 s" and stalled every
    429 for the longest pause: a reset beyond Alpaca's one-minute window is another clock's and falls back to the default."""
    wall = ManualClock(new_york("2024-07-01", "08:45"))
    assert reset_wait({"X-Ratelimit-Reset": str(int(wall.now().timestamp()) + 73_189_233)}, wall) is None
    assert reset_wait({"X-Ratelimit-Reset": str(int(wall.now().timestamp()) + 60)}, wall) == 60
