"""SDK and transport exceptions translated into what the caller should do (they never cross the adapter).

    requests Timeout / ConnectionError / bad JSON, 429, 5xx  -> Retry (on an order POST: outcome unknown)
    401                                                      -> Halt (credentials rejected; the key is never quoted)
    404                                                      -> NotFound (the adapter decides what absence means)
    422 code 40010001 "client_order_id must be unique"       -> DuplicateClientId (adopt the existing order, R03)
    other 4xx on an order                                    -> Rejected
    other 4xx elsewhere                                      -> Halt

Bodies are parsed defensively: alpaca-py's `APIError.code` raises on an HTML body (R16).
"""

from __future__ import annotations

import json
from typing import Any

import requests
from alpaca.common.exceptions import APIError

from broker.alpaca.http import TransportStatusError
from broker.contract import BrokerError, Halt, Rejected, Retry

DUPLICATE_CLIENT_ID = 40010001


class NotFound(BrokerError):
    """HTTP 404: the thing asked for does not exist (yet)."""


class DuplicateClientId(BrokerError):
    """HTTP 422 'client_order_id must be unique': an order with this id exists already."""


def error_body(exc: APIError) -> tuple[int | None, str]:
    """(code, message) from an APIError's body; HTML, empty or truncated bodies give (None, excerpt)."""
    raw = str(exc)
    try:
        body: Any = json.loads(raw)
    except ValueError:
        return None, " ".join(raw[:120].split())
    if not isinstance(body, dict):
        return None, raw[:120]
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message", ""))[:200]


def translate(exc: BaseException, *, what: str, client_order_id: str | None = None) -> BrokerError:
    """The BrokerError for an exception raised while doing `what` (e.g. 'GET account', 'POST order cc-...')."""
    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, TransportStatusError):
        return Retry(f"{what}: HTTP {exc.status}", after_seconds=exc.retry_after)
    if isinstance(exc, APIError):
        status = exc.status_code
        code, message = error_body(exc)
        if status == 401:
            return Halt(f"{what}: Alpaca rejected the API credentials (HTTP 401); check APCA_API_KEY_ID / APCA_API_SECRET_KEY")
        if status == 404:
            return NotFound(f"{what}: not found")
        if status == 422 and (code == DUPLICATE_CLIENT_ID or "must be unique" in message) and "client_order_id" in message:
            return DuplicateClientId(f"{what}: {message}")
        if status is not None and 400 <= status < 500 and client_order_id is not None:
            return Rejected(f"{what}: HTTP {status} {code or ''} {message}".strip(), client_order_id=client_order_id)
        if status is None or status >= 500:
            return Retry(f"{what}: HTTP {status} {message}")
        return Halt(f"{what}: HTTP {status} {code or ''} {message}".strip())
    if isinstance(exc, requests.Timeout):
        return Retry(f"{what}: timed out")
    if isinstance(exc, requests.ConnectionError):
        return Retry(f"{what}: connection failed ({type(exc).__name__})")
    if isinstance(exc, ValueError | requests.RequestException):
        # requests' JSONDecodeError is both: a truncated or non-JSON 200 body.
        return Retry(f"{what}: unreadable answer ({type(exc).__name__})")
    raise exc
