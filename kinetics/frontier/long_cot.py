"""Long chain-of-thought: cut every generation at G tokens; bounds on the accuracy at G from the per-problem counts."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from kinetics.errors import InputError
from kinetics.frontier.choices import BOUNDS, Choices, LENGTH_BUDGETS, _attention_of, _metric_arrays
from kinetics.traces import ProblemArrays


def long_cot_accuracy(data: ProblemArrays, budgets: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy at each length budget G, per problem: (Q, len(budgets)) for each bound (see the module docstring)."""
    within = data.finished[:, :, None] & (data.gen_tokens[:, :, None] <= budgets[None, None, :])  # (Q, n, G)
    n = data.n_samples
    if data.correct is not None:
        exact = (within & data.correct[:, :, None]).sum(axis=1) / n
        return {bound: exact for bound in BOUNDS}
    kept = within.sum(axis=1).astype(float)                      # finished within G
    finished = data.finished.sum(axis=1).astype(float)[:, None]  # finished at all
    correct = np.minimum(data.num_correct[:, None], finished)    # a capped sample counts as wrong
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = np.where(finished > 0, kept * correct / finished, 0.0) / n
    return {"estimate": estimate,
            "low": np.maximum(0.0, kept - (finished - correct)) / n,
            "high": np.minimum(correct, kept) / n}


def long_cot_choices(data: ProblemArrays, hardware, convention: str = "exact",
                     budgets: Sequence[int] = LENGTH_BUDGETS, sparse_options: dict | None = None,
                     **cost_options) -> Choices:
    from kinetics.cost import per_sample_cost_arrays

    budgets = np.asarray(budgets, dtype=np.int64)
    if budgets.ndim != 1 or budgets.size == 0 or (budgets < 1).any():
        raise InputError(f"length budgets must be integers >= 1, got {budgets!r}")
    cut = np.minimum(data.gen_tokens[:, :, None], budgets[None, None, :])  # (Q, n, G)
    arrays = per_sample_cost_arrays(data.config.model, hardware, data.prompt_tokens[:, None, None], cut,
                                    _attention_of(data.config, sparse_options), convention, **cost_options)
    cost = {metric: values.mean(axis=1) for metric, values in _metric_arrays(arrays).items()}
    return Choices(data.config, "long-cot", budgets, np.full(budgets.size, data.config.budget), cut.mean(axis=1),
                   long_cot_accuracy(data, budgets), cost, convention)
