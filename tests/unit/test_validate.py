"""Validation as a pure function of the runs: each fold picks the in-sample best, the stitched curve chains what the
picks earned out of sample, and the statistics see every variant."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from backtest import metrics
from backtest.curve import Curve
from backtest.folds import Cycle, cycle_folds, walk_forward_folds
from backtest.sweep import VariantResult
from backtest.validate import validate

DAYS = [date(2010, 1, 4) + timedelta(days=i) for i in range(2000) if (date(2010, 1, 4) + timedelta(days=i)).weekday() < 5]
RF = 0.00005


def _variant(index: int, returns: np.ndarray) -> VariantResult:
    equity = 100_000.0 * np.cumprod(np.concatenate([[1.0], 1.0 + returns[1:]]))
    curve = Curve(tuple(DAYS), tuple(equity.tolist()), tuple([0.0] + [RF] * (len(DAYS) - 1)))
    m = metrics.performance(DAYS, equity.tolist(), list(curve.rf)).to_json()
    return VariantResult(index, (f"strategy.base_weight={index / 10}",), f"v{index}", None, m, curve)


@pytest.fixture(scope="module")
def variants() -> list[VariantResult]:
    rng = np.random.default_rng(3)
    n = len(DAYS)
    out = []
    for i in range(6):
        r = rng.normal(0.0002, 0.01, n)
        r[: n // 2] += 0.003 * (i == 1)  # variant 1 is good in the first half only ...
        r[n // 2 :] += 0.003 * (i == 4)  # ... variant 4 in the second
        out.append(_variant(i, r))
    return out


def test_walk_forward_picks_in_sample_and_chains_out_of_sample(variants: list[VariantResult]) -> None:
    folds = walk_forward_folds(DAYS, 2.0, 1.0, anchored=False)
    bench = Curve.buy_and_hold(DAYS, [100.0 * 1.0003**i for i in range(len(DAYS))], variants[0].curve.rf)  # type: ignore[union-attr]
    v = validate(variants, variants[0], {"IWM": bench}, folds, method="walk-forward", rank_by="sharpe")
    assert len(v.folds) == len(folds) >= 3
    chained = 1.0
    for fold, result in zip(folds, v.folds, strict=True):
        (a, b), = fold.train
        in_sample = {r.index: metrics.performance(DAYS[max(a - 1, 0):b], r.curve.equity[max(a - 1, 0):b], r.curve.rf[max(a - 1, 0):b]).sharpe  # type: ignore[union-attr]
                     for r in variants}
        assert result.chosen == max(in_sample, key=lambda i: in_sample[i])
        t0, t1 = fold.test
        picked = variants[result.chosen].curve
        assert picked is not None
        oos = picked.equity[t1 - 1] / picked.equity[t0 - 1] - 1.0
        assert result.out_of_sample.total_return == pytest.approx(oos, rel=1e-12)
        chained *= 1.0 + oos
        assert result.benchmarks["IWM"].total_return == pytest.approx(1.0003 ** (t1 - t0) - 1.0, rel=1e-9)
        oos_sharpes = sorted((r.curve.score([fold.test]).sharpe for r in variants), reverse=True)  # type: ignore[union-attr]
        assert result.oos_rank == 1 + oos_sharpes.index(result.out_of_sample.sharpe)
        assert result.top_quarter == (result.oos_rank <= 2)
    assert v.stitched_metrics["chosen"].total_return == pytest.approx(chained - 1.0, rel=1e-9)
    assert v.start == DAYS[folds[0].test[0]] and v.end == DAYS[-1]
    assert v.judgement.deflated.trials == 6 and v.judgement.overfitting is not None
    assert {f.chosen for f in v.folds} >= {1, 4}  # the early star is picked early and the late one late


def test_leave_one_cycle_out_scores_gapped_in_sample(variants: list[VariantResult]) -> None:
    cycles = [Cycle(date(2010, 9, 1), date(2011, 1, 1)), Cycle(date(2012, 3, 1), date(2012, 6, 1)), Cycle(date(2014, 6, 1), date(2014, 9, 1))]
    folds = cycle_folds(DAYS, cycles)
    assert len(folds) == 3 and len(folds[1].train) == 2
    v = validate(variants, None, {}, folds, method="cycles", rank_by="total_return")
    middle = v.folds[1]
    r = variants[middle.chosen].curve.returns()  # type: ignore[union-attr]
    picked = [i for a, b in folds[1].train for i in range(max(a, 1), b)]
    assert middle.in_sample.total_return == pytest.approx(float(np.prod(1.0 + r[picked]) - 1.0), rel=1e-9)
    years = len(picked) / 252
    assert middle.in_sample.cagr == pytest.approx((1.0 + middle.in_sample.total_return) ** (1.0 / years) - 1.0, rel=1e-9)  # sessions, not the gap
    assert math.isfinite(v.stitched_metrics["chosen"].sharpe) and v.stitched["chosen"].days[0] == DAYS[0]
    assert len(v.stitched["chosen"].days) == len(DAYS)  # the held-out cycles cover the whole run
