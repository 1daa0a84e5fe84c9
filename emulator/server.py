"""The emulator's HTTP server: Alpaca's trading and data REST APIs on one port, with fault knobs and a control API.

Start it in a test with `EmulatorServer(exchange, ...).start()` (port 0 picks a free port; `url` says which), or
from the command line with `python -m emulator`. The control API under `/_emulator/` needs no keys and never
faults: `GET state`, `POST time {"now": iso}`, `POST faults {"rules": [...], "seed": n}`, `POST account {flags}`,
`POST partial_fills {symbol: qty}`, `POST orders {order}` (an external order), `POST quotes {symbol: {bid, ask}}`.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emulator import render, routes
from emulator.exchange import Exchange
from emulator.faults import AFTER, Fault, FaultPlan, rule_from_json
from emulator.records import AccountFlags, PostRecord, Quote, iso, parse_iso

log = logging.getLogger(__name__)

_HTML = {
    502: b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
    504: b"<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center></body></html>",
}


class EmulatorServer:
    """A local Alpaca: `exchange` holds the state, `faults` the knobs; keys are held in memory only."""

    def __init__(self, exchange: Exchange, *, key_id: str, secret_key: str, faults: FaultPlan | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.exchange = exchange
        self.faults = faults or FaultPlan()
        self._keys = (key_id, secret_key)
        self.stopping = threading.Event()
        self._httpd = _QuietServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="alpaca-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorized(self, key_id: str | None, secret: str | None) -> bool:
        return hmac.compare_digest((key_id or "").encode(), self._keys[0].encode()) and hmac.compare_digest(
            (secret or "").encode(), self._keys[1].encode()
        )


class _QuietServer(ThreadingHTTPServer):
    """A client that vanishes mid-answer (killed, timed out) is normal here: log it, do not print a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s dropped mid-request", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server_version = "alpaca-emulator/1"

    @property
    def app(self) -> EmulatorServer:
        return self.server.app  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("emulator %s", format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- framing --------------------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, b"" if payload is None else json.dumps(payload).encode())

    def _reset(self) -> None:
        """Abort the connection with a TCP RST: the client sees 'connection reset by peer'."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    # -- dispatch -------------------------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        body = self._body() if method == "POST" else None
        if parts.path.startswith("/_emulator/"):
            self._control(method, parts.path.removeprefix("/_emulator/"), body)
            return
        found = routes.find(method, parts.path)
        if found is None:
            self._json(404, render.error(40410000, f"no route {method} {parts.path}"))
            return
        route, match = found
        fault = self.app.faults.pick(route.endpoint)
        if fault is not None and fault.kind not in AFTER and self._fault_before(fault, route.endpoint, body):
            return
        if not self.app.authorized(self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")):
            self._json(401, render.error(40110000, "request is not authorized"))
            return
        ex = self.app.exchange
        with ex.lock:
            ex.tick()
            status, payload, kind = route.handler(ex, params, body, match, fault is not None and fault.kind == "reject_then_504")
        if fault is not None and fault.kind in AFTER:
            self._fault_after(fault, status, payload, kind)
            return
        self._json(status, payload)

    def _fault_before(self, fault: Fault, endpoint: str, body: Any) -> bool:
        """Apply a fault that happens before any work; True if the request is finished."""
        kind = fault.kind
        if kind == "latency":
            self.app.stopping.wait(fault.seconds)
            return False
        if endpoint == "orders.submit" and isinstance(body, dict):
            ex = self.app.exchange
            with ex.lock:
                ex.post_log.append(PostRecord(str(body.get("client_order_id")), "faulted_before_commit", iso(ex.now), kind))
                ex.save()
        if kind == "hang":
            self.app.stopping.wait(fault.seconds)
            self.close_connection = True
        elif kind == "reset":
            self._reset()
        elif kind == "rate_limit":
            reset_at = int(self.app.exchange.now.timestamp() + fault.seconds + 0.999)
            headers = {"X-Ratelimit-Limit": "200", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset_at)}
            self._send(429, json.dumps(render.error(42910000, "rate limit exceeded")).encode(), headers=headers)
        elif kind == "unauthorized":
            self._json(401, render.error(40110000, "request is not authorized"))
        elif kind == "empty_500":
            self._send(500)
        else:
            status = 502 if kind == "html_502" else 504
            self._send(status, _HTML[status], "text/html")
        return True

    def _fault_after(self, fault: Fault, status: int, payload: Any, kind: str) -> None:
        if fault.kind in ("commit_then_504", "reject_then_504"):
            self._send(504, _HTML[504], "text/html")
        elif fault.kind == "commit_then_500":
            self._send(500)
        elif fault.kind == "commit_then_reset":
            self._reset()
        elif fault.kind == "commit_then_latency":
            self.app.stopping.wait(fault.seconds)
            self._json(status, payload)
        elif fault.kind == "malformed_json":
            text = json.dumps(payload).encode()
            self._send(status, text[: max(len(text) // 2, 1)])
        elif fault.kind == "unknown_enum":
            self._json(status, render.scramble_enums(payload))
        else:
            self._json(status, render.minimal(payload, kind))

    # -- control API ----------------------------------------------------------------------------------------------

    def _control(self, method: str, what: str, body: Any) -> None:
        ex = self.app.exchange
        data: dict[str, Any] = body if isinstance(body, dict) else {}
        with ex.lock:
            if method == "GET" and what == "state":
                self._json(200, state_snapshot(self.app))
                return
            if method != "POST":
                self._json(405, render.error(40510000, "control API: POST to change, GET state"))
                return
            if what == "time":
                ex.advance_to(parse_iso(str(data["now"])))
            elif what == "faults":
                self.app.faults.replace([rule_from_json(r) for r in data.get("rules", [])], seed=data.get("seed"))
            elif what == "account":
                ex.flags = AccountFlags(**{**render_flags(ex.flags), **data})
            elif what == "partial_fills":
                ex.partial_fills.update({str(k): int(v) for k, v in data.items()})
            elif what == "orders":
                self._json(200, render.order(ex.add_external_order(data)))
                return
            elif what == "quotes":
                for symbol, q in data.items():
                    ex.quotes[symbol] = Quote(float(q["bid"]), float(q["ask"]), iso(ex.now))
            else:
                self._json(404, render.error(40410000, f"no control {what}"))
                return
            ex.save()
        self._json(200, state_snapshot(self.app))


def render_flags(flags: AccountFlags) -> dict[str, Any]:
    return {"status": flags.status, "trading_blocked": flags.trading_blocked, "account_blocked": flags.account_blocked,
            "trade_suspended_by_user": flags.trade_suspended_by_user, "options_trading_level": flags.options_trading_level,
            "drop": list(flags.drop)}


def state_snapshot(app: EmulatorServer) -> dict[str, Any]:
    """Everything a test asserts on: the time, orders, positions, the POST log and the faults that fired."""
    ex = app.exchange
    with ex.lock:
        return {
            "now": iso(ex.now), "cash": ex.cash, "equity": ex.equity(),
            "orders": [render.order(o) for o in sorted(ex.orders.values(), key=lambda o: o.created_at)],
            "positions": {p.symbol: p.qty for p in ex.positions.values()},
            "post_log": [{"client_order_id": r.client_order_id, "outcome": r.outcome, "fault": r.fault} for r in ex.post_log],
            "faults_fired": dict(app.faults.fired),
        }
