"""The sweep over every trace table: choices of every setting per strategy and convention, tables and grid points."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from kinetics.errors import InputError
from kinetics.frontier.allocation import Frontier
from kinetics.frontier.best_of_n import best_of_n_choices
from kinetics.frontier.choices import (ATTENTION_CHOICES, BOUNDS, Choices, LENGTH_BUDGETS, METRICS, STRATEGIES,
                                       merge_budgets)
from kinetics.frontier.envelope import _size
from kinetics.frontier.long_cot import long_cot_choices
from kinetics.traces import ProblemArrays, group_arrays, load_traces


def choices_for(data: ProblemArrays, strategy: str, hardware, convention: str = "exact", **options) -> Choices:
    if strategy == "best-of-n":
        return best_of_n_choices(data, hardware, convention, **options)
    if strategy == "long-cot":
        return long_cot_choices(data, hardware, convention, **options)
    raise InputError(f"strategy {strategy!r} is unknown; use one of {', '.join(STRATEGIES)}")


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
