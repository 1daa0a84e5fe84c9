"""Shared fixtures: the real data pack imported once per session into a real SQLite store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.loader import PROJECT_ROOT, load_config
from config.schema import AppConfig
from datastore.pack_import import import_pack
from datastore.pit import PitData
from datastore.store import Store

PACK = Path(os.environ.get("CUTCYCLE_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data")).resolve()
IMPORTED_AT = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def pack_dir() -> Path:
    if not (PACK / "PROVENANCE.md").is_file():
        pytest.fail(f"the data pack is missing at {PACK}: clone beside ../shared or set CUTCYCLE_DATA_DIR")
    return PACK


@pytest.fixture(scope="session")
def app_config() -> AppConfig:
    return load_config().config


@pytest.fixture(scope="session")
def pack_store(tmp_path_factory: pytest.TempPathFactory, app_config: AppConfig, pack_dir: Path) -> Iterator[Store]:
    """The whole pack in a real store (read-only for tests: copy it if you need to write)."""
    store = Store(tmp_path_factory.mktemp("store") / "store.sqlite")
    import_pack(store, app_config, pack_dir, IMPORTED_AT)
    yield store
    store.close()


@pytest.fixture(scope="session")
def pack_pit(pack_store: Store, app_config: AppConfig) -> PitData:
    """Every tradable series and price history, in memory."""
    series = [s for s, spec in app_config.series.items() if spec.release.rule != "label_only"]
    return PitData.load(pack_store, series, list(app_config.prices))
