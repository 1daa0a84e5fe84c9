"""Shared pieces for the backtest integration tests: a real store filled from the data pack (no tests here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from backtest.inputs import Inputs, load_inputs
from config.loader import load_config, pack_dir
from datastore.pack_import import import_pack
from datastore.store import Store

FETCHED = datetime(2026, 8, 22, tzinfo=UTC)


@pytest.fixture(scope="module")
def pack_inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inputs]:
    """Market and point-in-time data from the real pack, through the real store."""
    cfg = load_config().config
    store = Store(tmp_path_factory.mktemp("store") / "store.sqlite")
    import_pack(store, cfg, pack_dir(cfg, os.environ), FETCHED)
    try:
        yield load_inputs(store, cfg, ["IWM", "SPY"])
    finally:
        store.close()
