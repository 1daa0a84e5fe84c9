"""The one error boundary of every command: a failure is one line on stderr and an exit code, never a traceback.

Exit codes: 0 success; 2 bad input the user can fix (a date, a key, a grid, a run id: `BAD_INPUT`); 1 a failure
(a source that did not answer, a file the process could not read or write, a damaged state file, a bug); 128 + the
signal when stopped by SIGINT (130) or SIGTERM (143). SIGTERM is handled like Ctrl-C while a command runs: it raises
`Interrupted` (a KeyboardInterrupt) in the main thread, so what a command does on Ctrl-C (a backtest journals its run
as `interrupted`) it also does when a service manager or `kill` stops it. A command with its own handlers (the paper
trader, the status page) installs them over this one.
`--log-level DEBUG` also logs the trace. A reader that stops early (`| head`) ends the command quietly.

A state file that fails (SQLite or the file system) is named by the `state_file(path)` context in which it was
used; outside one, the line names the state directory.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from cli.dates import DateError

log = logging.getLogger("cutcycle")

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input argparse could not catch (an argument, a missing key, a state the user must resolve): exit 2."""


class Failure(Exception):
    """Something outside the input failed (a broker that refused to start a session): exit 1 with this line."""


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal (SIGTERM); handled as Ctrl-C, it exits 128 + `signum`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM raises `Interrupted` in the main thread (elsewhere handlers cannot be set: no change).
    A process forked meanwhile (a sweep's pool worker, which the pool stops with SIGTERM) dies of it as by default."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def interrupt(signum: int, _frame: object) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StateFileError(Exception):
    """A state file (the store, a journal, a lock) could not be read or written: the line says which and what to do."""


def _advice(exc: BaseException) -> str:
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or "disk is full" in text or "file too large" in text \
            or "disk i/o error" in text:
        return "the disk is full or failing (or a file size limit was hit): free space (`main.py runs prune` removes old runs) and run again"
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text or "read-only" in text or "unable to open" in text:
        return "cannot write there: make the directory writable or point data.store_dir at one that is (--set data.store_dir=\"PATH\")"
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text or "corrupt" in text):
        return "the file is damaged or not a cutcycle database: move it aside and run again (the store is rebuilt from the data pack)"
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return "another process holds it: wait for it to finish, or stop it"
    if code == errno.ENOENT:
        return "it does not exist: check the path"
    if code in (errno.ENOTDIR, errno.EISDIR):
        return "a file is where a directory is expected (or the other way round): check the path (data.store_dir, --config, --out)"
    return "check the file and run again"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


@contextmanager
def state_file(path: Path) -> Iterator[None]:
    """Turn SQLite and file-system errors raised inside into a StateFileError naming `path`."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        name = getattr(exc, "filename", None) or path
        raise StateFileError(f"{name}: {_reason(exc)}: {_advice(exc)}") from exc


def _quiet_stdout() -> None:
    """After a reader closed the pipe: point stdout at /dev/null so the interpreter's final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def guarded(command: Callable[[], int], *, bad_input: tuple[type[BaseException], ...], failure: tuple[type[BaseException], ...] = (),
            state_dir: Callable[[], Path | None] = lambda: None, redact: Callable[[str], str] = str) -> int:
    """Run `command` and turn what it raises into one line and an exit code (see the module docstring).

    `bad_input` exceptions exit 2 with their message; `failure` ones exit 1 with theirs. `redact` removes every
    secret from the line (whole, before anything could cut it)."""
    debug = log.isEnabledFor(logging.DEBUG)
    bad: tuple[type[BaseException], ...] = (UsageError, DateError, *bad_input)
    failed: tuple[type[BaseException], ...] = (StateFileError, Failure, *failure)
    try:
        with sigterm_interrupts():
            code = command()
            sys.stdout.flush()
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
    except bad as exc:
        return _report(exc, EXIT_BAD_INPUT, debug, redact)
    except failed as exc:
        return _report(exc, EXIT_FAILURE, debug, redact)
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        _write_stderr("interrupted" + (f" ({signal.Signals(signum).name})" if signum != signal.SIGINT else ""))
        return 128 + signum
    except (sqlite3.Error, OSError) as exc:
        name = getattr(exc, "filename", None)
        where = name or (f"a state file under {state_dir()}" if state_dir() else "a state file")
        return _report(StateFileError(f"{where}: {_reason(exc)}: {_advice(exc)}"), EXIT_FAILURE, debug, redact, cause=exc)
    except Exception as exc:  # a bug: still one line, with the way to see the trace
        line = f"unexpected {type(exc).__name__}: {exc}" + ("" if debug else " (run with --log-level DEBUG for the trace)")
        return _report(RuntimeError(line), EXIT_FAILURE, debug, redact, cause=exc)


def _report(exc: BaseException, code: int, debug: bool, redact: Callable[[str], str], *, cause: BaseException | None = None) -> int:
    if debug:
        log.debug("trace", exc_info=cause or exc)
    text = redact(str(exc))
    message = text.strip() if "\n" in text else " ".join(text.split())
    _write_stderr(f"error: {message}")
    return code


def _write_stderr(line: str) -> None:
    with suppress(BrokenPipeError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
