"""Opening a SQLite state file (the store, a journal) for reading only, including on storage that cannot be written.

A read-only connection (`mode=ro`) never changes the file, but SQLite still creates `<file>-shm` (and `-wal`) next
to a WAL database to coordinate with writers, so it needs a writable directory; the review commands therefore leave
those two files next to a journal they read (harmless: the next writer uses and removes them; `runs` counts them in a
journal's disk). Where the directory cannot be written (a read-only mount, a directory the user may not write) and
no write-ahead log is pending (no `-wal`, or an empty one), the file is complete on its own and is opened
`immutable` (SQLite reads it with no locks and no side files). With a pending `-wal` it cannot be read without
writing next to it: `ReadOnlyStorage` says so, naming the directory.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


class ReadOnlyStorage(sqlite3.OperationalError):
    """The file can only be read by writing next to it (a pending write-ahead log) and its directory is read-only."""


def writable_dir(path: Path) -> bool:
    """Whether new files can be created next to `path` (access(2): permissions, and EROFS for a read-only mount)."""
    return os.access(path.parent, os.W_OK)


def connect_read_only(path: Path, *, timeout: float = 5.0, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection to the SQLite file `path` (see the module docstring); SQLite's errors pass through."""
    uri = path.resolve().as_uri()
    if writable_dir(path) or not path.exists():
        return sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, check_same_thread=check_same_thread)
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise ReadOnlyStorage(f"cannot write in {path.parent} (read-only): reading {path.name} needs its write-ahead log {wal.name} applied, which"
                              " needs write access there (make the directory writable, or copy the files to one that is)")
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout, check_same_thread=check_same_thread)
