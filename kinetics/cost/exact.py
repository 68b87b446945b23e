"""The exact convention (the project's model): closed forms of the discrete sums over decode passes."""
from __future__ import annotations

import numpy as np

from kinetics.cost.base import Attention, DTYPE_BYTES, TERMS, _Setup, _weight_bytes_per_pass


# ---- exact convention: closed forms of the discrete sums ----------------------------------------------------------------

def tri(n):
    """sum_{t=0}^{n-1} t = n (n - 1) / 2 (0 for n <= 0)."""
    n = np.maximum(n, 0)
    return n * (n - 1) / 2


def floor_sum(n, block):
    """sum_{j=0}^{n-1} floor(j / block), in closed form."""
    n = np.maximum(n, 0)
    q, r = np.floor_divide(n, block), np.mod(n, block)
    return block * q * (q - 1) / 2 + q * r


def attended_keys(ctx, gen, keep):
    """S = sum_{t=0}^{gen-1} min(keep, ctx + t): keys attended by one trial's passes (keep = inf: dense)."""
    ctx, gen = np.asarray(ctx, float), np.asarray(gen, float)
    if np.isinf(keep):
        return ctx * gen + tri(gen)
    dense_steps = _dense_steps(ctx, gen, keep)
    return ctx * dense_steps + tri(dense_steps) + keep * (gen - dense_steps)


def _dense_steps(ctx, gen, keep):
    """Passes t < gen with ctx + t <= keep (all of them for dense attention)."""
    if np.isinf(keep):
        return np.asarray(gen, float)
    return np.clip(keep - ctx + 1, 0, gen)


def _score_keys_sum(ctx, start, stop, attention: Attention):
    """sum_{t=start}^{stop-1} (score keys at context ctx + t): every key (top-k) or every complete block (block
    top-k)."""
    if attention.kind == "topk":
        return tri(ctx + stop) - tri(ctx + start)
    return floor_sum(ctx + stop, attention.block_size) - floor_sum(ctx + start, attention.block_size)


def _score_keys(n, attention: Attention):
    return n if attention.kind == "topk" else np.floor_divide(n, attention.block_size)


def _has_selection(attention: Attention) -> bool:
    return attention.kind == "blocktopk" or (attention.kind == "topk" and attention.priced_search)


def _exact_per_trial(s: _Setup, ctx, gen) -> dict:
    """Terms that each trial pays on its own, as arrays over (ctx, gen)."""
    m, a = s.model, s.attention
    d = m.head_dim
    kv_token_layer = 2 * m.num_kv_heads * d * s.kv_bytes
    flops_key_layer = 4 * m.num_heads * d
    ctx, gen = np.asarray(ctx, float), np.asarray(gen, float)
    zero = np.zeros(np.broadcast(ctx, gen).shape)
    # dense layers: every key; own reads = the trial's generated tokens, the prompt part is shared
    attend = s.dense_layers * (ctx * gen + tri(gen))
    own_reads = s.dense_layers * tri(gen)
    selection_flops = selection_bytes = zero
    if s.sparse_layers:
        dense_steps = _dense_steps(ctx, gen, a.keep)
        attend = attend + s.sparse_layers * attended_keys(ctx, gen, a.keep)
        own_reads = own_reads + s.sparse_layers * (tri(dense_steps) + a.keep * (gen - dense_steps))
        if _has_selection(a):
            scored = _score_keys_sum(ctx, dense_steps, gen, a)
            scored_prompt = _score_keys(ctx, a) * (gen - dense_steps)
            selection_flops = s.sparse_layers * 2 * m.num_heads * d * scored
            selection_bytes = s.sparse_layers * m.num_kv_heads * d * s.kv_bytes * (scored - scored_prompt)
    return {
        "flops_params": 2.0 * m.params_matmul * gen,
        "flops_attention": flops_key_layer * attend,
        "flops_selection": zero + selection_flops,
        "flops_prefill": zero,
        "bytes_kv": kv_token_layer * own_reads,
        "bytes_selection": zero + selection_bytes,
        "bytes_weights": s.weight_bytes_per_token * gen,
        "bytes_kv_write": m.kv_bytes_per_token(s.kv_bytes) * gen,
        "bytes_prefill": zero,
        "flops_prior": 2.0 * m.params_active * gen,
    }


def _exact_shared(s: _Setup, ctx, longest) -> dict:
    """Terms paid once per decode step while any trial is alive: the prompt's K/V (dense passes) and the prompt's
    score keys (sparse passes), as arrays over (ctx, longest trial length)."""
    m, a = s.model, s.attention
    d = m.head_dim
    ctx, longest = np.asarray(ctx, float), np.asarray(longest, float)
    reads = s.dense_layers * ctx * longest
    selection = np.zeros(np.broadcast(ctx, longest).shape)
    if s.sparse_layers:
        dense_steps = _dense_steps(ctx, longest, a.keep)
        reads = reads + s.sparse_layers * ctx * dense_steps
        if _has_selection(a):
            selection = s.sparse_layers * m.num_kv_heads * d * s.kv_bytes * _score_keys(ctx, a) * (longest - dense_steps)
    out = {key: np.zeros_like(selection) for key in TERMS + ("flops_prior",)}
    out["bytes_kv"] = 2 * m.num_kv_heads * d * s.kv_bytes * reads + out["bytes_kv"]
    out["bytes_selection"] = selection + out["bytes_selection"]
    return out


def _exact_once(s: _Setup, ctx) -> dict:
    """The prefill of the first ctx - 1 prompt positions, once per problem."""
    m = s.model
    ctx = np.asarray(ctx, float)
    positions = ctx - 1
    out = {key: np.zeros_like(ctx) for key in TERMS + ("flops_prior",)}
    out["flops_prefill"] = 2.0 * m.params_matmul * positions + 4 * m.num_heads * m.head_dim * m.num_layers * tri(ctx)
    weights = _weight_bytes_per_pass(m, 1, DTYPE_BYTES[s.compute_dtype])
    out["bytes_prefill"] = np.where(positions > 0, weights, 0.0) + 2 * m.kv_bytes_per_token(s.kv_bytes) * positions
    return out
