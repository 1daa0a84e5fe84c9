"""The snapshot: everything the decision core may know at one instant, and why the regime is what it is.

Built by the signal layer from point-in-time data only; read by `strategies.decide`. Plain frozen dataclasses so
the same object comes out of a backtest and a paper session, and serialises to the journal unchanged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

# "unknown": the stress and recession inputs are all missing or stale, so no macro call can be made (R30).
RegimeName = Literal["soft_landing", "recession_risk", "crisis", "late_cuts", "tightening", "neutral", "unknown"]
REGIMES: tuple[RegimeName, ...] = ("soft_landing", "recession_risk", "crisis", "late_cuts", "tightening", "neutral", "unknown")

PhaseName = Literal["tightening", "on_hold", "cutting_early", "pause", "cutting_later"]
PHASES: tuple[PhaseName, ...] = ("tightening", "on_hold", "cutting_early", "pause", "cutting_later")


@dataclass(frozen=True, slots=True)
class Phase:
    """Where the Fed is in its cycle at `as_of` (a pure function of as_of, meetings and decisions)."""

    name: PhaseName
    next_meeting: date | None
    days_to_next_meeting: int | None
    in_blackout: bool
    cycle_first_cut: date | None  # first cut of the current easing cycle, if cutting/paused
    later_phase_start: date | None  # first cut after a pause, if any
    cuts_in_cycle: int
    cumulative_bp: float  # negative for cuts
    last_decision: date | None
    last_decision_bp: float | None
    meetings_since_last_cut: int
    cuts_priced_bp: float | None  # market pricing: 2-year yield minus effective fed funds, bp; negative = cuts priced
    cuts_expected: bool | None  # 2y or 3m bill clearly below EFFR (margins in SignalParams.phase)
    target_upper: float | None
    bill_minus_effr_bp: float | None = None  # 3-month bill minus effective fed funds, bp (cuts_priced_bp is the 2-year's)
    last_move: date | None = None  # the last change of the target (cut or hike)
    last_move_bp: float | None = None
    last_move_intermeeting: bool = False  # the last move came between scheduled meetings (an emergency move)
    future_meetings_known: int = 0  # scheduled meetings after as_of in the calendar (warns below the configured minimum)
    warnings: tuple[str, ...] = ()  # loud problems with the calendar (too few future meetings known)


@dataclass(frozen=True, slots=True)
class Reading:
    """One indicator value with its provenance."""

    value: float | None  # None when missing or stale
    period: date | None  # the period of the newest observation used
    available_at: datetime | None  # when that observation became known
    stale: bool
    last_value: float | None = None  # the newest known value even when stale (None only if nothing usable is known)


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One regime rule, evaluated: what it looked at, its thresholds, whether it fired."""

    rule: str
    regime: RegimeName
    fired: bool
    score: float  # how strongly it fired (used to rank the runner-up); 0 when not fired
    explanation: str
    values: dict[str, float | None] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegimeCall:
    """The regime and its explanation."""

    name: RegimeName
    runner_up: RegimeName | None
    reasons: tuple[str, ...]  # human-readable, most important first
    rules: tuple[RuleResult, ...]  # every rule evaluated
    missing_inputs: tuple[str, ...] = ()  # series missing or stale at as_of
    fallback: str | None = None  # which documented fallback applied, if any


@dataclass(frozen=True, slots=True)
class CallState:
    """The stable call's state, carried from one session to the next (signals/stability.py).

    Only what the next session's call depends on, so two runs that reach the same state call alike from then on.
    """

    rules_call: RegimeName  # what the rules said this session (yesterday's call judged on its exit lines)
    pending: tuple[RegimeName, ...] = ()  # the rules' calls for less caution, sessions in a row, awaiting confirmation
    dwell_left: int = 0  # sessions a call reached toward risk still stands against caution calls other than crisis
    held: str | None = None  # why the call is not the rules' call this session (confirmation or dwell), else None


@dataclass(frozen=True, slots=True)
class Market:
    """Price-derived state the playbook needs (capitulation signal, hedging inputs)."""

    iwm_close: float | None
    spy_close: float | None
    vix: float | None
    iwm_drawdown: float | None  # close / trailing high - 1 (<= 0)
    vix_peak: float | None  # highest VIX over the recent window
    vix_off_peak: float | None  # vix / vix_peak - 1 (<= 0): a fading spike is clearly below its peak
    bill_rate: float | None  # 3-month T-bill, percent, for cash interest
    bill_rate_source: str | None = None  # "DTB3", or "DFF" when the bill series is stale (documented fallback)
    iwm_trailing_high: float | None = None  # the high the drawdown is measured from


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What was known at `as_of`, after the close of session `day`."""

    as_of: datetime
    day: date
    phase: Phase
    indicators: dict[str, Reading]
    regime: RegimeCall
    market: Market
    warnings: tuple[str, ...] = ()  # every loud problem at as_of (calendar, missing inputs), for logs and the CLI
    call: CallState | None = None  # the stable call's carried state; `regime` is the stable call, `call.rules_call` the rules' verdict

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings) for the journal and `--json` output."""
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
