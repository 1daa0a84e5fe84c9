"""The put hedge's cost and payoff over a run.

One definition, the backtest's (`backtest.run._result`, shown by `backtest`, `runs` and the report alike): cost is
the premium of every put bought plus its buying fees; payoff is what sales and expiry settlements returned, after
their fees. Net = payoff + the open puts at their last mark - cost, day by day: what the insurance cost or earned
so far.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from review.runs import RunRef, RunSource
from review.trades import OPTION_MULTIPLIER, is_option, settlement_price, settlements


@dataclass(frozen=True, slots=True)
class HedgeSummary:
    """Totals at the end of the run (money, not per share)."""

    premium_paid: float
    buy_fees: float
    proceeds: float  # sales and settlements, before their fees
    sell_fees: float  # fees on sales and settlements
    open_value: float  # the puts still held, at their last mark
    purchases: int

    @property
    def cost(self) -> float:
        """Premium plus buying fees: the backtest's `hedge_cost`."""
        return self.premium_paid + self.buy_fees

    @property
    def payoff(self) -> float:
        """Sales and settlements after their fees: the backtest's `hedge_payoff`."""
        return self.proceeds - self.sell_fees

    @property
    def net(self) -> float:
        return self.payoff + self.open_value - self.cost


def hedge_curve(source: RunSource, ref: RunRef, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Cumulative cost (premium + buying fees), cumulative payoff (after fees), open value and net, one row per day
    of `days` (columns cost, proceeds, open_value, net)."""
    flows: list[tuple[pd.Timestamp, float, float]] = []  # (day, cost, proceeds)
    for f in source.fills(ref):
        if not is_option(f["symbol"]):
            continue
        money = f["qty"] * OPTION_MULTIPLIER * f["price"]
        day = pd.Timestamp(f["at"][:10])
        flows.append((day, money + f["fees"], 0.0) if f["side"] == "buy" else (day, 0.0, money - f["fees"]))
    for e in settlements(source, ref):
        d = json.loads(e["detail_json"])
        if is_option(d["symbol"]):
            value = float(d["qty"]) * OPTION_MULTIPLIER * settlement_price(d)
            flows.append((pd.Timestamp(e["at"][:10]), 0.0, value - float(d.get("fees", 0.0))))
    frame = pd.DataFrame(flows, columns=["day", "cost", "proceeds"]).groupby("day").sum() if flows else pd.DataFrame(columns=["cost", "proceeds"], dtype=float)
    daily = frame.reindex(frame.index.union(days), fill_value=0.0).cumsum().reindex(days).fillna(0.0) if len(days) else frame
    equity = source.equity(ref)
    daily["open_value"] = equity["options_value"].reindex(days).ffill().fillna(0.0)
    daily["net"] = daily["proceeds"] + daily["open_value"] - daily["cost"]
    return daily


def hedge_summary(source: RunSource, ref: RunRef) -> HedgeSummary:
    premium = buy_fees = proceeds = sell_fees = 0.0
    purchases = 0
    for f in source.fills(ref):
        if not is_option(f["symbol"]):
            continue
        if f["side"] == "buy":
            premium += f["qty"] * OPTION_MULTIPLIER * f["price"]
            buy_fees += f["fees"]
            purchases += 1
        else:
            proceeds += f["qty"] * OPTION_MULTIPLIER * f["price"]
            sell_fees += f["fees"]
    for e in settlements(source, ref):
        d = json.loads(e["detail_json"])
        if is_option(d["symbol"]):
            proceeds += float(d["qty"]) * OPTION_MULTIPLIER * settlement_price(d)
            sell_fees += float(d.get("fees", 0.0))
    equity = source.equity(ref)
    open_value = float(equity["options_value"].iloc[-1]) if not equity.empty else 0.0
    return HedgeSummary(premium, buy_fees, proceeds, sell_fees, open_value, purchases)
