"""Best-of-N: draw k of a problem's n samples (exact convention: every k = 1..n; paper convention: the authors' grid
k in {1, 2, 4, 8, 16, 32} up to n, `PAPER_TRIALS`); accuracy is the unbiased pass@k, cost the expected cost of k
trials drawn from the n sampled lengths."""
from __future__ import annotations

import numpy as np

from kinetics.frontier.choices import BOUNDS, Choices, _attention_of, _metric_arrays
from kinetics.metrics import pass_at_k
from kinetics.traces import ProblemArrays

#: The trial counts of the authors' best-of-N tables (the paper convention); the exact convention takes every k.
PAPER_TRIALS = (1, 2, 4, 8, 16, 32)


def trial_grid(n: int, convention: str = "exact") -> np.ndarray:
    """The k a best-of-N frontier may pick from n samples: the authors' powers of two (paper) or 1..n (exact)."""
    if convention == "paper":
        return np.array([k for k in PAPER_TRIALS if k <= n])
    return np.arange(1, n + 1)


def best_of_n_choices(data: ProblemArrays, hardware, convention: str = "exact", sparse_options: dict | None = None,
                      **cost_options) -> Choices:
    from kinetics.cost import best_of_n_cost_arrays

    n = data.n_samples
    ks = trial_grid(n, convention)
    accuracy = pass_at_k(n, data.num_correct[:, None], ks[None, :])
    arrays = best_of_n_cost_arrays(data.config.model, hardware, data.prompt_tokens, data.gen_tokens, ks,
                                   _attention_of(data.config, sparse_options), convention, **cost_options)
    tokens = ks[None, :] * data.gen_tokens.mean(axis=1, keepdims=True)
    return Choices(data.config, "best-of-n", ks, np.full(ks.size, data.config.budget), tokens,
                   {bound: accuracy for bound in BOUNDS}, _metric_arrays(arrays), convention)
