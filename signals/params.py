"""Signal-layer parameters: one frozen pydantic model, every field documented, unknown keys forbidden.

Mounted as `AppConfig.signals` (section `[signals]` of config/default.toml); the
signal functions take it as an argument and never read configuration themselves.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from config.numeric import Frozen as _Frozen

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"expected a New York wall time 'HH:MM', got {value!r}")
    return value


class PhaseParams(_Frozen):
    """How FOMC decisions become a cycle phase."""

    pause_after_meetings: int = Field(
        default=1, ge=1, le=6, description="scheduled meetings in a row without a cut that turn a cutting cycle into a pause"
    )
    cycle_end_after_meetings: int = Field(
        default=6, ge=2, le=16, description="scheduled meetings in a row without a cut that end an easing cycle (on hold)"
    )
    hold_after_hike_meetings: int = Field(
        default=2, ge=1, le=8, description="scheduled meetings without a hike after which tightening becomes on hold"
    )
    statement_time: str = Field(
        default="14:15", description="New York time a scheduled meeting's decision is taken as known (statements: 14:15, 14:00 since 2013)"
    )
    statements_since: str = Field(
        default="1994-02-04",
        description="first meeting with a same-day statement; before it a decision is known from the target series (next day)",
    )
    min_future_meetings: int = Field(default=4, ge=1, le=16, description="warn loudly when fewer future meetings are known")
    two_year_cut_bp: float = Field(
        default=25.0, ge=0, le=200, description="2-year yield this far below effective fed funds (bp) = cuts expected"
    )
    bill_cut_bp: float = Field(
        default=25.0, ge=0, le=200, description="3-month bill this far below effective fed funds (bp) = cuts expected"
    )
    _t = field_validator("statement_time")(_hhmm)


class IndicatorParams(_Frozen):
    """Windows and staleness limits of the macro indicators."""

    stale_days_daily: int = Field(default=10, ge=1, le=60, description="a daily series whose newest value is older (by availability) is stale")
    stale_days_weekly: int = Field(default=17, ge=7, le=90, description="as above, weekly series")
    stale_days_monthly: int = Field(default=50, ge=28, le=180, description="as above, monthly series (one missed release)")
    change_days: int = Field(default=91, ge=7, le=366, description="calendar days behind a 'change' (3-month change)")
    zscore_observations: int = Field(default=1260, ge=60, le=5000, description="trailing observations of a z-score (1260 = 5 years daily)")
    zscore_min_observations: int = Field(default=250, ge=20, le=5000, description="fewer observations: no z-score")
    inversion_lookback_days: int = Field(default=548, ge=30, le=1500, description="un-inversion: the curve was inverted within this many days")
    inversion_depth: float = Field(default=-0.10, le=0, description="10y-3m at or below this (percentage points) counts as inverted")
    claims_average_weeks: int = Field(default=4, ge=1, le=13, description="weeks in the initial-claims moving average")
    claims_low_weeks: int = Field(default=26, ge=4, le=104, description="the claims trend compares the average with its low over this many weeks")
    drawdown_sessions: int = Field(default=252, ge=20, le=1000, description="IWM drawdown is measured from the highest close over this many sessions")
    vix_peak_sessions: int = Field(default=63, ge=5, le=500, description="VIX peak: the highest close over this many sessions")


class CrisisRule(_Frozen):
    """Financial-system stress: a stress index high AND markets panicking, or an extreme panic on its own."""

    stlfsi_min: float = Field(default=2.0, description="St. Louis stress index at or above this (about 2 standard deviations)")
    nfci_min: float = Field(default=0.5, description="fallback when STLFSI4 is missing/stale: Chicago NFCI at or above this")
    vix_min: float = Field(default=35.0, description="VIX close at or above this confirms the stress")
    hy_oas_min: float = Field(default=8.0, description="high-yield OAS (pp) at or above this confirms the stress")
    baa_min: float = Field(default=3.5, description="fallback for HY OAS: Baa-10y spread (pp) at or above this")
    panic_vix_min: float = Field(default=45.0, description="panic path: VIX at or above this together with HY OAS >= hy_oas_min")
    stlfsi_exit: float = Field(default=1.5, description="band: while crisis is the call, the stress index counts as high down to this line")
    nfci_exit: float = Field(default=0.35, description="band: as stlfsi_exit, for the NFCI fallback")
    vix_exit: float = Field(default=30.0, description="band: while crisis is the call, the VIX confirms the stress down to this line")
    hy_oas_exit: float = Field(default=7.0, description="band: while crisis is the call, HY OAS confirms the stress down to this line (pp)")
    baa_exit: float = Field(default=3.0, description="band: as hy_oas_exit, for the Baa-10y fallback (pp)")


class RecessionRule(_Frozen):
    """Recession risk rising: at least `min_signals` of labour, claims, credit and curve warnings."""

    min_signals: int = Field(default=2, ge=1, le=4, description="warnings needed (of labour, claims, credit, curve)")
    sahm_min: float = Field(default=0.5, description="labour: Sahm rule at or above this (real-time series, else computed)")
    claims_rise_min: float = Field(default=0.15, description="claims: 4-week average this far above its 26-week low (0.15 = +15%)")
    hy_change_min: float = Field(default=1.0, description="credit: HY OAS 3-month change at or above this (pp)")
    hy_z_min: float = Field(default=1.5, description="credit: HY OAS 5-year z-score at or above this")
    baa_change_min: float = Field(default=0.35, description="credit fallback: Baa-10y 3-month change at or above this (pp)")
    baa_z_min: float = Field(default=1.5, description="credit fallback: Baa-10y 5-year z-score at or above this")
    sahm_exit: float = Field(default=0.4, description="band: while recession risk or late cuts is the call, labour warns down to this Sahm value")
    claims_rise_exit: float = Field(default=0.10, description="band: while recession risk or late cuts is the call, claims warn down to this rise")
    hy_change_exit: float = Field(default=0.75, description="band: while recession risk or late cuts is the call, credit warns down to this HY 3m change (pp)")
    hy_z_exit: float = Field(default=1.25, description="band: as hy_change_exit, for the HY OAS z-score")
    baa_change_exit: float = Field(default=0.25, description="band: as hy_change_exit, for the Baa-10y fallback (pp)")
    baa_z_exit: float = Field(default=1.25, description="band: as hy_z_exit, for the Baa-10y fallback")


class SoftLandingRule(_Frozen):
    """Inflation cooling, jobs holding, credit calm, and the Fed easing or expected to."""

    core_pce_max: float = Field(default=3.0, description="core PCE 12-month inflation at or below this (%), or falling")
    unemployment_rise_max: float = Field(
        default=0.75, description="jobs holding: unemployment less than this above its 12-month low (pp; UNRATE is barely revised)"
    )
    hy_oas_max: float = Field(default=5.5, description="HY OAS below this (pp); Baa-10y fallback uses baa_max")
    baa_max: float = Field(default=2.75, description="fallback for HY OAS: Baa-10y spread below this (pp)")
    core_pce_exit: float = Field(default=3.2, description="band: while soft landing is the call, inflation counts as cooling up to this line (%)")
    unemployment_rise_exit: float = Field(default=0.9, description="band: while soft landing is the call, jobs count as holding below this rise (pp)")
    hy_oas_exit: float = Field(default=6.0, description="band: while soft landing is the call, credit counts as calm below this HY OAS (pp)")
    baa_exit: float = Field(default=3.0, description="band: as hy_oas_exit, for the Baa-10y fallback (pp)")


class RegimeParams(_Frozen):
    """Thresholds of the regime rules (see signals/regime.py for the rules in words)."""

    crisis: CrisisRule = Field(default_factory=CrisisRule, description="crisis (credit event / system stress)")
    recession: RecessionRule = Field(default_factory=RecessionRule, description="recession risk rising")
    soft_landing: SoftLandingRule = Field(default_factory=SoftLandingRule, description="soft landing")
    late_cuts_min_signals: int = Field(
        default=2, ge=1, le=4, description="Fed cutting late: in an easing cycle with at least this many recession warnings"
    )
    aggressive_cut_bp: float = Field(
        default=50.0, ge=25, le=200, description="a cut this large, or any inter-meeting cut, in the last 3 months is 'aggressive' (panic)"
    )
    stand_in_days: int = Field(
        default=90, ge=0, le=400,
        description="a stale input's last value stands in for at most this many days after its release; older, the input is unknown",
    )


class ConfirmSessions(_Frozen):
    """Sessions in a row the rules must call for less caution before the call leaves each regime toward risk."""

    crisis: int = Field(default=10, ge=1, le=130, description="leaving crisis: two weeks of calmer calls (stress fades in steps)")
    late_cuts: int = Field(default=10, ge=1, le=130, description="leaving late cuts toward risk")
    recession_risk: int = Field(default=10, ge=1, le=130, description="leaving recession risk toward risk")
    tightening: int = Field(default=10, ge=1, le=130, description="leaving tightening for neutral or soft landing")
    neutral: int = Field(default=10, ge=1, le=130, description="leaving neutral for soft landing (cut pricing flickers day to day)")


class StabilityParams(_Frozen):
    """How the day's rule verdicts become a stable call (signals/stability.py): caution at once, risk confirmed."""

    confirm: ConfirmSessions = Field(default_factory=ConfirmSessions, description="confirmation before stepping back toward risk, per regime")
    dwell_sessions: int = Field(
        default=10, ge=0, le=130,
        description="a call reached by stepping back toward risk stands this many sessions before a caution call other than crisis replaces it",
    )
    warmup_sessions: int = Field(
        default=250, ge=0, le=2000,
        description="the carried state starts this many sessions before the first day asked for (the calls of two runs agree once both are warm)",
    )


class SignalParams(_Frozen):
    """Everything the signal layer is tuned by."""

    decision_time: str = Field(
        default="16:30", description="New York time of the daily snapshot after a session's close (the VIX settles 16:15)"
    )
    phase: PhaseParams = Field(default_factory=PhaseParams, description="FOMC calendar and cycle phase")
    indicators: IndicatorParams = Field(default_factory=IndicatorParams, description="macro indicator windows and staleness")
    regime: RegimeParams = Field(default_factory=RegimeParams, description="regime rule thresholds")
    stability: StabilityParams = Field(default_factory=StabilityParams, description="stable calls: confirmation toward risk, dwell, warm-up")
    _t = field_validator("decision_time")(_hhmm)
