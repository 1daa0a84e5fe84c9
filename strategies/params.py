"""The playbook's and the simulator's parameters: frozen pydantic models, unknown keys forbidden, every field documented.

`StrategyParams` is shared by backtests and paper trading (it is what `decide` and `orders_to_reach` read);
`BacktestParams` holds what only a simulation needs (costs, the option price model's haircut, initial cash, the
window). Their sections live in config/default.toml as [strategy] and [backtest].
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from config.numeric import Frozen as _Frozen


class SoftLandingParams(_Frozen):
    """Soft landing: build IWM in tranches, starting some weeks before an expected cut."""

    target_weight: float = Field(default=1.0, ge=0, le=1, description="IWM weight to build toward")
    lead_days: int = Field(default=60, ge=30, le=92, description="start buying this many calendar days before the next meeting when a cut is expected")
    tranche_weight: float = Field(default=0.25, gt=0, le=1, description="weight added per tranche")
    tranche_spacing_days: int = Field(default=10, ge=1, le=60, description="calendar days between tranches")


class RecessionParams(_Frozen):
    """Recession risk rising: cut exposure and/or hedge what is kept with puts."""

    iwm_weight_cap: float = Field(default=0.3, ge=0, le=1, description="IWM weight is cut to at most this (never bought up to it)")
    hedge: bool = Field(default=True, description="hold IWM puts against the IWM kept")


class CrisisParams(_Frozen):
    """Crisis: cash earning the bill rate, or a defensive asset."""

    iwm_weight: float = Field(default=0.0, ge=0, le=1, description="IWM weight in a crisis")
    defensive_symbol: str = Field(default="", description="a defensive asset with bars in the store; empty = cash")
    defensive_weight: float = Field(default=0.0, ge=0, le=1, description="weight of the defensive asset")
    keep_puts: bool = Field(default=True, description="keep puts already held (not rolled) so they pay off in the crash")

    @model_validator(mode="after")
    def _defensive_named(self) -> CrisisParams:
        if self.defensive_weight > 0 and not self.defensive_symbol:
            raise ValueError("crisis.defensive_weight > 0 needs crisis.defensive_symbol")
        if self.iwm_weight + self.defensive_weight > 1:
            raise ValueError("crisis.iwm_weight + crisis.defensive_weight must not exceed 1")
        return self


class LateCutsParams(_Frozen):
    """Fed cutting late: stay out until a capitulation after the first cut, then buy."""

    drawdown: float = Field(default=-0.20, ge=-0.9, le=0, description="IWM close / trailing high - 1 must be at or below this")
    vix_spike: float = Field(default=30.0, ge=10, le=100, description="the recent VIX peak must reach this")
    vix_fade: float = Field(default=-0.20, ge=-0.9, le=0, description="VIX / its peak - 1 must be at or below this (the spike is fading)")
    target_weight: float = Field(default=1.0, ge=0, le=1, description="IWM weight once capitulation has been seen")
    tranche_weight: float = Field(default=0.5, gt=0, le=1, description="weight added per tranche after capitulation")


class HedgeParams(_Frozen):
    """IWM puts: which contract, how many, how much a year, when to roll or close."""

    strike_rule: Literal["moneyness", "delta"] = Field(default="moneyness", description="pick the strike by moneyness or by delta")
    moneyness: float = Field(default=0.90, gt=0.5, le=1.1, description="strike / spot when strike_rule = moneyness")
    delta: float = Field(default=-0.25, gt=-0.95, lt=-0.01, description="put delta when strike_rule = delta")
    target_dte: int = Field(default=90, ge=14, le=400, description="preferred calendar days to expiry at purchase")
    min_dte: int = Field(default=60, ge=7, le=400, description="shortest acceptable expiry at purchase")
    max_dte: int = Field(default=130, ge=14, le=500, description="longest acceptable expiry at purchase")
    roll_dte: int = Field(default=21, ge=1, le=120, description="close (and roll if still hedging) at or below this many days to expiry")
    hedge_ratio: float = Field(default=1.0, gt=0, le=2, description="share of the IWM position's shares covered by puts")
    annual_budget: float = Field(default=0.02, ge=0, le=0.2, description="premium paid over any trailing 365 days, as a share of equity")
    max_notional: float = Field(default=1.0, ge=0, le=2, description="contracts x 100 x strike at most this share of equity")
    limit_slack: float = Field(default=0.10, ge=0, le=1, description="option limit price: mark x (1 + slack) to buy, x (1 - slack) to sell")

    @model_validator(mode="after")
    def _dte_order(self) -> HedgeParams:
        if not self.min_dte <= self.target_dte <= self.max_dte:
            raise ValueError("hedge: need min_dte <= target_dte <= max_dte")
        if self.roll_dte >= self.min_dte:
            raise ValueError("hedge: roll_dte must be below min_dte, or a new put would be rolled at once")
        return self


class OptionModelParams(_Frozen):
    """Implied volatility for IWM puts: there is no RVX in the pack, so VIX is scaled for small caps plus a put skew."""

    iv_scale: float = Field(default=1.25, ge=0.5, le=3, description="IWM at-the-money IV = VIX x this (RVX has run about 1.2-1.35x VIX)")
    skew: float = Field(default=1.5, ge=0, le=10, description="IV multiplier grows by skew x (1 - strike/spot) for out-of-the-money puts")
    min_iv: float = Field(default=0.08, gt=0, le=1, description="floor on the implied volatility (annualised fraction)")
    strike_step: float = Field(default=1.0, gt=0, le=10, description="strike spacing of the synthetic chain (dollars)")
    dividend_yield: float = Field(
        default=0.012,
        ge=0,
        le=0.1,
        description="IWM's dividend yield for put pricing (continuous, annual). IWM's calendar-year yields 2001-2019 ranged 1.0-2.3 % "
        "(1.24 % in 2020; lazyportfolioetf.com's IWM dividend table from the distributions); the 12-month yield was 1.12 % in "
        "February 2026 (valueray.com's IWM dividend history). 1.2 % is their typical level; the pack holds no dividends to derive it",
    )


class StrategyParams(_Frozen):
    """Everything `decide` and `orders_to_reach` need: the playbook, risk limits and the option model."""

    base_weight: float = Field(default=0.5, ge=0, le=1, description="IWM weight when tightening or neutral")
    max_iwm_weight: float = Field(default=1.0, ge=0, le=1, description="risk limit: IWM weight never above this")
    rebalance_band: float = Field(default=0.03, ge=0, le=0.5, description="no equity trade smaller than this share of equity")
    cash_buffer: float = Field(default=0.01, ge=0, le=0.5, description="buys never take estimated cash below this share of equity")
    symbol: str = Field(default="IWM", description="the small-cap ETF traded")
    soft_landing: SoftLandingParams = Field(default_factory=SoftLandingParams, description="soft landing playbook")
    recession: RecessionParams = Field(default_factory=RecessionParams, description="recession-risk playbook")
    crisis: CrisisParams = Field(default_factory=CrisisParams, description="crisis playbook")
    late_cuts: LateCutsParams = Field(default_factory=LateCutsParams, description="late-cuts playbook")
    hedge: HedgeParams = Field(default_factory=HedgeParams, description="put hedge rules")
    options: OptionModelParams = Field(default_factory=OptionModelParams, description="option pricing model")

    @model_validator(mode="after")
    def _tranches_trade(self) -> StrategyParams:
        for name, tranche in (("soft_landing", self.soft_landing.tranche_weight), ("late_cuts", self.late_cuts.tranche_weight)):
            if tranche <= self.rebalance_band:
                raise ValueError(f"{name}.tranche_weight must exceed rebalance_band, or a tranche would never trade")
        return self


class BacktestParams(_Frozen):
    """Simulation only: costs, the option fill model, starting cash and the default window."""

    initial_cash: float = Field(default=100_000.0, gt=0, le=1e12, description="starting cash (dollars), at most a trillion")
    commission_per_share: float = Field(default=0.005, ge=0, le=1, description="stock commission per share (dollars)")
    slippage_bps: float = Field(default=5.0, ge=0, le=200, description="stock fills this many basis points worse than the open")
    option_fee_per_contract: float = Field(default=0.65, ge=0, le=10, description="fees per option contract traded (dollars)")
    option_haircut: float = Field(
        default=0.05,
        ge=0,
        le=0.5,
        description="half the bid/ask spread as a share of the model mid: buy at mid x (1+h), sell at mid x (1-h)",
    )
    start: str = Field(default="2000-06-01", description="first session (IWM's first full month)")
    end: str = Field(default="", description="last session; empty = the end of the pack")
    benchmarks: list[str] = Field(default_factory=lambda: ["IWM", "SPY"], description="buy-and-hold benchmarks computed from the same run")
