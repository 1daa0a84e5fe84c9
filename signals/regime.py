"""The macro regime: deterministic rules over point-in-time readings and the cycle phase, fully explained.

Rules, in priority order (the first that fires wins; the next one that fires is the runner-up):
1. **crisis** - financial-system stress: the St. Louis stress index >= 2 (NFCI >= 0.5 if it is stale) AND markets
   confirm it (VIX >= 35 or high-yield OAS >= 8), or a panic on its own (VIX >= 45 with HY OAS >= 8).
2. **late_cuts** - the Fed is easing (cutting or paused) while >= 2 recession warnings are already on: it is cutting
   after the damage is done.
3. **tightening** - the phase is tightening (the last move was a hike, recently).
4. **recession_risk** - >= 2 of four warnings: labour (Sahm rule >= 0.5, unemployment not falling), claims (4-week average >= 15 % above its
   26-week low), credit (HY OAS up >= 1 pp in 3 months or 5-year z >= 1.5), curve (10y-3m positive again after an
   inversion within 18 months).
5. **soft_landing** - the Fed is easing or cuts are priced, core PCE <= 3 % or falling, jobs holding (unemployment
   < 0.75 pp above its 12-month low, claims not surging), credit calm (HY OAS < 5.5), and fewer than 2 recession warnings.
6. **neutral** - none of the above.

Hysteresis bands: `classify(..., held=...)` judges yesterday's call on its exit lines (the `*_exit` thresholds:
soft landing stays up to core PCE 3.2 %, unemployment +0.9 pp, HY OAS 6; crisis down to stress 1.5, VIX 30, HY OAS
7; recession warnings down to Sahm 0.4, claims +10 %, HY +0.75 pp or z 1.25) and every other regime on its entry
lines; a call that stands only thanks to its band says so first ("soft_landing held: core PCE 3.05 above the 3.0
entry line but below the 3.2 exit line"). signals/stability.py then turns the verdicts into the stable call.

Fallbacks (named in `RegimeCall.fallback`): real-time Sahm -> Sahm computed from UNRATE; STLFSI4 -> NFCI; HY OAS
(from 1997) -> Baa-10y spread with its own thresholds; VIX bars -> FRED's VIXCLS; core PCE -> core CPI. A stale
input's last known value stands in (noted). A rule whose inputs are all missing does not fire and says so; when
neither crisis nor recession rules can be evaluated the regime is **unknown** (unless the phase alone says
tightening), and the strategy's documented fallback applies: no new risk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from clock import NEW_YORK
from signals.params import RegimeParams
from signals.snapshot import REGIMES, Phase, Reading, RegimeCall, RegimeName, RuleResult

PRIORITY: tuple[RegimeName, ...] = ("crisis", "late_cuts", "tightening", "recession_risk", "soft_landing", "neutral")
EASING = ("cutting_early", "pause", "cutting_later")


@dataclass(slots=True)
class _Inputs:
    """Readings resolved through their fallbacks, with a record of what was missing and what stood in."""

    readings: Mapping[str, Reading]
    missing: list[str]
    fallbacks: list[str]
    as_of: datetime | None = None
    stand_in: timedelta = timedelta(days=90)

    def _fresh(self, name: str) -> float | None:
        r = self.readings.get(name)
        value = None if r is None else r.value
        if value is None and name not in self.missing:
            self.missing.append(name)
        return value

    def _stale(self, name: str) -> float | None:
        r = self.readings.get(name)
        if r is None or r.last_value is None:
            return None
        if self.as_of is not None and r.available_at is not None and self.as_of - r.available_at > self.stand_in:
            self.fallbacks.append(f"{name} stale since {r.available_at:%Y-%m-%d}, beyond the stand-in limit: unknown")
            return None
        self.fallbacks.append(f"{name} stale: last known value (period {r.period}) used")
        return r.last_value

    def get(self, name: str) -> float | None:
        """The fresh value, else the last known (stale) value with a note, else None."""
        value = self._fresh(name)
        return value if value is not None else self._stale(name)

    def first(self, primary: str, fallback: str, note: str) -> tuple[float | None, str]:
        """Primary fresh, else fallback fresh (noted), else primary stale, else fallback stale."""
        value = self._fresh(primary)
        if value is not None:
            return value, primary
        alt = self._fresh(fallback)
        if alt is not None:
            self.fallbacks.append(note)
            return alt, fallback
        value = self._stale(primary)
        if value is not None:
            return value, primary
        return self._stale(fallback), fallback


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _in_band(label: str, value: float | None, entry: float, exit_line: float, *, high_fires: bool) -> str | None:
    """Why a condition holds only thanks to its band (None when it holds on the entry line or not at all)."""
    if value is None:
        return None
    if high_fires and exit_line <= value < entry:
        return f"{label} {value:.2f} below the {_line(entry)} entry line but above the {_line(exit_line)} exit line"
    if not high_fires and entry < value <= exit_line:
        return f"{label} {value:.2f} above the {_line(entry)} entry line but below the {_line(exit_line)} exit line"
    return None


def _line(x: float) -> str:
    """A threshold as people write it: 3.0, 0.75, 35.0."""
    return f"{x:.1f}" if x == round(x, 1) else f"{x:g}"


def _crisis(x: _Inputs, p: RegimeParams, band: bool = False) -> tuple[RuleResult, list[str]]:
    """The crisis rule; with `band` (crisis is the held call) on the exit lines, plus what holds only thanks to them."""
    c = p.crisis
    stress, stress_src = x.first("stlfsi", "nfci", "STLFSI4 stale or missing: NFCI used for system stress")
    stress_entry = c.stlfsi_min if stress_src == "stlfsi" else c.nfci_min
    stress_min = (c.stlfsi_exit if stress_src == "stlfsi" else c.nfci_exit) if band else stress_entry
    vix_min, hy_min, baa_min = (c.vix_exit, c.hy_oas_exit, c.baa_exit) if band else (c.vix_min, c.hy_oas_min, c.baa_min)
    vix, _ = x.first("vix", "vix_fred", "VIX bars missing: FRED VIXCLS used")
    hy = x.get("hy_oas")
    baa = x.get("baa_spread") if hy is None else None
    spread_hot = (hy is not None and hy >= hy_min) or (baa is not None and baa >= baa_min)
    vix_hot = vix is not None and vix >= vix_min
    stressed = stress is not None and stress >= stress_min
    panic = vix is not None and vix >= c.panic_vix_min and spread_hot
    fired = (stressed and (vix_hot or spread_hot)) or panic
    score = 0.0
    if fired:
        parts = [vix / vix_min if vix else 0.0, (hy / hy_min) if hy else ((baa or 0.0) / baa_min)]
        if stress is not None:
            parts.append(stress / stress_min)
        score = round(max(parts), 6)
    if stress is None and vix is None:
        text = "not evaluated: no stress index and no VIX"
    else:
        text = (
            f"stress {stress_src} {_fmt(stress)} (>= {stress_min:g}: {stressed}); VIX {_fmt(vix)} (>= {vix_min:g}: {vix_hot}); "
            f"HY OAS {_fmt(hy)} / Baa {_fmt(baa)} (>= {hy_min:g} / {baa_min:g}: {spread_hot}); panic path {panic}"
        )
    notes = [n for n in (
        _in_band(f"stress {stress_src}", stress, stress_entry, stress_min, high_fires=True),
        _in_band("VIX", vix, c.vix_min, vix_min, high_fires=True),
        _in_band("HY OAS", hy, c.hy_oas_min, hy_min, high_fires=True),
        _in_band("Baa-10y", baa, c.baa_min, baa_min, high_fires=True),
    ) if n and band]
    return RuleResult(
        "crisis: system stress confirmed by markets", "crisis", fired, score, text,
        {"stress": stress, "vix": vix, "hy_oas": hy, "baa_spread": baa},
        {"stress_min": stress_min, "vix_min": vix_min, "hy_oas_min": hy_min, "baa_min": baa_min, "panic_vix_min": c.panic_vix_min},
    ), notes


def _warnings(x: _Inputs, p: RegimeParams, band: bool = False) -> tuple[list[str], list[str], dict[str, float | None], list[str]]:
    """(fired warnings, warnings that could not be evaluated, values, what warns only thanks to the band).

    With `band` (recession risk or late cuts is the held call) each warning is judged on its exit line.
    """
    r = p.recession
    sahm_min, claims_min = (r.sahm_exit, r.claims_rise_exit) if band else (r.sahm_min, r.claims_rise_min)
    hy_chg_min, hy_z_min = (r.hy_change_exit, r.hy_z_exit) if band else (r.hy_change_min, r.hy_z_min)
    baa_chg_min, baa_z_min = (r.baa_change_exit, r.baa_z_exit) if band else (r.baa_change_min, r.baa_z_min)
    sahm, _ = x.first("sahm_realtime", "sahm_computed", "SAHMREALTIME stale or missing: Sahm rule computed from UNRATE")
    claims = x.get("claims_rise")
    hy_chg, hy_z = x.get("hy_oas_3m_change"), x.get("hy_oas_z")
    notes: list[str | None] = []
    if hy_chg is None and hy_z is None:
        baa_chg, baa_z = x.get("baa_spread_3m_change"), x.get("baa_spread_z")
        if baa_chg is not None or baa_z is not None:
            x.fallbacks.append("HY OAS missing: credit warning from the Baa-10y spread")
        credit = None if baa_chg is None and baa_z is None else ((baa_chg or 0.0) >= baa_chg_min or (baa_z or 0.0) >= baa_z_min)
        notes += [_in_band("Baa-10y 3m change", baa_chg, r.baa_change_min, baa_chg_min, high_fires=True),
                  _in_band("Baa-10y z", baa_z, r.baa_z_min, baa_z_min, high_fires=True)]
    else:
        credit = (hy_chg or 0.0) >= hy_chg_min or (hy_z or 0.0) >= hy_z_min
        notes += [_in_band("HY OAS 3m change", hy_chg, r.hy_change_min, hy_chg_min, high_fires=True),
                  _in_band("HY OAS z", hy_z, r.hy_z_min, hy_z_min, high_fires=True)]
    curve = x.get("curve_uninverted")
    u3 = x.get("unemployment_3m_change")
    checks = {
        "labour": None if sahm is None else sahm >= sahm_min and (u3 is None or u3 >= 0),
        "claims": None if claims is None else claims >= claims_min,
        "credit": credit,
        "curve": None if curve is None else curve >= 0.5,
    }
    notes += [_in_band("Sahm", sahm, r.sahm_min, sahm_min, high_fires=True), _in_band("claims rise", claims, r.claims_rise_min, claims_min, high_fires=True)]
    fired = [name for name, ok in checks.items() if ok]
    unknown = [name for name, ok in checks.items() if ok is None]
    values = {"sahm": sahm, "unemployment_3m_change": u3, "claims_rise": claims, "hy_oas_3m_change": hy_chg, "hy_oas_z": hy_z, "curve_uninverted": curve}
    return fired, unknown, values, [n for n in notes if n and band]


def classify(
    readings: Mapping[str, Reading], phase: Phase, as_of: datetime, params: RegimeParams, held: RegimeName | None = None
) -> RegimeCall:
    """Evaluate every rule and pick the regime (see the module doc for the rules and fallbacks).

    `held` is yesterday's stable call (signals/stability.py): its own rule is judged on its exit lines (the hysteresis
    band), every other rule on its entry lines. A call that stands only thanks to the band says so in its first reason.
    """
    x = _Inputs(readings, [], [], as_of, timedelta(days=params.stand_in_days))
    rp = params.recession
    crisis, crisis_band = _crisis(x, params, band=held == "crisis")
    if not (crisis_band and crisis.fired and not _crisis(x, params)[0].fired):
        crisis_band = []
    warn, unknown, wvals, warn_band = _warnings(x, params, band=held in ("recession_risk", "late_cuts"))
    entry_warn = _warnings(x, params)[0] if warn_band else warn
    easing = phase.name in EASING
    warn_text = f"warnings on: {', '.join(warn) or 'none'}" + (f"; not evaluated: {', '.join(unknown)}" if unknown else "")
    if held in ("recession_risk", "late_cuts"):
        warn_text += f" (judged on the exit lines while {held} is the call)"
    recession = RuleResult(
        f"recession_risk: >= {rp.min_signals} of labour/claims/credit/curve warnings", "recession_risk",
        len(warn) >= rp.min_signals, float(len(warn)) if len(warn) >= rp.min_signals else 0.0,
        f"{warn_text} (Sahm >= {rp.sahm_min:g} with unemployment not falling, claims >= +{rp.claims_rise_min:.0%}, "
        f"HY 3m change >= {rp.hy_change_min:g} or z >= {rp.hy_z_min:g}, 10y-3m un-inverted)",
        {**wvals, "warnings": float(len(warn))},
        {"min_signals": float(rp.min_signals), "sahm_min": rp.sahm_min, "claims_rise_min": rp.claims_rise_min,
         "hy_change_min": rp.hy_change_min, "hy_z_min": rp.hy_z_min},
    )
    recent_move = phase.last_move is not None and phase.last_move >= as_of.astimezone(NEW_YORK).date() - timedelta(days=92)
    aggressive = bool(recent_move and phase.last_move_bp is not None and phase.last_move_bp < 0
                      and (phase.last_move_bp <= -params.aggressive_cut_bp or phase.last_move_intermeeting))
    late_fired = easing and len(warn) >= params.late_cuts_min_signals
    late = RuleResult(
        f"late_cuts: easing with >= {params.late_cuts_min_signals} recession warnings", "late_cuts", late_fired,
        float(len(warn)) + (0.5 if aggressive else 0.0) if late_fired else 0.0,
        f"phase {phase.name} (easing: {easing}); {warn_text}; recent aggressive or inter-meeting cut: {aggressive}",
        {"warnings": float(len(warn)), "last_move_bp": phase.last_move_bp},
        {"min_signals": float(params.late_cuts_min_signals), "aggressive_cut_bp": params.aggressive_cut_bp},
    )
    tight = RuleResult(
        "tightening: the Fed's last move was a recent hike", "tightening", phase.name == "tightening",
        1.0 if phase.name == "tightening" else 0.0, f"phase {phase.name}; last move {phase.last_move} ({_fmt(phase.last_move_bp)} bp)",
        {"last_move_bp": phase.last_move_bp}, {},
    )
    soft, soft_band = _soft_landing(x, params, phase, warn, easing, band=held == "soft_landing")
    if not (soft_band and soft.fired and not _soft_landing(x, params, phase, warn, easing)[0].fired):
        soft_band = []
    held_by_band: dict[RegimeName, list[str]] = {"crisis": crisis_band, "soft_landing": soft_band}
    if warn_band and len(entry_warn) < rp.min_signals <= len(warn):
        held_by_band["recession_risk"] = warn_band
    if warn_band and len(entry_warn) < params.late_cuts_min_signals <= len(warn):
        held_by_band["late_cuts"] = warn_band
    rules = (crisis, late, tight, recession, soft)
    fired = [r for r in rules if r.fired]
    by_priority = sorted(fired, key=lambda r: PRIORITY.index(r.regime))
    fallback = "; ".join(dict.fromkeys(x.fallbacks)) or None
    no_macro = crisis.explanation.startswith("not evaluated") and len(unknown) == 4
    if no_macro:
        fallback = "insufficient data: stress and recession inputs missing or stale, no macro call (the strategy adds no risk)"
        by_priority = [r for r in by_priority if r.regime == "tightening"]
    name: RegimeName = by_priority[0].regime if by_priority else ("unknown" if no_macro else "neutral")
    runner = _runner_up(name, by_priority, rules) if name != "unknown" else None
    if name == "unknown":
        reasons = [f"unknown: stress and recession inputs missing or stale ({', '.join(sorted(set(x.missing))) or 'none known'})"]
    else:
        reasons = [f"{r.regime}: {r.explanation}" for r in by_priority] or ["neutral: no rule fired"]
        if name == held and held_by_band.get(name):
            reasons.insert(0, f"{name} held: {'; '.join(held_by_band[name])}")
    reasons += [f"(not fired) {r.regime}: {r.explanation}" for r in rules if not r.fired]
    missing = tuple(sorted(set(x.missing)))
    return RegimeCall(name, runner, tuple(reasons), rules, missing, fallback)


def _soft_landing(x: _Inputs, params: RegimeParams, phase: Phase, warn: list[str], easing: bool, band: bool = False) -> tuple[RuleResult, list[str]]:
    """The soft-landing rule; with `band` (soft landing is the held call) on the exit lines, plus what holds only thanks to them."""
    s = params.soft_landing
    pce_max, rise_max = (s.core_pce_exit, s.unemployment_rise_exit) if band else (s.core_pce_max, s.unemployment_rise_max)
    hy_max, baa_max = (s.hy_oas_exit, s.baa_exit) if band else (s.hy_oas_max, s.baa_max)
    pce12, src = x.first("core_pce_12m", "core_cpi_12m", "core PCE missing: core CPI used for inflation")
    pce6 = x.get("core_pce_6m_ann" if src == "core_pce_12m" else "core_cpi_6m_ann")
    rise = x.get("unemployment_rise_12m")
    claims = x.get("claims_rise")
    hy = x.get("hy_oas")
    baa = x.get("baa_spread") if hy is None else None
    fed_ok = easing or bool(phase.cuts_expected)
    falling = pce6 is not None and pce12 is not None and pce6 < pce12
    inflation_ok = pce12 is not None and (pce12 <= pce_max or falling)
    jobs_ok = (rise is not None and rise < rise_max) and (claims is None or claims < params.recession.claims_rise_min)
    credit_ok = (hy is not None and hy < hy_max) or (hy is None and baa is not None and baa < baa_max)
    label = "core PCE" if src == "core_pce_12m" else "core CPI"
    notes = [n for n in (
        None if falling else _in_band(label, pce12, s.core_pce_max, pce_max, high_fires=False),
        _in_band("unemployment rise", rise, s.unemployment_rise_max, rise_max, high_fires=False),
        _in_band("HY OAS", hy, s.hy_oas_max, hy_max, high_fires=False),
        _in_band("Baa-10y", baa, s.baa_max, baa_max, high_fires=False),
    ) if n and band]
    calm = len(warn) < params.recession.min_signals
    conds = {"fed easing or cuts priced": fed_ok, "inflation cooling": inflation_ok, "jobs holding": jobs_ok,
             "credit calm": credit_ok, "few recession warnings": calm}
    fired = all(conds.values())
    met = sum(conds.values())
    return RuleResult(
        "soft_landing: inflation cooling, jobs holding, credit calm, Fed easing", "soft_landing", fired,
        float(met) if fired else 0.0,
        "; ".join(f"{k}: {v}" for k, v in conds.items())
        + f" ({src} 12m {_fmt(pce12)}, 6m ann {_fmt(pce6)}; unemployment up {_fmt(rise)} pp on its 12m low, "
        f"claims rise {_fmt(claims)}; HY {_fmt(hy)} / Baa {_fmt(baa)})",
        {"core_inflation_12m": pce12, "core_inflation_6m_ann": pce6, "unemployment_rise_12m": rise, "claims_rise": claims, "hy_oas": hy,
         "baa_spread": baa, "conditions_met": float(met)},
        {"core_pce_max": pce_max, "unemployment_rise_max": rise_max, "hy_oas_max": hy_max, "baa_max": baa_max},
    ), notes


def _runner_up(name: RegimeName, fired: list[RuleResult], rules: tuple[RuleResult, ...]) -> RegimeName | None:
    """The next fired regime; else, if a rule won, neutral; else the unfired rule closest to firing."""
    others = [r.regime for r in fired if r.regime != name]
    if others:
        return others[0]
    if name != "neutral":
        return "neutral"
    closest = max(rules, key=lambda r: (r.values.get("conditions_met") or 0.0) / 5.0 if r.regime == "soft_landing" else _closeness(r))
    return closest.regime if closest.regime in REGIMES else None


def _closeness(rule: RuleResult) -> float:
    """How near an unfired rule came (0..1): the share of its recession warnings, or of the crisis thresholds."""
    if rule.regime in ("recession_risk", "late_cuts"):
        return (rule.values.get("warnings") or rule.score or 0.0) / 4.0
    if rule.regime == "crisis":
        vix = rule.values.get("vix") or 0.0
        return min(vix / (rule.thresholds.get("vix_min") or 1.0), 1.0) * 0.5
    return 0.0
