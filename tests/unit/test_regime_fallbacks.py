"""The regime's fallbacks for stale and missing inputs (R30): stand-ins are bounded, and no inputs means unknown."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from signals.params import RegimeParams
from signals.regime import classify
from signals.snapshot import Phase, Reading

AS_OF = datetime(2024, 7, 9, 21, 0, tzinfo=UTC)
NEUTRAL_PHASE = Phase("on_hold", None, None, False, None, None, 0, 0.0, None, None, 0, None, None, 5.5)


def fresh(value: float) -> Reading:
    return Reading(value, date(2024, 6, 1), AS_OF - timedelta(days=3), False, value)


def stale(value: float, released_days_ago: int) -> Reading:
    return Reading(None, date(2024, 1, 1), AS_OF - timedelta(days=released_days_ago), True, value)


CALM = {"stlfsi": fresh(-0.5), "vix": fresh(13.0), "hy_oas": fresh(3.1), "sahm_realtime": fresh(0.2), "claims_rise": fresh(0.03),
        "hy_oas_3m_change": fresh(0.1), "hy_oas_z": fresh(-0.5), "curve_uninverted": fresh(0.0), "unemployment_3m_change": fresh(0.1)}


def test_calm_fresh_inputs_give_a_macro_call() -> None:
    call = classify(CALM, NEUTRAL_PHASE, AS_OF, RegimeParams())
    assert call.name == "neutral" and call.fallback is None


def test_a_recently_stale_input_stands_in_and_is_named() -> None:
    readings = {**CALM, "stlfsi": stale(-0.5, 30)}
    call = classify(readings, NEUTRAL_PHASE, AS_OF, RegimeParams())
    assert call.name == "neutral"
    assert call.fallback is not None and "stlfsi stale: last known value" in call.fallback
    assert "stlfsi" in call.missing_inputs


def test_a_long_stale_input_is_unknown_not_a_silent_default() -> None:
    readings = {**CALM, "stlfsi": stale(-0.5, 200)}
    call = classify(readings, NEUTRAL_PHASE, AS_OF, RegimeParams(stand_in_days=90))
    assert call.fallback is not None and "stlfsi stale since" in call.fallback and "unknown" in call.fallback
    crisis = next(r for r in call.rules if r.regime == "crisis")
    assert crisis.values["stress"] is None  # no stand-in beyond the limit, and no NFCI to fall back on


def test_every_macro_input_stale_beyond_the_limit_makes_the_regime_unknown() -> None:
    readings = {name: stale(r.last_value or 0.0, 200) for name, r in CALM.items()}
    call = classify(readings, NEUTRAL_PHASE, AS_OF, RegimeParams())
    assert call.name == "unknown" and call.runner_up is None
    assert call.reasons[0].startswith("unknown: stress and recession inputs missing or stale")
    assert call.fallback is not None and "no macro call" in call.fallback
    # the same readings within the stand-in limit still make a call
    recent = {name: stale(r.last_value or 0.0, 20) for name, r in CALM.items()}
    assert classify(recent, NEUTRAL_PHASE, AS_OF, RegimeParams()).name == "neutral"
