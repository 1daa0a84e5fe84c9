"""IWM puts: Black–Scholes pricing, implied volatility from VIX, OCC symbols, contract selection, the close rule.

Shared by the backtest (which prices a synthetic chain with these functions) and paper trading (which passes
Alpaca's contract list to `select_put` and closes by `must_close`), so both choose and close contracts alike.

Implied volatility: the pack has no RVX, so IWM's at-the-money IV is VIX x `iv_scale` (RVX has mostly traded
1.2-1.35x VIX), and out-of-the-money puts get a linear skew, IV x (1 + skew x (1 - K/S)). Both are configurable
assumptions, documented in `OptionModelParams`; every price from this model is journaled as synthetic.

Dividends: puts are priced with IWM's dividend yield (`OptionModelParams.dividend_yield`, continuous), as a listed
IWM put is. The backtest marks and settles them against the pack's dividend-adjusted IWM price, which does not drop
on ex-dividend days the way the traded price (and a real strike) does: over a holding period of h years that
overstates the underlying by about dividend_yield x h against the strike (0.2 % of spot for the 69 days a 90-day put
is held before its 21-day roll, at 1.2 %), so the backtest's hedge payoffs are slightly understated. That bias is
stated, not corrected: the pack holds no unadjusted IWM prices to settle against.

Expiries: the standard monthly expiry is the third Friday; when the exchange is closed that day (Good Friday,
Juneteenth on 2026-06-19, its observance on 2027-06-18) the options expire on the session before, as OCC lists them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from statistics import NormalDist
from typing import NamedTuple

from nyse import nyse_calendar
from strategies.book import PutSpec
from strategies.params import OptionModelParams

_N = NormalDist()
_YEAR = 365.0
_EXPIRY_CALENDAR_END = 2040  # expiries after it are judged by weekday alone


class OptionContract(NamedTuple):
    """One listed contract: a plain (symbol, strike, expiry) tuple works too."""

    symbol: str
    strike: float
    expiry: date


def bs_put(spot: float, strike: float, years: float, rate: float, vol: float, dividend_yield: float = 0.0) -> float:
    """Black–Scholes(-Merton) price of a European put per share, continuous dividend yield `dividend_yield`.

    At or after expiry (years <= 0) the price is the intrinsic value.
    """
    if years <= 0 or vol <= 0:
        return max(strike - spot, 0.0)
    sd = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - dividend_yield + 0.5 * vol * vol) * years) / sd
    d2 = d1 - sd
    return strike * math.exp(-rate * years) * _N.cdf(-d2) - spot * math.exp(-dividend_yield * years) * _N.cdf(-d1)


def put_delta(spot: float, strike: float, years: float, rate: float, vol: float, dividend_yield: float = 0.0) -> float:
    """Black–Scholes delta of a put (between -1 and 0)."""
    if years <= 0 or vol <= 0:
        return -1.0 if strike > spot else 0.0
    sd = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - dividend_yield + 0.5 * vol * vol) * years) / sd
    return math.exp(-dividend_yield * years) * (_N.cdf(d1) - 1.0)


def strike_for_delta(spot: float, delta: float, years: float, rate: float, vol: float, dividend_yield: float = 0.0) -> float:
    """The strike whose Black–Scholes put delta is `delta` (at this vol; skew is applied to the price, not here)."""
    if not -1.0 < delta < 0.0:
        raise ValueError(f"put delta must be within (-1, 0), got {delta}")
    sd = vol * math.sqrt(years)
    d1 = _N.inv_cdf(max(1.0 + delta * math.exp(dividend_yield * years), 1e-12))
    return spot * math.exp(-d1 * sd + (rate - dividend_yield + 0.5 * vol * vol) * years)


def implied_vol(vix: float, spot: float, strike: float, model: OptionModelParams) -> float:
    """IWM put IV (annualised fraction) from VIX (percent): scaled for small caps, plus the out-of-the-money skew."""
    otm = max(0.0, 1.0 - strike / spot)
    return max(model.min_iv, vix / 100.0 * model.iv_scale * (1.0 + model.skew * otm))


def years_between(day: date, expiry: date) -> float:
    return max((expiry - day).days, 0) / _YEAR


def put_mid(spot: float, strike: float, day: date, expiry: date, vix: float, rate_pct: float, model: OptionModelParams) -> float:
    """Model mid price per option share on `day` (the synthetic mark), rate in percent."""
    vol = implied_vol(vix, spot, strike, model)
    return bs_put(spot, strike, years_between(day, expiry), rate_pct / 100.0, vol, model.dividend_yield)


def occ_symbol(underlying: str, expiry: date, strike: float, right: str = "P") -> str:
    """OCC option symbol, e.g. IWM240621P00190000 (strike x 1000, eight digits)."""
    if right not in ("P", "C"):
        raise ValueError(f"right must be 'P' or 'C', got {right!r}")
    return f"{underlying}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


def parse_occ(symbol: str) -> tuple[str, date, str, float]:
    """(underlying, expiry, right, strike) from an OCC symbol."""
    root, tail = symbol[:-15], symbol[-15:]
    expiry = date(2000 + int(tail[0:2]), int(tail[2:4]), int(tail[4:6]))
    return root, expiry, tail[6], int(tail[7:]) / 1000.0


def _is_session(day: date) -> bool:
    cal = nyse_calendar(_EXPIRY_CALENDAR_END)
    if not cal.first_session.date() <= day <= cal.last_session.date():
        return day.weekday() < 5
    return bool(cal.is_session(day.isoformat()))


def third_friday(year: int, month: int) -> date:
    """The standard monthly expiry: the third Friday, or the session before it when the exchange is closed."""
    first = date(year, month, 1)
    day = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
    while not _is_session(day):
        day -= timedelta(days=1)
    return day


def monthly_expiries(day: date, horizon_days: int) -> list[date]:
    """Standard monthly expiries (third Fridays) after `day` and within `horizon_days`."""
    out: list[date] = []
    year, month = day.year, day.month
    while True:
        expiry = third_friday(year, month)
        if (expiry - day).days > horizon_days:
            return out
        if expiry > day:
            out.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def synthetic_chain(underlying: str, spot: float, day: date, horizon_days: int, model: OptionModelParams) -> list[OptionContract]:
    """Puts on a strike grid from 50 % to 110 % of spot, for each monthly expiry within the horizon."""
    step = model.strike_step
    low, high = math.floor(spot * 0.5 / step), math.ceil(spot * 1.1 / step)
    strikes = [round(k * step, 3) for k in range(max(low, 1), high + 1)]
    return [OptionContract(occ_symbol(underlying, e, k), k, e) for e in monthly_expiries(day, horizon_days) for k in strikes]


def select_put(spec: PutSpec, contracts: Iterable[tuple[str, float, date]], as_of: date) -> OptionContract | None:
    """The contract paper and backtest both buy for `spec`: the expiry closest to target_dte within
    [min_dte, max_dte] (the earlier on a tie), then the strike closest to the target (the lower on a tie).

    Only puts on `spec.underlying` are considered (judged from the OCC symbol). None when nothing fits.
    """
    candidates: list[OptionContract] = []
    for symbol, strike, expiry in contracts:
        if len(symbol) < 16 or symbol[-9] != "P" or symbol[:-15] != spec.underlying:
            continue
        dte = (expiry - as_of).days
        if spec.min_dte <= dte <= spec.max_dte:
            candidates.append(OptionContract(symbol, float(strike), expiry))
    if not candidates:
        return None
    return min(candidates, key=lambda c: (abs((c.expiry - as_of).days - spec.target_dte), c.expiry, abs(c.strike - spec.strike), c.strike))


def must_close(expiry: date, as_of: date, roll_dte: int) -> bool:
    """The close-before-expiry rule: a put is closed (or rolled) once it has `roll_dte` days or fewer left."""
    return (expiry - as_of).days <= roll_dte


def contracts_for(symbols: Sequence[str]) -> list[OptionContract]:
    """Contracts rebuilt from OCC symbols alone (for a held position whose chain is not at hand)."""
    out = []
    for symbol in symbols:
        _, expiry, _, strike = parse_occ(symbol)
        out.append(OptionContract(symbol, strike, expiry))
    return out
