"""Alpaca daily bars through the real alpaca-py client against the local emulator, spliced onto the pack."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from broker.alpaca.clients import build_clients
from broker.alpaca.safety import EndpointGuard
from clock import ManualClock
from config.loader import load_config
from config.secrets import Secrets
from datastore.store import Store
from datastore.sync import sync_all
from emulator.exchange import Exchange
from emulator.market import Calendar
from emulator.records import DailyBar
from emulator.server import EmulatorServer

NOW = datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
KEY, SECRET = "PKTESTKEYSENTINEL01", "SECRETSENTINELVALUE0123456789"


@pytest.fixture
def store_copy(pack_store: Store, tmp_path: Path) -> Store:
    path = tmp_path / "store.sqlite"
    shutil.copy(pack_store.path, path)
    return Store(path)


def _exchange(pack_store: Store, basis: float, *, break_returns: bool = False) -> Exchange:
    ex = Exchange(Calendar(date(2024, 1, 1), date(2026, 12, 31)), start=NOW)
    pack = pack_store.bars("IWM").loc["2024-01-02":"2026-06-09"]
    bars = []
    for i, (day, row) in enumerate(pack.iterrows()):
        k = basis * (1.05 if break_returns and i > 100 else 1.0)
        bars.append(DailyBar(pd.Timestamp(day).date().isoformat(), row.open * k, row.high * k, row.low * k, row.close * k, row.volume))
    ex.bars["IWM"] = bars
    return ex


def _run(store: Store, ex: Exchange) -> tuple[bool, list[str]]:
    cfg = load_config(None, ["alpaca.symbols=[\"IWM\"]"]).config
    with EmulatorServer(ex, key_id=KEY, secret_key=SECRET) as server:
        secrets = Secrets.from_env({"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET, "APCA_API_BASE_URL": server.url})
        cfg = load_config(None, ["alpaca.symbols=[\"IWM\"]", f"alpaca.data_url=\"{server.url}\""]).config
        clock = ManualClock(NOW)

        def client():  # type: ignore[no-untyped-def]
            return build_clients(cfg.alpaca, secrets, guard=EndpointGuard(), wall=clock).stock_data

        report = sync_all(store, cfg, secrets, clock, bars_client=client, fred_series=[])
    return report.ok, report.lines


def test_bars_splice_onto_one_adjustment_basis(store_copy: Store, pack_store: Store) -> None:
    before = pack_store.bars("IWM")
    ok, lines = _run(store_copy, _exchange(pack_store, basis=1.02))
    assert ok, lines
    after = store_copy.bars("IWM")
    assert any("Alpaca IWM: ok" in line for line in lines), lines
    assert store_copy.dataset("bars:IWM").source == "alpaca"  # type: ignore[union-attr]
    # Older history was rescaled by the basis ratio: returns unchanged, levels on the new basis.
    for day, rel in (("2010-06-01", 1e-9), ("2025-03-03", 1e-6)):
        assert float(after.loc[day, "close"]) == pytest.approx(float(before.loc[day, "close"]) * 1.02, rel=rel)
    assert len(after) == len(before)
    assert (after["available_at"] <= NOW).all()


def test_disagreeing_returns_refuse_the_splice_and_keep_the_store(store_copy: Store, pack_store: Store) -> None:
    before = store_copy.bars("IWM")
    ok, lines = _run(store_copy, _exchange(pack_store, basis=1.0, break_returns=True))
    assert not ok and any("disagree" in line for line in lines), lines
    assert store_copy.bars("IWM").equals(before)
    assert store_copy.dataset("bars:IWM").source == "pack"  # type: ignore[union-attr]


def test_a_missing_session_from_alpaca_is_refused_and_the_store_kept(store_copy: Store, pack_store: Store) -> None:
    before = store_copy.bars("IWM")
    ex = _exchange(pack_store, basis=1.0)
    ex.bars["IWM"] = [b for b in ex.bars["IWM"] if b.day != "2025-03-04"]
    ok, lines = _run(store_copy, ex)
    assert not ok and any("NYSE session 2025-03-04 is missing" in line for line in lines), lines
    assert store_copy.bars("IWM").equals(before)
