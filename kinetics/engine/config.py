"""What the engine is told beyond the model (a `kinetics.models.ModelSpec`): the attention backend and the limits.

Each is validated when built so that a bad value fails here with one clear line, not deep inside a forward pass;
`check_runnable` says which model configs the engine can run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from kinetics.errors import InputError
from kinetics.models import ModelSpec, architecture_of, read_config

SUPPORTED_ARCHITECTURES = ("Qwen3ForCausalLM", "Qwen3MoeForCausalLM")


def load_model_spec(model: ModelSpec | dict | str | os.PathLike) -> ModelSpec:
    """The model the engine runs (a ModelSpec, a config dict, a config.json, a model directory or a preset name),
    checked against what the engine can run."""
    if not isinstance(model, ModelSpec):
        config, source, name = read_config(model)
        if isinstance(config, dict):   # say what the engine runs before asking for the fields it would need
            _check_architecture(architecture_of(config), config.get("architectures"), config.get("model_type"),
                                source)
        model = ModelSpec.parse(config, source, name)
    check_runnable(model)
    return model


def _check_architecture(architecture, archs, model_type, source: str) -> None:
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise InputError(f"{source}: unsupported architecture {archs or model_type!r}; the engine runs "
                         f"{', '.join(SUPPORTED_ARCHITECTURES)}")


def check_runnable(spec: ModelSpec) -> None:
    """What this engine supports of a Qwen3 config: the two architectures, the default RoPE, no sliding window."""
    source = spec.source
    _check_architecture(spec.architecture, spec.config.get("architectures"), spec.model_type, source)
    if spec.rope_type != "default":
        raise InputError(f"{source}: rope type {spec.rope_type!r} is not supported (only the default RoPE)")
    if spec.use_sliding_window:
        raise InputError(f"{source}: use_sliding_window=true is not supported")
    if spec.head_dim % 2:
        raise InputError(f"{source}: head_dim must be even for RoPE, got {spec.head_dim}")


@dataclass(frozen=True)
class AttentionConfig:
    """Which attention runs at decode.

    kind="dense": every cached token. kind="blocktopk": per (request, KV head), score every page of the cache by
    q . (mean key of the page), summed over the query heads of the group, and attend to the best pages only.
    `budget` tokens = budget // page_size pages per (request, KV head, step), counting the pages that are always
    kept: the ones holding the first `sinks` tokens and the page being written. A context of at most `budget`
    tokens is attended densely (so budget >= context equals dense). The first `dense_layers` layers stay dense
    (the authors' LiteSys keeps layer 0 dense). Prefill is always dense: sparsity is a decode-time saving.
    A decode step whose longest context is below `dense_below` tokens runs dense (selection has a fixed cost per
    layer and step that short contexts do not repay; 0 = never).
    """

    kind: str = "dense"
    budget: int = 1024
    page_size: int = 16
    sinks: int = 0
    dense_layers: int = 0
    dense_below: int = 0

    def __post_init__(self):
        if self.kind not in ("dense", "blocktopk"):
            raise InputError(f"attention kind must be 'dense' or 'blocktopk', got {self.kind!r}")
        if self.page_size <= 0 or self.page_size & (self.page_size - 1):
            raise InputError(f"page_size must be a positive power of two, got {self.page_size}")
        if self.kind == "blocktopk" and self.budget < 2 * self.page_size:
            raise InputError(f"budget {self.budget} must be at least two pages (2 x page_size {self.page_size})")
        if self.kind == "blocktopk" and self.budget % self.page_size:
            raise InputError(f"budget {self.budget} is not a multiple of page_size {self.page_size} (block top-k "
                             f"attends whole pages)")
        for name in ("sinks", "dense_layers", "dense_below"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def pages_per_step(self) -> int:
        return self.budget // self.page_size

    @property
    def sink_pages(self) -> int:
        return -(-self.sinks // self.page_size)

    def sparse_layer(self, layer: int) -> bool:
        return self.kind == "blocktopk" and layer >= self.dense_layers


@dataclass
class EngineConfig:
    """Limits of the engine. None means "pick from the device": all memory left after the weights on a GPU."""

    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192   # tokens per prefill step (chunked prefill)
    max_model_len: int | None = None      # default: the model's max_position_embeddings
    num_pages: int | None = None           # KV pages; default from kv_cache_tokens or free GPU memory
    kv_cache_tokens: int | None = None
    gpu_memory_utilization: float = 0.85
    cuda_graphs: bool = True
    graph_batch_sizes: list[int] = field(default_factory=list)
    attention_backend: str = "auto"        # "auto" (Triton on CUDA, torch on CPU), "torch" or "triton"
    tensor_parallel: int = 1               # ranks one model is split over (torchrun processes)
    check_finite: bool = True              # refuse weights holding NaN or inf when loading them
    # schedule and build step n + 1 while the GPU runs step n (token ids fed on the device, stop checks one step
    # late); None: on for CUDA at tensor_parallel 1. Same tokens either way.
    async_scheduling: bool | None = None

    def __post_init__(self):
        if self.attention_backend not in ("auto", "torch", "triton"):
            raise InputError(f"attention_backend must be auto, torch or triton, got {self.attention_backend!r}")
        if not isinstance(self.tensor_parallel, int) or self.tensor_parallel < 1:
            raise InputError(f"tensor_parallel (--tp) must be a positive integer, got {self.tensor_parallel!r}")
        for name in ("max_num_seqs", "max_num_batched_tokens", "max_model_len", "num_pages", "kv_cache_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be an integer >= 1, got {value!r}")
        if self.async_scheduling not in (None, True, False):
            raise InputError(f"async_scheduling must be true, false or unset, got {self.async_scheduling!r}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise InputError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization!r}")
