"""Argparse types for every numeric option: a count, a number of days or years, a port. A value out of range is
refused by argparse itself (`error: argument --keep: -3: expected a whole number >= 0`, exit 2) before any command
runs, so no command ever sees a negative count or an impossible port."""

from __future__ import annotations

import argparse
import errno
import math
from collections.abc import Callable

PORT_MAX = 65535


def _number(kind: type[int] | type[float], low: float, *, strict: bool, high: float | None = None) -> Callable[[str], float]:
    noun = "a whole number" if kind is int else "a number"
    bound = f"> {low:g}" if strict else f">= {low:g}"
    wanted = f"{noun} {low:g} .. {high:g}" if high is not None else f"{noun} {bound}"

    def parse(text: str) -> float:
        try:
            value = kind(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {wanted}") from None
        if not math.isfinite(value) or (value <= low if strict else value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text}: expected {wanted}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


non_negative_int: Callable[[str], int] = _number(int, 0, strict=False)  # type: ignore[assignment]
positive_int: Callable[[str], int] = _number(int, 0, strict=True)  # type: ignore[assignment]
non_negative_float: Callable[[str], float] = _number(float, 0, strict=False)
positive_float: Callable[[str], float] = _number(float, 0, strict=True)
port: Callable[[str], int] = _number(int, 0, strict=False, high=PORT_MAX)  # type: ignore[assignment]


def port_in_use(exc: OSError, port: int, what: str) -> str | None:
    """The one line for a server that could not bind `port` because something listens there; None for other errors."""
    if exc.errno != errno.EADDRINUSE:
        return None
    return f"port {port} is already in use (another {what}, or another program): stop it, or pick another with --port (0 picks a free one)"


def years(text: str) -> float:
    """A length in years of at least one day (walk-forward windows: `--in-sample-years 0.5`)."""
    value = positive_float(text)
    if round(value * 365.25) < 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a number of years of at least one day (e.g. 0.5 or 3)")
    return value
