"""The put hedge's cost and payoff over a run.

Cost is every premium paid plus fees; payoff is what the puts returned (sales and expiry settlements) plus what
the open puts are worth at the close. Net = payoff - cost, day by day: what the insurance cost or earned so far.
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
    fees: float
    proceeds: float  # sales and settlements
    open_value: float  # the puts still held, at their last mark
    purchases: int

    @property
    def net(self) -> float:
        return self.proceeds + self.open_value - self.premium_paid - self.fees


def hedge_curve(source: RunSource, ref: RunRef, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Cumulative cost (premium + fees), cumulative proceeds, open value and net, one row per day of `days`."""
    flows: list[tuple[pd.Timestamp, float, float]] = []  # (day, cost, proceeds)
    for f in source.fills(ref):
        if not is_option(f["symbol"]):
            continue
        money = f["qty"] * OPTION_MULTIPLIER * f["price"]
        day = pd.Timestamp(f["at"][:10])
        flows.append((day, money + f["fees"], 0.0) if f["side"] == "buy" else (day, f["fees"], money))
    for e in settlements(source, ref):
        d = json.loads(e["detail_json"])
        if is_option(d["symbol"]):
            flows.append((pd.Timestamp(e["at"][:10]), float(d.get("fees", 0.0)), float(d["qty"]) * OPTION_MULTIPLIER * settlement_price(d)))
    frame = pd.DataFrame(flows, columns=["day", "cost", "proceeds"]).groupby("day").sum() if flows else pd.DataFrame(columns=["cost", "proceeds"], dtype=float)
    daily = frame.reindex(frame.index.union(days), fill_value=0.0).cumsum().reindex(days).fillna(0.0) if len(days) else frame
    equity = source.equity(ref)
    daily["open_value"] = equity["options_value"].reindex(days).ffill().fillna(0.0)
    daily["net"] = daily["proceeds"] + daily["open_value"] - daily["cost"]
    return daily


def hedge_summary(source: RunSource, ref: RunRef) -> HedgeSummary:
    premium = fees = proceeds = 0.0
    purchases = 0
    for f in source.fills(ref):
        if not is_option(f["symbol"]):
            continue
        fees += f["fees"]
        if f["side"] == "buy":
            premium += f["qty"] * OPTION_MULTIPLIER * f["price"]
            purchases += 1
        else:
            proceeds += f["qty"] * OPTION_MULTIPLIER * f["price"]
    for e in settlements(source, ref):
        d = json.loads(e["detail_json"])
        if is_option(d["symbol"]):
            proceeds += float(d["qty"]) * OPTION_MULTIPLIER * settlement_price(d)
            fees += float(d.get("fees", 0.0))
    equity = source.equity(ref)
    open_value = float(equity["options_value"].iloc[-1]) if not equity.empty else 0.0
    return HedgeSummary(premium, fees, proceeds, open_value, purchases)
