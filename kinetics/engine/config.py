"""What the engine is told: the model's shape (from a Hugging Face config.json), the attention backend, the limits.

Three dataclasses, each validated when built so that a bad value fails here with one clear line, not deep inside
a forward pass.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from kinetics.errors import InputError

SUPPORTED_ARCHITECTURES = {"Qwen3ForCausalLM": "qwen3", "Qwen3MoeForCausalLM": "qwen3_moe"}


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a Qwen3 model (dense or MoE), read from the fields of its Hugging Face config.json."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1_000_000.0
    max_position_embeddings: int = 40_960
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    eos_token_ids: tuple[int, ...] = ()
    initializer_range: float = 0.02
    # Mixture of experts (Qwen3-30B-A3B shape); num_experts == 0 means a dense model.
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    norm_topk_prob: bool = True
    decoder_sparse_step: int = 1
    mlp_only_layers: tuple[int, ...] = ()
    architecture: str = "Qwen3ForCausalLM"

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def group_size(self) -> int:
        return self.num_attention_heads // self.num_key_value_heads

    def layer_is_moe(self, layer: int) -> bool:
        """Qwen3-MoE's rule: MoE every `decoder_sparse_step` layers, except the layers listed in mlp_only_layers."""
        return (self.is_moe and layer not in self.mlp_only_layers
                and (layer + 1) % self.decoder_sparse_step == 0)

    def kv_bytes_per_token(self, element_bytes: int = 2) -> int:
        return 2 * self.num_hidden_layers * self.num_key_value_heads * self.head_dim * element_bytes

    @classmethod
    def from_dict(cls, hf: dict, source: str = "config") -> ModelConfig:
        """Build from a Hugging Face config dict; unsupported architectures and features raise InputError."""
        if not isinstance(hf, dict):
            raise InputError(f"{source}: a model config must be a JSON object, got {type(hf).__name__}")
        archs = hf.get("architectures") or []
        model_type = hf.get("model_type")
        arch = next((a for a in archs if a in SUPPORTED_ARCHITECTURES), None)
        if arch is None and model_type in SUPPORTED_ARCHITECTURES.values() and not archs:
            arch = {v: k for k, v in SUPPORTED_ARCHITECTURES.items()}[model_type]
        if arch is None:
            raise InputError(f"{source}: unsupported architecture {archs or model_type!r}; the engine runs "
                             f"{', '.join(SUPPORTED_ARCHITECTURES)}")
        rope = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
        rope_type = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
        if rope_type not in ("default", None):
            raise InputError(f"{source}: rope type {rope_type!r} is not supported (only the default RoPE)")
        if hf.get("use_sliding_window"):
            raise InputError(f"{source}: use_sliding_window=true is not supported")
        theta = hf.get("rope_theta", rope.get("rope_theta") if isinstance(rope, dict) else None)
        missing = [k for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads")
                   if k not in hf]
        if missing:
            raise InputError(f"{source}: missing field(s) {', '.join(missing)}")
        heads = int(hf["num_attention_heads"])
        eos = hf.get("eos_token_id")
        eos_ids = tuple(eos) if isinstance(eos, list) else (() if eos is None else (int(eos),))
        moe = arch == "Qwen3MoeForCausalLM"
        config = cls(
            vocab_size=int(hf["vocab_size"]), hidden_size=int(hf["hidden_size"]),
            intermediate_size=int(hf.get("intermediate_size", 0)),
            num_hidden_layers=int(hf["num_hidden_layers"]), num_attention_heads=heads,
            num_key_value_heads=int(hf.get("num_key_value_heads") or heads),
            head_dim=int(hf.get("head_dim") or hf["hidden_size"] // heads),
            rms_norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
            rope_theta=float(theta if theta is not None else 10_000.0),
            max_position_embeddings=int(hf.get("max_position_embeddings", 40_960)),
            tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
            attention_bias=bool(hf.get("attention_bias", False)),
            eos_token_ids=eos_ids, initializer_range=float(hf.get("initializer_range", 0.02)),
            num_experts=int(hf.get("num_experts", hf.get("num_local_experts", 0)) or 0) if moe else 0,
            num_experts_per_tok=int(hf.get("num_experts_per_tok", 0) or 0) if moe else 0,
            moe_intermediate_size=int(hf.get("moe_intermediate_size", 0) or 0) if moe else 0,
            norm_topk_prob=bool(hf.get("norm_topk_prob", True)),
            decoder_sparse_step=int(hf.get("decoder_sparse_step", 1) or 1),
            mlp_only_layers=tuple(hf.get("mlp_only_layers") or ()), architecture=arch)
        config.validate(source)
        return config

    def validate(self, source: str = "config") -> None:
        positive = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "num_key_value_heads", "head_dim"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise InputError(f"{source}: {name} must be positive, got {getattr(self, name)}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise InputError(f"{source}: num_attention_heads {self.num_attention_heads} is not a multiple of "
                             f"num_key_value_heads {self.num_key_value_heads}")
        if self.head_dim % 2:
            raise InputError(f"{source}: head_dim must be even for RoPE, got {self.head_dim}")
        if self.is_moe:
            if not 0 < self.num_experts_per_tok <= self.num_experts or self.moe_intermediate_size <= 0:
                raise InputError(f"{source}: MoE needs 0 < num_experts_per_tok <= num_experts and "
                                 f"moe_intermediate_size > 0")
        elif self.intermediate_size <= 0:
            raise InputError(f"{source}: intermediate_size must be positive, got {self.intermediate_size}")


def read_hf_config(config_or_dir) -> tuple[dict, Path | None]:
    """(config dict, model directory or None) from a dict, a config.json, a model directory or a preset name."""
    if isinstance(config_or_dir, ModelConfig):
        raise TypeError("read_hf_config wants a dict or a path")
    if isinstance(config_or_dir, dict):
        return dict(config_or_dir), None
    path = Path(os.fspath(config_or_dir))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"model directory {str(path)!r} has no config.json")
        return _read_json(path / "config.json"), path
    if path.is_file():
        return _read_json(path), None
    name = str(config_or_dir)
    try:
        from kinetics import models
    except ImportError:
        models = None
    if models is not None and hasattr(models, "get_model"):
        try:
            spec = models.get_model(name)
        except (InputError, KeyError, ValueError):
            spec = None
        if spec is not None and getattr(spec, "config", None):
            return dict(spec.config), None
    raise InputError(f"model {name!r} is neither a config.json, a model directory nor a known preset")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None


def load_model_config(config_or_dir) -> ModelConfig:
    if isinstance(config_or_dir, ModelConfig):
        return config_or_dir
    hf, directory = read_hf_config(config_or_dir)
    return ModelConfig.from_dict(hf, source=str(directory / "config.json") if directory else "config")


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
        if self.sinks < 0 or self.dense_layers < 0 or self.dense_below < 0:
            raise InputError("sinks, dense_layers and dense_below must be >= 0")

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

    def __post_init__(self):
        if self.attention_backend not in ("auto", "torch", "triton"):
            raise InputError(f"attention_backend must be auto, torch or triton, got {self.attention_backend!r}")
        if self.max_num_seqs <= 0 or self.max_num_batched_tokens <= 0:
            raise InputError("max_num_seqs and max_num_batched_tokens must be positive")
        if self.num_pages is not None and self.num_pages < 1:
            raise InputError(f"num_pages must be positive, got {self.num_pages}")
