"""The paper rig: an in-process Alpaca emulator seeded with the pack's IWM/SPY bars (`emulator.seed.pack_exchange`),
a config pointing at it, and a store copied from the pack. Other `test_paper_*` modules import it; its own tests
check the rig itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from clock import ManualClock
from config.loader import load_config
from config.schema import AppConfig
from datastore.store import Store
from emulator.exchange import Exchange
from emulator.seed import pack_exchange
from emulator.server import EmulatorServer
from runner.compose import PaperSession, open_session
from runner.paper import PaperRunner

KEYS = {"APCA_API_KEY_ID": "PKTESTPAPER0001", "APCA_API_SECRET_KEY": "paper-secret-for-tests-0001"}


def copy_store(source: Store, folder: Path) -> Path:
    """A private copy of the pack store at `folder/store.sqlite`."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "store.sqlite"
    if not target.exists():
        src = sqlite3.connect(source.path)
        dst = sqlite3.connect(target)
        src.backup(dst)
        src.close()
        dst.close()
    return target


def rig_config(url: str, store_folder: Path) -> AppConfig:
    return load_config(None, [f'alpaca.trading_url="{url}"', f'alpaca.data_url="{url}"', f'data.store_dir="{store_folder}"',
                                 "alpaca.requests_per_minute=10000"]).config


@dataclass
class Rig:
    cfg: AppConfig
    server: EmulatorServer
    clock: ManualClock
    folder: Path

    @property
    def exchange(self) -> Exchange:
        return self.server.exchange

    def move(self, at: datetime) -> None:
        self.exchange.advance_to(at)
        self.clock.set(max(at, self.clock.now()))

    @contextmanager
    def session(self, *, dry_run: bool = False, mode: str = "simulate",
                prefetch: tuple[date, date] | None = None) -> Iterator[tuple[PaperSession, PaperRunner]]:
        s = open_session(self.cfg, KEYS, self.clock, mode=mode, dry_run=dry_run, state_dir=self.folder / "paper")
        try:
            if prefetch is not None:
                s.snapshots.prefetch([x.day for x in s.deps.calendar.sessions(prefetch[0] - timedelta(days=7), prefetch[1])])
            yield s, PaperRunner(s.deps)
        finally:
            s.close()


@contextmanager
def rig(pack_store: Store, folder: Path, start: date, end: date, *, at: datetime | None = None) -> Iterator[Rig]:
    copy_store(pack_store, folder)
    ex = pack_exchange(pack_store, start, end, at=at)
    with EmulatorServer(ex, key_id=KEYS["APCA_API_KEY_ID"], secret_key=KEYS["APCA_API_SECRET_KEY"]) as server:
        yield Rig(rig_config(server.url, folder), server, ManualClock(ex.now), folder)


def test_rig_serves_the_pack_bars(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, date(2024, 7, 1), date(2024, 7, 31)) as r:
        assert r.exchange.bar("IWM", date(2024, 7, 1)) is not None
        assert r.cfg.alpaca.trading_url.startswith("http://127.0.0.1")
