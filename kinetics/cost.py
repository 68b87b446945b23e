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
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
from scipy.special import gammaln

from kinetics.errors import InputError, check_positive
from kinetics.hardware import Hardware, get_hardware
from kinetics.models import ModelSpec, get_model

CONVENTIONS = ("exact", "paper")
OVERLAPS = ("additive", "max")
COST_METRICS = ("flops", "flops-attn", "eflops", "seconds", "bytes")
KINDS = ("dense", "topk", "blocktopk")

#: The authors' parameter counts (`model_sizes` in cost_model/utils.py). 14B: 14.33e9 is what their published
#: tables were computed with (their notebooks' label); their scripts say 14.77e9 (`PAPER_SCRIPT_PARAMS`).
PAPER_PARAMS = {"qwen3-0.6b": 0.752e9, "qwen3-1.7b": 2.03e9, "qwen3-4b": 4.02e9, "qwen3-8b": 8.19e9,
                "qwen3-14b": 14.33e9, "qwen3-32b": 32.76e9}
PAPER_SCRIPT_PARAMS = {**PAPER_PARAMS, "qwen3-14b": 14.77e9}
#: Sign of the (B - ctx)^2 / 2 term in the paper's S. Their tables use + for top-k and block top-k alike; their
#: released block_sparse_cost has - . Both are wrong; the exact sum is sum_t min(B, ctx + t).
PAPER_SIGN = +1
#: Context a sequence may reach when the default batch size is chosen: the traces' max_len (prompt + generation).
BATCH_CONTEXT = 32768
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "fp4": 0.5}

FLOP_TERMS = ("flops_params", "flops_attention", "flops_selection", "flops_prefill")
BYTE_TERMS = ("bytes_kv", "bytes_selection", "bytes_weights", "bytes_kv_write", "bytes_prefill")
TERMS = FLOP_TERMS + BYTE_TERMS
TERM_HELP = {
    "flops_params": "2 x matrix parameters per generated token (paper: their P)",
    "flops_attention": "q.k and p.v over the attended keys, 4 Hq d per key per layer",
    "flops_selection": "block scores q.kbar (block top-k) or q.K (priced oracle top-k)",
    "flops_prefill": "prompt forward pass, once per problem",
    "bytes_kv": "K/V read by decode attention (prompt shared across trials where dense)",
    "bytes_selection": "mean keys (block top-k) or all keys (priced oracle top-k) read for selection",
    "bytes_weights": "weights read once per decode step, shared by the batch",
    "bytes_kv_write": "K/V of each new token written",
    "bytes_prefill": "prefill: one weight read, prompt K/V written and read once",
}


# ---- attention ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attention:
    """Which keys a decode pass attends.

    kind: "dense", "topk" (oracle token top-k: the `budget` highest-scoring tokens) or "blocktopk" (the
    budget / block_size highest-scoring blocks of `block_size` tokens, scored by their mean key).
    A sparse pass attends keep = budget + local_window + sink_tokens keys (the last `local_window` tokens and the
    first `sink_tokens` always kept); `dense_layers` layers stay dense (LiteSys keeps layer 0 dense: 1).
    The paper's B is local_window + budget; it prices neither sinks nor dense layers.
    priced_search (top-k only): charge the full q.K that finding the exact top-k needs (default: free, an oracle).
    """

    kind: str = "dense"
    budget: int | None = None
    block_size: int | None = None
    local_window: int = 0
    sink_tokens: int = 0
    dense_layers: int = 0
    priced_search: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError(f"attention kind {self.kind!r} is unknown; known: {', '.join(KINDS)}")
        for what in ("local_window", "sink_tokens", "dense_layers"):
            value = getattr(self, what)
            if not _is_int(value) or value < 0:
                raise InputError(f"attention {what} must be an integer >= 0, got {value!r}")
        if self.kind == "dense":
            return
        if not _is_int(self.budget) or self.budget <= 0:
            raise InputError(f"attention budget must be an integer > 0, got {self.budget!r}")
        if self.kind == "blocktopk":
            if not _is_int(self.block_size) or self.block_size <= 0:
                raise InputError(f"attention block size must be an integer > 0, got {self.block_size!r}")
            if self.budget % self.block_size:
                raise InputError(f"attention block size {self.block_size} does not divide the budget {self.budget}")

    @classmethod
    def dense(cls) -> "Attention":
        return cls("dense")

    @classmethod
    def topk(cls, budget: int, local_window: int = 0, sink_tokens: int = 0, dense_layers: int = 0,
             priced_search: bool = False) -> "Attention":
        return cls("topk", budget, None, local_window, sink_tokens, dense_layers, priced_search)

    @classmethod
    def blocktopk(cls, budget: int, block_size: int = 16, local_window: int = 0, sink_tokens: int = 0,
                  dense_layers: int = 0) -> "Attention":
        return cls("blocktopk", budget, block_size, local_window, sink_tokens, dense_layers)

    @property
    def keep(self) -> float:
        """Keys a sparse pass attends (inf for dense)."""
        if self.kind == "dense":
            return math.inf
        return self.budget + self.local_window + self.sink_tokens

    @property
    def blocks(self) -> int | None:
        return self.budget // self.block_size if self.kind == "blocktopk" else None

    def describe(self) -> str:
        if self.kind == "dense":
            return "dense"
        extra = "".join(f", {k.replace('_', ' ')} {v}" for k, v in
                        (("local_window", self.local_window), ("sink_tokens", self.sink_tokens),
                         ("dense_layers", self.dense_layers)) if v)
        if self.kind == "topk":
            return f"top-k {self.budget}{extra}" + (", priced search" if self.priced_search else "")
        return f"block top-k {self.blocks} x {self.block_size}{extra}"


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# ---- the result ----------------------------------------------------------------------------------------------------

@dataclass
class Cost:
    """Totals over all trials of one problem, SI units. `breakdown` holds every term of TERMS (they sum to
    `flops` and `memory_bytes`) plus `flops_prior` (2 x params x generated tokens, prior work's count; not part of
    `flops`)."""

    flops: float
    memory_bytes: float
    eflops: float
    seconds: float
    breakdown: dict[str, float] = field(default_factory=dict)
    compute_seconds: float = 0.0
    memory_seconds: float = 0.0
    intensity: float = 0.0
    batch_size: float | None = None
    convention: str = "exact"
    overlap: str = "additive"

    def to_dict(self) -> dict:
        return asdict(self)


# ---- resolved constants of one pricing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Setup:
    model: ModelSpec
    hardware: Hardware
    attention: Attention
    convention: str
    overlap: str
    compute_dtype: str
    kv_bytes: float
    intensity: float
    batch: float | None
    weight_bytes_per_token: float  # per decode pass, amortised over the batch (exact only)
    sparse_layers: int
    dense_layers: int


def _setup(model, hardware, attention, convention, batch_size, kv_dtype_bytes, compute_dtype, overlap,
           batch_context) -> _Setup:
    model = get_model(model)
    hardware = get_hardware(hardware)
    if not isinstance(attention, Attention):
        raise InputError(f"attention must be an Attention (Attention.dense(), .topk(...), .blocktopk(...)), "
                         f"got {attention!r}")
    if convention not in CONVENTIONS:
        raise InputError(f"convention {convention!r} is unknown; known: {', '.join(CONVENTIONS)}")
    if overlap not in OVERLAPS:
        raise InputError(f"overlap {overlap!r} is unknown; known: {', '.join(OVERLAPS)}")
    check_positive("kv_dtype_bytes", kv_dtype_bytes)
    if compute_dtype is None:  # the paper prices FP8-class compute (E = 562.5 on B200); we default to bf16
        compute_dtype = "fp8" if convention == "paper" and "fp8" in hardware.peak_flops else "bf16"
    if compute_dtype not in DTYPE_BYTES:
        raise InputError(f"compute dtype {compute_dtype!r} is unknown; known: {', '.join(DTYPE_BYTES)}")
    intensity = hardware.intensity(compute_dtype)  # raises if the hardware has no peak for it
    if attention.dense_layers > model.num_layers:
        raise InputError(f"attention dense_layers {attention.dense_layers} exceeds the model's "
                         f"{model.num_layers} layers")
    dense_layers = model.num_layers if attention.kind == "dense" else attention.dense_layers
    batch, weight_per_token = None, 0.0
    if convention == "exact":
        batch = _batch_size(model, hardware, batch_size, kv_dtype_bytes, compute_dtype, batch_context)
        weight_per_token = _weight_bytes_per_pass(model, batch, DTYPE_BYTES[compute_dtype]) / batch
    return _Setup(model, hardware, attention, convention, overlap, compute_dtype, float(kv_dtype_bytes),
                  intensity, batch, weight_per_token, model.num_layers - dense_layers, dense_layers)


def default_batch_size(model, hardware, kv_dtype_bytes: float = 2, compute_dtype: str = "bf16",
                       batch_context: int = BATCH_CONTEXT) -> int:
    """The largest batch of sequences of `batch_context` tokens whose KV cache fits in the hardware's memory next to
    the weights (params_total x dtype bytes): floor((memory - weights) / (KV bytes per token x batch_context))."""
    model, hardware = get_model(model), get_hardware(hardware)
    return _batch_size(model, hardware, None, kv_dtype_bytes, compute_dtype, batch_context)


def _batch_size(model, hardware, batch_size, kv_dtype_bytes, compute_dtype, batch_context) -> float:
    if batch_size is not None:
        check_positive("batch_size", batch_size)
        return float(batch_size)
    if not _is_int(batch_context) or batch_context <= 0:
        raise InputError(f"batch_context must be an integer > 0, got {batch_context!r}")
    if hardware.memory_bytes is None:
        raise InputError(f"hardware {hardware.name!r} has no memory size: give batch_size explicitly")
    weights = model.params_total * DTYPE_BYTES[compute_dtype]
    free = hardware.memory_bytes - weights
    per_sequence = model.kv_bytes_per_token(kv_dtype_bytes) * batch_context
    if free < per_sequence:
        raise InputError(f"{model.name} weights ({weights / 1e9:.1f} GB) leave no room for one {batch_context}-token "
                         f"KV cache in {hardware.name}'s {hardware.memory_bytes / 1e9:.0f} GB: give batch_size")
    return float(free // per_sequence)


def _weight_bytes_per_pass(model: ModelSpec, batch: float, weight_bytes: float) -> float:
    """Bytes of matrix weights one decode step reads for a batch of `batch` tokens. MoE: each layer reads the
    experts the batch routes to, E (1 - (1 - k/E)^batch) of them in expectation for uniform routing."""
    if not model.is_moe:
        return model.params_matmul * weight_bytes
    expert = 3 * model.hidden_size * model.moe_intermediate_size
    shared = model.params_matmul - model.num_layers * model.num_experts_per_tok * expert
    e, k = model.num_experts, model.num_experts_per_tok
    touched = e * (1.0 - (1.0 - k / e) ** batch)
    return (shared + model.num_layers * touched * expert) * weight_bytes


# ---- input checks -------------------------------------------------------------------------------------------------------

def _lengths(values, what: str, allow_nan: bool = False) -> np.ndarray:
    """Token counts as a float array of integers >= 1 (NaN allowed as padding where said)."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be integers >= 1, got {values!r}") from None
    if array.size == 0:
        raise InputError(f"{what} is empty")
    valid = array[~np.isnan(array)] if allow_nan else array
    if valid.size == 0 and not allow_nan:
        raise InputError(f"{what} is empty")
    bad = ~np.isfinite(valid) | (valid < 1) | (valid != np.floor(valid))
    if bad.any():
        first = valid[bad][0].item()
        shown = int(first) if np.isfinite(first) and first == int(first) else first  # -1, not -1.0
        raise InputError(f"{what} must be integers >= 1, got {shown!r}")
    return array


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


# ---- paper convention --------------------------------------------------------------------------------------------------

def paper_params(model: ModelSpec) -> float:
    """The paper's P for a Qwen3 model (PAPER_PARAMS); any other model: its params_total."""
    return PAPER_PARAMS.get(model.name, float(model.params_total))


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


# ---- totals --------------------------------------------------------------------------------------------------------------

def _finish(s: _Setup, terms: dict) -> dict:
    out = dict(terms)
    out["flops"] = sum(terms[k] for k in FLOP_TERMS)
    out["memory_bytes"] = sum(terms[k] for k in BYTE_TERMS)
    out["eflops"] = out["flops"] + s.intensity * out["memory_bytes"]
    out["compute_seconds"] = out["flops"] / s.hardware.peak(s.compute_dtype)
    out["memory_seconds"] = out["memory_bytes"] / s.hardware.hbm_bandwidth
    if s.overlap == "additive":
        out["seconds"] = out["compute_seconds"] + out["memory_seconds"]
    else:
        out["seconds"] = np.maximum(out["compute_seconds"], out["memory_seconds"])
    return out


def _add(*dicts) -> dict:
    return {key: sum(d[key] for d in dicts) for key in dicts[0]}


def generation_cost(model, hardware, prompt_tokens: int, gen_tokens: int | Sequence[int],
                    attention: Attention = Attention.dense(), convention: str = "exact",
                    batch_size: float | None = None, kv_dtype_bytes: float = 2, compute_dtype: str | None = None,
                    overlap: str = "additive", trials: int | None = None,
                    batch_context: int = BATCH_CONTEXT) -> Cost:
    """Cost of N trials of one problem sharing a `prompt_tokens`-token prompt, totals in SI units.

    gen_tokens: one length (with `trials` = N, default 1) or one length per trial (N = len).
    batch_size: sequences decoded together, over which weight reads are shared (exact only). Default: the largest
    batch of `batch_context`-token sequences (32,768, the traces' max_len) whose KV fits the hardware's memory next
    to the weights (`default_batch_size`).
    compute_dtype: sets the peak and the intensity I; default bf16 (exact) or fp8 when the hardware has it (paper).
    Paper convention with several lengths: the mean over lengths L of their cost of N trials all L long (their
    `expected_cost`); with one length, exactly their formula.
    """
    s = _setup(model, hardware, attention, convention, batch_size, kv_dtype_bytes, compute_dtype, overlap,
               batch_context)
    ctx = _lengths(prompt_tokens, "prompt tokens")
    if ctx.ndim != 0:
        raise InputError(f"prompt tokens must be one integer, got {prompt_tokens!r}")
    gens = np.atleast_1d(_lengths(gen_tokens, "generated tokens"))
    if gens.ndim != 1:
        raise InputError("generated tokens must be one integer or a list of integers (one per trial)")
    if trials is not None:
        if not _is_int(trials) or trials < 1:
            raise InputError(f"trials must be an integer >= 1, got {trials!r}")
        if gens.size == 1:
            gens = np.repeat(gens, trials)
        elif gens.size != trials:
            raise InputError(f"{gens.size} generation lengths given for {trials} trials")
    if convention == "paper":
        terms = {k: float(np.mean(v)) for k, v in _paper(s, ctx, gens, gens.size).items()}
    else:
        per_trial = {k: float(np.sum(v)) for k, v in _exact_per_trial(s, ctx, gens).items()}
        terms = _add(per_trial, _exact_shared(s, ctx, gens.max()), _exact_once(s, ctx))
    out = {k: float(v) for k, v in _finish(s, terms).items()}
    breakdown = {k: out[k] for k in TERMS + ("flops_prior",)}
    return Cost(out["flops"], out["memory_bytes"], out["eflops"], out["seconds"], breakdown,
                out["compute_seconds"], out["memory_seconds"], s.intensity, s.batch, convention, overlap)


# ---- vectorised: many samples, best-of-n -----------------------------------------------------------------------------------

def per_sample_cost_arrays(model, hardware, prompt_tokens, gen_tokens, attention: Attention = Attention.dense(),
                           convention: str = "exact", batch_size: float | None = None, kv_dtype_bytes: float = 2,
                           compute_dtype: str | None = None, overlap: str = "additive",
                           batch_context: int = BATCH_CONTEXT) -> dict[str, np.ndarray]:
    """Cost of ONE trial per element: arrays `prompt_tokens` and `gen_tokens` broadcast together. Returns a dict of
    arrays: flops, memory_bytes, eflops, seconds, compute_seconds, memory_seconds, flops_prior and every term of
    TERMS (each sample pays its own prompt reads and its own prefill). Same meanings as `generation_cost` (N = 1)."""
    s = _setup(model, hardware, attention, convention, batch_size, kv_dtype_bytes, compute_dtype, overlap,
               batch_context)
    ctx = _lengths(prompt_tokens, "prompt tokens")
    gen = _lengths(gen_tokens, "generated tokens")
    if convention == "paper":
        terms = _paper(s, ctx, gen, 1)
    else:
        terms = _add(_exact_per_trial(s, ctx, gen), _exact_shared(s, ctx, gen), _exact_once(s, ctx))
    return _finish(s, terms)


def max_order_weights(n_valid, n_max: int, k) -> np.ndarray:
    """w[p, i, j] = P(the largest of k[i] draws without replacement from row p's n_valid[p] sorted values is the j-th
    smallest) = C(j, k - 1) / C(n, k) (j = 0-based rank); 0 where j >= n or k > n. Shape (rows, len(k), n_max)."""
    n = np.asarray(n_valid, float)[:, None, None]
    k = np.asarray(k, float)[None, :, None]
    j = np.arange(n_max, dtype=float)[None, None, :]
    ok = (j >= k - 1) & (j < n) & (k <= n)
    jj, nn = np.where(ok, j, k - 1), np.where(ok, n, k)
    log_w = gammaln(jj + 1) - gammaln(k) - gammaln(jj - k + 2) - (gammaln(nn + 1) - gammaln(k + 1) - gammaln(nn - k + 1))
    return np.where(ok, np.exp(log_w), 0.0)


def best_of_n_cost_arrays(model, hardware, prompt_tokens, lengths, k, attention: Attention = Attention.dense(),
                          convention: str = "exact", batch_size: float | None = None, kv_dtype_bytes: float = 2,
                          compute_dtype: str | None = None, overlap: str = "additive",
                          batch_context: int = BATCH_CONTEXT) -> dict[str, np.ndarray]:
    """Expected cost of k trials drawn without replacement from each problem's n sampled lengths.

    prompt_tokens: shape (problems,); lengths: (problems, n) with NaN padding for rows with fewer samples, or a list
    of per-problem sequences; k: an int or a sequence of ints. Returns a dict of arrays of shape (problems, len(k))
    (or (problems,) for an int k), keys as `per_sample_cost_arrays`; NaN where k > n for that problem.

    exact: per-trial terms are linear in the draws, so they are k x mean over samples; the shared prompt reads are
    paid once per step while any trial is alive, so their expectation is over the max of the k draws, exact from the
    order statistics (`max_order_weights`); the prefill is paid once.
    paper: their expected_cost(fn, lengths, N=k) = the mean over sampled lengths L of fn(gen=L, N=k).
    """
    s = _setup(model, hardware, attention, convention, batch_size, kv_dtype_bytes, compute_dtype, overlap,
               batch_context)
    ctx = np.atleast_1d(_lengths(prompt_tokens, "prompt tokens"))
    table = _length_table(lengths, ctx.size)
    scalar_k = np.ndim(k) == 0
    ks = np.atleast_1d(np.asarray(k))
    if ks.ndim != 1 or not all(_is_int(v) or (isinstance(v, float) and v.is_integer()) for v in ks.tolist()) \
            or (ks < 1).any():
        raise InputError(f"trials k must be integers >= 1, got {k!r}")
    ks = ks.astype(float)
    n_valid = (~np.isnan(table)).sum(axis=1)
    too_many = ks[None, :] > n_valid[:, None]
    if convention == "paper":
        with np.errstate(invalid="ignore"):
            terms = _paper(s, ctx[:, None, None], table[:, None, :], ks[None, :, None])
        terms = {key: _nanmean_last(np.broadcast_to(v, (ctx.size, ks.size, table.shape[1])), table)
                 for key, v in terms.items()}
    else:
        per_trial = _exact_per_trial(s, ctx[:, None], np.nan_to_num(table, nan=1.0))
        per_trial = {key: ks[None, :] * _masked_mean(v, table)[:, None] for key, v in per_trial.items()}
        order = np.sort(table, axis=1)  # NaN last
        weights = max_order_weights(n_valid, table.shape[1], ks)
        shared = _exact_shared(s, ctx[:, None], np.nan_to_num(order, nan=1.0))
        shared = {key: np.einsum("pkj,pj->pk", weights, np.broadcast_to(v, order.shape)) for key, v in shared.items()}
        once = {key: np.broadcast_to(v[:, None], (ctx.size, ks.size)) for key, v in _exact_once(s, ctx).items()}
        terms = _add(per_trial, shared, once)
    out = _finish(s, terms)
    out = {key: np.where(too_many, np.nan, v) for key, v in out.items()}
    return {key: v[:, 0] for key, v in out.items()} if scalar_k else out


def _length_table(lengths, rows: int) -> np.ndarray:
    if isinstance(lengths, np.ndarray) and lengths.ndim == 2:
        table = lengths.astype(float)
    else:
        seqs = [np.atleast_1d(np.asarray(row, float)) for row in lengths]
        width = max((len(r) for r in seqs), default=0)
        table = np.full((len(seqs), max(width, 1)), np.nan)
        for i, r in enumerate(seqs):
            table[i, :len(r)] = r
    if table.shape[0] != rows:
        raise InputError(f"{table.shape[0]} rows of lengths for {rows} prompts")
    return _lengths(table, "generated tokens", allow_nan=True)


def _masked_mean(values, table):
    mask = ~np.isnan(table)
    values = np.broadcast_to(values, table.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask, values, 0.0).sum(axis=1) / mask.sum(axis=1)


def _nanmean_last(values, table):
    mask = ~np.isnan(table)[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask, values, 0.0).sum(axis=2) / mask.sum(axis=2)


def metric_of(arrays: dict, metric: str = "eflops"):
    """One cost from a result dict: "flops" (prior work: 2 x params x generated tokens), "flops-attn" (every FLOP of
    the convention: parameters, attention, selection, prefill), "eflops", "seconds" or "bytes"."""
    keys = {"flops": "flops_prior", "flops-attn": "flops", "eflops": "eflops", "seconds": "seconds",
            "bytes": "memory_bytes"}
    if metric not in keys:
        raise InputError(f"cost metric {metric!r} is unknown; known: {', '.join(COST_METRICS)}")
    return arrays[keys[metric]]


def best_of_n_expected_cost(model, hardware, prompt_tokens, lengths, k, attention: Attention = Attention.dense(),
                            convention: str = "exact", cost_metric: str = "eflops", **options) -> np.ndarray:
    """`best_of_n_cost_arrays` reduced to one metric (see `metric_of`): shape (problems, len(k)) or (problems,)."""
    if cost_metric not in COST_METRICS:
        raise InputError(f"cost metric {cost_metric!r} is unknown; known: {', '.join(COST_METRICS)}")
    arrays = best_of_n_cost_arrays(model, hardware, prompt_tokens, lengths, k, attention, convention, **options)
    return metric_of(arrays, cost_metric)


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
                    convention: str = "exact", metric: str = "eflops", max_tokens: int = 1 << 26, **options):
    """The shortest generation whose attention cost is at least `ratio` x its parameter cost (NaN if none up to
    max_tokens). `ratio` may be an array."""
    return _smallest_length(
        lambda g: attention_to_parameter_ratio(model, hardware, prompt_tokens, g, attention, convention, metric,
                                               **options), ratio, max_tokens)


def length_for_cost(model, hardware, cost, metric: str = "eflops", prompt_tokens: int = 150,
                    attention: Attention = Attention.dense(), convention: str = "exact", max_tokens: int = 1 << 26,
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
    dtype = "fp8" if "fp8" in hardware.peak_flops else "bf16"
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
