"""Statistics over problems: bootstrap replicates of frontiers and reach costs, the FLOPs-vs-eFLOPs cost ratio
(re-optimised and strict), sparse-vs-dense gains, what the oracle picks along a frontier or an envelope and the
growth of the optimal budget, each with its interval."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from kinetics.errors import InputError
from kinetics.frontier.allocation import Frontier, cost_grid, frontier, oracle_events, oracle_steps
from kinetics.frontier.choices import ALLOCATIONS, Choices
from kinetics.frontier.envelope import _size, threshold_model
from kinetics.metrics import bootstrap_weights, percentile_interval, Interval


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


def _strict_paid(choices: Choices, guide: str, judge: str, caps: np.ndarray, weights: np.ndarray,
                 bound: str) -> np.ndarray:
    """The `judge` cap that affords the whole `guide`-optimal oracle configuration of one model: under each `guide`
    cap, every problem's pick (its best choice within the cap), priced in `judge`; the configuration needs the
    largest of those prices over the problems in the replicate. caps: (B, L) -> (B, L)."""
    guide_cost, judge_cost, acc = choices.cost[guide], choices.cost[judge], choices.accuracy[bound]
    finite = np.isfinite(caps)
    distinct = np.unique(caps[finite])
    if distinct.size == 0:
        return np.full(caps.shape, np.inf)
    picks = oracle_picks(guide_cost, acc, distinct)                                  # (Q, D)
    rows = np.arange(picks.shape[0])[:, None]
    priced = np.where(picks >= 0, judge_cost[rows, np.clip(picks, 0, None)], 0.0)   # (Q, D)
    at = np.searchsorted(distinct, np.where(finite, caps, distinct[0]))             # (B, L)
    present = weights > 0                                                            # (B, Q)
    paid = np.max(np.where(present[:, :, None], priced.T[at].transpose(0, 2, 1), 0.0), axis=1)
    return np.where(finite, paid, np.inf)


def ratio_curves(per_model: Sequence[Choices], weights: np.ndarray, allocation: str = "oracle",
                 guide: str = "flops", judge: str = "eflops", levels: np.ndarray | None = None,
                 bound: str = "estimate", strict: bool = False):
    """The cost ratio at every accuracy level in every replicate (rows of `weights`): (ratio (B, L), the guide's
    pick (B, L), the judge's pick (B, L)), model indices into `per_model`, NaN where a level is not reached.

    strict=False (the paper's): the guide picks the model; that model's cost is then re-optimised under the judge.
    strict=True (oracle only): the guide's whole configuration, model and per-problem choice, is priced as is."""
    levels = DEFAULT_LEVELS if levels is None else np.asarray(levels, dtype=float)
    weights = weights * (weights.shape[1] / weights.sum(axis=1, keepdims=True))   # jackknife rows sum to Q too
    guide_cost = reach_costs(per_model, guide, levels, weights, allocation, bound)   # (M, B, L)
    judge_cost = reach_costs(per_model, judge, levels, weights, allocation, bound)
    pick = guide_cost.argmin(axis=0)
    reached = np.isfinite(guide_cost.min(axis=0))
    if strict and allocation == "oracle":
        strict_cost = np.stack([_strict_paid(c, guide, judge, guide_cost[m], weights, bound)
                                for m, c in enumerate(per_model)])
        paid = np.take_along_axis(strict_cost, pick[None], axis=0)[0]
    elif strict and allocation != "deployable":    # deployable: one choice is the whole configuration already
        raise InputError(f"a strict cost ratio needs allocation oracle or deployable, got {allocation!r}")
    else:
        paid = np.take_along_axis(judge_cost, pick[None], axis=0)[0]
    best = judge_cost.min(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(reached & np.isfinite(best), paid / best, np.nan)
    return ratio, pick, judge_cost.argmin(axis=0)


def cost_ratio(per_model: Sequence[Choices], allocation: str = "oracle", guide: str = "flops",
               judge: str = "eflops", levels: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0,
               bound: str = "estimate", strict: bool = False) -> CostRatio:
    """At each accuracy level: the `judge` cost of the choice the `guide` metric calls cheapest, over the least
    `judge` cost that reaches the level. With guide = FLOPs and judge = eFLOPs this is the paper's "compute-optimal
    choices cost up to 3x more". A choice is a model with its allocation (oracle: per-problem k or G under a cap;
    deployable: one k or G); by default the guide's model is re-optimised under the judge, `strict` prices the
    guide's whole configuration (`ratio_curves`). Intervals resample problems (bootstrap of the max and of the
    median over levels)."""
    levels = DEFAULT_LEVELS if levels is None else np.asarray(levels, dtype=float)
    weights = replicate_weights(_problems(per_model), n_boot, seed)
    ratio, pick, judge_pick = ratio_curves(per_model, weights, allocation, guide, judge, levels, bound, strict)

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


def growth_curves(choices: Choices, metric: str = "eflops", points: int = 80):
    """The oracle's picks along one model's frontier: the grid (from the cost where every problem can afford a
    choice to where the frontier stops rising) and the KV budget and generated tokens of each problem's pick,
    (Q, grid) each."""
    cost, acc = choices.cost[metric], choices.accuracy["estimate"]
    start = cost.min(axis=1).max()
    steps = oracle_steps(cost, acc)
    stop = float(steps.cost_to_reach(steps.y.max())) if steps.y.size else start
    if not stop > start:
        raise InputError(f"{choices.label}: the frontier stops rising before every problem has a choice")
    grid = np.geomspace(start, stop, points)
    picks = oracle_picks(cost, acc, grid)                              # (Q, G), all >= 0 on this grid
    rows = np.arange(cost.shape[0])[:, None]
    return grid, choices.budget[picks].astype(float), choices.tokens[rows, picks]


def per_doubling(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Growth per doubling of cost, 2 ** (slope of log2 values against log2 cost), one fit per row of (B, grid)."""
    return 2.0 ** np.polyfit(np.log2(grid), np.log2(np.atleast_2d(values)).T, 1)[0]


def budget_growth(choices: Choices, metric: str = "eflops", points: int = 80, n_boot: int = 1000,
                  seed: int = 0) -> Growth:
    """Fit over the costs where every problem can afford a choice, up to where the oracle frontier stops rising."""
    grid, budgets, tokens = growth_curves(choices, metric, points)
    weights = replicate_weights(budgets.shape[0], n_boot, seed)
    mean_budget = weights @ budgets / budgets.shape[0]                  # (B, G)
    mean_tokens = weights @ tokens / budgets.shape[0]
    b, t = per_doubling(grid, mean_budget), per_doubling(grid, mean_tokens)
    return Growth(grid, mean_budget[0], mean_tokens[0], percentile_interval(b[0], b[1:]),
                  percentile_interval(t[0], t[1:]))


def envelope_growth(per_model: Sequence[Choices], weights: np.ndarray, metric: str = "eflops",
                    points: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Growth per doubling of cost of the mean KV budget and tokens the oracle picks along the cross-model envelope
    (at each cost, the picks of the model that wins it), one value per row of `weights` (B, Q): (budget (B,),
    tokens (B,), grid). The fit runs from the first cost where the winner has a choice for every problem to where
    the envelope stops rising."""
    frontiers = [frontier(c, metric) for c in per_model]
    grid = cost_grid(frontiers, points)
    weights = np.vstack([np.ones(weights.shape[1]), weights])   # row 0: the data, which fixes the fit range
    weights = weights * (weights.shape[1] / weights.sum(axis=1, keepdims=True))
    values = replicate_frontiers(per_model, metric, grid, weights)            # (M, B, G)
    order = np.argsort([_size(c.config.model) for c in per_model], kind="stable")
    winner = order[values[order].argmax(axis=0)]                              # (B, G), ties: the smaller model
    budget_mean, token_mean, covered = [], [], []
    for c in per_model:
        picks = oracle_picks(c.cost[metric], c.accuracy["estimate"], grid)    # (Q, G)
        ok = picks >= 0
        rows = np.arange(picks.shape[0])[:, None]
        budget = np.where(ok, c.budget[np.clip(picks, 0, None)], 0.0)
        tokens = np.where(ok, c.tokens[rows, np.clip(picks, 0, None)], 0.0)
        count = weights @ ok
        with np.errstate(invalid="ignore", divide="ignore"):
            budget_mean.append(weights @ budget / count)
            token_mean.append(weights @ tokens / count)
        covered.append(ok.all(axis=0))

    def of_winner(stack):
        return np.take_along_axis(np.stack(stack), winner[None], axis=0)[0]

    budget, tokens = of_winner(budget_mean)[1:], of_winner(token_mean)[1:]
    covered = np.stack(covered)[winner[0], np.arange(grid.size)]
    env = values.max(axis=0)[0]
    start = int(np.argmax(covered)) if covered.any() else 0
    stop = int(np.argmax(env >= env.max() - 1e-12))
    span = slice(start, max(stop, start + 1) + 1)
    return per_doubling(grid[span], budget[:, span]), per_doubling(grid[span], tokens[:, span]), grid[span]


def optimal_allocation(frontiers: Sequence[Frontier], env: pd.DataFrame) -> pd.DataFrame:
    """Along an oracle envelope: at each grid cost the winning model, its size, and the mean k or G (and generated
    tokens) its oracle picks over the problems that can afford a choice (the paper's Fig. 3b/d)."""
    by_label = {f.config.label: f for f in frontiers}
    grid = env["cost"].to_numpy()
    knob, tokens = np.full(grid.size, np.nan), np.full(grid.size, np.nan)
    for label in env["setting"].dropna().unique():
        f = by_label[label]
        at = np.flatnonzero((env["setting"] == label).to_numpy())
        picks = oracle_picks(f.choices.cost[f.metric], f.choices.accuracy["estimate"], grid[at])   # (Q, n)
        ok = picks >= 0
        rows = np.arange(picks.shape[0])[:, None]
        with np.errstate(invalid="ignore"):
            knob[at] = np.where(ok, f.choices.knob[np.clip(picks, 0, None)], 0).sum(axis=0) / ok.sum(axis=0)
            tokens[at] = np.where(ok, f.choices.tokens[rows, np.clip(picks, 0, None)], 0).sum(axis=0) / ok.sum(axis=0)
    params = [float(_size(m)) if m is not None else np.nan for m in env["model"]]
    return pd.DataFrame({"cost": grid, "model": env["model"], "params": params, "knob": knob, "tokens": tokens})
