"""Process guards: one instance per state directory, a kill-switch file, and the heartbeat/status file."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any


class AlreadyRunning(Exception):
    """Another paper trader holds this state directory: exit before any network call."""


class InstanceLock:
    """An exclusive, non-blocking flock on `<state>/paper.lock`; released when the process dies, even by SIGKILL."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "paper.lock"
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise AlreadyRunning(f"another paper trader (pid {holder}) holds {self.path}") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


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
