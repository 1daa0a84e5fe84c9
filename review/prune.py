"""`main.py runs prune`: free the disk old runs use.

Runs are selected by age (`older_than` days since they started by the wall clock: a simulation's `created_at` is
its simulated start, the horizon of its job ledger, so its age comes from the wall-clock stamp its run id carries,
`simulate-START-END-YYYYMMDDTHHMMSS`), kind, and `keep` (the newest N of the selection stay; 0 keeps none). A
journal file is removed only when every run in it is selected (journals are append-only: rows are never deleted
from one); a sweep's folder goes with its last member, a simulation's state folder with its journal. A
paper session is never removed without `force`: its journal is the trader's record of real orders.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from review.runs import RunRef, open_runs

PROTECTED_KINDS = frozenset({"paper"})


@dataclass(frozen=True, slots=True)
class PruneResult:
    removed: list[RunRef]
    kept_shared: list[RunRef]  # selected, but their journal also holds runs that stay
    protected: list[RunRef]  # paper sessions left without --force
    paths: list[Path]
    freed: int


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _companions(journal: Path) -> list[Path]:
    return [journal, journal.with_name(journal.name + "-wal"), journal.with_name(journal.name + "-shm")]


_WALL_STAMP = re.compile(r"-(\d{8}T\d{6})$")


def started(ref: RunRef) -> datetime:
    """When the run was started, by the wall clock (UTC); see the module docstring for simulations."""
    stamp = _WALL_STAMP.search(ref.run_id) if ref.info.kind == "simulation" else None
    if stamp:
        return datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return datetime.fromisoformat(ref.info.created_at.replace("Z", "+00:00"))


def prune_runs(journals: Sequence[Path], now: datetime, *, older_than_days: float | None = None, kinds: Sequence[str] = (), keep: int | None = None,
               force: bool = False, dry_run: bool = False, roots: Sequence[Path] = ()) -> PruneResult:
    """Remove the selected runs' journals (see the module docstring). `roots` are the journal directories: a folder
    under one of them (a sweep's, a simulation's) that the removal leaves without a journal goes too."""
    with open_runs(journals) as source:
        refs = source.runs()
    chosen = [r for r in refs if not kinds or r.info.kind in kinds]
    if older_than_days is not None:
        cutoff = now - timedelta(days=older_than_days)
        chosen = [r for r in chosen if started(r) <= cutoff]
    if keep is not None:  # keep=0 keeps none of the selection
        ordered = sorted((r for r in refs if not kinds or r.info.kind in kinds), key=started)
        newest = {r.run_id for r in ordered[-keep:]} if keep else set()
        chosen = [r for r in chosen if r.run_id not in newest]
    protected = [r for r in chosen if r.info.kind in PROTECTED_KINDS and not force]
    chosen = [r for r in chosen if r not in protected]
    selected = {r.run_id for r in chosen}
    by_file: dict[Path, list[RunRef]] = {}
    for ref in refs:
        by_file.setdefault(ref.path, []).append(ref)
    removed: list[RunRef] = []
    shared: list[RunRef] = []
    paths: list[Path] = []
    for path, held in by_file.items():
        mine = [r for r in held if r.run_id in selected]
        if not mine:
            continue
        if len(mine) < len(held):
            shared += mine
            continue
        removed += mine
        paths += [p for p in _companions(path) if p.exists()]
    folders = _emptied_folders(paths, roots)
    freed = sum(_size(p) for p in paths) + sum(_size(f) for f in folders) - sum(_size(p) for p in paths if any(f in p.parents for f in folders))
    if not dry_run:
        for path in paths:
            path.unlink(missing_ok=True)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    return PruneResult(removed, shared, protected, [*paths, *folders], freed)


def _emptied_folders(removing: Sequence[Path], roots: Sequence[Path]) -> list[Path]:
    """Folders directly under a journal root (a sweep's or a simulation's) that hold no journal once `removing` is gone."""
    gone = set(removing)
    out: list[Path] = []
    for root in roots:
        for folder in {p.parent for p in removing if p.parent.parent == root}:
            left = [p for p in folder.rglob("*.sqlite") if p not in gone]
            if not left:
                out.append(folder)
    return out
