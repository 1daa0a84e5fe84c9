"""The playbook, regime by regime, on hand-built snapshots."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from backtest.scripted import ScriptedDay, scripted_snapshots
from signals.snapshot import Snapshot
from strategies.book import Book, OptionPosition
from strategies.decide import CAPITULATION, decide
from strategies.options import occ_symbol
from strategies.params import StrategyParams

DAY = date(2019, 6, 3)
P = StrategyParams()


def snap(regime: str, *, day: date = DAY, close: float = 100.0, vix: float = 20.0, **phase: object) -> Snapshot:
    entry = ScriptedDay(day, regime, **phase)
    return scripted_snapshots([day], {day: close}, {day: vix}, [entry], bill_rate=2.0)[0]


def book(cash: float = 100_000.0, iwm: int = 0, **kw: object) -> Book:
    return Book(cash, {"IWM": iwm} if iwm else {}, marks={"IWM": 100.0}, **kw)


def test_neutral_and_tightening_hold_the_base_weight() -> None:
    for regime in ("neutral", "tightening"):
        t = decide(snap(regime), book(), P)
        assert t.weight("IWM") == P.base_weight
        assert t.puts is None


def test_soft_landing_waits_until_a_cut_is_near() -> None:
    far = decide(snap("soft_landing", cuts_expected=True, days_to_next_meeting=80), book(), P)
    assert far.weight("IWM") == P.base_weight
    near = decide(snap("soft_landing", cuts_expected=True, days_to_next_meeting=45), book(), P)
    assert near.weight("IWM") == P.soft_landing.tranche_weight  # one tranche, not all at once
    assert near.memory["soft_landing_tranche"] == DAY


def test_soft_landing_tranches_are_spaced() -> None:
    b = book(cash=75_000.0, iwm=250, memory={"soft_landing_tranche": DAY - timedelta(days=3)})
    held = decide(snap("soft_landing", phase="cutting_early"), b, P)
    assert held.weight("IWM") == 0.25  # too soon for the next tranche: hold
    b2 = replace(b, memory={"soft_landing_tranche": DAY - timedelta(days=P.soft_landing.tranche_spacing_days)})
    step = decide(snap("soft_landing", phase="cutting_early"), b2, P)
    assert step.weight("IWM") == 0.5


def test_recession_cuts_and_hedges_within_budget() -> None:
    t = decide(snap("recession_risk"), book(cash=40_000.0, iwm=600), P)
    assert t.weight("IWM") == P.recession.iwm_weight_cap
    assert t.puts is not None and t.puts.symbol is None
    assert 0 < t.puts.contracts <= 3  # 30 % of $100k = 300 shares = 3 contracts
    assert abs(t.puts.spec.strike - 90.0) < 1e-9


def test_recession_never_buys_up_and_budget_exhaustion_means_no_puts() -> None:
    flat = decide(snap("recession_risk"), book(), P)
    assert flat.weight("IWM") == 0.0 and flat.puts is None
    spent = book(cash=70_000.0, iwm=300, hedge_spend=((DAY - timedelta(days=30), 2_000.0),))
    t = decide(snap("recession_risk"), spent, P)
    assert t.puts is None
    assert any("budget" in r for r in t.reasons)
    old_spend = book(cash=70_000.0, iwm=300, hedge_spend=((DAY - timedelta(days=400), 2_000.0),))
    assert decide(snap("recession_risk"), old_spend, P).puts is not None


def test_held_put_is_kept_then_rolled() -> None:
    expiry = DAY + timedelta(days=50)
    put = OptionPosition(occ_symbol("IWM", expiry, 90.0), "IWM", 90.0, expiry, 3, 1.0, 1.0)
    b = book(cash=70_000.0, iwm=300, options=(put,))
    kept = decide(snap("recession_risk"), b, P)
    assert kept.puts is not None and kept.puts.symbol == put.symbol and kept.puts.contracts == 3
    late = decide(snap("recession_risk", day=expiry - timedelta(days=P.hedge.roll_dte)), b, P)
    assert late.puts is not None and late.puts.symbol is None  # due to close: a new contract is wanted


def test_crisis_goes_to_cash_and_keeps_puts() -> None:
    expiry = DAY + timedelta(days=50)
    put = OptionPosition(occ_symbol("IWM", expiry, 90.0), "IWM", 90.0, expiry, 3, 1.0, 4.0)
    t = decide(snap("crisis"), book(cash=70_000.0, iwm=300, options=(put,)), P)
    assert t.weight("IWM") == 0.0
    assert t.puts is not None and t.puts.symbol == put.symbol


def test_crisis_defensive_asset() -> None:
    p = StrategyParams.model_validate({"crisis": {"defensive_symbol": "SPY", "defensive_weight": 0.6}})
    t = decide(snap("crisis"), book(), p)
    assert t.weights == {"IWM": 0.0, "SPY": 0.6}


def test_late_cuts_waits_for_capitulation() -> None:
    cut = DAY - timedelta(days=40)
    closes = {DAY - timedelta(days=i): 100.0 for i in range(1, 30)}
    days = sorted(closes)
    vix = {d: 45.0 for d in days}
    # Before the capitulation: no drawdown yet.
    calm = decide(snap("late_cuts", phase="cutting_early", cycle_first_cut=cut), book(), P)
    assert calm.weight("IWM") == 0.0
    # Capitulation: IWM 25 % below its high and VIX well off its 45 peak.
    days.append(DAY)
    closes[DAY] = 75.0
    vix[DAY] = 30.0
    s = scripted_snapshots(days, closes, vix, [ScriptedDay(days[0], "late_cuts", "cutting_early", cut)])[-1]
    t = decide(s, book(), P)
    assert t.memory[CAPITULATION] == DAY
    assert t.weight("IWM") == P.late_cuts.tranche_weight
    # Later, the signal has faded but the memory keeps us buying toward the target.
    later = decide(snap("late_cuts", day=DAY + timedelta(days=20), phase="cutting_early", cycle_first_cut=cut), book(memory=t.memory), P)
    assert later.weight("IWM") > 0


def test_risk_limit_caps_iwm() -> None:
    p = StrategyParams.model_validate({"max_iwm_weight": 0.4, "base_weight": 0.8})
    t = decide(snap("neutral"), book(), p)
    assert t.weight("IWM") == 0.4
    assert any("risk limit" in r for r in t.reasons)


def test_delta_strike_rule() -> None:
    p = StrategyParams.model_validate({"hedge": {"strike_rule": "delta", "delta": -0.25}})
    t = decide(snap("recession_risk"), book(cash=70_000.0, iwm=300), p)
    assert t.puts is not None and 80.0 < t.puts.spec.strike < 98.0


def test_no_price_holds() -> None:
    s = snap("crisis")
    s = replace(s, market=replace(s.market, iwm_close=None))
    t = decide(s, Book(50_000.0, {"IWM": 500}), P)
    assert t.reasons[0].startswith("no price")


def test_unknown_regime_adds_no_risk_and_keeps_puts() -> None:
    expiry = DAY + timedelta(days=50)
    put = OptionPosition(occ_symbol("IWM", expiry, 90.0), "IWM", 90.0, expiry, 3, 1.0, 1.0)
    b = book(cash=70_000.0, iwm=300, options=(put,))
    held = decide(snap("unknown"), b, P)
    assert abs(held.weight("IWM") - b.weight("IWM")) < 1e-12  # held where it is: not bought up, not sold
    assert held.weight("IWM") < P.base_weight
    assert held.puts is not None and held.puts.symbol == put.symbol
    assert "no new risk" in held.reasons[0]
    flat = decide(snap("unknown"), book(), P)
    assert flat.weight("IWM") == 0.0 and flat.puts is None  # from cash, nothing is bought
