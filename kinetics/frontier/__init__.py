"""Accuracy-cost frontiers of test-time scaling, from traces.

Two strategies spend more inference on a problem:

* best-of-N: draw k of a problem's n samples (exact convention: every k = 1..n; paper convention: the authors'
  grid k in {1, 2, 4, 8, 16, 32} up to n, `PAPER_TRIALS`); accuracy is the unbiased pass@k (`kinetics.metrics`),
  cost the expected cost of k trials drawn from the n sampled lengths (`kinetics.cost.best_of_n_cost_arrays`).
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

Layout: ``choices`` (what both strategies share), ``best_of_n``, ``long_cot``, ``allocation`` (oracle, deployable:
step functions and frontiers), ``envelope`` (cross-model), ``stats`` (bootstrap intervals, cost ratio, sparse gain,
budget growth), ``sweep`` (every table). Every public name is importable from ``kinetics.frontier``.
"""
from __future__ import annotations

from kinetics.frontier.choices import (ALLOCATIONS, ATTENTION_CHOICES, BOUNDS, CONVENTIONS, Choices,
                                       FRONTIER_ALLOCATIONS, LENGTH_BUDGETS, METRICS, STRATEGIES, UNITS, merge_budgets)
from kinetics.frontier.best_of_n import PAPER_TRIALS, best_of_n_choices, trial_grid
from kinetics.frontier.long_cot import long_cot_accuracy, long_cot_choices
from kinetics.frontier.allocation import (Frontier, Steps, cost_grid, deployable_steps, frontier,
                                          mean_budget_oracle_steps, oracle_events, oracle_steps)
from kinetics.frontier.envelope import envelope, threshold_model, winner_spans, winners_by_part
from kinetics.frontier.stats import (CostRatio, DEFAULT_LEVELS, Growth, SparseGain, budget_growth, cost_ratio,
                                     envelope_growth, growth_curves, optimal_allocation, oracle_picks, per_doubling,
                                     ratio_curves, reach_costs, replicate_frontiers, replicate_weights, sparse_gain,
                                     threshold_replicates)
from kinetics.frontier.sweep import Sweep, choice_table, choices_for, frontier_points, sweep

__all__ = ["STRATEGIES", "METRICS", "ALLOCATIONS", "FRONTIER_ALLOCATIONS", "CONVENTIONS", "ATTENTION_CHOICES",
           "LENGTH_BUDGETS", "BOUNDS", "UNITS", "Choices", "merge_budgets", "best_of_n_choices", "long_cot_accuracy",
           "long_cot_choices", "Steps", "oracle_events", "oracle_steps", "deployable_steps",
           "mean_budget_oracle_steps", "Frontier", "frontier", "cost_grid", "envelope", "winner_spans",
           "winners_by_part", "threshold_model", "replicate_weights", "replicate_frontiers", "reach_costs",
           "DEFAULT_LEVELS", "CostRatio", "cost_ratio", "threshold_replicates", "SparseGain", "sparse_gain", "Growth",
           "oracle_picks", "budget_growth", "PAPER_TRIALS", "trial_grid", "ratio_curves",
           "growth_curves", "per_doubling", "envelope_growth", "optimal_allocation", "choices_for", "Sweep", "sweep", "choice_table", "frontier_points"]
