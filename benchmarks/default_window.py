"""What every benchmark starts from: the pack in a temporary store and the default backtest window's inputs."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.inputs import Inputs, load_inputs, window
from config.loader import load_config, pack_dir
from config.schema import AppConfig
from datastore.pack_import import import_pack
from datastore.store import Store

IMPORTED_AT = datetime(2026, 8, 22, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DefaultWindow:
    cfg: AppConfig
    tmp: Path
    inputs: Inputs
    first: date
    last: date
    days: list[date]


def default_window() -> DefaultWindow:
    """The default config, IWM and SPY from a fresh temporary store, and the default window's sessions."""
    cfg = load_config().config
    tmp = Path(tempfile.mkdtemp())
    store = Store(tmp / "store.sqlite")
    import_pack(store, cfg, pack_dir(cfg, os.environ), IMPORTED_AT)
    inputs = load_inputs(store, cfg, ["IWM", "SPY"])
    first, last = window(inputs.market, "IWM", cfg.backtest, None, None)
    return DefaultWindow(cfg, tmp, inputs, first, last, inputs.market.sessions("IWM", first, last))
