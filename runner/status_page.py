"""`main.py status --serve [--port P]`: the same status as `main.py status`, as a read-only page on 127.0.0.1.

`/` is HTML (what needs attention first, then the status text), reloading itself every `refresh` seconds;
`/status.json` is `main.py status --json`. A status is collected at most once per `refresh` seconds whatever the
number of viewers (collecting reads the journal and the store and may ask the broker). Only GET, only loopback.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from clock import monotonic
from runner.status import PaperStatus, render_status

log = logging.getLogger(__name__)

Collect = Callable[[], PaperStatus]


class CachedStatus:
    def __init__(self, collect: Collect, refresh_seconds: float) -> None:
        self.collect, self.refresh = collect, refresh_seconds
        self._lock = threading.Lock()
        self._value: tuple[float, PaperStatus] | None = None

    def get(self) -> PaperStatus:
        with self._lock:
            if self._value is None or monotonic() - self._value[0] >= self.refresh:
                self._value = (monotonic(), self.collect())
            return self._value[1]


def page(status: PaperStatus, refresh_seconds: float) -> str:
    attention = "".join(f"<li>{html.escape(item)}</li>" for item in status.attention)
    block = f'<section id="attention"><h2>Needs attention</h2><ul>{attention}</ul></section>' if attention else \
        '<p id="attention" class="ok">Nothing needs attention.</p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{int(refresh_seconds)}">
<title>cutcycle status</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}} pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}
#attention li{{color:#a00}} .ok{{color:#070}} footer{{color:#666;font-size:90%}}</style></head>
<body><h1>cutcycle paper trader</h1>
{block}
<pre id="status">{html.escape(render_status(status))}</pre>
<footer>Read-only. Generated {html.escape(status.generated_at)}; reloads every {int(refresh_seconds)} s.
Machine-readable: <a href="status.json">status.json</a>.</footer>
</body></html>
"""


def make_server(status: CachedStatus, port: int, refresh_seconds: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(200, page(status.get(), refresh_seconds).encode(), "text/html; charset=utf-8")
            elif path == "/status.json":
                self._send(200, status.get().to_json().encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("status page: " + fmt, *args)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server
