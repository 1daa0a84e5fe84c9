"""Notification destinations for tests, on 127.0.0.1: a JSON webhook receiver (Apprise's `json://`), an SMTP server
(aiosmtpd, Apprise's `mailto://`), a webhook that accepts and never answers, and a port that refuses."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers.ports import free_port


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class WebhookSink:
    """Collects the JSON bodies POSTed to it; with `hang`, reads the request and never answers (until stopped)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.received: list[dict[str, Any]] = []
        self.hits = 0
        self.stopping = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.hits += 1
                if hang:
                    sink.stopping.wait(120)
                    return
                sink.received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class _Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class SmtpSink:
    """An SMTP server that keeps every message."""

    def __init__(self) -> None:
        self.box = _Mailbox()
        self.port = free_port()
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[Message]:
        return self.box.messages

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=bot@example.com&to=trader@example.com&mode=insecure"

    def stop(self) -> None:
        self.controller.stop()


def text_of(message: Message) -> str:
    """Subject and plain-text body of an e-mail."""
    parts = [message.get("Subject", "")]
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8"))
    return "\n".join(parts)


def wait_until(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())
