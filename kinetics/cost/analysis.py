"""Analyses on top of the cost model: where attention takes over, iso-cost lengths, the paper's simplifications."""
from __future__ import annotations

import numpy as np

from kinetics.cost.arrays import metric_of, per_sample_cost_arrays
from kinetics.cost.base import MAX_TOKENS, Attention, Cost
from kinetics.cost.generation import generation_cost
from kinetics.errors import InputError
from kinetics.hardware import get_hardware
from kinetics.models import get_model


# ---- analysis: where attention takes over, iso-cost lengths, the paper's simplifications ---------------------------------

def parameter_and_attention_cost(arrays: dict, intensity: float, metric: str = "eflops"):
    """Split a result into (parameter cost, attention cost), prefill left out. eflops: parameters = their FLOPs +
    I x weight bytes; attention = attention and selection FLOPs + I x (K/V reads, selection reads, K/V writes).
    flops: compute only (parameter FLOPs, attention + selection FLOPs)."""
    params = arrays["flops_params"]
    attention = arrays["flops_attention"] + arrays["flops_selection"]
    if metric == "eflops":
        params = params + intensity * arrays["bytes_weights"]
        attention = attention + intensity * (arrays["bytes_kv"] + arrays["bytes_selection"] + arrays["bytes_kv_write"])
    elif metric != "flops":
        raise InputError(f"ratio metric {metric!r} is unknown; known: eflops, flops")
    return params, attention


def attention_to_parameter_ratio(model, hardware, prompt_tokens, gen_tokens, attention: Attention = Attention.dense(),
                                 convention: str = "exact", metric: str = "eflops", **options) -> np.ndarray:
    """Attention cost over parameter cost of one trial (the paper's Phi under eflops), arrays broadcast."""
    arrays = per_sample_cost_arrays(model, hardware, prompt_tokens, gen_tokens, attention, convention, **options)
    intensity = arrays["eflops"] - arrays["flops"]
    with np.errstate(invalid="ignore", divide="ignore"):
        intensity = np.where(arrays["memory_bytes"] > 0, intensity / arrays["memory_bytes"], 0.0)
    params, attn = parameter_and_attention_cost(arrays, intensity, metric)
    return attn / params


def _smallest_length(fn, targets, max_tokens: int) -> np.ndarray:
    """Smallest integer g in [1, max_tokens] with fn(g) >= target, for a nondecreasing fn over arrays; NaN when
    even max_tokens falls short."""
    targets = np.asarray(targets, float)
    lo, hi = np.ones_like(targets), np.full_like(targets, float(max_tokens))
    reached = fn(hi) >= targets
    while np.any(hi - lo > 0):
        mid = np.floor((lo + hi) / 2)
        above = fn(mid) >= targets
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid + 1)
    return np.where(reached, hi, np.nan)


def crossing_length(model, hardware, ratio, prompt_tokens: int = 150, attention: Attention = Attention.dense(),
                    convention: str = "exact", metric: str = "eflops", max_tokens: int = MAX_TOKENS, **options):
    """The shortest generation whose attention cost is at least `ratio` x its parameter cost (NaN if none up to
    max_tokens). `ratio` may be an array."""
    return _smallest_length(
        lambda g: attention_to_parameter_ratio(model, hardware, prompt_tokens, g, attention, convention, metric,
                                               **options), ratio, max_tokens)


def length_for_cost(model, hardware, cost, metric: str = "eflops", prompt_tokens: int = 150,
                    attention: Attention = Attention.dense(), convention: str = "exact", max_tokens: int = MAX_TOKENS,
                    **options):
    """The shortest generation of one trial costing at least `cost` under `metric` (see `metric_of`): the points
    of an iso-cost contour. `cost` may be an array; NaN where max_tokens is not enough."""
    return _smallest_length(
        lambda g: metric_of(per_sample_cost_arrays(model, hardware, prompt_tokens, g, attention, convention,
                                                   **options), metric), cost, max_tokens)


def simplifications(model, hardware, prompt_tokens: int, gen_tokens: int, attention: Attention = Attention.dense(),
                    trials: int = 1, litesys_defaults: bool = True, **options) -> list[dict]:
    """The paper's cost next to the exact one, term by term, both priced at the paper's intensity (the hardware's
    FP8 intensity when it has one). Rows: parameter FLOPs (their P), attention + K/V (their S), block selection,
    weights (dropped), prefill and K/V writes (omitted), and for sparse attention with `litesys_defaults` the dense
    layer 0 and 4 sink tokens LiteSys keeps (unpriced). The rows' differences add up to the total's.
    Values in eFLOPs; `change` is (exact - paper) / paper total."""
    model, hardware = get_model(model), get_hardware(hardware)
    paper = generation_cost(model, hardware, prompt_tokens, gen_tokens, attention, "paper", trials=trials, **options)
    dtype = hardware.paper_dtype
    exact = generation_cost(model, hardware, prompt_tokens, gen_tokens, attention, "exact", trials=trials,
                            compute_dtype=dtype, **options)
    intensity = exact.intensity

    def parts(c: Cost) -> dict:
        b = c.breakdown
        return {"parameter FLOPs (P)": b["flops_params"],
                "attention + K/V reads (S)": b["flops_attention"] + intensity * b["bytes_kv"],
                "block selection": b["flops_selection"] + intensity * b["bytes_selection"],
                "weight reads": intensity * b["bytes_weights"],
                "prefill + K/V writes": b["flops_prefill"] + intensity * (b["bytes_prefill"] + b["bytes_kv_write"])}

    ours, theirs = parts(exact), parts(paper)
    total = exact.eflops
    if attention.kind != "dense" and litesys_defaults:
        kept = Attention(attention.kind, attention.budget, attention.block_size, attention.local_window,
                         attention.sink_tokens + 4, max(attention.dense_layers, 1), attention.priced_search)
        litesys = generation_cost(model, hardware, prompt_tokens, gen_tokens, kept, "exact", trials=trials,
                                  compute_dtype=dtype, **options)
        ours["dense layer 0 + 4 sinks"], theirs["dense layer 0 + 4 sinks"] = litesys.eflops - exact.eflops, 0.0
        total = litesys.eflops
    ours["total"], theirs["total"] = total, paper.eflops
    return [{"term": key, "paper": theirs[key], "exact": ours[key],
             "change": (ours[key] - theirs[key]) / paper.eflops} for key in ours]
