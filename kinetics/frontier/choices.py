"""The choices of one setting (every k of best-of-N, every length cap G of long CoT): per-problem accuracy and cost
arrays, the names both strategies share, and the merge of KV budgets into one setting."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from kinetics.errors import InputError
from kinetics.traces import TraceConfig


STRATEGIES = ("best-of-n", "long-cot")
METRICS = ("flops", "flops-attn", "eflops")
ALLOCATIONS = ("oracle", "deployable")
#: frontier() also accepts "oracle-mean": the oracle under a mean cost per problem (an upper bound, see
#: mean_budget_oracle_steps); the two above are the paper's and the deployable one.
FRONTIER_ALLOCATIONS = ALLOCATIONS + ("oracle-mean",)
CONVENTIONS = ("exact", "paper")
ATTENTION_CHOICES = ("dense", "topk", "blocktopk", "all")
LENGTH_BUDGETS = np.arange(2048, 32768 + 1, 2048)
BOUNDS = ("estimate", "low", "high")
UNITS = {"flops": "FLOP", "flops-attn": "FLOP", "eflops": "eFLOP"}


# ---- choices: per-problem accuracy and cost of every k or G ----------------------------------------------------

@dataclass
class Choices:
    """Every choice of one setting (or of several budgets of one model, merged): arrays of shape (problems, M)."""

    config: TraceConfig
    strategy: str
    knob: np.ndarray            # (M,) k (best-of-N) or G (long CoT)
    budget: np.ndarray          # (M,) KV budget of the choice (0: dense)
    tokens: np.ndarray          # (Q, M) expected generated tokens per problem (all trials)
    accuracy: dict[str, np.ndarray]   # bound name -> (Q, M)
    cost: dict[str, np.ndarray]       # metric -> (Q, M), SI units
    convention: str = "exact"

    @property
    def problems(self) -> int:
        return self.tokens.shape[0]

    @property
    def label(self) -> str:
        return self.config.label


def _attention_of(config: TraceConfig, sparse_options: dict | None = None):
    """The cost model's Attention for a trace setting. `sparse_options` (sink_tokens, dense_layers, priced_search
    for top-k) price what the paper leaves out of sparse runs, e.g. LiteSys's dense layer 0 and 4 sink tokens."""
    from kinetics.cost import Attention

    if config.attention == "dense":
        return Attention.dense()
    options = dict(sparse_options or {})
    selected = config.budget - config.local_window
    if config.attention == "topk":
        return Attention.topk(selected, local_window=config.local_window, **options)
    options.pop("priced_search", None)
    return Attention.blocktopk(selected, config.block_size, local_window=config.local_window, **options)


def _metric_arrays(arrays: dict) -> dict[str, np.ndarray]:
    from kinetics.cost import metric_of

    return {metric: np.asarray(metric_of(arrays, metric), dtype=float) for metric in METRICS}


def merge_budgets(choices: Sequence[Choices]) -> Choices:
    """The choices of several KV budgets of one model and attention kind as one setting (the oracle then also
    picks the budget per problem, as the paper's sparse frontier does)."""
    if not choices:
        raise InputError("nothing to merge")
    first = choices[0]
    problems = {c.problems for c in choices}
    if len(problems) != 1:
        raise InputError(f"{first.config.model}: settings cover different numbers of problems {sorted(problems)}")
    config = replace(first.config, budget=-1, block_size=0, local_window=0, run=0)
    return Choices(config, first.strategy, np.concatenate([c.knob for c in choices]),
                   np.concatenate([c.budget for c in choices]),
                   np.concatenate([c.tokens for c in choices], axis=1),
                   {b: np.concatenate([c.accuracy[b] for c in choices], axis=1) for b in BOUNDS},
                   {m: np.concatenate([c.cost[m] for c in choices], axis=1) for m in METRICS}, first.convention)
