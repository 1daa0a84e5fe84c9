"""Stable calls on constructed indicator paths: hysteresis bands, caution at once, risk confirmed, the dwell.

Each path runs through the same two public steps the history builder chains (signals/build.py): the rules judged
with yesterday's call (`classify(..., held=...)`), then `stability.step`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from signals.params import SignalParams, StabilityParams
from signals.regime import classify
from signals.snapshot import CallState, Phase, Reading, RegimeCall, RegimeName
from signals.stability import CAUTION, step

START = datetime(2024, 7, 1, 21, 0, tzinfo=UTC)
PAUSE = Phase("pause", None, None, False, date(2024, 1, 31), None, 1, -25.0, None, None, 1, -60.0, True, 5.25)
ON_HOLD = Phase("on_hold", None, None, False, None, None, 0, 0.0, None, None, 0, -60.0, True, 5.5)  # cuts priced, none made
P = SignalParams()
N = P.stability.confirm.neutral  # sessions to leave neutral for soft landing (10)


def fresh(value: float) -> Reading:
    return Reading(value, date(2024, 6, 1), START - timedelta(days=3), False, value)


def soft(**over: float) -> dict[str, Reading]:
    """A soft landing on every count (Fed pausing in a cycle, core PCE 2.5 % and not falling, jobs and credit calm)."""
    values = {"stlfsi": -0.5, "vix": 14.0, "hy_oas": 3.2, "sahm_realtime": 0.1, "claims_rise": 0.03, "hy_oas_3m_change": 0.1,
              "hy_oas_z": -0.4, "curve_uninverted": 0.0, "unemployment_3m_change": 0.0, "core_pce_12m": 2.5, "core_pce_6m_ann": 2.6,
              "unemployment_rise_12m": 0.2}
    values.update(over)
    return {k: fresh(v) for k, v in values.items()}


def run(path: Sequence[Mapping[str, Reading]], params: SignalParams = P, phase: Phase = PAUSE) -> list[RegimeCall]:
    held: RegimeName | None = None
    state: CallState | None = None
    out = []
    for i, readings in enumerate(path):
        rules = classify(readings, phase, START + timedelta(days=i), params.regime, held)
        call, state = step(held, state, rules, params.stability)
        held = call.name
        out.append(call)
    return out


def test_core_pce_oscillating_around_the_entry_line_gives_one_call() -> None:
    wobble = [2.95, 3.05, 2.98, 3.12, 2.99, 3.15, 3.01, 2.97, 3.19, 3.04] * 3
    calls = run([soft(core_pce_12m=v, core_pce_6m_ann=v + 0.1) for v in wobble])
    assert {c.name for c in calls} == {"soft_landing"}
    held = calls[1]  # 3.05: above the 3.0 entry line, below the 3.2 exit line
    assert held.reasons[0] == "soft_landing held: core PCE 3.05 above the 3.0 entry line but below the 3.2 exit line"
    assert not calls[0].reasons[0].startswith("soft_landing held")  # 2.95 fires on the entry line


def test_without_a_band_the_same_wobble_steps_out_at_once_and_back_only_after_confirmation() -> None:
    no_band = SignalParams.model_validate({"regime": {"soft_landing": {"core_pce_exit": 3.0}}})
    calls = run([soft(core_pce_12m=v, core_pce_6m_ann=v + 0.1) for v in [2.9, 3.1, 2.9, 2.9]], no_band)
    assert [c.name for c in calls] == ["soft_landing", "neutral", "neutral", "neutral"]
    assert calls[2].reasons[0] == f"neutral held: the rules call soft_landing; 1 of {N} sessions in a row needed to step back toward risk"
    assert calls[2].runner_up == "soft_landing"


def test_a_real_move_changes_the_call_on_the_documented_days() -> None:
    # day 5: core PCE jumps to 3.6 (past the exit line): neutral the same session (caution at once);
    # day 20: it is back at 2.5: soft landing again on the Nth session in a row that the rules call it (day 20 + N - 1).
    path = [soft()] * 5 + [soft(core_pce_12m=3.6, core_pce_6m_ann=3.8)] * 15 + [soft()] * 20
    names = [c.name for c in run(path)]
    assert names[:5] == ["soft_landing"] * 5
    assert names[5:20 + N - 1] == ["neutral"] * (15 + N - 1)
    assert names[20 + N - 1:] == ["soft_landing"] * (20 - N + 1)


def test_a_crisis_is_called_the_same_session_and_left_only_when_stress_is_below_its_exit_line_for_n_sessions() -> None:
    panic = soft(stlfsi=2.6, vix=48.0, hy_oas=8.5)
    fading = soft(stlfsi=1.8, vix=32.0, hy_oas=7.2)  # below every entry line, above every exit line
    calm = soft(stlfsi=0.5, vix=20.0, hy_oas=5.0)
    calls = run([soft()] * 3 + [panic] + [fading] * 12 + [calm] * 15)
    names = [c.name for c in calls]
    assert names[3] == "crisis"  # not delayed
    assert names[4:16] == ["crisis"] * 12 and calls[4].reasons[0].startswith("crisis held: stress stlfsi 1.80 below the 2.0 entry line")
    leave = 16 + P.stability.confirm.crisis - 1
    assert names[16:leave] == ["crisis"] * (leave - 16) and names[leave] != "crisis"


def test_the_dwell_holds_a_step_back_toward_risk_against_a_recession_call_but_not_against_a_crisis() -> None:
    warning = soft(sahm_realtime=0.6, unemployment_3m_change=0.2, claims_rise=0.2)  # labour + claims: recession risk
    dwell = P.stability.dwell_sessions
    calls = run([warning] * 3 + [soft(unemployment_rise_12m=0.8)] * 10 + [warning] * 15, phase=ON_HOLD)
    names = [c.name for c in calls]
    stepped = names.index("neutral")
    assert names[:3] == ["recession_risk"] * 3 and stepped == 3 + P.stability.confirm.recession_risk - 1
    assert names[13:stepped + dwell + 1] == ["neutral"] * (stepped + dwell + 1 - 13)
    assert calls[13].reasons[0].startswith("neutral held: the rules call recession_risk")
    assert names[stepped + dwell + 1] == "recession_risk"
    crash = run([warning] * 3 + [soft(unemployment_rise_12m=0.8)] * 10 + [soft(stlfsi=2.6, vix=48.0, hy_oas=8.5)], phase=ON_HOLD)
    assert crash[-1].name == "crisis"


CALLS: tuple[RegimeName, ...] = ("soft_landing", "neutral", "tightening", "recession_risk", "late_cuts", "crisis")


def _rules(name: RegimeName) -> RegimeCall:
    return RegimeCall(name, None, (f"{name}: constructed",), ())


def _stable(raw: Sequence[RegimeName], params: StabilityParams) -> list[RegimeName]:
    held: RegimeName | None = None
    state: CallState | None = None
    out: list[RegimeName] = []
    for name in raw:
        call, state = step(held, state, _rules(name), params)
        held = call.name
        out.append(held)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CALLS), min_size=1, max_size=150), st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=12))
def test_no_blip_shorter_than_the_confirmation_outside_crisis_entries(raw: list[RegimeName], confirm: int, dwell: int) -> None:
    params = StabilityParams.model_validate({"confirm": dict.fromkeys(("crisis", "late_cuts", "recession_risk", "tightening", "neutral"), confirm),
                                             "dwell_sessions": max(dwell, confirm)})
    calls = _stable(raw, params)
    runs: list[list[object]] = []
    for name in calls:
        if runs and runs[-1][0] == name:
            runs[-1][1] = int(str(runs[-1][1])) + 1
        else:
            runs.append([name, 1])
    for before, spell, after in zip(runs, runs[1:], runs[2:], strict=False):
        if before[0] == after[0] and int(str(spell[1])) < confirm:
            assert after[0] == "crisis", (before, spell, after)
    for i, (name, was) in enumerate(zip(raw, [None, *calls[:-1]], strict=True)):
        if name == "crisis":
            assert calls[i] == "crisis"  # a crisis is never delayed
        elif was is not None and CAUTION[name] > CAUTION[was] and calls[i] != name:
            assert CAUTION[calls[i]] < CAUTION[name]  # only the dwell holds a caution call back, and it holds the step, not more
