"""What `main.py signals` and `main.py events` print or draw. Each function returns text or writes one file.

No argument parsing here: `main.py` loads the config and the store, then calls these.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from review.tables import fit_width, text_table
from signals.events import HORIZONS, Window, add_months
from signals.indicators import describe
from signals.scorecard import BLIP_SESSIONS, FOLLOW_MONTHS, LOOKBACK_MONTHS, WARNING_CALLS, Scorecard
from signals.snapshot import REGIMES, Snapshot
from signals.study import CycleStudy, study_json, thesis_claims


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def _day(value: date | None, missing: str = "none yet") -> str:
    return missing if value is None else value.isoformat()


def snapshot_table(snap: Snapshot, *, last_session: date | None = None) -> str:
    """A readable table: phase, market, indicators (value, period, stale), the regime and every rule's reason.
    `last_session` set: the as-of day is not a trading session, this is the last one before it."""
    p, m, r = snap.phase, snap.market, snap.regime
    when = f"session {snap.day}" if last_session is None else f"{snap.day} is not a trading session; the last session was {last_session}"
    lines = [f"cutcycle signals as of {snap.as_of.isoformat()} ({when})", ""]
    lines += [
        "PHASE",
        f"  phase                 {p.name}",
        f"  target (upper)        {_num(p.target_upper)}%   last decision {_day(p.last_decision)} ({_num(p.last_decision_bp, '{:+.0f}')} bp)",
        f"  last move             {_day(p.last_move)} ({_num(p.last_move_bp, '{:+.0f}')} bp{', inter-meeting' if p.last_move_intermeeting else ''})",
        "  cycle                 " + (f"first cut {p.cycle_first_cut}, later phase {_day(p.later_phase_start, 'not yet')}, {p.cuts_in_cycle} cuts, "
                                      f"{p.cumulative_bp:+.0f} bp, {p.meetings_since_last_cut} meetings since the last cut"
                                      if p.cycle_first_cut else "no easing cycle under way"),
        "  next meeting          " + (f"{p.next_meeting} (in {p.days_to_next_meeting} days){'  BLACKOUT' if p.in_blackout else ''}"
                                      if p.next_meeting else "none on the published schedule (update config/fomc_schedule.toml)"),
        f"  market pricing        2y-EFFR {_num(p.cuts_priced_bp, '{:+.0f}')} bp, 3m bill-EFFR {_num(p.bill_minus_effr_bp, '{:+.0f}')} bp"
        f" -> cuts expected: {p.cuts_expected}",
        "",
        "MARKET",
        f"  IWM {_num(m.iwm_close)} (drawdown {_num(m.iwm_drawdown, '{:+.1%}')} from {_num(m.iwm_trailing_high)}), SPY {_num(m.spy_close)}",
        f"  VIX {_num(m.vix)} (peak {_num(m.vix_peak)}, {_num(m.vix_off_peak, '{:+.0%}')} off it), bill {_num(m.bill_rate)}% ({m.bill_rate_source})",
        "",
        "INDICATORS",
    ]
    for name, reading in snap.indicators.items():
        flag = " STALE" if reading.stale and reading.period is not None else (" MISSING" if reading.period is None else "")
        shown = reading.value if reading.value is not None else reading.last_value
        lines.append(f"  {name:<24}{_num(shown, '{:>12.3f}'):>12}  {_day(reading.period, ''):<10}{flag}  {describe(name)}")
    lines += ["", f"REGIME  {r.name}   (runner-up: {r.runner_up})"]
    if snap.call is not None and snap.call.rules_call != r.name:
        lines.append(f"  the rules call {snap.call.rules_call} today; the call is held (signals/stability.py)")
    lines += [f"  - {reason}" for reason in r.reasons]
    if r.missing_inputs:
        lines.append(f"  missing or stale inputs: {', '.join(r.missing_inputs)}")
    if r.fallback:
        lines.append(f"  fallback: {r.fallback}")
    for warning in snap.warnings:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines) + "\n"


def snapshot_json(snap: Snapshot) -> str:
    """The snapshot for machines: as_of, phase, indicators, regime {name, reasons, runner_up, rules...}, market."""
    return json.dumps(snap.to_json(), indent=2, sort_keys=False)


def history_rows(snaps: Sequence[Snapshot]) -> list[dict[str, Any]]:
    """One flat row per day: phase, regime, runner-up, pricing, market and every indicator value."""
    rows = []
    for s in snaps:
        row: dict[str, Any] = {
            "day": s.day.isoformat(),
            "as_of": s.as_of.isoformat(),
            "phase": s.phase.name,
            "regime": s.regime.name,
            "runner_up": s.regime.runner_up,
            "next_meeting": s.phase.next_meeting.isoformat() if s.phase.next_meeting else None,
            "days_to_next_meeting": s.phase.days_to_next_meeting,
            "in_blackout": s.phase.in_blackout,
            "cuts_in_cycle": s.phase.cuts_in_cycle,
            "cumulative_bp": s.phase.cumulative_bp,
            "cuts_priced_bp": s.phase.cuts_priced_bp,
            "cuts_expected": s.phase.cuts_expected,
            "iwm_drawdown": s.market.iwm_drawdown,
            "vix_off_peak": s.market.vix_off_peak,
            "bill_rate": s.market.bill_rate,
            "fallback": s.regime.fallback,
            "rules_call": s.call.rules_call if s.call is not None else s.regime.name,
            "held": s.call.held if s.call is not None else None,
        }
        row.update({name: reading.value for name, reading in s.indicators.items()})
        rows.append(row)
    return rows


def history_csv(snaps: Sequence[Snapshot]) -> str:
    rows = history_rows(snaps)
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def history_json(snaps: Sequence[Snapshot]) -> str:
    return json.dumps(history_rows(snaps), indent=1)


def _x(day: date) -> float:
    """A date as a matplotlib x coordinate (days since its epoch)."""
    # matplotlib's default date epoch is 1970-01-01: one unit per day
    return float((pd.Timestamp(day) - pd.Timestamp("1970-01-01")).days)


def regime_chart(
    snaps: Sequence[Snapshot], iwm_close: pd.Series, cuts: Sequence[date], path: Path, recessions: Sequence[tuple[date, date]] = ()
) -> Path:
    """The regime timeline (coloured bands) over the IWM close, FOMC cuts as vertical lines, NBER recessions hatched; writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from review.palette import regime_color  # one palette for every chart

    fig, ax = plt.subplots(figsize=(14, 6))
    if snaps:
        start, end = pd.Timestamp(snaps[0].day), pd.Timestamp(snaps[-1].day)
        band_start, current = snaps[0].day, snaps[0].regime.name
        for prev, snap in zip(snaps, [*snaps[1:], None], strict=True):
            if snap is None or snap.regime.name != current:
                ax.axvspan(_x(band_start), _x(prev.day), color=regime_color(current), lw=0, zorder=0)
                if snap is not None:
                    band_start, current = snap.day, snap.regime.name
        prices = iwm_close.loc[start:end]
        ax.plot(prices.index, prices.to_numpy(), color="black", lw=1.0, label="IWM close (dividend-adjusted)")
        for cut in cuts:
            if start <= pd.Timestamp(cut) <= end:
                ax.axvline(_x(cut), color="#d32f2f", lw=0.8, ls="--")
        for first, last in recessions:
            if pd.Timestamp(first) <= end and pd.Timestamp(last) >= start:
                ax.axvspan(_x(first), _x(add_months(last, 1)), facecolor="none", edgecolor="black", hatch="//", lw=0)
    handles = [Patch(color=regime_color(r), label=r) for r in REGIMES]
    if cuts:
        handles.append(Patch(color="#d32f2f", label="FOMC cut (dashed)"))
    if recessions:
        handles.append(Patch(facecolor="none", edgecolor="black", hatch="//", label="NBER recession"))
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    marked = " and ".join(w for w, on in (("FOMC cuts", bool(cuts)), ("NBER recessions", bool(recessions))) if on)
    ax.set_title("cutcycle regime calls over IWM" + (f", {marked} marked" if marked else ""))
    ax.set_ylabel("IWM")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cell(w: Window | None) -> str:
    if w is None or w.small is None or w.large is None:
        return "-"
    tag = "" if w.complete else "*"
    src = "" if w.source == "index" else "e"
    return f"{w.small:+.1%}/{w.large:+.1%}{src}{tag}"


def events_table(studies: Sequence[CycleStudy]) -> str:
    """Every cycle, its returns from the first cut and from the later phase (small/large, in two tables that fit a
    120-column terminal), then the thesis claims and whether they hold."""
    cycles = [
        [
            str(s.first_cut),
            f"{s.first_cut_bp:+.0f}{' inter-meeting' if s.first_cut_intermeeting else ''}",
            s.regime_at_first_cut or "-",
            {True: "yes", False: "no", None: "?"}[s.recession_followed],
            str(s.pause_start or "-"),
            str(s.later_phase_start or "-"),
            s.regime_at_later_phase or "-" if s.later_phase_start else "-",
        ]
        for s in studies
    ]
    returns: list[list[str]] = []
    for s in studies:
        drawdown = f"{_num(s.max_drawdown_12m[0], '{:+.1%}')}/{_num(s.max_drawdown_12m[1], '{:+.1%}')}"
        returns.append([str(s.first_cut), "first cut", *[_cell(s.after_first_cut.get(m)) for m in HORIZONS], drawdown])
        if s.after_later_phase:
            returns.append([str(s.later_phase_start), "later phase", *[_cell(s.after_later_phase.get(m)) for m in HORIZONS], ""])
    lines = [
        text_table(["first cut", "bp", "regime", "recession", "pause", "later phase", "regime then"], cycles),
        "",
        "returns after each start, small/large caps:",
        text_table(["from", "start", *[f"{m}m" for m in HORIZONS], "12m drawdown"], returns),
        "",
        "small = ^RUT, large = ^GSPC (price returns); 'e' = IWM/SPY (dividend-adjusted); '*' = incomplete window",
        "",
    ]
    for c in thesis_claims(studies):
        lines.append(f"{c.claim}: {c.verdict.upper()} - {c.evidence}")
    return fit_width("\n".join(lines) + "\n")


def events_json(studies: Sequence[CycleStudy]) -> str:
    return json.dumps(study_json(studies), indent=2)


def events_chart(studies: Sequence[CycleStudy], path: Path) -> Path:
    """Small-minus-large after each first cut and later-phase start, by horizon (hatched = incomplete)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels: list[str] = []
    series: list[dict[int, Window]] = []
    for s in studies:
        labels.append(f"{s.first_cut} first cut")
        series.append(s.after_first_cut)
        if s.after_later_phase:
            labels.append(f"{s.later_phase_start} later phase")
            series.append(s.after_later_phase)
    fig, ax = plt.subplots(figsize=(14, 6))
    width = 0.8 / len(HORIZONS)
    for k, m in enumerate(HORIZONS):
        for i, windows in enumerate(series):
            w = windows.get(m)
            value = w.small_minus_large if w else None
            if value is None or w is None:
                continue
            ax.bar(i + k * width, value * 100, width, color=f"C{k}", hatch="" if w.complete else "//",
                   label=f"{m}m" if i == 0 else None)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("small minus large, percentage points")
    ax.set_title("Russell 2000 minus S&P 500 after each easing event (hatched = incomplete window)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def scorecard_text(card: Scorecard) -> str:
    """The scorecard as text: call statistics and what followed entries per regime, recessions, unfollowed alarms."""
    lines = [f"regime calls {card.start} .. {card.end}: {card.sessions} sessions, {card.changes} changes ({card.flips_per_year:.1f} a year), "
             f"{card.blips} blips (spells under {BLIP_SESSIONS} sessions that flip back)", ""]
    stats = [[r.regime, f"{r.share:.1%}", r.spells, f"{r.median_sessions:g}", r.blips] for r in card.regimes]
    lines += [text_table(["regime", "share of sessions", "spells", "median spell (sessions)", "blips"], stats), ""]
    forward = [[r.regime, *[f"{_pct(f[0])}/{_pct(f[1])}/{_pct(f[2])} ({f[3]})" if f[3] else "- (0)" for f in (r.forward[m] for m in HORIZONS)]]
               for r in card.regimes]
    lines += ["what followed each entry: IWM/SPY/small minus large (entries):",
              text_table(["regime", *[f"{m}m" for m in HORIZONS]], forward), "",
              "Returns from the close of each entry session (IWM and SPY, dividend-adjusted), averaged over complete windows.", ""]
    if card.recessions:
        head = ["NBER recession", *[f"first {c} (lead)" for c in WARNING_CALLS]]
        rows = []
        for rec in card.recessions:
            cells = [f"{rec.first_call[c]} ({rec.lead_days[c]:+d} d)" if rec.first_call[c] and rec.lead_days[c] is not None else "none"
                     for c in WARNING_CALLS]
            rows.append([f"{rec.start:%Y-%m} .. {rec.end:%Y-%m}", *cells])
        lines += [text_table(head, rows),
                  f"First call in the {LOOKBACK_MONTHS} months before the first recession month or during it; lead = days before that month "
                  "(negative: after). NBER dates are labels, never inputs.", ""]
    unfollowed = [a for a in card.alarms if a.followed is False]
    pending = [a for a in card.alarms if a.followed is None]
    lines.append(f"{len(unfollowed)} of {len(card.alarms)} cautious calls ({', '.join(WARNING_CALLS)}) had no recession within {FOLLOW_MONTHS} months:")
    lines += [f"  {a.start}  {a.regime} ({a.sessions} sessions)" for a in unfollowed]
    if pending:
        lines.append(f"  not yet known (labels end too early): {', '.join(f'{a.start} {a.regime}' for a in pending)}")
    return fit_width("\n".join(lines) + "\n")
