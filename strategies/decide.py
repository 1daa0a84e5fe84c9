"""The playbook as one pure function: `decide(snapshot, book, params) -> TargetPortfolio`.

| regime         | IWM weight                                                         | puts                                  |
|----------------|--------------------------------------------------------------------|---------------------------------------|
| soft_landing   | tranches toward `target_weight` once a cut is expected within      | none                                  |
|                | `lead_days` (or a cutting cycle is under way); else `base_weight`  |                                       |
| recession_risk | cut to at most `iwm_weight_cap`, never bought up to it             | cover what is kept, within the budget |
| crisis         | `crisis.iwm_weight`, plus an optional defensive asset              | held puts kept (not rolled)           |
| late_cuts      | 0 until a capitulation after the first cut, then tranches in       | none                                  |
| tightening,    | `base_weight`                                                      | none                                  |
| neutral        |                                                                    |                                       |
| unknown        | no new risk: at most the current weight, never bought up           | held puts kept                        |

Risk limits apply last: IWM never above `max_iwm_weight`; put notional at most `hedge.max_notional` of equity; put
premium over any trailing 365 days at most `hedge.annual_budget` of equity. Nothing here reads a clock or a broker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from signals.snapshot import Snapshot
from strategies.book import CONTRACT_SIZE, Book, OptionPosition, PutSpec, PutTarget, TargetPortfolio
from strategies.options import implied_vol, must_close, put_mid, strike_for_delta
from strategies.params import StrategyParams

CUTTING_PHASES = ("cutting_early", "pause", "cutting_later")
TRANCHE = "soft_landing_tranche"
LATE_TRANCHE = "late_cuts_tranche"
CAPITULATION = "capitulation"


@dataclass(slots=True)
class _Plan:
    """The decision under construction."""

    iwm: float
    defensive: float = 0.0
    hedge: bool = False
    keep_puts: bool = False
    reasons: list[str] = field(default_factory=list)


def decide(snapshot: Snapshot, book: Book, params: StrategyParams) -> TargetPortfolio:
    """Where the book should be after the next open, given what was known at `snapshot.as_of`."""
    symbol = params.symbol
    day = snapshot.day
    memory = dict(book.memory)
    spot = snapshot.market.iwm_close if snapshot.market.iwm_close is not None else book.marks.get(symbol)
    regime = snapshot.regime.name
    if spot is None or not math.isfinite(spot) or spot <= 0:
        return TargetPortfolio(day, regime, {}, _keep_all(book), ("no price for the traded ETF: hold everything",), memory, hold=True)
    marks = {**book.marks, symbol: spot}
    priced = Book(book.cash, book.shares, book.options, book.hedge_spend, book.memory, marks)
    current = max(0.0, priced.weight(symbol))  # short stock is no position for the playbook: orders_to_reach covers it

    plan = _plan(snapshot, current, memory, params)
    iwm = min(plan.iwm, params.max_iwm_weight)
    if iwm < plan.iwm:
        plan.reasons.append(f"risk limit: IWM weight capped at {params.max_iwm_weight:.0%}")
    weights = {symbol: iwm}
    defensive = params.crisis.defensive_symbol
    if plan.defensive > 0 and defensive:
        weights[defensive] = min(plan.defensive, 1.0 - iwm)
    puts = _puts(snapshot, priced, iwm, spot, plan, params)
    reasons = tuple(plan.reasons) + tuple(f"regime: {r}" for r in snapshot.regime.reasons[:3])
    return TargetPortfolio(day, regime, weights, puts, reasons, memory)


def _plan(snapshot: Snapshot, current: float, memory: dict[str, date], params: StrategyParams) -> _Plan:
    regime = snapshot.regime.name
    phase = snapshot.phase
    day = snapshot.day
    if regime == "soft_landing":
        sl = params.soft_landing
        days = phase.days_to_next_meeting
        expected = bool(phase.cuts_expected) and days is not None and days <= sl.lead_days
        if phase.name in CUTTING_PHASES or expected:
            why = f"cutting cycle under way ({phase.name})" if phase.name in CUTTING_PHASES else f"cut expected, next meeting in {days} days"
            weight = _tranche(current, sl.target_weight, sl.tranche_weight, sl.tranche_spacing_days, TRANCHE, day, memory, params)
            return _Plan(weight, reasons=[f"soft landing, {why}: build IWM toward {sl.target_weight:.0%} in tranches"])
        return _Plan(params.base_weight, reasons=["soft landing but no cut expected yet: base weight"])
    if regime == "recession_risk":
        cap = params.recession.iwm_weight_cap
        weight = min(current, cap)
        hedge = params.recession.hedge and weight > 0
        return _Plan(weight, hedge=hedge, reasons=[f"recession risk rising: IWM cut to at most {cap:.0%}" + (", hedged with puts" if hedge else "")])
    if regime == "crisis":
        cr = params.crisis
        where = f"{cr.defensive_symbol} {cr.defensive_weight:.0%}" if cr.defensive_weight > 0 else "cash at the bill rate"
        return _Plan(cr.iwm_weight, defensive=cr.defensive_weight, keep_puts=cr.keep_puts, reasons=[f"crisis: IWM {cr.iwm_weight:.0%}, {where}"])
    if regime == "late_cuts":
        return _late_cuts(snapshot, current, memory, params)
    if regime == "unknown":
        # The documented fallback when no macro call can be made (inputs missing or stale): add no risk, take none off.
        weight = min(current, params.max_iwm_weight)
        return _Plan(weight, keep_puts=True, reasons=[f"regime unknown (macro inputs missing or stale): no new risk, IWM held at {weight:.0%}"])
    return _Plan(params.base_weight, reasons=[f"{regime}: base weight {params.base_weight:.0%}"])


def _late_cuts(snapshot: Snapshot, current: float, memory: dict[str, date], params: StrategyParams) -> _Plan:
    lc = params.late_cuts
    first_cut = snapshot.phase.cycle_first_cut
    m = snapshot.market
    fired = (
        first_cut is not None
        and m.iwm_drawdown is not None
        and m.iwm_drawdown <= lc.drawdown
        and m.vix_peak is not None
        and m.vix_peak >= lc.vix_spike
        and m.vix_off_peak is not None
        and m.vix_off_peak <= lc.vix_fade
    )
    if fired:
        memory[CAPITULATION] = snapshot.day
    seen = memory.get(CAPITULATION)
    if first_cut is not None and seen is not None and seen >= first_cut:
        weight = _tranche(
            current,
            lc.target_weight,
            lc.tranche_weight,
            params.soft_landing.tranche_spacing_days,
            LATE_TRANCHE,
            snapshot.day,
            memory,
            params,
        )
        return _Plan(weight, reasons=[f"late cuts: capitulation seen on {seen}, buying IWM toward {lc.target_weight:.0%}"])
    return _Plan(0.0, reasons=["late cuts: out of IWM until a capitulation (drawdown plus a fading VIX spike) after the cut"])


def _tranche(current: float, goal: float, tranche: float, spacing: int, key: str, day: date, memory: dict[str, date], params: StrategyParams) -> float:
    """One step toward `goal`: add `tranche` if the last step is `spacing` days old, else hold."""
    if current >= goal - params.rebalance_band:
        return goal
    last = memory.get(key)
    if last is not None and (day - last).days < spacing:
        return current
    memory[key] = day
    return min(goal, current + tranche)


def _keep_all(book: Book) -> PutTarget | None:
    if not book.options:
        return None
    biggest = max(book.options, key=lambda p: (p.qty, p.symbol))
    spec = PutSpec(biggest.underlying, biggest.strike, 1, 0, 10_000)
    return PutTarget(biggest.qty, spec, biggest.symbol)


def _puts(snapshot: Snapshot, book: Book, iwm: float, spot: float, plan: _Plan, params: StrategyParams) -> PutTarget | None:
    """The put target: keep a held put while it is not due to close, buy a new one within the budget, or hold none."""
    hp = params.hedge
    day = snapshot.day
    live = [p for p in book.options if p.underlying == params.symbol and not must_close(p.expiry, day, hp.roll_dte)]
    held = max(live, key=lambda p: (p.qty, p.symbol)) if live else None
    if plan.keep_puts and not plan.hedge:
        if held is None:
            return None
        plan.reasons.append(f"keeping {held.qty} put(s) {held.symbol}")
        return PutTarget(held.qty, _spec_of(held, params), held.symbol)
    if not plan.hedge:
        return None
    equity = book.equity()
    needed = math.floor(iwm * equity / spot * hp.hedge_ratio / CONTRACT_SIZE)
    vix = snapshot.market.vix
    rate = snapshot.market.bill_rate or 0.0
    if held is not None:
        cap = math.floor(hp.max_notional * equity / (CONTRACT_SIZE * held.strike))
        contracts = min(held.qty, needed, cap)
        if contracts <= 0:
            return None
        plan.reasons.append(f"keeping {contracts} put(s) {held.symbol}")
        return PutTarget(contracts, _spec_of(held, params), held.symbol)
    if vix is None or not math.isfinite(vix) or vix <= 0:
        plan.reasons.append("no VIX at this close: puts cannot be priced, none bought")
        return None
    years = hp.target_dte / 365.0
    if hp.strike_rule == "delta":
        atm_vol = implied_vol(vix, spot, spot, params.options)
        strike = strike_for_delta(spot, hp.delta, years, rate / 100.0, atm_vol, params.options.dividend_yield)
    else:
        strike = spot * hp.moneyness
    spec = PutSpec(params.symbol, strike, hp.target_dte, hp.min_dte, hp.max_dte)
    expiry = date.fromordinal(day.toordinal() + hp.target_dte)
    premium = put_mid(spot, strike, day, expiry, vix, rate, params.options) * CONTRACT_SIZE
    remaining = hp.annual_budget * equity - book.hedge_spent_since(day)
    cap = math.floor(hp.max_notional * equity / (CONTRACT_SIZE * strike))
    affordable = math.floor(remaining / premium) if premium > 0 and remaining > 0 else 0
    contracts = min(needed, cap, affordable)
    if contracts <= 0:
        if needed > 0:
            plan.reasons.append(f"hedge budget left ${max(remaining, 0):,.0f} buys no put at ${premium:,.0f} a contract: unhedged")
        return None
    plan.reasons.append(f"buy {contracts} put(s) near strike {strike:.2f}, ~{hp.target_dte} days, est. ${premium:,.0f} each")
    return PutTarget(contracts, spec)


def _spec_of(pos: OptionPosition, params: StrategyParams) -> PutSpec:
    hp = params.hedge
    return PutSpec(pos.underlying, pos.strike, hp.target_dte, hp.min_dte, hp.max_dte)
