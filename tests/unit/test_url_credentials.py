"""A password typed into a URL is a secret even when it is not a known one: config show, error lines and log lines
(an SDK quoting part of a notification URL) print URLs without their userinfo."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from config.loader import PROJECT_ROOT
from config.secrets import RedactingFilter, Secrets, install_redaction, redact_url_credentials


@pytest.mark.parametrize(("text", "shown"), [
    ("https://u:supersecret123@paper-api.alpaca.markets/v2", "https://***@paper-api.alpaca.markets/v2"),
    ("refusing 'http://user:pw@127.0.0.1:8765'", "refusing 'http://***@127.0.0.1:8765'"),
    ("Unparseable URL badscheme://tok:h...w@x", "Unparseable URL badscheme://***@x"),
    ("json://token@hooks.example.com/x and mailto://a:b@smtp.example.com", "json://***@hooks.example.com/x and mailto://***@smtp.example.com"),
    ("https://paper-api.alpaca.markets/v2/orders?x=1", "https://paper-api.alpaca.markets/v2/orders?x=1"),  # nothing to hide
    ("write to bot@example.com", "write to bot@example.com"),  # not a URL
])
def test_userinfo_of_every_url_is_redacted(text: str, shown: str) -> None:
    assert redact_url_credentials(text) == shown
    assert RedactingFilter([]).redact(text) == shown


def test_a_log_line_with_an_unknown_url_password_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    flt = install_redaction(Secrets.from_env({}))  # no known secret at all
    logger = logging.getLogger("apprise")
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.WARNING, logger="apprise"):
            logger.warning("Unparseable URL %s", "badscheme://tok:hunter2w@x")
    finally:
        logger.removeFilter(flt)
    assert "hunter2" not in caplog.text and "badscheme://***@x" in caplog.text


def test_config_show_never_prints_a_url_password() -> None:
    argv = [sys.executable, "main.py", "--set", 'alpaca.trading_url="https://u:supersecret123@paper-api.alpaca.markets"', "config", "show"]
    env = {"PATH": "/usr/bin:/bin", "APCA_API_BASE_URL": "http://user:pw9876@127.0.0.1:8765", "CUTCYCLE_DATA_DIR": "/somewhere/pack"}
    for extra in ([], ["--json"]):
        done = subprocess.run(argv + extra, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "supersecret123" not in done.stdout + done.stderr and "pw9876" not in done.stdout + done.stderr
        assert "https://***@paper-api.alpaca.markets" in done.stdout and "http://***@127.0.0.1:8765" in done.stdout
        assert "/somewhere/pack" in done.stdout  # the pack the environment points at is the effective data.pack_dir
