"""A simulation started again after its process was killed goes on in the same run (one session, one run in the
journal) when its config is the same; with another config the killed run is closed as `interrupted` and a new run
follows it (its parent). The process test (`tests/acceptance/test_simulate_resume.py`) kills a real simulation."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from datastore.store import Store
from runner.compose import open_session
from tests.integration.test_paper_support import KEYS, rig

RUN = "simulate-20240708-20240712-20261102T120000"


def _killed(journal: Path) -> None:
    """What SIGKILL leaves: the run still marked running (no process closed it)."""
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE runs SET status='running', finished_at=NULL")


def _runs(journal: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(journal) as db:
        return [tuple(r) for r in db.execute("SELECT run_id, status, parent_id FROM runs ORDER BY created_at, rowid")]


def test_a_resumed_simulation_is_one_run_unless_its_config_changed(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, date(2024, 7, 8), date(2024, 7, 12)) as r:
        state = r.folder / "simulations" / RUN
        journal = state / "paper.sqlite"
        open_session(r.cfg, KEYS, r.clock, mode="simulate", dry_run=False, run_id=RUN, state_dir=state).close()
        _killed(journal)

        same = open_session(r.cfg, KEYS, r.clock, mode="simulate", dry_run=False, run_id=RUN, state_dir=state, resume=True)
        try:
            assert same.deps.run_id == RUN
            assert _runs(journal) == [(RUN, "running", None)]
        finally:
            same.close()
        with sqlite3.connect(journal) as db:
            assert db.execute("SELECT COUNT(*) FROM events WHERE run_id=? AND kind='resumed'", (RUN,)).fetchone() == (1,)
        assert _runs(journal) == [(RUN, "stopped", None)]

        _killed(journal)
        other = r.cfg.model_copy(update={"strategy": r.cfg.strategy.model_copy(update={"base_weight": 0.3})})
        follows = "simulate-20240708-20240712-20261102T130000"  # wall-stamped, as `runs prune` reads a simulation's age
        changed = open_session(other, KEYS, r.clock, mode="simulate", dry_run=False, run_id=RUN, state_dir=state, resume=True, follower_id=follows)
        try:
            follower = changed.deps.run_id
        finally:
            changed.close()
    assert follower == follows
    assert _runs(journal) == [(RUN, "interrupted", None), (follower, "stopped", RUN)]
