"""The snapshot: everything the decision core may know at one instant, and why the regime is what it is.

Built by the signal layer from point-in-time data only; read by `strategies.decide`. Plain frozen dataclasses so
the same object comes out of a backtest and a paper session, and serialises to the journal unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

RegimeName = Literal["soft_landing", "recession_risk", "crisis", "late_cuts", "tightening", "neutral"]
REGIMES: tuple[RegimeName, ...] = ("soft_landing", "recession_risk", "crisis", "late_cuts", "tightening", "neutral")

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
    cuts_priced_bp: float | None  # market pricing: (2y or 3m bill) minus effective fed funds, in bp; negative = cuts priced
    cuts_expected: bool | None  # pricing clearly below EFFR
    target_upper: float | None


@dataclass(frozen=True, slots=True)
class Reading:
    """One indicator value with its provenance."""

    value: float | None  # None when missing or stale
    period: date | None  # the period of the newest observation used
    available_at: datetime | None  # when that observation became known
    stale: bool


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
class Market:
    """Price-derived state the playbook needs (capitulation signal, hedging inputs)."""

    iwm_close: float | None
    spy_close: float | None
    vix: float | None
    iwm_drawdown: float | None  # close / trailing high - 1 (<= 0)
    vix_peak: float | None  # highest VIX over the recent window
    vix_off_peak: float | None  # vix / vix_peak - 1 (<= 0): a fading spike is clearly below its peak
    bill_rate: float | None  # 3-month T-bill, percent, for cash interest


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What was known at `as_of`, after the close of session `day`."""

    as_of: datetime
    day: date
    phase: Phase
    indicators: dict[str, Reading]
    regime: RegimeCall
    market: Market

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings) for the journal and `--json` output."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value
