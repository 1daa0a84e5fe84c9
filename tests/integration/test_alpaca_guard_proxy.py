"""R39 end to end: a recording HTTP proxy on 127.0.0.1 (HTTP_PROXY/HTTPS_PROXY) sees every request the HTTP stack
makes. A base URL that Python's urlsplit reads as loopback but urllib3 (under requests and alpaca-py) reads as the live
host is refused before any request, so nothing, keys least of all, leaves for a live host; the same request made
without the guard does reach the proxy addressed to api.alpaca.markets (the proxy would have seen the leak)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from broker.alpaca.clients import build_clients
from broker.alpaca.safety import EndpointGuard
from broker.contract import Halt
from clock import ManualClock
from datastore.store import Store
from main import main
from tests.integration.test_paper_support import copy_store
from tests.servers.alpaca_rig import START, alpaca_config, secrets

EVIL = ["http://api.alpaca.markets\\@127.0.0.1:{port}", "http://127.0.0.1:{port}@api.alpaca.markets", "http://127.1:{port}"]


class RecordingProxy:
    """Answers 502 to everything and records the request line (absolute URI for http://, CONNECT for https://)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                seen.append(f"{self.command} {self.path} key={self.headers.get('APCA-API-KEY-ID')}")
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = do_CONNECT = _record

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> RecordingProxy:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    with RecordingProxy() as p:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, p.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield p


def test_without_the_guard_requests_goes_to_the_live_host(proxy: RecordingProxy) -> None:
    """The control: what the HTTP stack does with the URL the old guard passed as loopback."""
    requests.get(EVIL[0].format(port=9) + "/v2/account", timeout=5)
    assert proxy.seen and proxy.seen[0].startswith("GET http://api.alpaca.markets/")


@pytest.mark.parametrize("template", EVIL)
def test_the_guard_refuses_before_any_request_leaves(proxy: RecordingProxy, template: str) -> None:
    url = template.format(port=9)
    with pytest.raises(Halt, match="refusing endpoint URL"):
        build_clients(alpaca_config(url), secrets(), guard=EndpointGuard(), wall=ManualClock(START))
    assert proxy.seen == []


@pytest.mark.parametrize("command", [["paper"], ["paper", "--simulate", "2024-07-01", "2024-07-03"], ["status"]])
def test_no_command_sends_anything_to_a_url_two_parsers_disagree_on(proxy: RecordingProxy, tmp_path: Path, pack_dir: Path, pack_store: Store,
                                                                  command: list[str]) -> None:
    copy_store(pack_store, tmp_path)  # the pack already imported: the start-up import is a hash check
    env = {"APCA_API_KEY_ID": "PKLEAKTEST000001", "APCA_API_SECRET_KEY": "leak-test-secret", "CUTCYCLE_DATA_DIR": str(pack_dir),
           "APCA_API_BASE_URL": EVIL[0].format(port=9), "HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url}
    sets = [f'--set=data.store_dir="{tmp_path}"', '--set=alpaca.data_url="http://api.alpaca.markets\\\\@127.0.0.1:9"', "--set=fred.series=[]"]
    code = main([*sets, *command], env=env, clock=ManualClock(START))
    assert code == (0 if command == ["status"] else 1)  # status still prints, saying the broker was refused
    assert proxy.seen == []
