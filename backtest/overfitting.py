"""How much to trust the best of many backtests: the deflated Sharpe ratio and the probability of backtest overfitting.

Both take the daily excess returns (over the bill rate) of every variant tried, one column per variant, on the same
days. Sharpe ratios here are per day (not annualised) as in the papers; reports annualise them with sqrt(252).

No maintained PyPI package computes both (pypbo, the only one, has had no release since 2019 and pulls scipy), so
they are written once here and tested against the DSR paper's worked example and a brute-force CSCV.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


def sharpe(excess: np.ndarray) -> float:
    """Per-period Sharpe ratio of excess returns (ddof=1); 0 when they do not vary."""
    sd = float(np.std(excess, ddof=1))
    return float(np.mean(excess)) / sd if sd > 0 else 0.0


@dataclass(frozen=True, slots=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio of the chosen variant and every input it was computed from."""

    sharpe: float  # the chosen variant's per-day Sharpe ratio
    observations: int  # T, days of returns
    skewness: float
    kurtosis: float  # not excess: 3 for normal returns
    trials: int  # N, variants tried
    mean_correlation: float  # average pairwise correlation of the variants' daily returns
    effective_trials: float  # rho + (1 - rho) N
    sharpe_variance: float  # variance of the trials' per-day Sharpe ratios
    expected_max_sharpe: float  # SR0: the best Sharpe expected from that many trials of zero skill
    dsr: float  # P(true Sharpe > 0 | the best of effective_trials): significant at 0.95

    @property
    def significant(self) -> bool:
        return self.dsr >= 0.95

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


def expected_max_sharpe(sharpe_variance: float, trials: float) -> float:
    """E[max SR] of `trials` independent zero-skill strategies whose Sharpe ratios vary by `sharpe_variance`
    (the False Strategy Theorem, Bailey and López de Prado 2014, eq. for SR0). The approximation dips below zero
    for fewer than about two trials, where the best of one zero-skill trial is expected at 0: it is floored there."""
    if trials <= 1.0 or sharpe_variance <= 0.0:
        return 0.0
    a = _NORMAL.inv_cdf(1.0 - 1.0 / trials)
    b = _NORMAL.inv_cdf(1.0 - 1.0 / (trials * math.e))
    return max(0.0, math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * a + EULER_GAMMA * b))


def probabilistic_sharpe(sr: float, benchmark: float, observations: int, skewness: float, kurtosis: float) -> float:
    """P(true SR > benchmark) given an estimate `sr` from `observations` non-normal returns (PSR)."""
    denom = 1.0 - skewness * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if observations < 2 or denom <= 0.0:
        return float("nan")
    return _NORMAL.cdf((sr - benchmark) * math.sqrt(observations - 1) / math.sqrt(denom))


def deflated_sharpe_ratio(
    sr: float, observations: int, skewness: float, kurtosis: float, *, sharpe_variance: float, trials: float
) -> float:
    """DSR = PSR(SR0): Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
    Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 94-107."""
    return probabilistic_sharpe(sr, expected_max_sharpe(sharpe_variance, trials), observations, skewness, kurtosis)


def deflate(excess: np.ndarray, best: int) -> DeflatedSharpe:
    """The DSR of column `best` of a (days x variants) matrix of daily excess returns.

    The number of independent trials is deflated for correlation as N_eff = rho + (1 - rho) N, rho the mean
    pairwise correlation of the columns (clipped to [0, 1]), as Bailey and López de Prado suggest in the same paper."""
    t, n = excess.shape
    chosen = excess[:, best]
    sr = sharpe(chosen)
    sd = float(np.std(chosen))
    centred = chosen - float(np.mean(chosen))
    skew = float(np.mean(centred**3)) / sd**3 if sd > 0 else 0.0
    kurt = float(np.mean(centred**4)) / sd**4 if sd > 0 else 3.0
    srs = np.array([sharpe(excess[:, j]) for j in range(n)])
    variance = float(np.var(srs, ddof=1)) if n > 1 else 0.0
    rho = _mean_correlation(excess)
    n_eff = rho + (1.0 - rho) * n
    sr0 = expected_max_sharpe(variance, n_eff)
    return DeflatedSharpe(sr, t, skew, kurt, n, rho, n_eff, variance, sr0, probabilistic_sharpe(sr, sr0, t, skew, kurt))


def _mean_correlation(excess: np.ndarray) -> float:
    n = excess.shape[1]
    if n < 2:
        return 1.0
    varying = excess[:, np.std(excess, axis=0) > 0]
    if varying.shape[1] < 2:
        return 1.0
    corr = np.corrcoef(varying, rowvar=False)
    m = corr.shape[0]
    off = (float(np.sum(corr)) - m) / (m * (m - 1))
    return float(min(1.0, max(0.0, off)))


@dataclass(frozen=True, slots=True)
class Overfitting:
    """The probability of backtest overfitting by CSCV, with its inputs and the distribution behind it."""

    variants: int  # N
    observations: int  # T
    blocks: int  # S: the days cut into S contiguous blocks
    combinations: int  # C(S, S/2) in-sample / out-of-sample splits
    pbo: float  # share of splits where the in-sample best is at or below the out-of-sample median
    logits: tuple[float, ...]  # lambda of each split: log(w / (1 - w)), w the relative out-of-sample rank
    degradation_slope: float  # least-squares slope of out-of-sample on in-sample Sharpe of the chosen variant
    prob_oos_loss: float  # share of splits where the chosen variant's out-of-sample Sharpe is below zero

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("logits")
        return out


def _rank_of(values: np.ndarray, column: np.ndarray) -> np.ndarray:
    """The rank (1 = lowest, ties share their average rank) of `values[i, column[i]]` within row i."""
    picked = values[np.arange(len(values)), column][:, None]
    below = (values < picked).sum(axis=1)
    equal = (values == picked).sum(axis=1)
    return np.asarray(below + (equal + 1) / 2.0, dtype=float)


def probability_of_overfitting(excess: np.ndarray, blocks: int = 16) -> Overfitting:
    """PBO by combinatorially symmetric cross-validation: Bailey, D. H., Borwein, J., López de Prado, M. and Zhu,
    Q. J. (2017), "The Probability of Backtest Overfitting", Journal of Computational Finance 20(4), 39-69.

    The days (rows) are cut into `blocks` contiguous blocks of near-equal size. For every way of choosing half the
    blocks as the in-sample set, the variant with the best in-sample Sharpe is ranked among all variants on the
    other half: w = rank / (N + 1), lambda = log(w / (1 - w)). PBO = the share of splits with lambda <= 0."""
    t, n = excess.shape
    if blocks < 2 or blocks % 2:
        raise ValueError(f"CSCV needs an even number of blocks >= 2, not {blocks}")
    if n < 2:
        raise ValueError("CSCV needs at least two variants")
    if t < 2 * blocks:
        raise ValueError(f"CSCV with {blocks} blocks needs at least {2 * blocks} days, not {t}")
    parts = np.array_split(np.arange(t), blocks)
    count = np.array([len(p) for p in parts], dtype=float)
    total = np.stack([excess[p].sum(axis=0) for p in parts])  # blocks x variants
    squares = np.stack([(excess[p] ** 2).sum(axis=0) for p in parts])
    combos = list(itertools.combinations(range(blocks), blocks // 2))
    train = np.zeros((len(combos), blocks))
    for i, combo in enumerate(combos):
        train[i, list(combo)] = 1.0
    test = 1.0 - train

    def split_sharpe(mask: np.ndarray) -> np.ndarray:
        k = (mask @ count)[:, None]
        s, q = mask @ total, mask @ squares
        var = np.maximum(q - s * s / k, 0.0) / (k - 1.0)
        sd = np.sqrt(var)
        return np.asarray(np.divide(s / k, sd, out=np.zeros_like(s), where=sd > 0), dtype=float)

    is_sr, oos_sr = split_sharpe(train), split_sharpe(test)
    chosen = np.argmax(is_sr, axis=1)
    rows = np.arange(len(combos))
    w = _rank_of(oos_sr, chosen) / (n + 1.0)
    logits = np.log(w / (1.0 - w))
    x, y = is_sr[rows, chosen], oos_sr[rows, chosen]
    slope = float(np.polyfit(x, y, 1)[0]) if float(np.ptp(x)) > 0 else float("nan")
    return Overfitting(
        n, t, blocks, len(combos), float(np.mean(logits <= 0.0)), tuple(float(v) for v in logits), slope, float(np.mean(y < 0.0))
    )
