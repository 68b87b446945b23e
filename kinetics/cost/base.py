"""What both conventions share: the attention settings, the result, the terms, the batch that shares weight reads
and the checks of token counts."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from kinetics.errors import InputError, check_positive
from kinetics.hardware import Hardware, get_hardware
from kinetics.models import ModelSpec, get_model


CONVENTIONS = ("exact", "paper")
OVERLAPS = ("additive", "max")
COST_METRICS = ("flops", "flops-attn", "eflops", "seconds", "bytes")
KINDS = ("dense", "topk", "blocktopk")


#: The longest generation priced (and searched for): 2^26 tokens, 1,600x the longest context of the models here;
#: a longer one is a typo or a unit error. And the most trials of one call (they are priced one array element each).
MAX_TOKENS, MAX_TRIALS = 1 << 26, 1 << 20
#: Context a sequence may reach when the default batch size is chosen: the traces' max_len (prompt + generation).
BATCH_CONTEXT = 32768
#: batch_size meaning an unbounded batch: weight reads cost nothing per token (the paper's assumption).
WEIGHTS_FREE = "unbounded"
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
        compute_dtype = hardware.paper_dtype if convention == "paper" else "bf16"
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
    if isinstance(batch_size, str) and batch_size == WEIGHTS_FREE:
        return math.inf   # an unbounded batch shares each weight read
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
