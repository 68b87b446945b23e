"""Accuracy-cost frontiers of test-time scaling, from traces.

Two strategies spend more inference on a problem:

* best-of-N: draw k = 1..n of a problem's n samples; accuracy is the unbiased pass@k (`kinetics.metrics`), cost the
  expected cost of k trials drawn from the n sampled lengths (`kinetics.cost.best_of_n_cost_arrays`).
* long chain-of-thought: cut every generation at G tokens (G = 2048, 4096, ..., 32768, the authors' grid); a sample
  keeps its answer only if it finished within G. Cost: one generation of min(length, G) tokens, averaged over the
  samples. The per-problem tables record *how many* samples were correct, not which, so the accuracy at G is bounded:
  if the correct ones were the shortest finished samples (`high`) or the longest (`low`), with the uniform
  assignment in between (`estimate`, every finished sample correct with probability c / finished). A sample at the
  length cap never finished and counts as wrong. Where per-sample correctness is known (HF traces) all three agree.

Every choice (k or G, and the KV budget when budgets are merged) of one setting is an array of per-problem
accuracies and costs, shape (problems, choices). Two allocations turn them into a frontier:

* oracle (the paper's Alg. 1/2): under a per-problem cost cap C, each problem takes its best choice costing <= C;
  accuracy is the mean over problems. A step function of C, computed exactly from its breakpoints.
* deployable: one choice for all problems; its cost is the mean cost per problem. The frontier is the upper-left
  Pareto staircase of the choices' (mean cost, mean accuracy).

Neither is smoothed: the authors' centred moving average leaked accuracy from the next higher cost into each budget.
Costs are in SI units of the chosen metric: "flops" (2 x parameters x generated tokens, what prior work counts),
"flops-attn" (every FLOP: parameters, attention, selection, prefill), "eflops" (FLOPs + I x bytes).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from kinetics.errors import InputError
from kinetics.metrics import bootstrap_weights, pass_at_k, percentile_interval, Interval
from kinetics.traces import ProblemArrays, TraceConfig, group_arrays, load_traces

log = logging.getLogger(__name__)

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


def best_of_n_choices(data: ProblemArrays, hardware, convention: str = "exact", sparse_options: dict | None = None,
                      **cost_options) -> Choices:
    from kinetics.cost import best_of_n_cost_arrays

    n = data.n_samples
    ks = np.arange(1, n + 1)
    accuracy = pass_at_k(n, data.num_correct[:, None], ks[None, :])
    arrays = best_of_n_cost_arrays(data.config.model, hardware, data.prompt_tokens, data.gen_tokens, ks,
                                   _attention_of(data.config, sparse_options), convention, **cost_options)
    tokens = ks[None, :] * data.gen_tokens.mean(axis=1, keepdims=True)
    return Choices(data.config, "best-of-n", ks, np.full(n, data.config.budget), tokens,
                   {bound: accuracy for bound in BOUNDS}, _metric_arrays(arrays), convention)


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


def choices_for(data: ProblemArrays, strategy: str, hardware, convention: str = "exact", **options) -> Choices:
    if strategy == "best-of-n":
        return best_of_n_choices(data, hardware, convention, **options)
    if strategy == "long-cot":
        return long_cot_choices(data, hardware, convention, **options)
    raise InputError(f"strategy {strategy!r} is unknown; use one of {', '.join(STRATEGIES)}")


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


# ---- frontiers: exact step functions ---------------------------------------------------------------------------

@dataclass
class Steps:
    """A non-decreasing step function: accuracy y[i] from cost x[i] on (0 before x[0])."""

    x: np.ndarray
    y: np.ndarray

    def at(self, costs) -> np.ndarray:
        costs = np.asarray(costs, dtype=float)
        if self.y.size == 0:
            return np.zeros(costs.shape)
        index = np.searchsorted(self.x, costs, side="right") - 1
        return np.where(index >= 0, self.y[np.clip(index, 0, None)], 0.0)

    def cost_to_reach(self, levels) -> np.ndarray:
        """The least cost whose accuracy is >= each level (inf if never reached)."""
        levels = np.asarray(levels, dtype=float)
        if self.y.size == 0:
            return np.full(levels.shape, np.inf)
        index = np.searchsorted(self.y, levels - 1e-12, side="left")
        return np.where(index < self.y.size, self.x[np.clip(index, 0, max(self.y.size - 1, 0))], np.inf)


def oracle_events(cost: np.ndarray, accuracy: np.ndarray):
    """The per-problem oracle as events: at cost x[e] problem q[e]'s best accuracy rises by inc[e].

    frontier(C) = sum of inc[e] over x[e] <= C, divided by the number of problems. Returned sorted by cost.
    """
    problems, width = cost.shape
    order = np.argsort(cost, axis=1, kind="stable")
    sorted_cost = np.take_along_axis(cost, order, axis=1)
    best = np.maximum.accumulate(np.take_along_axis(accuracy, order, axis=1), axis=1)
    increase = np.diff(best, axis=1, prepend=0.0)
    keep = increase > 0
    x, inc = sorted_cost[keep], increase[keep]
    q = np.broadcast_to(np.arange(problems)[:, None], (problems, width))[keep]
    order = np.argsort(x, kind="stable")
    return x[order], q[order], inc[order]


def _collapse(x: np.ndarray, y: np.ndarray) -> Steps:
    """Keep the last value at each distinct cost."""
    if x.size == 0:
        return Steps(x, y)
    last = np.append(x[1:] != x[:-1], True)
    return Steps(x[last], y[last])


def oracle_steps(cost: np.ndarray, accuracy: np.ndarray) -> Steps:
    x, _, inc = oracle_events(cost, accuracy)
    return _collapse(x, np.cumsum(inc) / cost.shape[0])


def deployable_steps(cost: np.ndarray, accuracy: np.ndarray) -> tuple[Steps, np.ndarray]:
    """Pareto staircase of (mean cost, mean accuracy) over choices; also the choice index at each step."""
    mean_cost, mean_acc = cost.mean(axis=0), accuracy.mean(axis=0)
    order = np.lexsort((-mean_acc, mean_cost))
    running = np.maximum.accumulate(mean_acc[order])
    improves = np.append(True, running[1:] > running[:-1]) & (mean_acc[order] > 0)
    chosen = order[improves]
    return Steps(mean_cost[chosen], mean_acc[chosen]), chosen


def _upper_hull(cost: np.ndarray, accuracy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper concave hull of (0, 0) and the points, rising part only: vertices sorted by cost."""
    order = np.lexsort((-accuracy, cost))
    hull = [(0.0, 0.0)]
    for c, a in zip(cost[order], accuracy[order]):
        if a <= hull[-1][1]:
            continue  # costs more, gains nothing
        while len(hull) >= 2:
            (c1, a1), (c2, a2) = hull[-2], hull[-1]
            if (a2 - a1) * (c - c1) <= (a - a1) * (c2 - c1):   # the middle vertex lies on or below the chord
                hull.pop()
            else:
                break
        hull.append((float(c), float(a)))
    vertices = np.array(hull)
    return vertices[:, 0], vertices[:, 1]


def mean_budget_oracle_steps(cost: np.ndarray, accuracy: np.ndarray) -> Steps:
    """The oracle under a *mean* cost per problem instead of a per-problem cap: spend where accuracy is cheapest.

    Each problem's options form an upper concave hull from (0, 0) (skip the problem); taking hull segments across
    problems in order of falling accuracy-per-cost is the optimal allocation of a mean budget (greedy on concave
    pieces, the multiple-choice knapsack's LP bound). The breakpoints are integral allocations, so the steps are
    achievable; it bounds from above every allocation with the same mean cost, the deployable one and the per-problem
    cap oracle (whose mean spend is below its cap) included.
    """
    problems = cost.shape[0]
    d_cost, d_acc = [], []
    for q in range(problems):
        hull_cost, hull_acc = _upper_hull(cost[q], accuracy[q])
        d_cost.append(np.diff(hull_cost))
        d_acc.append(np.diff(hull_acc))
    d_cost, d_acc = np.concatenate(d_cost), np.concatenate(d_acc)
    if d_cost.size == 0:
        return Steps(np.zeros(0), np.zeros(0))
    with np.errstate(divide="ignore"):
        order = np.argsort(-(d_acc / np.where(d_cost > 0, d_cost, np.nan)), kind="stable")
    return _collapse(np.cumsum(d_cost[order]) / problems, np.cumsum(d_acc[order]) / problems)


@dataclass
class Frontier:
    """The frontier of one setting under one metric and allocation, for each accuracy bound."""

    choices: Choices
    metric: str
    allocation: str
    steps: dict[str, Steps]
    chosen: np.ndarray | None = None   # deployable: the choice index of each step (estimate)

    @property
    def config(self) -> TraceConfig:
        return self.choices.config

    def at(self, costs, bound: str = "estimate") -> np.ndarray:
        return self.steps[bound].at(costs)


def frontier(choices: Choices, metric: str = "eflops", allocation: str = "oracle") -> Frontier:
    if metric not in METRICS:
        raise InputError(f"cost metric {metric!r} is unknown; use one of {', '.join(METRICS)}")
    cost = choices.cost[metric]
    steps, chosen = {}, None
    for bound in BOUNDS:
        if bound != "estimate" and choices.accuracy[bound] is choices.accuracy["estimate"]:
            steps[bound] = steps["estimate"]
            continue
        if allocation == "oracle":
            steps[bound] = oracle_steps(cost, choices.accuracy[bound])
        elif allocation == "deployable":
            steps[bound], picked = deployable_steps(cost, choices.accuracy[bound])
            chosen = picked if bound == "estimate" else chosen
        elif allocation == "oracle-mean":
            steps[bound] = mean_budget_oracle_steps(cost, choices.accuracy[bound])
        else:
            raise InputError(f"allocation {allocation!r} is unknown; use one of {', '.join(FRONTIER_ALLOCATIONS)}")
    return Frontier(choices, metric, allocation, steps, chosen)


def cost_grid(frontiers: Iterable[Frontier], points: int = 120, bound: str = "estimate") -> np.ndarray:
    """A log-spaced grid from the cheapest first step to the dearest last step of the frontiers."""
    starts, stops = [], []
    for f in frontiers:
        steps = f.steps[bound]
        if steps.x.size:
            starts.append(steps.x[0])
            stops.append(steps.x[-1])
    if not starts:
        raise InputError("no frontier has any accuracy above zero")
    return np.geomspace(min(starts), max(stops), points)


# ---- the cross-model envelope ---------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _size(model: str) -> int:
    from kinetics.models import get_model

    return get_model(model).params_total


def envelope(frontiers: Sequence[Frontier], grid: np.ndarray, bound: str = "estimate") -> pd.DataFrame:
    """Best accuracy over the frontiers at each grid cost and the setting that reaches it (ties: the smaller model).

    Each frontier is already non-decreasing in cost, so the envelope at C is the best accuracy at any cost <= C.
    """
    ordered = sorted(frontiers, key=lambda f: (_size(f.config.model), f.config.attention, f.config.budget))
    values = np.stack([f.at(grid, bound) for f in ordered])   # (F, grid)
    best = values.argmax(axis=0)
    accuracy = values[best, np.arange(grid.size)]
    def column(get):  # object dtype keeps None (no winner below the cheapest step) as None
        return pd.Series([get(ordered[i].config) if a > 0 else None for i, a in zip(best, accuracy)], dtype=object)

    return pd.DataFrame({"cost": grid, "accuracy": accuracy, "model": column(lambda c: c.model),
                         "attention": column(lambda c: c.attention), "budget": column(lambda c: int(c.budget)),
                         "setting": column(lambda c: c.label)})


def winner_spans(env: pd.DataFrame, column: str = "model") -> pd.DataFrame:
    """Consecutive grid ranges won by one model (or `column`: setting, budget): start, stop (cost), decades of cost
    won, accuracy at the stop. The winner's column is named "model" in the result."""
    rows = []
    current = None
    for cost, accuracy, model in zip(env["cost"], env["accuracy"], env[column]):
        if model is None:
            continue
        if current is None or current["model"] != model:
            current = {"model": model, "start": cost, "stop": cost, "accuracy": accuracy}
            rows.append(current)
        current["stop"], current["accuracy"] = cost, accuracy
    frame = pd.DataFrame(rows, columns=["model", "start", "stop", "accuracy"])
    frame["decades"] = np.log10(frame["stop"] / frame["start"]) if len(frame) else []
    return frame


def winners_by_part(env: pd.DataFrame, column: str = "model", parts: int = 3) -> list:
    """The winner (`column`: model or budget) over the most log-cost in each of `parts` equal slices of the range
    where the envelope rises (first positive accuracy to first reaching its best): low, middle, high cost."""
    accuracy = env["accuracy"].to_numpy()
    if not (accuracy > 0).any():
        return [None] * parts
    start = int(np.argmax(accuracy > 0))
    stop = int(np.argmax(accuracy >= accuracy.max() - 1e-12))
    part = env.iloc[start: stop + 1]
    log_cost = np.log10(part["cost"].to_numpy())
    widths = np.diff(log_cost, append=log_cost[-1])
    edges = np.linspace(log_cost[0], log_cost[-1], parts + 1)
    slot = np.clip(np.searchsorted(edges, log_cost, side="right") - 1, 0, parts - 1)
    frame = pd.DataFrame({"slot": slot, "winner": part[column].to_numpy(), "width": widths})
    out = []
    for i in range(parts):
        share = frame[frame["slot"] == i].groupby("winner", sort=False)["width"].sum()
        out.append(share.idxmax() if len(share) else None)
    return out


def threshold_model(env: pd.DataFrame, from_fraction: float = 0.5) -> tuple[str | None, pd.DataFrame]:
    """The model-size threshold: the model that wins the envelope over the widest span of log-cost once the
    envelope is past `from_fraction` of its best accuracy, up to the first cost where it reaches that best (past it
    more compute buys nothing). Below the threshold, each step up in cost is best spent on a bigger model; at it,
    on more trials or tokens. The lower cut keeps the near-zero-accuracy regime, where the smallest models are
    cheapest, from counting.

    Returns the model and the decades of cost each model wins in that range.
    """
    accuracy = env["accuracy"].to_numpy()
    if not (accuracy > 0).any():
        return None, pd.DataFrame(columns=["model", "decades"])
    best = accuracy.max()
    start = int(np.argmax(accuracy >= from_fraction * best))
    stop = int(np.argmax(accuracy >= best - 1e-12))
    part = env.iloc[start: stop + 1]
    log_cost = np.log10(part["cost"].to_numpy())
    widths = np.diff(log_cost, append=log_cost[-1])
    frame = pd.DataFrame({"model": part["model"].to_numpy(), "decades": widths}).dropna()
    per_model = frame.groupby("model", sort=False)["decades"].sum().reset_index()
    per_model = per_model.sort_values("model", key=lambda s: s.map(_size)).reset_index(drop=True)
    if per_model.empty or per_model["decades"].max() <= 0:
        return str(part["model"].iloc[-1]), per_model
    return str(per_model.loc[per_model["decades"].idxmax(), "model"]), per_model


# ---- resampling problems: frontiers, envelopes and reach costs of every bootstrap replicate --------------------

def replicate_weights(problems: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """(1 + n_boot, problems): row 0 is the data as observed (all ones), then `n_boot` bootstrap resamples."""
    return np.vstack([np.ones(problems), bootstrap_weights(problems, n_boot, seed)]) if n_boot else np.ones((1, problems))


def _problems(per_model: Sequence[Choices]) -> int:
    problems = {c.problems for c in per_model}
    if len(problems) != 1:
        raise InputError(f"every setting must cover the same problems, got {sorted(problems)} problems")
    return problems.pop()


def _replicate_curves(choices: Choices, metric: str, weights: np.ndarray, allocation: str, bound: str):
    """A setting's frontier in every replicate as breakpoints: x (E,) shared by all rows (oracle) or (B, M) per row
    (deployable), and y (B, E) or (B, M), non-decreasing along each row."""
    cost, acc = choices.cost[metric], choices.accuracy[bound]
    q = cost.shape[0]
    if allocation == "oracle":
        x, who, inc = oracle_events(cost, acc)
        return x, np.cumsum(weights[:, who] * inc[None, :], axis=1) / q
    if allocation == "deployable":
        mean_cost = weights @ cost / q
        order = np.argsort(mean_cost, axis=1, kind="stable")
        x = np.take_along_axis(mean_cost, order, axis=1)
        y = np.maximum.accumulate(np.take_along_axis(weights @ acc / q, order, axis=1), axis=1)
        return x, y
    raise InputError(f"allocation {allocation!r} is unknown; use one of {', '.join(ALLOCATIONS)}")


def replicate_frontiers(per_model: Sequence[Choices], metric: str, grid: np.ndarray, weights: np.ndarray,
                        allocation: str = "oracle", bound: str = "estimate") -> np.ndarray:
    """Accuracy of each setting's frontier on the grid in each replicate: (settings, B, grid)."""
    out = np.zeros((len(per_model), weights.shape[0], grid.size))
    for m, choices in enumerate(per_model):
        x, y = _replicate_curves(choices, metric, weights, allocation, bound)
        if y.shape[1] == 0:
            continue
        if x.ndim == 1:
            index = np.searchsorted(x, grid, side="right") - 1
            out[m] = np.where(index >= 0, y[:, np.clip(index, 0, None)], 0.0)
        else:
            index = (x[:, :, None] <= grid[None, None, :]).sum(axis=1) - 1
            out[m] = np.where(index >= 0, np.take_along_axis(y, np.clip(index, 0, None), axis=1), 0.0)
    return out


def reach_costs(per_model: Sequence[Choices], metric: str, levels: np.ndarray, weights: np.ndarray,
                allocation: str = "oracle", bound: str = "estimate") -> np.ndarray:
    """The least cost at which each setting's frontier reaches each accuracy level, in each replicate:
    (settings, B, levels), inf where never reached. Oracle: a per-problem cost cap; deployable: a mean cost."""
    out = np.full((len(per_model), weights.shape[0], levels.size), np.inf)
    for m, choices in enumerate(per_model):
        x, y = _replicate_curves(choices, metric, weights, allocation, bound)
        if y.shape[1] == 0:
            continue
        if x.ndim == 1:
            for b in range(y.shape[0]):
                index = np.searchsorted(y[b], levels - 1e-12, side="left")
                out[m, b] = np.where(index < x.size, x[np.clip(index, 0, x.size - 1)], np.inf)
        else:
            reach = y[:, :, None] >= levels[None, None, :] - 1e-12
            first = reach.argmax(axis=1)
            out[m] = np.where(reach.any(axis=1), np.take_along_axis(x, first, axis=1), np.inf)
    return out


# ---- FLOPs-optimal vs eFLOPs-optimal at equal accuracy ---------------------------------------------------------

DEFAULT_LEVELS = np.round(np.arange(0.05, 0.951, 0.01), 4)


@dataclass
class CostRatio:
    """Cost (in metric `judge`) of the choice that metric `guide` calls optimal, over the `judge`-optimal cost."""

    levels: np.ndarray        # accuracy levels
    ratio: np.ndarray         # per level (NaN where unreachable)
    guide_model: list         # model the guide metric picks at each level
    judge_model: list         # model the judge metric picks
    max_ratio: Interval       # max over levels, with its bootstrap interval
    level_at_max: float
    median_ratio: Interval    # median over the reachable levels
    guide: str = "flops"
    judge: str = "eflops"


def cost_ratio(per_model: Sequence[Choices], allocation: str = "oracle", guide: str = "flops",
               judge: str = "eflops", levels: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0,
               bound: str = "estimate") -> CostRatio:
    """At each accuracy level: the `judge` cost of the choice the `guide` metric calls cheapest, over the least
    `judge` cost that reaches the level. With guide = FLOPs and judge = eFLOPs this is the paper's "compute-optimal
    choices cost up to 3x more". A choice is a model with its allocation (oracle: per-problem k or G under a cap;
    deployable: one k or G); within one model both metrics grow with k and G, so they agree on the knob and differ
    on the model. Intervals resample problems (bootstrap of the max and of the median over levels)."""
    levels = DEFAULT_LEVELS if levels is None else np.asarray(levels, dtype=float)
    weights = replicate_weights(_problems(per_model), n_boot, seed)
    guide_cost = reach_costs(per_model, guide, levels, weights, allocation, bound)
    judge_cost = reach_costs(per_model, judge, levels, weights, allocation, bound)
    pick = guide_cost.argmin(axis=0)                                         # (B, levels)
    reached = np.isfinite(guide_cost.min(axis=0))
    paid = np.take_along_axis(judge_cost, pick[None], axis=0)[0]
    best = judge_cost.min(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(reached & np.isfinite(best), paid / best, np.nan)
    judge_pick = judge_cost.argmin(axis=0)

    def reduce(values, how):
        finite = np.isfinite(values)
        return how(values[finite]) if finite.any() else np.nan

    observed = ratio[0]
    finite = np.isfinite(observed)
    names = [c.config.model for c in per_model]
    top = reduce(observed, np.max)
    return CostRatio(
        levels, observed, [names[i] if f else None for i, f in zip(pick[0], finite)],
        [names[i] if f else None for i, f in zip(judge_pick[0], finite)],
        percentile_interval(top, [reduce(r, np.max) for r in ratio[1:]]),
        float(levels[np.nanargmax(observed)]) if finite.any() else float("nan"),
        percentile_interval(reduce(observed, np.median), [reduce(r, np.median) for r in ratio[1:]]), guide, judge)


def threshold_replicates(per_model: Sequence[Choices], metric: str, grid: np.ndarray, n_boot: int = 1000,
                         seed: int = 0, allocation: str = "oracle", from_fraction: float = 0.5) -> pd.Series:
    """How often each model is the threshold (`threshold_model`) over bootstrap resamples of the problems."""
    weights = replicate_weights(_problems(per_model), n_boot, seed)
    values = replicate_frontiers(per_model, metric, grid, weights, allocation)   # (M, B, G)
    order = sorted(range(len(per_model)), key=lambda i: _size(per_model[i].config.model))
    values = values[order]
    names = [per_model[i].config.model for i in order]
    picks = []
    for b in range(1, weights.shape[0]):
        best = values[:, b].argmax(axis=0)
        accuracy = values[best, b, np.arange(grid.size)]
        env = pd.DataFrame({"cost": grid, "accuracy": accuracy,
                            "model": pd.Series([names[i] if a > 0 else None for i, a in zip(best, accuracy)],
                                               dtype=object)})
        picks.append(threshold_model(env, from_fraction)[0])
    return pd.Series(picks).value_counts(normalize=True)


# ---- sparse against dense: accuracy gained at equal cost, cost saved at equal accuracy ------------------------

@dataclass
class SparseGain:
    grid: np.ndarray
    dense: np.ndarray            # envelope accuracy on the grid (data)
    sparse: np.ndarray
    low_cost_gain: Interval      # the largest gain (accuracy, 0..1) over the grid
    low_cost_at: float           # cost where it happens
    high_cost_gain: Interval     # gain where the dense envelope first reaches `high_fraction` of its best
    high_cost_at: float
    levels: np.ndarray
    saving: np.ndarray           # dense cost / sparse cost to reach each level (data)
    saving_at_dense_best: Interval   # at the best accuracy dense reaches
    dense_best: float
    max_saving: Interval
    replicate_gain: np.ndarray = field(repr=False, default=None)   # (1 + n_boot, grid), row 0 = data

    def gain_at(self, cost: float) -> Interval:
        """The gain at the grid point nearest `cost` (log scale), with its interval."""
        i = int(np.argmin(np.abs(np.log(self.grid) - np.log(cost))))
        return percentile_interval(self.replicate_gain[0, i], self.replicate_gain[1:, i])


def sparse_gain(dense: Sequence[Choices], sparse: Sequence[Choices], metric: str = "eflops",
                allocation: str = "oracle", points: int = 160, n_boot: int = 1000, seed: int = 0,
                levels: np.ndarray | None = None, high_fraction: float = 0.9) -> SparseGain:
    """Envelopes of the dense and the sparse settings (each over its models), their gap in accuracy at equal cost
    (largest over the grid, the "low cost" gain; and where dense first reaches `high_fraction` of its best, the "high
    cost" gain) and their cost ratio at equal accuracy, with bootstrap intervals over problems."""
    problems = _problems(list(dense) + list(sparse))
    weights = replicate_weights(problems, n_boot, seed)
    frontiers = [frontier(c, metric, allocation) for c in list(dense) + list(sparse)]
    grid = cost_grid(frontiers, points)
    env_dense = replicate_frontiers(dense, metric, grid, weights, allocation).max(axis=0)     # (B, G)
    env_sparse = replicate_frontiers(sparse, metric, grid, weights, allocation).max(axis=0)
    gain = env_sparse - env_dense
    low = int(np.argmax(gain[0]))
    high = int(np.argmax(env_dense[0] >= high_fraction * env_dense[0].max() - 1e-12))
    levels = DEFAULT_LEVELS if levels is None else np.asarray(levels, dtype=float)
    cost_dense = reach_costs(dense, metric, levels, weights, allocation).min(axis=0)        # (B, levels)
    cost_sparse = reach_costs(sparse, metric, levels, weights, allocation).min(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        saving = np.where(np.isfinite(cost_dense) & np.isfinite(cost_sparse), cost_dense / cost_sparse, np.nan)
    dense_best = float(env_dense[0].max())
    at_best = int(np.searchsorted(levels, dense_best + 1e-12) - 1)   # the highest level dense reaches
    with np.errstate(invalid="ignore"):
        replicate_max = [np.nanmax(r) if np.isfinite(r).any() else np.nan for r in saving[1:]]
    observed_max = float(np.nanmax(saving[0])) if np.isfinite(saving[0]).any() else float("nan")
    return SparseGain(
        grid, env_dense[0], env_sparse[0],
        percentile_interval(gain[0, low], gain[1:].max(axis=1)), float(grid[low]),
        percentile_interval(gain[0, high], gain[1:, high]), float(grid[high]),
        levels, saving[0],
        percentile_interval(saving[0, at_best] if at_best >= 0 else np.nan, saving[1:, max(at_best, 0)]),
        dense_best, percentile_interval(observed_max, replicate_max), gain)


# ---- how the optimal KV budget and generated tokens grow with cost ---------------------------------------------

@dataclass
class Growth:
    """Along the oracle frontier of one model over all its KV budgets: mean chosen budget and generated tokens per
    problem at each grid cost, and their growth when the cost doubles (2 ** slope of the log-log fit)."""

    grid: np.ndarray
    budget: np.ndarray
    tokens: np.ndarray
    budget_per_doubling: Interval
    tokens_per_doubling: Interval


def oracle_picks(cost: np.ndarray, accuracy: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per problem and grid cost, the index of the oracle's choice: the best accuracy within the cap, the cheapest
    among equals; -1 where nothing is affordable. Shape (Q, grid)."""
    order = np.argsort(cost, axis=1, kind="stable")
    sorted_cost = np.take_along_axis(cost, order, axis=1)
    sorted_acc = np.take_along_axis(accuracy, order, axis=1)
    width = cost.shape[1]
    best_so_far = np.maximum.accumulate(sorted_acc, axis=1)
    improves = np.append(np.ones((cost.shape[0], 1), bool), sorted_acc[:, 1:] > best_so_far[:, :-1], axis=1)
    holder = np.maximum.accumulate(np.where(improves, np.arange(width)[None, :], 0), axis=1)
    out = np.full((cost.shape[0], grid.size), -1)
    for q in range(cost.shape[0]):
        position = np.searchsorted(sorted_cost[q], grid, side="right") - 1
        out[q] = np.where(position >= 0, order[q, holder[q, np.clip(position, 0, None)]], -1)
    return out


def budget_growth(choices: Choices, metric: str = "eflops", points: int = 80, n_boot: int = 1000,
                  seed: int = 0) -> Growth:
    """Fit over the costs where every problem can afford a choice, up to where the oracle frontier stops rising."""
    cost, acc = choices.cost[metric], choices.accuracy["estimate"]
    start = cost.min(axis=1).max()
    steps = oracle_steps(cost, acc)
    stop = float(steps.cost_to_reach(steps.y.max())) if steps.y.size else start
    if not stop > start:
        raise InputError(f"{choices.label}: the frontier stops rising before every problem has a choice")
    grid = np.geomspace(start, stop, points)
    picks = oracle_picks(cost, acc, grid)                              # (Q, G), all >= 0 on this grid
    rows = np.arange(cost.shape[0])[:, None]
    budgets = choices.budget[picks].astype(float)
    tokens = choices.tokens[rows, picks]
    weights = replicate_weights(cost.shape[0], n_boot, seed)
    mean_budget = weights @ budgets / cost.shape[0]                     # (B, G)
    mean_tokens = weights @ tokens / cost.shape[0]
    x = np.log2(grid)

    def per_doubling(values):
        slopes = np.polyfit(x, np.log2(values).T, 1)[0]                 # one fit per replicate
        return 2.0 ** slopes

    b, t = per_doubling(mean_budget), per_doubling(mean_tokens)
    return Growth(grid, mean_budget[0], mean_tokens[0], percentile_interval(b[0], b[1:]),
                  percentile_interval(t[0], t[1:]))


# ---- the sweep over every table -------------------------------------------------------------------------------

@dataclass
class Sweep:
    """Choices of every setting for each (strategy, convention); frontiers are made on demand from them."""

    choices: dict[tuple[str, str], list[Choices]] = field(default_factory=dict)
    hardware: object = None

    def settings(self, strategy: str, convention: str = "exact", attention: str = "all") -> list[Choices]:
        key = (strategy, convention)
        if key not in self.choices:
            raise InputError(f"the sweep has no {strategy} / {convention} choices; it has {sorted(self.choices)}")
        if attention not in ATTENTION_CHOICES:
            raise InputError(f"attention {attention!r} is unknown; use one of {', '.join(ATTENTION_CHOICES)}")
        out = [c for c in self.choices[key] if attention == "all" or c.config.attention == attention]
        return sorted(out, key=lambda c: (_size(c.config.model), c.config.attention, c.config.budget,
                                          c.config.local_window))

    def per_model(self, strategy: str, convention: str = "exact", attention: str = "dense",
                  models: Sequence[str] | None = None) -> list[Choices]:
        """One Choices per model: dense as is; sparse kinds with their budgets merged (local window 0 only, so the
        merged setting is the paper's B = top-k budget family)."""
        groups: dict[str, list[Choices]] = {}
        for c in self.settings(strategy, convention, attention):
            if c.config.local_window == 0 and (models is None or c.config.model in models):
                groups.setdefault(c.config.model, []).append(c)
        out = [g[0] if len(g) == 1 else merge_budgets(g) for g in groups.values()]
        if attention != "dense":
            out = [replace(c, config=replace(c.config, attention=attention, budget=-1)) for c in out]
        return out


def sweep(table: pd.DataFrame | None = None, hardware="b200", strategies: Sequence[str] = STRATEGIES,
          conventions: Sequence[str] = ("exact",), traces: str | None = None,
          length_budgets: Sequence[int] = LENGTH_BUDGETS, **cost_options) -> Sweep:
    """Choices (accuracy and every cost metric per problem) of every setting in the traces, vectorised per table."""
    from kinetics.hardware import get_hardware

    hardware = get_hardware(hardware)
    table = load_traces(traces) if table is None else table
    groups = group_arrays(table)
    out = Sweep(hardware=hardware)
    for strategy in strategies:
        for convention in conventions:
            options = dict(cost_options)
            if strategy == "long-cot":
                options["budgets"] = length_budgets
            out.choices[(strategy, convention)] = [choices_for(g, strategy, hardware, convention, **options)
                                                   for g in groups]
    return out


def choice_table(per_model: Sequence[Choices], metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Every (model, knob) choice with its mean accuracy and mean cost per problem in each metric (the deployable
    view; the iso-cost maps draw it)."""
    rows = []
    for c in per_model:
        for j, knob in enumerate(c.knob):
            row = {"model": c.config.model, "params": _size(c.config.model), "attention": c.config.attention,
                   "budget": int(c.budget[j]), "knob": int(knob), "accuracy": float(c.accuracy["estimate"][:, j].mean()),
                   "accuracy_low": float(c.accuracy["low"][:, j].mean()),
                   "accuracy_high": float(c.accuracy["high"][:, j].mean()),
                   "tokens": float(c.tokens[:, j].mean())}
            row.update({metric: float(c.cost[metric][:, j].mean()) for metric in metrics})
            rows.append(row)
    return pd.DataFrame(rows)


def frontier_points(frontiers: Sequence[Frontier], grid: np.ndarray) -> list[dict]:
    """Every frontier on the grid as records {model, attention, budget, cost, accuracy, low, high} (JSON-ready)."""
    records = []
    for f in frontiers:
        values = {bound: f.at(grid, bound) for bound in BOUNDS}
        for i, cost in enumerate(grid):
            records.append({"model": f.config.model, "attention": f.config.attention, "budget": int(f.config.budget),
                            "block_size": int(f.config.block_size), "local_window": int(f.config.local_window),
                            "cost": float(cost), "accuracy": float(values["estimate"][i]),
                            "accuracy_low": float(values["low"][i]), "accuracy_high": float(values["high"][i])})
    return records
