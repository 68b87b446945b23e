"""The paper convention: the authors' `cost_model/utils.py` formulas, their parameter counts and their sign."""
from __future__ import annotations

import numpy as np

from kinetics.cost.base import Attention, TERMS, _Setup
from kinetics.models import ModelSpec


#: The authors' parameter counts (`model_sizes` in cost_model/utils.py). 14B: 14.33e9 is what their published
#: tables were computed with (their notebooks' label); their scripts say 14.77e9 (`PAPER_SCRIPT_PARAMS`).
PAPER_PARAMS = {"qwen3-0.6b": 0.752e9, "qwen3-1.7b": 2.03e9, "qwen3-4b": 4.02e9, "qwen3-8b": 8.19e9,
                "qwen3-14b": 14.33e9, "qwen3-32b": 32.76e9}
PAPER_SCRIPT_PARAMS = {**PAPER_PARAMS, "qwen3-14b": 14.77e9}
#: Sign of the (B - ctx)^2 / 2 term in the paper's S. Their tables use + for top-k and block top-k alike; their
#: released block_sparse_cost has - . Both are wrong; the exact sum is sum_t min(B, ctx + t).
PAPER_SIGN = +1


# ---- paper convention --------------------------------------------------------------------------------------------------

def paper_params(model: ModelSpec) -> float:
    """The paper's P for a Qwen3 model (PAPER_PARAMS); any other model: its parameters used per token (an MoE's
    active ones: the paper's P multiplies every generated token, and a token runs only its routed experts)."""
    return PAPER_PARAMS.get(model.name, float(model.params_active))


def paper_attended_keys(ctx, gen, budget, sign: int = PAPER_SIGN):
    """The paper's S = B gen + sign x max(0, B - ctx)^2 / 2, their stand-in for sum_t min(B, ctx + t)."""
    ctx, gen = np.asarray(ctx), np.asarray(gen)
    return budget * gen + sign * 0.5 * np.maximum(0, budget - ctx) ** 2


def paper_terms(params, num_heads, num_kv_heads, head_dim_layers, ctx, gen, trials, attention: Attention,
                sign: int = PAPER_SIGN) -> dict:
    """The authors' dense_cost / zero_overhead_sparse_cost / block_sparse_cost for `trials` trials all `gen` long,
    as FLOPs and bytes (their memory_cost is intensity x bytes). Arrays broadcast; head_dim_layers = d x layers.
    Their B is local_window + budget; sinks and dense layers are not priced."""
    P, hq, hkv, hdl = float(params), num_heads, num_kv_heads, head_dim_layers
    ctx, gen, n = (np.asarray(x) for x in (ctx, gen, trials))
    zero = np.zeros(np.broadcast(ctx, gen, n).shape)
    out = {key: zero for key in TERMS}
    out["flops_params"] = 2 * P * gen * n + zero
    out["flops_prior"] = out["flops_params"]
    if attention.kind == "dense":
        out["flops_attention"] = 2.0 * (2 * ctx + gen) * gen * hq * hdl * n
        out["bytes_kv"] = 2.0 * (2 * ctx + gen * n) * gen * hkv * hdl
        return out
    budget = attention.budget + attention.local_window
    s = paper_attended_keys(ctx, gen, budget, sign)
    out["flops_attention"] = 4 * s * hq * hdl * n
    out["bytes_kv"] = 4 * s * hkv * hdl * n
    if attention.kind == "blocktopk":
        bs = attention.block_size
        out["flops_selection"] = np.floor_divide(2 * ctx + gen, bs) * gen * hq * hdl * n
        out["bytes_selection"] = np.floor_divide(2 * ctx + gen * n, bs) * gen * hkv * hdl + zero
    return out


def _paper(s: _Setup, ctx, gen, trials) -> dict:
    m = s.model
    return paper_terms(paper_params(m), m.num_heads, m.num_kv_heads, m.head_dim * m.num_layers,
                       ctx, gen, trials, s.attention)
