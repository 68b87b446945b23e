"""Accuracy metrics of sampled generations: unbiased pass@k and bootstrap confidence intervals over problems.

pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", arXiv 2107.03374, eq. 1): with n
samples of which c are correct, the probability that k samples drawn without replacement hold at least one correct
answer is 1 - C(n-c, k) / C(n, k). The binomials overflow floats past n ~ 1000, so we take the ratio as a product
of c factors (1 - k/j) summed in log space, and 1 - exp(x) with expm1: full relative precision, also when pass@k
is tiny.

The 30 AIME problems are the unit of sampling: a confidence interval comes from resampling problems with
replacement (percentile bootstrap, Efron & Tibshirani 1993), seeded so a chapter rerun gives the same interval.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from kinetics.errors import InputError


def pass_at_k(n, c, k) -> np.ndarray:
    """Unbiased pass@k for arrays of (n samples, c correct, k drawn); broadcasts. k > n is an InputError."""
    n, c, k = np.broadcast_arrays(np.asarray(n), np.asarray(c), np.asarray(k))
    if np.any(n < 1) or np.any(c < 0) or np.any(c > n) or np.any(k < 1) or np.any(k > n):
        raise InputError("pass@k needs 1 <= k <= n and 0 <= c <= n")
    shape = n.shape
    n, c, k = (a.reshape(-1, 1).astype(np.float64) for a in (n, c, k))
    # C(n-c, k) / C(n, k) = prod_{j=n-c+1}^{n} (1 - k/j): a sum of log1p terms, each exact to an ulp, so the
    # result keeps its relative precision (lgamma differences lose ~1e-12 absolute at n = 1000).
    j = np.arange(1, int(n.max()) + 1, dtype=np.float64)[None, :]
    in_product = (j > n - c) & (j <= n)
    possible = (n - c >= k).ravel()
    ratio = np.where(in_product & (j > k), k / j, 0.0)
    log_fail = np.log1p(-ratio).sum(axis=1)
    return np.where(possible, -np.expm1(log_fail), 1.0).reshape(shape)


def bootstrap_weights(n_problems: int, n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """(n_boot, n_problems) multiplicities of a problem in each resample (rows sum to n_problems).

    Any statistic that is a mean over problems becomes `weights @ per_problem / n_problems`, so thousands of
    resamples cost one matrix product.
    """
    if n_problems < 1 or n_boot < 1:
        raise InputError(f"bootstrap needs at least one problem and one resample (n_boot), got {n_problems} "
                         f"problem(s) and n_boot {n_boot}")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_problems, size=(n_boot, n_problems))
    weights = np.zeros((n_boot, n_problems))
    np.add.at(weights, (np.arange(n_boot)[:, None], picks), 1.0)
    return weights


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile-bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level}


def percentile_interval(estimate: float, replicates, level: float = 0.95) -> Interval:
    """Percentile interval of bootstrap replicates (NaN replicates, e.g. an accuracy never reached, are dropped)."""
    replicates = np.asarray(replicates, dtype=float)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"), level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return Interval(float(estimate), float(low), float(high), level)


def bootstrap_mean(per_problem, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Mean over problems (axis 0) with its bootstrap interval."""
    values = np.asarray(per_problem, dtype=float)
    weights = bootstrap_weights(values.shape[0], n_boot, seed)
    replicates = weights @ values / values.shape[0]
    return percentile_interval(float(values.mean()), replicates, level)


def bootstrap(statistic: Callable[[np.ndarray], object], n_problems: int, n_boot: int = 2000, seed: int = 0,
              level: float = 0.95, vectorized: bool = False) -> Interval:
    """Bootstrap interval of any statistic of per-problem weights.

    `statistic(w)` gets w of shape (n_problems,) (all ones = the data as observed) and returns a float; with
    `vectorized=True` it gets the whole (n_boot, n_problems) matrix once and returns n_boot values.
    """
    estimate = float(statistic(np.ones(n_problems)))
    weights = bootstrap_weights(n_problems, n_boot, seed)
    if vectorized:
        replicates = np.asarray(statistic(weights), dtype=float)
        if replicates.shape != (n_boot,):
            raise ValueError(f"a vectorized statistic must return {n_boot} values, got shape {replicates.shape}")
    else:
        replicates = np.array([statistic(w) for w in weights], dtype=float)
    return percentile_interval(estimate, replicates, level)
