"""R37: a state directory whose journal vanished, was emptied, is corrupt or was written by a newer cutcycle refuses to
start with one clear line (exit 2: the files on disk are the input to fix), and `status` still prints. A state
directory no session has used starts fresh."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

import pytest

from clock import NEW_YORK, ManualClock
from datastore.store import Store
from main import main
from runner.compose import open_session
from runner.guards import StateRefused
from tests.integration.test_paper_support import KEYS, Rig, rig

DAY = date(2024, 7, 9)


def _delete(journal: Path) -> None:
    journal.unlink()


def _empty(journal: Path) -> None:
    journal.write_bytes(b"")


def _garbage(journal: Path) -> None:
    journal.write_bytes(b"not a database at all " * 300)


def _corrupt_pages(journal: Path) -> None:
    data = bytearray(journal.read_bytes())
    assert len(data) > 3 * 4096
    last = len(data) - 4096  # the last page (the session's latest rows): the schema still reads, the page does not
    data[last:last + 64] = b"\xa5" * 64
    journal.write_bytes(bytes(data))


def _newer_schema(journal: Path) -> None:
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.close()


BREAKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "deleted": (_delete, "is missing but"),
    "emptied": (_empty, "is empty (0 bytes) but"),
    "garbage": (_garbage, "cannot be read as a journal"),
    "corrupt pages": (_corrupt_pages, "is corrupt"),
    "newer schema": (_newer_schema, "newer than this code's"),
}


def _earlier_session(r: Rig) -> Path:
    """A paper session that decided a day and stopped cleanly: its journal and heartbeat stay in the state directory."""
    with r.session(mode="paper") as (s, runner):
        runner.wake()
        assert s.deps.journal.query("SELECT COUNT(*) FROM decisions")[0][0] == 1
    return r.folder / "paper" / "paper.sqlite"


@pytest.mark.parametrize("damage", list(BREAKS))
def test_a_lost_or_broken_journal_refuses_the_start_and_status_still_prints(pack_store: Store, pack_dir: Path, tmp_path: Path,
                                                                          damage: str, capsys: pytest.CaptureFixture[str],
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    breaker, says = BREAKS[damage]
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=datetime.combine(DAY, time(16, 31), tzinfo=NEW_YORK)) as r:
        journal = _earlier_session(r)
        breaker(journal)
        before = journal.read_bytes() if journal.exists() else None
        with pytest.raises(StateRefused, match=re.escape(says)):
            open_session(r.cfg, KEYS, r.clock, mode="paper", dry_run=False, state_dir=r.folder / "paper")
        sets = [f'--set=data.store_dir="{r.folder}"', f'--set=alpaca.trading_url="{r.server.url}"', f'--set=alpaca.data_url="{r.server.url}"']
        env = {**KEYS, "CUTCYCLE_DATA_DIR": str(pack_dir)}
        capsys.readouterr()
        caplog.clear()
        assert main([*sets, "paper"], env=env, clock=ManualClock(r.clock.now())) == 2
        [error] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]  # the one line the user reads
        assert error.startswith("error: ") and says in error and not [rec for rec in caplog.records if rec.exc_info]
        assert main([*sets, "status", "--offline"], env=env, clock=ManualClock(r.clock.now())) == 0
        out = capsys.readouterr().out
        assert "cutcycle paper status" in out and (says in out or "cannot read the journal" in out), out
        assert r.exchange.post_log == []
    assert (journal.read_bytes() if journal.exists() else None) == before  # nothing recreated or repaired behind the user's back


def test_a_state_directory_no_session_used_starts_fresh(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=datetime.combine(DAY, time(16, 31), tzinfo=NEW_YORK)) as r:
        (r.folder / "paper").mkdir(mode=0o700)
        (r.folder / "paper" / "paper.sqlite").write_bytes(b"")  # created empty, never used: no heartbeat, no WAL
        journal = _earlier_session(r)
        assert journal.stat().st_size > 0


def test_run_ids_do_not_collide_when_the_clock_steps_back(pack_store: Store, tmp_path: Path) -> None:
    """Three starts stamped with the same second (the clock stepped back, or a quick restart): three runs, no IntegrityError."""
    with rig(pack_store, tmp_path, DAY, date(2024, 7, 12), at=datetime.combine(DAY, time(16, 31), tzinfo=NEW_YORK)) as r:
        ids = []
        for _ in range(3):
            with r.session(mode="paper") as (s, _runner):
                ids.append(s.deps.run_id)
    assert ids == ["paper-20240709T203100", "paper-20240709T203100-2", "paper-20240709T203100-3"]
