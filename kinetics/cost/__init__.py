"""What test-time scaling costs: FLOPs, bytes moved, eFLOPs and seconds of N trials of one problem.

The unit of work is one *problem*: a prompt of `ctx` tokens, prefilled once, and N trials (samples) that share it,
trial i generating g_i tokens. Everything is in SI units (FLOP, byte, second), totals over all trials.

Two conventions price the same work:

``exact`` (the default; the project's model)
    Decode, trial i: the forward pass that produces generated token t (t = 0 .. g_i - 1) has its query at position
    ctx + t - 1 and attends the n_t = ctx + t keys before and at it. Per pass and layer, one attended key costs
    4 Hq d FLOPs (q.k and p.v over Hq query heads of width d) and its K and V cost 2 Hkv d x kv_bytes bytes.
    Sparse layers attend keep = budget + local_window + sink_tokens keys once n_t > keep, and every key before
    (a pass with n_t <= keep is dense); `dense_layers` layers stay dense. Sums over t are exact discrete sums,
    e.g. S = sum_t min(keep, ctx + t), in closed form.
    Prompt sharing: while any trial is alive, one decode step reads the prompt's K/V once for all trials (a
    shared-prefix kernel), so dense reads of the prompt scale with max_i g_i. Sparse passes read their own selected
    keys: trials select different tokens, nothing is shared.
    Selection: block top-k scores one mean key per complete block (2 Hq d FLOPs; Hkv d x kv_bytes bytes, K only);
    the prompt's mean keys are shared like the prompt's K/V. Oracle top-k is free by default (the paper's upper
    bound); `priced_search=True` charges the full q.K it needs (every key scored and its K read).
    Weights: each pass reads the matrix weights once per *batch*: params_matmul x weight bytes / batch_size per
    token (MoE: the experts a batch of that size touches, in expectation). KV writes: one token per pass.
    Prefill: the first ctx - 1 prompt positions run once per problem (the pass at position ctx - 1 is counted as
    every trial's pass 0, as the paper does; an engine runs it once, an overcount of N - 1 one-token passes):
    2 P FLOPs per token plus causal attention, one full weight read, prompt K/V written and read once.
    FLOPs = 2 params_matmul per generated token + attention + selection + prefill.

``paper`` (the authors' `cost_model/utils.py`, reproducing their published tables exactly, faults included)
    Their parameter counts (`PAPER_PARAMS`: 14.33e9 for 14B, the number their tables use), E from the hardware
    (B200 FP8: 562.5), no weight reads, no prefill, no KV writes, sinks and dense layers unpriced,
    S = B gen + (max(0, B - ctx))^2 / 2 with the + sign of their tables for top-k and block top-k
    (`PAPER_SIGN`), integer block counts `(2 ctx + gen) // bs` and `(2 ctx + gen N) // bs`, all N trials as long
    as one sampled length, averaged over the sampled lengths (their `expected_cost`).

eFLOPs = FLOPs + I x bytes with I = hardware.intensity(compute_dtype) (FLOP/byte). Seconds: FLOPs / peak plus
bytes / bandwidth (overlap="additive", the paper's roofline that never overlaps) or the larger of the two
(overlap="max", full overlap of the totals; a lower bound on any real run).

Layout: ``base`` (attention settings, the result, the terms, the batch), ``exact`` and ``paper`` (the two
conventions), ``generation`` (`generation_cost`), ``arrays`` (vectorised and best-of-n costs), ``analysis``.
Every public name is importable from ``kinetics.cost``.
"""
from __future__ import annotations

from kinetics.cost.base import (Attention, BATCH_CONTEXT, BYTE_TERMS, CONVENTIONS, COST_METRICS, Cost, DTYPE_BYTES,
                                FLOP_TERMS, KINDS, OVERLAPS, TERMS, TERM_HELP, WEIGHTS_FREE, default_batch_size)
from kinetics.cost.exact import attended_keys, floor_sum, tri
from kinetics.cost.paper import (PAPER_PARAMS, PAPER_SCRIPT_PARAMS, PAPER_SIGN, paper_attended_keys, paper_params,
                                 paper_terms)
from kinetics.cost.generation import generation_cost
from kinetics.cost.arrays import (best_of_n_cost_arrays, best_of_n_expected_cost, max_order_weights, metric_of,
                                  per_sample_cost_arrays)
from kinetics.cost.analysis import (attention_to_parameter_ratio, crossing_length, length_for_cost,
                                    parameter_and_attention_cost, simplifications)
from kinetics.models import get_model

__all__ = ["CONVENTIONS", "OVERLAPS", "COST_METRICS", "KINDS", "BATCH_CONTEXT", "WEIGHTS_FREE", "DTYPE_BYTES",
           "FLOP_TERMS",
           "BYTE_TERMS", "TERMS", "TERM_HELP", "Attention", "Cost", "default_batch_size", "tri", "floor_sum",
           "attended_keys", "PAPER_PARAMS", "PAPER_SCRIPT_PARAMS", "PAPER_SIGN", "paper_params", "paper_attended_keys",
           "paper_terms", "generation_cost", "per_sample_cost_arrays", "max_order_weights", "best_of_n_cost_arrays",
           "metric_of", "best_of_n_expected_cost", "parameter_and_attention_cost", "attention_to_parameter_ratio",
           "crossing_length", "length_for_cost", "simplifications", "get_model"]
