"""Stable calls: the rules' verdict of each session becomes the call a trader would stand behind.

A pure, sequential stage after the rules (signals/regime.py), with its state carried from one session to the next
in the snapshot (`Snapshot.call`). Three devices, each configurable (`[signals.stability]`, and the exit lines of
`[signals.regime.*]`):

- **Hysteresis bands.** Yesterday's call is judged on its exit lines, every other regime on its entry lines (done by
  `classify(..., held=...)`): soft landing stays while core PCE is below 3.2 % (entered at 3.0 %), crisis while the
  stress index is above 1.5 (entered at 2), each recession warning down to its exit line. A value hovering at a line
  therefore cannot flip the call back and forth.
- **Caution at once, risk confirmed.** Regimes are ranked by how much risk the playbook takes in them (`CAUTION`). A
  call for more caution is taken the same session: a crisis or a recession call is never delayed by this stage. A
  call for less caution (or a sideways move between equally cautious regimes) is taken only after the rules have
  called for less caution `confirm.<regime>` sessions in a row; the new call is the most cautious of those sessions'
  calls, so the step back toward risk is never larger than the evidence.
- **Dwell.** A call reached by such a confirmed step stands `dwell_sessions` sessions before a caution call other
  than crisis replaces it, so a step back toward risk cannot be undone the next day (no blip shorter than the
  confirmation, except where crisis enters).

`unknown` (no macro inputs) is a data state, not a view: it is taken and left at once. The carried state starts
`warmup_sessions` before the first session asked for (signals/build.py), so a backtest cut at T replays the same
calls, and runs starting on different days agree once both are warm (the state is small and re-synchronises at the
first shared caution call or confirmed step).
"""

from __future__ import annotations

from signals.params import StabilityParams
from signals.snapshot import CallState, RegimeCall, RegimeName

# How much caution each regime means in the playbook: crisis holds no IWM, late cuts none until a capitulation,
# recession risk at most 30 % with puts, tightening and neutral the base weight, soft landing builds to full weight.
CAUTION: dict[RegimeName, int] = {"soft_landing": 0, "neutral": 1, "tightening": 2, "recession_risk": 3, "late_cuts": 4, "crisis": 5}


def _confirm(regime: RegimeName, params: StabilityParams) -> int:
    return int(getattr(params.confirm, regime, 1))


def _most_cautious(calls: tuple[RegimeName, ...]) -> RegimeName:
    """The most cautious call; between equally cautious calls, the latest."""
    best = calls[0]
    for c in calls[1:]:
        if CAUTION.get(c, 0) >= CAUTION.get(best, 0):
            best = c
    return best


def _holding(call: RegimeName, rules: RegimeCall, why: str) -> RegimeCall:
    return RegimeCall(call, rules.name, (f"{call} held: {why}", *rules.reasons), rules.rules, rules.missing_inputs, rules.fallback)


def step(previous: RegimeName | None, state: CallState | None, rules: RegimeCall, params: StabilityParams) -> tuple[RegimeCall, CallState]:
    """Today's stable call and the state carried to tomorrow, from yesterday's call and state and today's rules.

    `previous` is yesterday's stable call (None on the first session: the rules' call is taken as it is).
    """
    now = rules.name
    if previous is None or state is None or previous == "unknown" or now in ("unknown", previous):
        return rules, CallState(now, (), max(state.dwell_left - 1, 0) if state is not None and now == previous else 0)
    if CAUTION[now] > CAUTION[previous]:
        if now == "crisis" or state.dwell_left <= 0:
            return rules, CallState(now)
        left = state.dwell_left - 1
        why = (f"the rules call {now}, but {previous} was reached by a confirmed step toward risk and stands "
               f"{state.dwell_left} more session(s) before a caution call other than crisis replaces it")
        return _holding(previous, rules, why), CallState(now, (), left, why)
    pending = (*state.pending, now)
    needed = _confirm(previous, params)
    if len(pending) >= needed:
        call = _most_cautious(pending[-needed:])
        if call == now:
            return rules, CallState(now, (), params.dwell_sessions)
        why = f"stepping back toward risk only as far as the last {needed} sessions' most cautious call"
        return _holding(call, rules, why), CallState(now, (), params.dwell_sessions, why)
    why = f"the rules call {now}; {len(pending)} of {needed} sessions in a row needed to step back toward risk"
    return _holding(previous, rules, why), CallState(now, pending, max(state.dwell_left - 1, 0), why)
