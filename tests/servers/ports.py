"""A free TCP port on 127.0.0.1 for a local server a test or benchmark starts."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the OS had free a moment ago (the caller binds it next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
