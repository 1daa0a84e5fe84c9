"""R16/R17: Alpaca's JSON is parsed defensively: garbage, nulls, numeric strings and unknown enums never crash."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from hypothesis import given
from hypothesis import strategies as st

from broker.alpaca import parse
from broker.alpaca.errors import DuplicateClientId, NotFound, error_body, translate
from broker.alpaca.http import TransportStatusError
from broker.contract import BrokerError, Halt, Rejected, Retry

JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@given(JSON)
def test_parsers_never_crash(raw: Any) -> None:
    for fn in (parse.position, parse.order, parse.activity, parse.session, parse.contract, parse.quote, parse.num, parse.when):
        fn(raw)
    for strict in (parse.account, parse.market_clock):
        with contextlib.suppress(Retry):
            strict(raw)


@given(st.dictionaries(st.sampled_from(["client_order_id", "id", "status", "qty", "filled_qty", "side", "symbol"]), JSON))
def test_orders_with_odd_fields_parse_or_are_refused(raw: dict[str, Any]) -> None:
    view = parse.order(raw)
    if view is not None:
        assert view.status in {"accepted", "partially_filled", "filled", "canceled", "expired", "rejected", "unknown"}


def test_numbers_strings_nulls_and_unknown_enums() -> None:
    view = parse.order({"client_order_id": "c", "id": "x", "status": "brand_new_state", "qty": "5", "filled_qty": None, "side": "short"})
    assert view is not None and view.status == "unknown" and view.qty == 5.0 and view.filled_qty is None and view.side is None
    assert parse.num("NaN") is None and parse.num("1e3") == 1000.0 and parse.num(True) is None
    account = parse.account({"account_number": "PA1", "status": "ACTIVE", "cash": "12.5"})
    assert account.equity == 12.5 and account.options_level is None and not account.trading_blocked


def api_error(status: int, body: str) -> APIError:
    import requests

    response = requests.Response()
    response.status_code = status
    return APIError(body, requests.HTTPError(response=response))  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(("exc", "expected"), [
    (api_error(401, '{"code": 40110000, "message": "request is not authorized"}'), Halt),
    (api_error(404, '{"code": 40410000, "message": "order not found"}'), NotFound),
    (api_error(422, '{"code": 40010001, "message": "client_order_id must be unique"}'), DuplicateClientId),
    (api_error(403, '{"code": 40310000, "message": "insufficient buying power"}'), Rejected),
    (api_error(502, "<html><body>502 Bad Gateway</body></html>"), Retry),
    (TransportStatusError(504, "POST", retry_after=None, body_excerpt=""), Retry),
])
def test_translation(exc: Exception, expected: type[BrokerError]) -> None:
    assert isinstance(translate(exc, what="POST order c", client_order_id="c"), expected)


def test_html_bodies_do_not_break_error_parsing() -> None:
    assert error_body(api_error(502, "<html>bad gateway</html>")) == (None, "<html>bad gateway</html>")
    assert error_body(api_error(500, "")) == (None, "")
