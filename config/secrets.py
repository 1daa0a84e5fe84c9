"""Secrets come from the environment only, and never show in a repr, a dump or a log line.

`Secret` hides its value everywhere except `reveal()`; `install_redaction` adds a logging filter that replaces any
known secret value in every log record, so a key that leaks into an SDK's message (fredapi puts the FRED key in
its URLs) is still never written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

REDACTED = "***"

ENV_ALPACA_KEY_ID = "APCA_API_KEY_ID"
ENV_ALPACA_SECRET_KEY = "APCA_API_SECRET_KEY"
ENV_ALPACA_BASE_URL = "APCA_API_BASE_URL"
ENV_FRED_API_KEY = "FRED_API_KEY"
ENV_ALLOW_LIVE = "CUTCYCLE_ALLOW_LIVE"
ENV_DATA_DIR = "CUTCYCLE_DATA_DIR"
ENV_NOTIFY_URLS = "CUTCYCLE_NOTIFY_URLS"


class Secret:
    """A string that will not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "").strip()
    return Secret(value) if value else None


@dataclass(frozen=True, slots=True)
class Secrets:
    """The credentials found in the environment; any may be absent."""

    alpaca_key_id: Secret | None = None
    alpaca_secret_key: Secret | None = None
    fred_api_key: Secret | None = None
    alpaca_base_url: str | None = None
    allow_live: bool = field(default=False)
    notify_urls: tuple[Secret, ...] = ()  # Apprise URLs, each optionally `NAME=URL` (they carry tokens and passwords)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Secrets:
        base_url = env.get(ENV_ALPACA_BASE_URL, "").strip() or None
        return cls(
            alpaca_key_id=_secret(env, ENV_ALPACA_KEY_ID),
            alpaca_secret_key=_secret(env, ENV_ALPACA_SECRET_KEY),
            fred_api_key=_secret(env, ENV_FRED_API_KEY),
            alpaca_base_url=base_url,
            allow_live=env.get(ENV_ALLOW_LIVE, "") == "1",
            notify_urls=tuple(Secret(u) for u in env.get(ENV_NOTIFY_URLS, "").split()),
        )

    def has_alpaca(self) -> bool:
        return self.alpaca_key_id is not None and self.alpaca_secret_key is not None

    def missing_alpaca(self) -> list[str]:
        return [
            name
            for name, value in ((ENV_ALPACA_KEY_ID, self.alpaca_key_id), (ENV_ALPACA_SECRET_KEY, self.alpaca_secret_key))
            if value is None
        ]

    def values(self) -> list[str]:
        """The raw secret values, for redaction filters only."""
        keys = [s.reveal() for s in (self.alpaca_key_id, self.alpaca_secret_key, self.fred_api_key) if s is not None]
        return keys + [part for url in self.notify_urls for part in url_secrets(url.reveal())]


_NAMED = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*=(?=[A-Za-z0-9+.-]+://)")
_LONG = 6  # path segments and query values at least this long are treated as tokens


def split_named(value: str) -> tuple[str | None, str]:
    """`NAME=scheme://...` -> (NAME, URL); a bare URL -> (None, URL)."""
    m = _NAMED.match(value)
    return (value[: m.end() - 1], value[m.end():]) if m else (None, value)


def url_secrets(value: str) -> list[str]:
    """A notification URL and every part of it that may be a credential: the whole URL, its user, password and
    host part (Telegram and Discord put tokens there), long path segments and long query values."""
    _, url = split_named(value)
    parts = [value, url]
    try:
        u = urlsplit(url)
    except ValueError:
        return parts
    parts += [p for p in (u.netloc, u.username, u.password) if p]
    parts += [seg for seg in u.path.split("/") if len(seg) >= _LONG]
    parts += [v for _, v in parse_qsl(u.query) if len(v) >= _LONG]
    return sorted(set(parts), key=len, reverse=True)  # longest first: a URL is replaced whole before its parts


# `scheme://user:password@host` or `scheme://token@host`: the part before '@' is a credential (RFC 3986 userinfo)
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@'\"<>]+@")


def redact_url_credentials(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by ***: a password in a URL the user typed (a --set, an
    environment URL, a notification URL an SDK quotes in part) is a secret even when it is not a known one."""
    return _URL_USERINFO.sub(rf"\1{REDACTED}@", text)


class RedactingFilter(logging.Filter):
    """Replaces every known secret value, and the credentials of every URL, in a record's final message (and drops
    its args)."""

    def __init__(self, values: list[str]) -> None:
        super().__init__()
        self._values = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)  # a whole before its parts

    def redact(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, REDACTED)
        return redact_url_credentials(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None if record.exc_text else record.exc_info
        return True


def install_redaction(secrets: Secrets) -> RedactingFilter:
    """Attach the filter to every root handler so no log line carries a secret."""
    flt = RedactingFilter(secrets.values())
    for handler in logging.getLogger().handlers:
        handler.addFilter(flt)
    return flt
