"""The reference process: a bare backtrader IWM+SPY buy-and-hold over the same bars `main.py backtest` runs on.

It imports nothing of cutcycle: the bars are read from the same store with `sqlite3` and pandas, fed to backtrader
through a plain array feed (the same way `broker.backtest_bridge` feeds them; backtrader's `PandasData` reads every
cell through pandas indexing and would make the reference slower), and bought and held at 49 % each. So the ratio
`main.py backtest` / this process is everything cutcycle adds to backtrader: its imports, config, data checks,
signals or their cache, the decision core, options, the journal and the report.

Usage: .venv/bin/python benchmarks/bare_backtrader.py STORE_DIR START END      (prints the final value)
       `buy_and_hold(bars, start, end, cash)` is the same run in process, for the in-process breakdowns.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd


class ArrayFeed(bt.feed.DataBase):  # type: ignore[misc]
    """Daily bars from plain lists (stamps as backtrader date numbers, then open, high, low, close, volume)."""

    params = (("rows", None),)

    def start(self) -> None:
        super().start()
        self._i = 0

    def _load(self) -> bool:
        stamps, opens, highs, lows, closes, volumes = self.p.rows
        i = self._i
        if i >= len(stamps):
            return False
        lines = self.lines
        lines.datetime[0] = stamps[i]
        lines.open[0], lines.high[0], lines.low[0], lines.close[0] = opens[i], highs[i], lows[i], closes[i]
        lines.volume[0], lines.openinterest[0] = volumes[i], 0.0
        self._i = i + 1
        return True


class BuyAndHold(bt.Strategy):  # type: ignore[misc]
    def next(self) -> None:
        if not self.position:
            for data in self.datas:
                self.order_target_percent(data=data, target=0.49)


def read_bars(store: Path, symbol: str) -> pd.DataFrame:
    """One symbol's daily OHLCV from the store's `bars` table, indexed by day."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT day, open, high, low, close, volume FROM bars WHERE symbol=? ORDER BY day", (symbol,)).fetchall()
    frame = pd.DataFrame(rows, columns=["day", "open", "high", "low", "close", "volume"])
    frame["day"] = pd.to_datetime(frame["day"])
    return frame.set_index("day")


def _feed(frame: pd.DataFrame, start: date, end: date) -> Any:
    window = frame.loc[(frame.index >= pd.Timestamp(start)) & (frame.index <= pd.Timestamp(end))]
    days = window.index.to_numpy().astype("datetime64[D]")  # midnight stamps; as `bt.date2num` gives them, per array
    stamps = (days.astype(np.int64) + date(1970, 1, 1).toordinal()).astype(float).tolist()
    return ArrayFeed(rows=(stamps, *(window[c].to_numpy(dtype=float).tolist() for c in ("open", "high", "low", "close", "volume"))))


def buy_and_hold(bars: Mapping[str, pd.DataFrame], start: date, end: date, cash: float) -> float:
    """The final value of a backtrader buy-and-hold of every symbol in `bars` (49 % of the cash each)."""
    cerebro = bt.Cerebro(stdstats=False, maxcpus=1)
    for sym in sorted(bars):
        cerebro.adddata(_feed(bars[sym], start, end), name=sym)
    cerebro.broker.setcash(cash)
    cerebro.addstrategy(BuyAndHold)
    return float(cerebro.run()[0].broker.getvalue())


def main() -> None:
    folder, start, end = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3])
    bars = {symbol: read_bars(folder / "store.sqlite", symbol) for symbol in ("IWM", "SPY")}
    sys.stdout.write(f"{buy_and_hold(bars, start, end, 100_000.0):.2f}\n")


if __name__ == "__main__":
    main()
