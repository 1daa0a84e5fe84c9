"""One check for every file a command writes where the user said (`--chart`, `--out`): the suffix says a format the
command writes, the directory exists, and a file can be written there (checked before any work). A default path
(reports/<run>.html, beside the journals) is the program's to create; a path the user gave is not silently
completed with new directories (a typo would go unnoticed)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cli.boundary import UsageError

CHART_SUFFIXES = (".png", ".svg", ".pdf")  # what matplotlib writes from the extension
HTML_SUFFIXES = (".html", ".htm")


def output_file(text: str | None, arg: str, suffixes: Sequence[str]) -> Path | None:
    """`text` as a path to write, or UsageError naming `arg`; None when the option was not given."""
    if text is None:
        return None
    path = Path(text).expanduser()
    if path.suffix.lower() not in suffixes:
        shown = path.suffix or "no suffix"
        raise UsageError(f"{arg} {text}: {shown} is not a format this writes; end the name with {' or '.join(suffixes)}")
    if path.is_dir():
        raise UsageError(f"{arg} {text}: is a directory; give a file name ending in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise UsageError(f"{arg} {text}: the directory {path.parent} does not exist (or is not a directory): create it first")
    why = _cannot_write(path)
    if why:
        raise UsageError(f"{arg} {text}: cannot write there ({why}); choose another place")
    return path


def _cannot_write(path: Path) -> str:
    """Why a file cannot be written at `path`, found by creating (and removing) a scratch file beside it before any
    work is done ('' when it can): permissions, a read-only mount, or a directory like /proc that takes no files."""
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".cutcycle-write-check-"):
            return ""
    except OSError as exc:
        return exc.strerror or type(exc).__name__
