"""The notifier with real Apprise against local destinations: routing, collapsing, bounded queues, a hung and a
refusing destination, redaction."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from config.schema import NotifyConfig
from config.secrets import Secrets
from runner.notify import Event, Notifier, build_notifier
from tests.servers.notify_sinks import WebhookSink, wait_until
from tests.servers.ports import free_port

TOKEN = "tokA1b2C3d4E5f6"


@pytest.fixture
def sinks() -> Iterator[tuple[WebhookSink, WebhookSink]]:
    good, hung = WebhookSink(), WebhookSink(hang=True)
    yield good, hung
    good.stop()
    hung.stop()


def notifier(urls: list[str], **cfg: object) -> Notifier:
    settings = NotifyConfig.model_validate({"timeout_seconds": 1.0, "stop_flush_seconds": 3.0, **cfg})
    return build_notifier(Secrets.from_env({"CUTCYCLE_NOTIFY_URLS": " ".join(urls)}), settings)


def test_emit_never_waits_for_a_hung_destination_and_the_others_get_everything(sinks: tuple[WebhookSink, WebhookSink]) -> None:
    good, hung = sinks
    n = notifier([good.url(), hung.url()], queue_size=30)
    slowest = 0.0
    for i in range(20):
        started = time.monotonic()
        n.emit(Event("fills", f"fill {i}", "body"))
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 0.05
    assert wait_until(lambda: len(good.received) == 20, 10)
    n.close()
    stats = n.stats()
    assert stats["#1"]["sent"] == 20
    # The hung one: three sends timed out, then it was paused; what it did not send is counted (the one in flight when
    # the bounded flush gave up aside).
    assert stats["#2"]["sent"] == 0 and stats["#2"]["failed"] >= 1 and int(str(stats["#2"]["failed"])) + int(str(stats["#2"]["dropped"])) >= 19
    assert hung.hits >= 1


def test_a_full_queue_drops_new_messages_and_counts_them(sinks: tuple[WebhookSink, WebhookSink]) -> None:
    _, hung = sinks
    n = notifier([hung.url()], queue_size=2)
    for i in range(10):
        n.emit(Event("fills", f"fill {i}", "body"))
    [stats] = n.stats().values()
    assert int(str(stats["dropped"])) >= 7
    n.close()


def test_a_refusing_destination_is_paused_after_repeated_failures_not_retried() -> None:
    n = notifier([f"json://127.0.0.1:{free_port()}/x"], pause_after_failures=2, pause_minutes=10)
    for i in range(6):
        n.emit(Event("failure", f"alert {i}", "body"))
    n.close()
    [stats] = n.stats().values()
    assert stats["failed"] == 2 and stats["dropped"] == 4 and stats["sent"] == 0


def test_a_burst_of_the_same_alert_is_collapsed_and_counted(sinks: tuple[WebhookSink, WebhookSink]) -> None:
    good, _ = sinks
    n = notifier([good.url()], collapse_minutes=0.01)  # 0.6 s
    for _ in range(5):
        n.emit(Event("failure", "job failed: decision", "HTTP 500", key="job_failed:decision"))
    n.emit(Event("failure", "another alert", "x"))
    assert wait_until(lambda: len(good.received) == 2, 5)
    time.sleep(0.7)
    n.emit(Event("failure", "job failed: decision", "HTTP 500", key="job_failed:decision"))
    assert wait_until(lambda: len(good.received) == 3, 5)
    n.close()
    assert "(4 more like this were collapsed" in good.received[2]["message"]
    assert n.collapsed == 4


def test_routes_pick_events_for_named_destinations_and_secrets_never_leave(sinks: tuple[WebhookSink, WebhookSink]) -> None:
    good, _ = sinks
    other = WebhookSink()
    try:
        n = notifier([f"ops={good.url(TOKEN)}", other.url()], routes={"ops": ["halt"]})
        n.emit(Event("fills", "filled", "buy 1 IWM"))
        n.emit(Event("halt", "halted", f"the webhook {good.url(TOKEN)} and its token {TOKEN} are secrets"))
        assert wait_until(lambda: len(good.received) == 1 and len(other.received) == 2, 5)
        n.close()
    finally:
        other.stop()
    assert [m["title"] for m in good.received] == ["halted"]
    assert TOKEN not in good.received[0]["message"] and "***" in good.received[0]["message"]
    assert TOKEN not in other.received[1]["message"]


def test_no_destination_means_a_notifier_that_drops_everything() -> None:
    n = notifier([])
    n.emit(Event("start", "started", "x"))
    n.close()
    assert n.destinations == [] and n.stats() == {}


def test_the_urls_and_their_tokens_are_secrets() -> None:
    url = f"ops=tgram://123456:{TOKEN}/987654321?format=markdown"
    values = Secrets.from_env({"CUTCYCLE_NOTIFY_URLS": url}).values()
    assert url in values and TOKEN in "".join(values) and any(TOKEN in v and len(v) < len(url) for v in values)
    assert "markdown" in values  # long query values are treated as tokens too (over-redacting a log line is harmless)
