"""Out-of-sample evidence for a sweep: folds scored from one continuous run per variant, and the overfitting statistics.

For each fold the variant with the best in-sample value of the grid's rank metric is chosen and scored on the
held-out sessions, next to IWM and SPY buy-and-hold and the base config over the same sessions. The held-out
windows chained give the stitched out-of-sample curve: what picking by the grid would have earned. Every variant
runs once over the whole window (the bot would have been running), so a validation costs one sweep.

The deflated Sharpe ratio and the PBO judge the whole grid (backtest/overfitting.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from backtest.curve import Curve, Ranges
from backtest.folds import Fold
from backtest.metrics import Metrics
from backtest.overfitting import DeflatedSharpe, Overfitting, deflate, probability_of_overfitting
from backtest.sweep import VariantResult, rank

MIN_BLOCK_DAYS = 20  # CSCV blocks shorter than a month of sessions say little about a variant


def _curve(r: VariantResult) -> Curve:
    if r.curve is None:
        raise ValueError(f"variant {r.index} came back without its daily curve")
    return r.curve


def ordered(results: Sequence[VariantResult], metric_of: Mapping[int, Metrics], by: str) -> list[int]:
    """Variant indexes best first by metric `by` of `metric_of[index]` (the sweep's ranking rule)."""
    scored = [dataclasses.replace(r, metrics=metric_of[r.index].to_json()) for r in results]
    return [r.index for r in rank(scored, by)]


@dataclass(frozen=True, slots=True)
class Judgement:
    """The overfitting statistics of a grid: the DSR of its best variant and the PBO (None with one variant)."""

    best: int
    deflated: DeflatedSharpe
    overfitting: Overfitting | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "best_variant": self.best,
            "deflated_sharpe": _clean(self.deflated.to_json()),
            "pbo": None if self.overfitting is None else _clean(self.overfitting.to_json()),
            "note": self.note,
        }


def cscv_blocks(days: int, wanted: int = 16) -> int:
    """The even number of CSCV blocks, at most `wanted`, that keeps every block at least MIN_BLOCK_DAYS long."""
    fit = min(wanted, days // MIN_BLOCK_DAYS)
    return max(2, fit - fit % 2)


def judge(results: Sequence[VariantResult], best: int, blocks: int = 16) -> Judgement:
    """DSR of variant `best` among `results` and the PBO of the whole grid, on daily excess returns."""
    excess = np.column_stack([_curve(r).excess() for r in results])
    column = [r.index for r in results].index(best)
    deflated = deflate(excess, column)
    if len(results) < 2:
        return Judgement(best, deflated, None, "one variant: nothing was selected, so there is no PBO")
    s = cscv_blocks(excess.shape[0], blocks)
    if excess.shape[0] < 2 * s:
        return Judgement(best, deflated, None, f"{excess.shape[0]} days are too few for CSCV")
    return Judgement(best, deflated, probability_of_overfitting(excess, s), "")


def judgement_text(j: Judgement, label: str) -> str:
    d, o = j.deflated, j.overfitting
    root = math.sqrt(252)
    lines = [
        f"deflated Sharpe ratio of the best variant ({label}): DSR = {d.dsr:.3f} ({'significant' if d.significant else 'not significant'} at 0.95)",
        f"  inputs: Sharpe {d.sharpe:.4f}/day ({d.sharpe * root:.2f} a year) over T = {d.observations} days, skewness {d.skewness:.2f}, "
        f"kurtosis {d.kurtosis:.2f}; N = {d.trials} variants, mean correlation {d.mean_correlation:.2f} -> {d.effective_trials:.2f} independent trials; "
        f"variance of their Sharpe ratios {d.sharpe_variance:.3g}; expected best of that many with no skill SR0 = {d.expected_max_sharpe:.4f}/day "
        f"({d.expected_max_sharpe * root:.2f} a year)  [Bailey & López de Prado 2014]",
    ]
    if o is None:
        lines.append(f"probability of backtest overfitting: n/a ({j.note})")
    else:
        lines += [
            f"probability of backtest overfitting (CSCV): PBO = {o.pbo:.3f}",
            f"  inputs: N = {o.variants} variants x T = {o.observations} days in S = {o.blocks} blocks -> {o.combinations} splits; "
            f"out-of-sample loss in {o.prob_oos_loss:.0%} of splits; degradation slope {o.degradation_slope:.2f}  "
            "[Bailey, Borwein, López de Prado & Zhu 2017]",
        ]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class FoldResult:
    name: str
    start: date
    end: date
    sessions: int
    chosen: int  # the variant with the best in-sample rank metric
    overrides: tuple[str, ...]
    in_sample: Metrics
    out_of_sample: Metrics
    oos_rank: int  # the chosen variant's out-of-sample rank among all variants (1 = best)
    top_quarter: bool
    baseline: Metrics | None  # the base config over the same sessions
    benchmarks: dict[str, Metrics]  # buy and hold over the same sessions
    oos_best: int  # the variant that was best out of sample

    def to_json(self) -> dict[str, Any]:
        return {
            "fold": self.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "sessions": self.sessions,
            "chosen": self.chosen,
            "overrides": list(self.overrides),
            "in_sample": _clean(self.in_sample.to_json()),
            "out_of_sample": _clean(self.out_of_sample.to_json()),
            "oos_rank": self.oos_rank,
            "top_quarter": self.top_quarter,
            "baseline": None if self.baseline is None else _clean(self.baseline.to_json()),
            "benchmarks": {k: _clean(v.to_json()) for k, v in self.benchmarks.items()},
            "oos_best": self.oos_best,
        }


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    doc.pop("by_regime", None)
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in doc.items()}


@dataclass(frozen=True, slots=True)
class Validation:
    method: str
    rank_by: str
    start: date
    end: date
    variants: list[VariantResult]
    baseline: VariantResult | None
    folds: list[FoldResult]
    stitched: dict[str, Curve]  # "chosen", "base config", "IWM", "SPY": the out-of-sample curves
    stitched_metrics: dict[str, Metrics]
    judgement: Judgement

    @property
    def top_quarter_share(self) -> float:
        return sum(f.top_quarter for f in self.folds) / len(self.folds) if self.folds else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "rank_by": self.rank_by,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "variants": [
                {"index": r.index, "overrides": list(r.overrides), "run_id": r.run_id, "journal": r.journal, "metrics": _clean(dict(r.metrics))}
                for r in self.variants
            ],
            "folds": [f.to_json() for f in self.folds],
            "in_sample_winner_in_top_quarter_out_of_sample": self.top_quarter_share,
            "stitched_out_of_sample": {k: _clean(m.to_json()) for k, m in self.stitched_metrics.items()},
            **self.judgement.to_json(),
        }


def validate(
    variants: Sequence[VariantResult],
    baseline: VariantResult | None,
    benchmarks: Mapping[str, Curve],
    folds: Sequence[Fold],
    *,
    method: str,
    rank_by: str,
    blocks: int = 16,
) -> Validation:
    """Score every fold, stitch the out-of-sample curves and judge the grid (a pure function of the runs)."""
    if not variants:
        raise ValueError("no variants to validate")
    if not folds:
        raise ValueError("no folds: the window holds no easing cycle (try --folds walk-forward) or is shorter than one in-sample window")
    curves = {r.index: _curve(r) for r in variants}
    days = next(iter(curves.values())).days
    for r in variants:
        if curves[r.index].days != days:
            raise ValueError(f"variant {r.index} ran over different sessions")
    by_index = {r.index: r for r in variants}
    n = len(variants)
    results = []
    oos_ranges: list[tuple[Curve, tuple[int, int]]] = []
    for fold in folds:
        test: Ranges = [fold.test]
        in_sample = {i: c.score(fold.train) for i, c in curves.items()}
        out = {i: c.score(test) for i, c in curves.items()}
        chosen = ordered(variants, in_sample, rank_by)[0]
        oos_order = ordered(variants, out, rank_by)
        place = oos_order.index(chosen) + 1
        a, b = fold.test
        results.append(
            FoldResult(
                fold.name, days[a], days[b - 1], b - a, chosen, by_index[chosen].overrides, in_sample[chosen], out[chosen], place,
                place <= max(1, math.ceil(n / 4)), None if baseline is None else _curve(baseline).score(test),
                {k: c.score(test) for k, c in benchmarks.items()}, oos_order[0],
            )
        )
        oos_ranges.append((curves[chosen], fold.test))
    tests = [f.test for f in folds]
    stitched = {"chosen": _stitch(oos_ranges)}
    others = {**({"base config": _curve(baseline)} if baseline is not None else {}), **benchmarks}
    for name, c in others.items():
        stitched[name] = _stitch([(c, t) for t in tests])
    stitched_metrics = {name: c.score([(0, len(c.days))]) for name, c in stitched.items()}
    whole = {i: c.score([(0, len(days))]) for i, c in curves.items()}
    best = ordered(variants, whole, rank_by)[0]
    first, last = days[tests[0][0]], days[tests[-1][1] - 1]
    return Validation(method, rank_by, first, last, list(variants), baseline, results, stitched, stitched_metrics, judge(variants, best, blocks))


def _stitch(pieces: Sequence[tuple[Curve, tuple[int, int]]], start_value: float = 100_000.0) -> Curve:
    """One curve from held-out windows in order: `start_value` at the close before the first, then each window's
    daily returns (from the curve it was taken from) compounded."""
    anchor = max(pieces[0][1][0] - 1, 0)
    first = pieces[0][0]
    days, values, rf = [first.days[anchor]], [start_value], [0.0]
    for curve, (a, b) in pieces:
        r = curve.returns()
        for i in range(max(a, anchor + 1), b):
            days.append(curve.days[i])
            values.append(values[-1] * (1.0 + float(r[i])))
            rf.append(curve.rf[i])
    return Curve(tuple(days), tuple(values), tuple(rf))


def _fmt(m: Metrics | None, key: str, fmt: str = "{:.2f}") -> str:
    x = None if m is None else getattr(m, key)
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def fold_table(v: Validation) -> str:
    """The per-fold table `main.py validate` prints."""
    n = len(v.variants)
    bench = sorted(v.folds[0].benchmarks) if v.folds else []
    columns: list[tuple[str, int, Callable[[FoldResult], str]]] = [
        ("fold", -24, lambda f: f.name),
        ("sessions", 9, lambda f: str(f.sessions)),
        ("chosen", 7, lambda f: f"#{f.chosen}"),
        (f"IS {v.rank_by}", 12, lambda f: _fmt(f.in_sample, v.rank_by, "{:.3g}")),
        (f"OOS {v.rank_by}", 12, lambda f: _fmt(f.out_of_sample, v.rank_by, "{:.3g}")),
    ]
    if v.rank_by != "sharpe":
        columns.append(("OOS sharpe", 11, lambda f: _fmt(f.out_of_sample, "sharpe")))
    columns += [
        ("OOS return", 11, lambda f: _fmt(f.out_of_sample, "total_return", "{:.1%}")),
        ("OOS rank", 9, lambda f: f"{f.oos_rank}/{n}"),
        ("base", 7, lambda f: _fmt(f.baseline, "sharpe")),
        ("return", 8, lambda f: _fmt(f.baseline, "total_return", "{:.1%}")),
    ]
    def bench_cell(symbol: str, key: str, fmt: str) -> Callable[[FoldResult], str]:
        return lambda f: _fmt(f.benchmarks[symbol], key, fmt)

    for b in bench:
        columns += [(b, 7, bench_cell(b, "sharpe", "{:.2f}")), ("return", 8, bench_cell(b, "total_return", "{:.1%}"))]

    def line(cells: list[str]) -> str:
        return "".join(f"{c:<{-w}}" if w < 0 else f"{c:>{w + 1}}" for c, (_, w, _) in zip(cells, columns, strict=True))

    lines = [line([name for name, _, _ in columns])]
    lines += [line([cell(f) for _, _, cell in columns]) for f in v.folds]
    lines.append(f"(base, {', '.join(bench)}: the out-of-sample Sharpe over bills and total return of the base config and of buy and hold, same sessions)")
    lines.append("")
    lines.append("variants chosen:")
    for i in sorted({f.chosen for f in v.folds}):
        lines.append(f"  #{i}: {' '.join(v.variants[[r.index for r in v.variants].index(i)].overrides) or '(no overrides)'}")
    return "\n".join(lines)


def stitched_table(v: Validation) -> str:
    lines = [f"stitched out of sample, {v.start} .. {v.end}:", f"{'':<14}{'total':>9}{'CAGR':>8}{'Sharpe':>8}{'max dd':>8}"]
    for name, m in v.stitched_metrics.items():
        lines.append(f"{name:<14}{m.total_return:>9.1%}{m.cagr:>8.2%}{m.sharpe:>8.2f}{m.max_drawdown:>8.1%}")
    return "\n".join(lines)


def parameter_points(v: Validation) -> dict[str, list[tuple[str, float]]]:
    """For each swept key, (value, the variant's whole-window rank metric) of every variant."""
    out: dict[str, list[tuple[str, float]]] = {}
    for r in v.variants:
        value = r.metrics.get(v.rank_by)
        if not isinstance(value, int | float) or not math.isfinite(value):
            continue
        for override in r.overrides:
            key, _, text = override.partition("=")
            out.setdefault(key, []).append((text, float(value)))
    return {k: pts for k, pts in out.items() if len({label for label, _ in pts}) > 1}


def robustness_table(v: Validation) -> str:
    """Per swept parameter, the mean whole-window rank metric at each value (the report draws it)."""
    lines = [f"robustness: mean {v.rank_by} over the variants at each value"]
    for key, points in parameter_points(v).items():
        values = list(dict.fromkeys(label for label, _ in points))
        means = [float(np.mean([y for label, y in points if label == value])) for value in values]
        lines.append(f"  {key}: " + "  ".join(f"{value} -> {m:.3g}" for value, m in zip(values, means, strict=True)))
    return "\n".join(lines)


def render(v: Validation, header: str) -> str:
    best = v.judgement.best
    label = f"#{best} " + (" ".join(v.variants[[r.index for r in v.variants].index(best)].overrides) or "(no overrides)")
    return "\n".join(
        [
            header,
            "",
            fold_table(v),
            "",
            stitched_table(v),
            f"in-sample winner in the out-of-sample top quarter: {sum(f.top_quarter for f in v.folds)} of {len(v.folds)} folds ({v.top_quarter_share:.0%})",
            "",
            robustness_table(v),
            "",
            judgement_text(v.judgement, label),
        ]
    )
