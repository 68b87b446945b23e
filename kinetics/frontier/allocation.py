"""Allocations turn choices into a frontier: the oracle (per-problem cost cap), the deployable (one choice for all)
and the oracle under a mean cost; exact step functions, never smoothed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from kinetics.errors import InputError
from kinetics.frontier.choices import BOUNDS, Choices, FRONTIER_ALLOCATIONS, METRICS
from kinetics.traces import TraceConfig


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
