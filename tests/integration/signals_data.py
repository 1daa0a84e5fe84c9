"""The data pack imported once per test process into a temporary store, for the signal tests (not a conftest)."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from config.loader import load_config, pack_dir
from datastore.pack_import import import_pack
from datastore.pit import PitData
from datastore.store import Store
from signals.build import load_pit


@lru_cache(maxsize=1)
def pack_store() -> tuple[Store, PitData, Path]:
    """(store, point-in-time data, pack directory): the real pack, imported into a throw-away store."""
    cfg = load_config().config
    pack = pack_dir(cfg, os.environ)
    folder = Path(tempfile.mkdtemp(prefix="cutcycle-signals-"))
    store = Store(folder / "store.sqlite")
    import_pack(store, cfg, pack, fetched_at=datetime(2026, 8, 22, tzinfo=UTC))
    return store, load_pit(store), pack
