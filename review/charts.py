"""Charts as PNG bytes (matplotlib's Agg canvas; no pyplot, so no global figure state).

Each function takes plain series and marks and returns a PNG: the HTML report embeds them as data URIs and
also writes them as files. Output is deterministic for the same input (no timestamp in the PNG metadata).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from PIL import Image

from review.palette import BENCHMARK_COLORS, STRATEGY_COLOR, regime_color

FIGSIZE = (12.0, 5.0)


@dataclass(frozen=True, slots=True)
class RegimeSpan:
    """A stretch of days under one regime, [start, end]."""

    start: date
    end: date
    regime: str


@dataclass(frozen=True, slots=True)
class FomcMark:
    """An FOMC decision: its day and move in basis points (0 = hold)."""

    day: date
    bp: float


@dataclass(frozen=True, slots=True)
class TradeMark:
    """A fill to mark on the equity curve."""

    day: date
    symbol: str
    side: str
    option: bool


def _x(day: date) -> float:
    """A day as matplotlib's date number (the same axis units the plotted DatetimeIndex gets)."""
    convert = cast(Callable[[date], float], date2num)  # matplotlib ships this function without annotations
    return float(convert(day))


def _png(fig: Figure) -> bytes:
    """The figure as a palette PNG: charts hold few colours, so 256 of them keep it exact to the eye at a third of
    the size (the report embeds every chart)."""
    FigureCanvasAgg(fig)
    raw = io.BytesIO()
    with warnings.catch_warnings():  # a run label in a script the font lacks (CJK, emoji) draws as boxes, not a warning on the terminal
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        fig.savefig(raw, format="png", dpi=100, metadata={"Software": None})
    raw.seek(0)
    with Image.open(raw) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _shade_regimes(ax: Axes, spans: Sequence[RegimeSpan]) -> list[Patch]:
    seen: dict[str, Patch] = {}
    names = [s.regime for s in spans]
    for span in spans:
        color = regime_color(span.regime, names)
        ax.axvspan(_x(span.start), _x(span.end) + 1.0, color=color, lw=0, zorder=0)
        seen.setdefault(span.regime, Patch(color=color, label=span.regime.replace("_", " ")))
    return list(seen.values())


def equity_chart(
    equity: pd.Series,
    benchmarks: Mapping[str, pd.Series],
    regimes: Sequence[RegimeSpan] = (),
    fomc: Sequence[FomcMark] = (),
    trades: Sequence[TradeMark] = (),
    title: str = "Equity",
    log_scale: bool = True,
) -> bytes:
    """The strategy's equity against buy-and-hold benchmarks, regimes shaded, FOMC decisions and trades marked; on a
    log scale by default (equal moves in percent look equal over decades)."""
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    legend = _shade_regimes(ax, regimes)
    for symbol, curve in benchmarks.items():
        ax.plot(curve.index, curve.to_numpy(), color=BENCHMARK_COLORS.get(symbol, "#777777"), lw=1.2, label=f"{symbol} buy and hold", zorder=2)
    ax.plot(equity.index, equity.to_numpy(), color=STRATEGY_COLOR, lw=2.0, label="strategy", zorder=3)
    # long runs hold hundreds of meetings: holds and move labels are drawn only while they stay readable
    show_holds = len(fomc) <= 60
    label_moves = sum(1 for m in fomc if m.bp) <= 30
    for meeting in fomc:
        if not meeting.bp and not show_holds:
            continue
        color, style = ("#8b0000", "--") if meeting.bp < 0 else ("#003f8a", "--") if meeting.bp > 0 else ("#999999", ":")
        x = _x(meeting.day)
        ax.axvline(x, lw=0.9, alpha=0.8, zorder=1, color=color, ls=style)
        if meeting.bp and label_moves:
            ax.annotate(f"{meeting.bp:+.0f}bp", (x, 0.99), xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=7, color=color)
    by_day = {d.date(): float(v) for d, v in equity.items() if isinstance(d, pd.Timestamp)}
    for trade in trades:
        y = by_day.get(trade.day)
        if y is None:
            continue  # a fill on a day without an equity row is not marked
        marker, color = ("^", "#1b7f3b") if trade.side == "buy" else ("v", "#b3261e")
        if trade.option:
            marker, color = "D", "#6a3d9a"
        ax.scatter([_x(trade.day)], [y], marker=marker, s=22 if trade.option else 36, color=color, zorder=4, edgecolors="white", linewidths=0.5)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)
    ax.set_title(title)
    if log_scale:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: ""))
    ax.set_ylabel("equity ($, log scale)" if log_scale else "equity ($)")
    ax.grid(alpha=0.3, which="both" if log_scale else "major")
    return _png(fig)


def drawdown_chart(curves: Mapping[str, pd.Series]) -> bytes:
    """Drawdowns (equity over its running peak, minus one) of each curve, in percent."""
    fig = Figure(figsize=(FIGSIZE[0], 3.2), layout="constrained")
    ax = fig.add_subplot()
    for name, curve in curves.items():
        dd = (curve / curve.cummax() - 1.0) * 100.0
        color = STRATEGY_COLOR if name == "strategy" else BENCHMARK_COLORS.get(name, "#777777")
        if name == "strategy":
            ax.fill_between(dd.index, dd.to_numpy(), 0.0, color=color, alpha=0.25, lw=0)
        ax.plot(dd.index, dd.to_numpy(), color=color, lw=1.5 if name == "strategy" else 1.0, label=name)
    ax.set_title("Drawdown")
    ax.set_ylabel("% below peak")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def hedge_chart(frame: pd.DataFrame) -> bytes:
    """The put hedge: cumulative cost, cumulative payoff (sales, settlements), open value and the net."""
    fig = Figure(figsize=(FIGSIZE[0], 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(frame.index, -frame["cost"].to_numpy(), color="#b3261e", lw=1.3, label="premium and fees paid (cumulative)")
    ax.plot(frame.index, frame["proceeds"].to_numpy(), color="#1b7f3b", lw=1.3, label="sold or settled (cumulative)")
    ax.fill_between(frame.index, frame["open_value"].to_numpy(), 0.0, color="#6a3d9a", alpha=0.25, lw=0, label="puts held, at mark")
    ax.plot(frame.index, frame["net"].to_numpy(), color="#222222", lw=1.8, label="net hedge P&L")
    ax.axhline(0.0, color="#555555", lw=0.8)
    ax.set_title("Put hedge: cost and payoff")
    ax.set_ylabel("$")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def curves_chart(curves: Mapping[str, pd.Series], title: str) -> bytes:
    """Several equity curves on one chart (run comparison)."""
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    palette = (STRATEGY_COLOR, "#c2185b", "#e07b00", "#5a8f29")
    for i, (name, curve) in enumerate(curves.items()):
        ax.plot(curve.index, curve.to_numpy(), color=palette[i % len(palette)], lw=1.8 if i < 2 else 1.0, label=name)
    ax.set_title(title)
    ax.set_ylabel("equity ($)")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def parameter_chart(parameter: str, points: Sequence[tuple[str, float]], metric: str) -> bytes:
    """One swept parameter: the rank metric of every variant against the parameter's value, the mean per value
    joined by a line (a plateau is robust, a spike is luck). Values are plotted in grid order as categories."""
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(label for label, _ in points))
    xs = [labels.index(label) for label, _ in points]
    ax.scatter(xs, [y for _, y in points], color="#8a94a6", s=18, zorder=2, label="each variant")
    means = [sum(y for lab, y in points if lab == label) / sum(1 for lab, _ in points if lab == label) for label in labels]
    ax.plot(range(len(labels)), means, color=STRATEGY_COLOR, lw=2.0, marker="o", zorder=3, label="mean")
    ax.set_xticks(range(len(labels)), labels, rotation=20 if max(len(s) for s in labels) > 6 else 0, fontsize=8)
    ax.set_title(parameter, fontsize=10)
    ax.set_ylabel(metric)
    ax.legend(loc="best", fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def logit_chart(logits: Sequence[float], pbo: float) -> bytes:
    """CSCV: the distribution of the in-sample winner's out-of-sample logit rank; the mass at or below 0 is the PBO."""
    fig = Figure(figsize=(FIGSIZE[0], 3.2), layout="constrained")
    ax = fig.add_subplot()
    finite = [v for v in logits if abs(v) < 1e6]
    ax.hist(finite, bins=40, color=STRATEGY_COLOR, alpha=0.75)
    ax.axvline(0.0, color="#b3261e", lw=1.5, ls="--")
    ax.set_title(f"Out-of-sample logit rank of the in-sample best (PBO = {pbo:.2f}: the share at or left of the line)")
    ax.set_xlabel("logit of the relative out-of-sample rank")
    ax.set_ylabel("splits")
    ax.grid(alpha=0.3)
    return _png(fig)
