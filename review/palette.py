"""The colours every chart and page uses: one regime palette (the report's charts, its decision log swatches and
`signals --chart`), pale enough to sit behind the strategy and benchmark lines and unlike any of them."""

from __future__ import annotations

from collections.abc import Sequence

REGIME_COLORS = {
    "soft_landing": "#cdebd3",  # pale green
    "late_cuts": "#fff1a8",  # pale yellow
    "recession_risk": "#f9cfd9",  # pink
    "crisis": "#eaa3a3",  # red
    "tightening": "#d3def5",  # pale blue
    "neutral": "#ebebeb",  # grey
    "unknown": "#ffffff",
}
EXTRA_COLORS = ("#e3d3f3", "#c6eef0", "#f0d0e8", "#dddddd")
STRATEGY_COLOR = "#1f4e9c"  # the acceptance test looks for this blue in the screenshot
BENCHMARK_COLORS = {"IWM": "#e07b00", "SPY": "#2e7d32"}


def regime_color(regime: str, order: Sequence[str] = ()) -> str:
    """The regime's colour, the same wherever it is drawn (opaque: a swatch matches the chart's shading)."""
    if regime in REGIME_COLORS:
        return REGIME_COLORS[regime]
    return EXTRA_COLORS[(list(order).index(regime) if regime in order else len(regime)) % len(EXTRA_COLORS)]
