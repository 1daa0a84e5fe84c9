"""Indicator kernels: known values, and the prefix property snapshot_history relies on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals import kernels as k
from signals.indicators import SPECS
from signals.params import IndicatorParams

# small windows so short random series exercise them; the model's bounds are bypassed on purpose
SMALL = {"zscore_observations": 30, "zscore_min_observations": 5, "claims_low_weeks": 6, "drawdown_sessions": 10, "vix_peak_sessions": 5}
P = IndicatorParams.model_construct(**{**IndicatorParams().model_dump(), **SMALL})


def months(n: int, start: int = 24000) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int64)


def test_annualised_change() -> None:
    x = np.array([100.0 * 1.01**i for i in range(13)])
    out = k.annualised(12)(months(13), x, P)
    assert np.isnan(out[:12]).all() and out[12] == pytest.approx((1.01**12 - 1) * 100)
    three = k.annualised(3)(months(13), x, P)
    assert three[5] == pytest.approx((1.01**12 - 1) * 100)


def test_annualised_bridges_a_missing_month_over_the_true_span() -> None:
    pos = np.array([0, 1, 2, 4, 5], dtype=np.int64)  # month 3 never published
    x = np.array([100.0, 101.0, 102.01, 104.060401, 105.10100501])
    out = k.annualised(3)(pos, x, P)
    assert out[4] == pytest.approx((1.01**12 - 1) * 100)  # 5 vs 2: three months
    assert out[3] == pytest.approx((1.01**12 - 1) * 100)  # 4 vs 0: four months, annualised over four


def test_sahm_rule() -> None:
    u = np.array([4.0] * 14 + [4.3, 4.6, 4.9])
    out = k.sahm(months(len(u)), u, P)
    assert np.isnan(out[:12]).all()
    assert out[-1] == pytest.approx((4.3 + 4.6 + 4.9) / 3 - 4.0)


def test_uninverted_flag() -> None:
    pos = np.arange(0, 10, dtype=np.int64) * 30
    x = np.array([0.5, -0.5, -0.4, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])
    out = k.uninverted(pos, x, P)
    assert out.tolist()[:4] == [0.0, 0.0, 0.0, 1.0]


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(min_value=0.5, max_value=50.0, allow_nan=False), min_size=2, max_size=80),
    cut=st.integers(min_value=1, max_value=80),
)
def test_kernels_on_a_prefix_equal_the_full_run(values: list[float], cut: int) -> None:
    """Element i of every kernel depends only on elements 0..i and on the same arithmetic (exact equality)."""
    x = np.array(values)
    cut = min(cut, len(x))
    for spec in SPECS:
        pos = months(len(x)) if spec.frequency == "monthly" else np.arange(len(x), dtype=np.int64) * 7
        full = spec.kernel(pos, x, P)
        part = spec.kernel(pos[:cut], x[:cut], P)
        np.testing.assert_array_equal(full[:cut], part, err_msg=spec.name)
