"""A small, self-consistent simulated run written through the real `Journal` API, for the review tests.

`simulate(path, Plan(...))` plays a few hundred sessions of a toy playbook on deterministic prices: regimes that
change (neutral, late cuts, a crisis, recession risk, soft landing), FOMC meetings with cuts and an emergency
move, IWM tranches bought at the next open, puts with synthetic Black–Scholes marks that are rolled, sold and
left to expire, bill interest on cash. Every journal row a backtest writes is written here the same way, so the
books balance: equity = cash + shares + puts each day. The plan can plant the differences parity must find
(a fill price, a fill time, an input revised after the fact).

The tests at the bottom check the simulation itself, so the review tests stand on a journal known to be right.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from journal.journal import Journal
from signals.snapshot import Market, Phase, Reading, RegimeCall, RuleResult, Snapshot
from strategies.intents import OrderIntent

START_CASH = 100_000.0
EQUITY_FEE = 1.0
OPTION_FEE = 0.65
WEIGHTS = {"neutral": 0.5, "late_cuts": 0.8, "crisis": 0.3, "recession_risk": 0.4, "soft_landing": 1.0}
HEDGED = ("late_cuts", "crisis", "recession_risk")
# (first session index, regime); the FOMC meetings (session index, bp)
SCRIPT = ((0, "neutral"), (60, "late_cuts"), (170, "crisis"), (206, "recession_risk"), (261, "soft_landing"))
MEETINGS = ((20, 0.0), (50, 0.0), (80, -25.0), (110, -25.0), (140, -25.0), (175, -50.0), (180, -100.0), (215, 0.0), (250, 0.0), (290, 0.0), (330, 0.0))


@dataclass(frozen=True)
class Plan:
    """What the simulated run is and what it should do differently (planted differences)."""

    run_id: str
    kind: str = "backtest"
    label: str = "simulated"
    start: date = date(2019, 6, 3)
    sessions: int = 380
    seed: int = 7
    weights: Mapping[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    fill_price_factor: Mapping[str, float] = field(default_factory=dict)  # fill day -> multiplier on that morning's fill prices
    fill_delay_minutes: Mapping[str, int] = field(default_factory=dict)  # fill day -> minutes the fills come late
    revised: Mapping[str, tuple[float, str]] = field(default_factory=dict)  # decision day -> (UNRATE value seen, regime it causes)
    created_at: datetime = datetime(2026, 11, 2, 12, tzinfo=UTC)
    parent_id: str | None = None


@dataclass
class Truth:
    """What the simulation knows independently of the journal (for the tests to compare against)."""

    days: list[date]
    iwm: dict[date, float]
    spy: dict[date, float]
    interest: float = 0.0
    fills: int = 0
    settlements: int = 0
    decisions_with_intents: list[str] = field(default_factory=list)
    meetings: list[tuple[date, float]] = field(default_factory=list)


def sessions(start: date, n: int) -> list[date]:
    out: list[date] = []
    day = start
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def prices(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """IWM open/close, SPY close and VIX: a drift with a crash around sessions 170-200 and a recovery."""
    rng = np.random.default_rng(seed)
    drift = np.full(n, 0.0004)
    drift[170:195] = -0.012
    drift[195:240] = 0.006
    r = drift + rng.normal(0.0, 0.011, n)
    close = 150.0 * np.exp(np.cumsum(r))
    opening = np.concatenate([[150.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.003, n))
    spy = 280.0 * np.exp(np.cumsum(0.8 * r + rng.normal(0.0, 0.004, n)))
    vix = np.clip(14.0 + 400.0 * np.maximum(0.0, -np.convolve(r, np.ones(10) / 10, mode="same")) * 10, 11.0, 80.0)
    return opening, close, spy, vix


def put_price(spot: float, strike: float, day: date, expiry: date, vix: float) -> float:
    years = (expiry - day).days / 365.0
    if years <= 0:
        return max(strike - spot, 0.0)
    vol = vix / 100.0 * 1.25
    sd = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + 0.5 * vol * vol * years) / sd
    n = NormalDist()
    return round(strike * n.cdf(-(d1 - sd)) - spot * n.cdf(-d1), 4)


def occ(expiry: date, strike: float) -> str:
    return f"IWM{expiry:%y%m%d}P{round(strike * 1000):08d}"


def _put_spec(strike: float) -> dict[str, Any]:
    return {"underlying": "IWM", "strike": strike, "target_dte": 91, "min_dte": 30, "max_dte": 120}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _snapshot(day: date, as_of: datetime, regime: str, unrate: float, unrate_at: datetime, meeting: tuple[date, float] | None,
              cuts: int, cum_bp: float, close: float, spy: float, vix: float) -> Snapshot:
    fired = regime != "neutral"
    rules = (
        RuleResult("unemployment_rising", "recession_risk", regime == "recession_risk", 0.7 if regime == "recession_risk" else 0.0,
                   f"UNRATE {unrate:.1f} vs 3-month low", {"UNRATE": unrate}, {"rise_pp": 0.5}),
        RuleResult("cuts_under_way", "late_cuts", regime == "late_cuts", 0.6 if regime == "late_cuts" else 0.0, "the Fed is cutting",
                   {"cuts": float(cuts)}, {"min_cuts": 1}),
        RuleResult("vix_spike", "crisis", regime == "crisis", 0.9 if regime == "crisis" else 0.0, f"VIX {vix:.1f}", {"VIX": vix}, {"spike": 30.0}),
    )
    phase = Phase(
        name="cutting_early" if cuts else "on_hold", next_meeting=None, days_to_next_meeting=None, in_blackout=False, cycle_first_cut=None,
        later_phase_start=None, cuts_in_cycle=cuts, cumulative_bp=cum_bp, last_decision=None if meeting is None else meeting[0],
        last_decision_bp=None if meeting is None else meeting[1], meetings_since_last_cut=0, cuts_priced_bp=None, cuts_expected=None, target_upper=None,
    )
    reasons = (f"{regime}: scripted playbook", f"UNRATE {unrate:.2f}") if fired else ("no rule fired: neutral",)
    return Snapshot(
        as_of, day, phase, {"UNRATE": Reading(unrate, date(day.year, day.month, 1) - timedelta(days=32), unrate_at, False)},
        RegimeCall(regime, "neutral" if fired else None, reasons, rules),
        Market(close, spy, vix, None, None, None, 1.5),
    )


def simulate(path: Path, plan: Plan) -> Truth:
    """Write one run to the journal at `path`; returns what the simulation knows independently."""
    days = sessions(plan.start, plan.sessions)
    opening, close, spy, vix = prices(plan.sessions, plan.seed)
    truth = Truth(days, {d: float(c) for d, c in zip(days, close, strict=True)}, {d: float(c) for d, c in zip(days, spy, strict=True)})
    journal = Journal(path)
    journal.start_run(plan.run_id, kind=plan.kind, label=plan.label, created_at=plan.created_at, config={"strategy": {"weights": dict(plan.weights)}},
                      config_hash=hashlib.sha256(repr(sorted(plan.weights.items())).encode()).hexdigest(),
                      data_versions={"bars:IWM": "sim"}, code_version="test",
                      start_day=days[0].isoformat(), end_day=days[-1].isoformat(), parent_id=plan.parent_id)
    cash, shares = START_CASH, 0
    puts: dict[str, list[Any]] = {}  # symbol -> [qty, strike, expiry, avg]
    pending: list[OrderIntent] = []
    meeting: tuple[date, float] | None = None
    cuts, cum_bp, k = 0, 0.0, 0
    meeting_at = {i: bp for i, bp in MEETINGS}
    for i, day in enumerate(days):
        spot_open, spot, v = float(opening[i]), float(close[i]), float(vix[i])
        factor = plan.fill_price_factor.get(day.isoformat(), 1.0)
        fill_at = datetime.combine(day, time(13, 30), tzinfo=UTC) + timedelta(minutes=plan.fill_delay_minutes.get(day.isoformat(), 0))
        for intent in pending:
            cid = intent.client_order_id
            journal.record_order_event(plan.run_id, cid, status="submitted", at=fill_at - timedelta(minutes=1), broker_order_id=f"b-{cid}")
            if intent.asset_class == "equity":
                price, fees = round(spot_open * factor, 4), EQUITY_FEE
                shares += intent.signed_qty()
                cash -= intent.signed_qty() * price + fees
            else:
                qty, avg = (puts[intent.symbol][0], puts[intent.symbol][3]) if intent.symbol in puts else (0, 0.0)
                strike = int(intent.symbol[-8:]) / 1000.0
                expiry = date(2000 + int(intent.symbol[3:5]), int(intent.symbol[5:7]), int(intent.symbol[7:9]))
                price = round(put_price(spot_open, strike, day, expiry, v) * factor, 4)
                limit = intent.limit_price or 0.0
                if (intent.side == "buy" and price > limit) or (intent.side == "sell" and price < limit):
                    journal.record_order_event(plan.run_id, cid, status="canceled", at=fill_at, detail={"why": "limit not met"})
                    continue
                fees = OPTION_FEE * intent.qty
                if intent.side == "buy":
                    puts[intent.symbol] = [qty + intent.qty, strike, expiry, (qty * avg + intent.qty * price) / (qty + intent.qty)]
                else:
                    puts[intent.symbol][0] -= intent.qty
                    if puts[intent.symbol][0] == 0:
                        del puts[intent.symbol]
                cash -= intent.signed_qty() * 100 * price + fees
            journal.record_order_event(plan.run_id, cid, status="filled", at=fill_at, filled_qty=intent.qty, filled_avg_price=price)
            journal.record_fill(plan.run_id, execution_id=f"x-{cid}", client_order_id=cid, symbol=intent.symbol, side=intent.side, qty=intent.qty,
                                price=price, fees=fees, at=fill_at, synthetic=intent.asset_class == "option")
            truth.fills += 1
        pending = []
        close_at = datetime.combine(day, time(21, 0), tzinfo=UTC)
        for symbol in sorted(puts):
            qty, strike, expiry, _ = puts[symbol]
            if expiry <= day:
                intrinsic = max(strike - spot, 0.0)
                cash += qty * 100 * intrinsic
                journal.record_event(plan.run_id, at=close_at, kind="outside_event", message=f"{symbol} expired",
                                     detail={"symbol": symbol, "qty": qty, "price": intrinsic, "cash": qty * 100 * intrinsic})
                del puts[symbol]
                truth.settlements += 1
        interest = round(cash * 0.015 / 252, 6) if cash > 0 else 0.0
        cash += interest
        truth.interest += interest
        marks = {s: put_price(spot, p[1], day, p[2], v) for s, p in puts.items()}
        options_value = sum(p[0] * 100 * marks[s] for s, p in puts.items())
        equity = cash + shares * spot + options_value
        while k + 1 < len(SCRIPT) and SCRIPT[k + 1][0] <= i:
            k += 1
        regime = SCRIPT[k][1]
        unrate, unrate_at = 3.6 + 0.01 * (i // 21), datetime.combine(day.replace(day=1), time(12, 30), tzinfo=UTC)
        if day.isoformat() in plan.revised:
            unrate, regime = plan.revised[day.isoformat()]
            unrate_at = close_at - timedelta(hours=2)
        positions: list[dict[str, Any]] = []
        if shares:
            positions.append({"symbol": "IWM", "asset_class": "equity", "qty": shares, "avg_price": None, "mark": spot, "market_value": shares * spot})
        for s, p in sorted(puts.items()):
            positions.append({"symbol": s, "asset_class": "option", "qty": p[0], "avg_price": p[3], "mark": marks[s], "market_value": p[0] * 100 * marks[s],
                              "synthetic": True})
        journal.record_day(plan.run_id, day=day.isoformat(), cash=cash, shares_value=shares * spot, options_value=options_value, equity=equity,
                           interest=interest, fees=0.0, regime=regime, positions=positions)
        if i in meeting_at:
            meeting = (day, meeting_at[i])
            truth.meetings.append(meeting)
            cuts += meeting_at[i] < 0
            cum_bp += meeting_at[i]
        as_of = datetime.combine(day, time(21, 30), tzinfo=UTC)
        snap = _snapshot(day, as_of, regime, unrate, unrate_at, meeting, cuts, cum_bp, spot, float(spy[i]), v)
        weight = plan.weights[regime]
        target_shares = math.floor(weight * equity / spot)
        intents: list[OrderIntent] = []
        if abs(target_shares - shares) * spot > 0.02 * equity:
            side = "buy" if target_shares > shares else "sell"
            intents.append(OrderIntent(day, "IWM", "equity", side, abs(target_shares - shares), "market_on_open", f"{regime}: IWM to {weight:.0%}"))
        put_target = None
        if regime in HEDGED and target_shares >= 200:
            held = next(iter(puts), None)
            contracts = target_shares // 200
            # in recession risk the hedge is held to expiry (so some puts settle); otherwise it is rolled and resized
            rolling = regime != "recession_risk" and ((puts[held][2] - day).days < 30 or puts[held][0] != contracts) if held else False
            if held is None or rolling:
                strike = round(spot * 0.9)
                expiry = day + timedelta(days=91)
                symbol = occ(expiry, strike)
                if held is not None:
                    intents.append(OrderIntent(day, held, "option", "sell", puts[held][0], "limit_day", "roll or resize the put hedge",
                                               limit_price=round(marks[held] * 0.9, 2) or 0.01))
                intents.append(OrderIntent(day, symbol, "option", "buy", contracts, "limit_day", f"{regime}: hedge with {contracts} puts",
                                           limit_price=round(put_price(spot, strike, day, expiry, v) * 1.2, 2)))
                put_target = {"contracts": contracts, "symbol": symbol, "spec": _put_spec(strike)}
            else:
                put_target = {"contracts": puts[held][0], "symbol": held, "spec": _put_spec(puts[held][1])}
        elif puts and regime not in HEDGED:
            for s, p in sorted(puts.items()):
                intents.append(OrderIntent(day, s, "option", "sell", p[0], "limit_day", f"{regime}: drop the hedge",
                                           limit_price=round(marks[s] * 0.8, 2) or 0.01))
        target = {"day": day.isoformat(), "regime": regime, "weights": {"IWM": weight}, "puts": put_target, "reasons": list(snap.regime.reasons),
                  "memory": {}, "hold": False}
        inputs = {"series": {"UNRATE": {"period": snap.indicators["UNRATE"].period, "value": unrate, "available_at": _iso(unrate_at)}},
                  "prices": {"IWM": {"day": day.isoformat(), "close": spot, "available_at": _iso(close_at)},
                             "SPY": {"day": day.isoformat(), "close": float(spy[i]), "available_at": _iso(close_at)}}}
        journal.record_decision(plan.run_id, day=day.isoformat(), as_of=as_of, regime=regime, runner_up=snap.regime.runner_up, phase=snap.phase.name,
                                reasons=list(snap.regime.reasons), snapshot=snap.to_json(), inputs=inputs, target=target)
        for intent in intents:
            journal.record_intent(plan.run_id, intent, at=as_of)
        if intents:
            truth.decisions_with_intents.append(day.isoformat())
        pending = intents if i + 1 < len(days) else []
    journal.finish_run(plan.run_id, finished_at=plan.created_at + timedelta(minutes=5), status="finished",
                       summary={"total_return": equity / START_CASH - 1.0, "trades": truth.fills})
    journal.close()
    return truth


# -- the simulation checks itself ---------------------------------------------------------------------------------


def test_simulated_run_has_what_the_review_needs(tmp_path: Path) -> None:
    truth = simulate(tmp_path / "run.sqlite", Plan("sim-1"))
    journal = Journal(tmp_path / "run.sqlite")
    regimes = {r["regime"] for r in journal.query("SELECT regime FROM decisions")}
    assert regimes == set(WEIGHTS)
    assert truth.fills > 15 and truth.settlements >= 1
    assert journal.query("SELECT count(*) AS n FROM fills WHERE synthetic=1")[0]["n"] > 3
    assert journal.query("SELECT count(*) AS n FROM order_events WHERE status='canceled'")[0]["n"] >= 0
    assert len(truth.meetings) == len(MEETINGS)


def test_simulated_books_balance(tmp_path: Path) -> None:
    simulate(tmp_path / "run.sqlite", Plan("sim-1"))
    journal = Journal(tmp_path / "run.sqlite")
    for row in journal.query("SELECT * FROM equity"):
        assert row["equity"] == row["cash"] + row["shares_value"] + row["options_value"]
        positions = journal.query("SELECT sum(market_value) AS v FROM positions WHERE day=?", (row["day"],))[0]["v"] or 0.0
        assert abs(positions - row["shares_value"] - row["options_value"]) < 1e-6
