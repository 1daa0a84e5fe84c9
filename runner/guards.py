"""Process guards: one instance per state directory, a kill-switch file, and the heartbeat/status file."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


class AlreadyRunning(Exception):
    """Another paper trader holds this state directory: exit before any network call."""


class StateRefused(Exception):
    """The state directory shows an earlier session whose journal is missing, emptied, corrupt or newer than this code:
    starting would trade as if nothing had happened (R37). Exit 2: the files on disk are the input to fix."""


class InstanceLock:
    """One trader per state directory: an exclusive, non-blocking flock on the directory itself (R37).

    A lock on `paper.lock` alone is defeated by deleting the file: the next trader creates a new inode and locks that.
    The directory cannot be unlinked while it holds the journal, so its lock cannot be taken from under a running
    trader. `paper.lock` (0600) only records the holder's pid for messages and `status`. The flock is released when
    the process dies, even by SIGKILL.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "paper.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state_dir.chmod(0o700)
        fd = os.open(self.state_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(f"another paper trader (pid {holder_pid(self.path) or 'unknown'}) holds {self.state_dir}") from None
        try:
            pid_fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(pid_fd, "w") as fh:
                fh.write(str(os.getpid()))
            self.path.chmod(0o600)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_pid(lock_file: Path) -> int | None:
    """The pid the last trader wrote into `paper.lock`, if readable."""
    try:
        text = lock_file.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_held(state_dir: Path) -> bool:
    """Whether a trader holds the state directory: a non-blocking shared flock, released at once."""
    fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the descriptor drops the shared lock
    return False


# What a session leaves in its state directory besides the journal: the heartbeat, and SQLite's WAL files.
SESSION_TRACES = ("status.json", "paper.sqlite-wal", "paper.sqlite-shm")


def refuse_lost_journal(state_dir: Path, journal: Path) -> None:
    """A missing or empty journal is a fresh start only in a state directory no session has used (R37)."""
    if journal.exists() and journal.stat().st_size > 0:
        return
    traces = [name for name in SESSION_TRACES if (state_dir / name).exists()]
    if traces:
        how = "is missing" if not journal.exists() else "is empty (0 bytes)"
        raise StateRefused(
            f"{journal} {how} but {state_dir} shows an earlier session ({', '.join(traces)}): refusing to start as if nothing had "
            f"been traded; restore the journal from a backup, or move {state_dir} aside to start a new session"
        )


def kill_switch_engaged(path: Path) -> bool:
    """The kill switch: while this file exists, no new order is sent (everything else keeps running)."""
    return path.exists()


@dataclass
class Health:
    """What the heartbeat file says; counters only grow within a process."""

    started_at: str
    mode: str  # paper | dry-run | simulate
    last_heartbeat: str = ""
    jobs_run: int = 0
    jobs_failed: int = 0
    jobs_missed: int = 0
    halted: str | None = None
    last_error: str | None = None
    next_jobs: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def write_heartbeat(path: Path, health: Health, now: datetime) -> None:
    """Atomically replace the status file (write to a temp file, fsync, rename), 0600."""
    health.last_heartbeat = now.isoformat()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(health.__dict__, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def read_heartbeat(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data
