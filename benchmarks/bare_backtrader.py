"""The reference process: a bare backtrader IWM+SPY buy-and-hold over the same bars `main.py backtest` runs on, read
from the same store (pandas frames from `Store.bars`, backtrader through `broker.backtest_bridge.buy_and_hold`).

Usage: .venv/bin/python benchmarks/bare_backtrader.py STORE_DIR START END
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.backtest_bridge import buy_and_hold
from datastore.store import Store


def main() -> None:
    folder, start, end = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3])
    store = Store(folder / "store.sqlite")
    bars = {symbol: store.bars(symbol) for symbol in ("IWM", "SPY")}
    store.close()
    sys.stdout.write(f"{buy_and_hold(bars, start, end, 100_000.0)['value']:.2f}\n")


if __name__ == "__main__":
    main()
