"""Put pricing, IV from VIX, OCC symbols, contract selection and the close rule."""

from __future__ import annotations

import math
from datetime import date, timedelta
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strategies.book import PutSpec
from strategies.options import (
    bs_put,
    implied_vol,
    monthly_expiries,
    must_close,
    occ_symbol,
    parse_occ,
    put_delta,
    put_mid,
    select_put,
    strike_for_delta,
    synthetic_chain,
    third_friday,
)
from strategies.params import OptionModelParams

MODEL = OptionModelParams()


def test_black_scholes_reference_value() -> None:
    # Hull's textbook example: S=42, K=40, r=10 %, sigma=20 %, T=0.5 -> put 0.8086.
    assert abs(bs_put(42, 40, 0.5, 0.10, 0.20) - 0.8086) < 1e-3


@given(st.floats(10, 500), st.floats(0.5, 1.5), st.floats(0.01, 2.0), st.floats(0.0, 0.1), st.floats(0.05, 1.5))
def test_put_call_parity_bounds_and_delta(spot: float, m: float, years: float, rate: float, vol: float) -> None:
    strike = spot * m
    price = bs_put(spot, strike, years, rate, vol)
    assert max(strike * math.exp(-rate * years) - spot, 0.0) - 1e-9 <= price <= strike
    assert -1.0 <= put_delta(spot, strike, years, rate, vol) <= 0.0


def test_expiry_is_intrinsic() -> None:
    assert bs_put(80, 90, 0.0, 0.02, 0.3) == 10.0
    assert bs_put(95, 90, 0.0, 0.02, 0.3) == 0.0


def test_strike_for_delta_round_trips() -> None:
    k = strike_for_delta(100.0, -0.25, 0.25, 0.02, 0.3)
    assert abs(put_delta(100.0, k, 0.25, 0.02, 0.3) + 0.25) < 1e-9


def test_iv_scales_vix_and_adds_skew() -> None:
    atm = implied_vol(20.0, 100.0, 100.0, MODEL)
    assert abs(atm - 0.20 * MODEL.iv_scale) < 1e-12
    assert implied_vol(20.0, 100.0, 90.0, MODEL) > atm
    assert implied_vol(1.0, 100.0, 100.0, MODEL) == MODEL.min_iv


def test_occ_symbol_round_trip() -> None:
    s = occ_symbol("IWM", date(2024, 6, 21), 190.0)
    assert s == "IWM240621P00190000"
    assert parse_occ(s) == ("IWM", date(2024, 6, 21), "P", 190.0)
    assert occ_symbol("IWM", date(2024, 6, 21), 72.5) == "IWM240621P00072500"


def test_third_fridays() -> None:
    assert third_friday(2024, 6) == date(2024, 6, 21)
    assert third_friday(2025, 3) == date(2025, 3, 21)
    exp = monthly_expiries(date(2024, 6, 21), 70)
    assert exp == [date(2024, 7, 19), date(2024, 8, 16)]


def test_expiries_on_exchange_holidays_move_to_the_session_before() -> None:
    assert third_friday(2026, 6) == date(2026, 6, 18)  # Juneteenth, Friday 2026-06-19
    assert third_friday(2027, 6) == date(2027, 6, 17)  # Juneteenth observed, Friday 2027-06-18
    assert third_friday(2008, 3) == date(2008, 3, 20)  # Good Friday 2008-03-21
    assert third_friday(2019, 4) == date(2019, 4, 18)  # Good Friday 2019-04-19
    assert third_friday(2022, 4) == date(2022, 4, 14)  # Good Friday 2022-04-15 (the third Friday)
    assert third_friday(2025, 4) == date(2025, 4, 17)  # Good Friday 2025-04-18
    assert date(2026, 6, 18) in monthly_expiries(date(2026, 5, 1), 60)


def test_dividend_yield_raises_the_put_and_matches_put_call_parity() -> None:
    s, k, t, r, v, q = 200.0, 180.0, 0.25, 0.04, 0.25, 0.012
    put_q, put_0 = bs_put(s, k, t, r, v, q), bs_put(s, k, t, r, v)
    assert put_q > put_0
    # parity with the Black-Scholes-Merton call: C - P = S e^{-qT} - K e^{-rT}
    d1 = (math.log(s / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
    nd = NormalDist().cdf
    call = s * math.exp(-q * t) * nd(d1) - k * math.exp(-r * t) * nd(d1 - v * math.sqrt(t))
    assert call - put_q == pytest.approx(s * math.exp(-q * t) - k * math.exp(-r * t), abs=1e-9)
    key = strike_for_delta(100.0, -0.25, 0.25, 0.02, 0.3, q)
    assert put_delta(100.0, key, 0.25, 0.02, 0.3, q) == pytest.approx(-0.25, abs=1e-9)
    assert MODEL.dividend_yield == 0.012
    assert put_mid(200.0, 180.0, date(2024, 1, 2), date(2024, 4, 2), 20.0, 4.0, MODEL) > put_mid(
        200.0, 180.0, date(2024, 1, 2), date(2024, 4, 2), 20.0, 4.0, MODEL.model_copy(update={"dividend_yield": 0.0})
    )


def test_select_put_prefers_target_expiry_then_strike() -> None:
    as_of = date(2024, 1, 2)
    chain = synthetic_chain("IWM", 200.0, as_of, 200, MODEL)
    spec = PutSpec("IWM", 180.4, 90, 60, 130)
    chosen = select_put(spec, chain, as_of)
    assert chosen is not None
    assert chosen.strike == 180.0
    assert chosen.expiry == date(2024, 3, 15)  # 73 days: closest to 90 within [60, 130]... vs 2024-04-19 (108 days)
    # Plain tuples (e.g. Alpaca's list) work, other underlyings and calls are ignored.
    tuples = [("SPY240419P00180000", 180.0, date(2024, 4, 19)), ("IWM240419C00180000", 180.0, date(2024, 4, 19))]
    assert select_put(spec, tuples, as_of) is None


def test_select_put_tie_breaks_are_deterministic() -> None:
    as_of = date(2024, 1, 2)
    spec = PutSpec("IWM", 180.5, 90, 60, 130)
    e = as_of + timedelta(days=90)
    chain = [(occ_symbol("IWM", e, k), k, e) for k in (181.0, 180.0)]
    chosen = select_put(spec, chain, as_of)
    assert chosen is not None and chosen.strike == 180.0


def test_must_close() -> None:
    expiry = date(2024, 3, 15)
    assert not must_close(expiry, expiry - timedelta(days=22), 21)
    assert must_close(expiry, expiry - timedelta(days=21), 21)
