"""The deflated Sharpe ratio against the paper's worked example; PBO against a brute-force CSCV, on a grid whose
parameter only adds noise, and on one with a planted edge."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from backtest.overfitting import deflate, deflated_sharpe_ratio, expected_max_sharpe, probability_of_overfitting, sharpe


def test_dsr_reproduces_the_papers_worked_example() -> None:
    # Bailey & López de Prado (2014), section 4: annualised SR 2.5 over 5 years of daily returns (T = 1250), skewness -3,
    # kurtosis 10, N = 100 trials whose annualised Sharpe ratios vary by 0.5 -> DSR 0.9004 (the paper prints 0.9004).
    dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, -3.0, 10.0, sharpe_variance=0.5 / 250, trials=100)
    assert dsr == pytest.approx(0.9004, abs=5e-4)
    assert expected_max_sharpe(0.5 / 250, 100) * math.sqrt(250) == pytest.approx(1.7894, abs=1e-3)  # SR0, annualised
    assert expected_max_sharpe(0.5, 1) == 0.0


def _brute_force_pbo(m: np.ndarray, blocks: int) -> float:
    """CSCV written straight from the paper: concatenate the blocks, recompute every Sharpe ratio, rank by sorting."""
    parts = np.array_split(m, blocks)
    below = 0
    combos = list(itertools.combinations(range(blocks), blocks // 2))
    for combo in combos:
        train = np.concatenate([parts[i] for i in combo])
        test = np.concatenate([parts[i] for i in range(blocks) if i not in combo])
        is_sr = [sharpe(train[:, j]) for j in range(m.shape[1])]
        oos_sr = [sharpe(test[:, j]) for j in range(m.shape[1])]
        best = int(np.argmax(is_sr))
        rank = 1 + sorted(oos_sr).index(oos_sr[best])  # no ties in continuous data
        w = rank / (m.shape[1] + 1)
        below += math.log(w / (1 - w)) <= 0
    return below / len(combos)


def test_pbo_matches_a_brute_force_cscv() -> None:
    rng = np.random.default_rng(7)
    m = rng.normal(0.0002, 0.01, (240, 7)) + rng.normal(0.0, 0.002, (240, 1)) * np.arange(7)
    for blocks in (4, 6, 8):
        assert probability_of_overfitting(m, blocks).pbo == pytest.approx(_brute_force_pbo(m, blocks), abs=1e-12)


def _grid(seed: int, edge: float) -> np.ndarray:
    """A grid of 12 variants on 1,500 days: one shared market return plus a part that depends only on the variant's
    'seed' parameter (pure noise). `edge` is a daily drift planted in variant 5 alone."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0, 0.008, (1500, 1))  # no drift: nothing here has skill
    m = 0.5 * market + rng.normal(0.0, 0.006, (1500, 12))
    m[:, 5] += edge
    return m


def test_a_parameter_that_only_adds_noise_is_overfit() -> None:
    pbos, dsrs = [], []
    for seed in range(24):
        m = _grid(seed, 0.0)
        pbos.append(probability_of_overfitting(m, 10).pbo)
        best = int(np.argmax([sharpe(m[:, j]) for j in range(m.shape[1])]))
        d = deflate(m, best)
        assert 0.2 < d.mean_correlation < 0.5 and 1 < d.effective_trials < 12
        dsrs.append(d.dsr)
    assert np.mean(pbos) >= 0.4, pbos  # near 0.5: picking the in-sample best is a coin toss out of sample
    assert max(dsrs) < 0.95, dsrs  # the best of the grid is never significant once deflated


def test_a_planted_edge_is_not_overfit() -> None:
    for seed in range(3):
        m = _grid(seed, 0.0015)
        o = probability_of_overfitting(m, 10)
        assert o.pbo < 0.05 and o.prob_oos_loss < 0.05, o.pbo
        assert deflate(m, 5).significant
