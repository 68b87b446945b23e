"""Model shapes as the cost model and the engine see them, built from a Hugging Face `config.json`.

Presets are the Qwen3 family (Qwen Team, "Qwen3 Technical Report", arXiv 2505.09388); each preset's dict is the
architecture part of the model's `config.json` on the Hugging Face hub (Qwen/Qwen3-0.6B ... Qwen/Qwen3-235B-A22B).
Parameter counts are computed from the shapes, so they are exact for any config: the dense Qwen3 layer has
q/k/v/o projections without bias, RMSNorm on q and k per head, a SwiGLU MLP and two RMSNorms; MoE layers replace
the MLP with a router and `num_experts` SwiGLU experts of which `num_experts_per_tok` run per token.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from kinetics.errors import InputError, read_json

_COMMON = {"vocab_size": 151936, "head_dim": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
           "max_position_embeddings": 40960, "hidden_act": "silu", "attention_bias": False,
           "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": "bfloat16"}


def _dense(hidden, layers, heads, kv_heads, intermediate, tied):
    return {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": hidden,
            "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
            "intermediate_size": intermediate, "tie_word_embeddings": tied, **_COMMON}


def _moe(hidden, layers, heads, kv_heads, intermediate, moe_intermediate, experts, active):
    return {"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": hidden,
            "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
            "intermediate_size": intermediate, "moe_intermediate_size": moe_intermediate,
            "num_experts": experts, "num_experts_per_tok": active, "decoder_sparse_step": 1,
            "mlp_only_layers": [], "norm_topk_prob": True, "tie_word_embeddings": False, **_COMMON}


PRESET_CONFIGS: dict[str, dict] = {
    "qwen3-0.6b": _dense(1024, 28, 16, 8, 3072, True),
    "qwen3-1.7b": _dense(2048, 28, 16, 8, 6144, True),
    "qwen3-4b": _dense(2560, 36, 32, 8, 9728, True),
    "qwen3-8b": _dense(4096, 36, 32, 8, 12288, False),
    "qwen3-14b": _dense(5120, 40, 40, 8, 17408, False),
    "qwen3-32b": _dense(5120, 64, 64, 8, 25600, False),
    "qwen3-30b-a3b": _moe(2048, 48, 32, 4, 6144, 768, 128, 8),
    "qwen3-235b-a22b": _moe(4096, 94, 64, 4, 12288, 1536, 128, 8),
}
#: model_type -> architecture of the decoder families the cost model prices (the engine runs the two Qwen3 ones)
ARCHITECTURES = {"qwen3": "Qwen3ForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}
_TYPES = {arch: model_type for model_type, arch in ARCHITECTURES.items()}
_MISSING = object()


class ConfigFields:
    """Strict, typed access to the fields of a Hugging Face config.json: integers are integers (not bools, not
    128.7, not "128"), numbers are finite and positive, flags are true/false, and a missing required field or a bad
    value is one InputError naming the file, the field and the value. null stands for "not set" in optional fields
    (as in transformers) and is an error in required ones."""

    def __init__(self, config, source: str = "config"):
        if not isinstance(config, dict):
            raise InputError(f"{source}: a model config must be a JSON object, got {type(config).__name__}")
        self.config, self.source = config, source

    def _value(self, key: str, default):
        value = self.config.get(key)
        if value is None:
            if default is _MISSING:
                if key in self.config:
                    raise InputError(f"{self.source}: field {key} is null; it needs a value")
                raise InputError(f"{self.source}: missing field {key!r}")
            return _MISSING
        return value

    def int(self, key: str, default=_MISSING, minimum: int = 1, maximum: int | None = None) -> int:
        value = self._value(key, default)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{self.source}: field {key} must be an integer, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise InputError(f"{self.source}: field {key} must be {bound}, got {value}")
        return value

    def number(self, key: str, default=_MISSING) -> float:
        value = self._value(key, default)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InputError(f"{self.source}: field {key} must be a finite positive number, got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._value(key, default)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise InputError(f"{self.source}: field {key} must be true or false, got {value!r}")
        return value

    def int_list(self, key: str) -> tuple[int, ...]:
        value = self._value(key, ())
        if value is _MISSING:
            return ()
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            raise InputError(f"{self.source}: field {key} must be an integer >= 0 or a list of them, got {value!r}")
        return tuple(values)


def read_config(source: dict | str | Path) -> tuple[dict, str, str | None]:
    """(config dict, where it came from, a name) from a dict, a config.json, a model directory or a preset name."""
    if isinstance(source, dict):
        return dict(source), "config", None
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"a model config must be a JSON object, a path or a preset name, got {type(source).__name__}")
    key = canonical_name(str(source))
    path = Path(source)
    if key in PRESET_CONFIGS and not path.exists():   # a directory named like a preset holds its own config
        return dict(PRESET_CONFIGS[key]), "config", key
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"model directory {str(path)!r} has no config.json")
        path = path / "config.json"
    if path.suffix != ".json" and not path.is_file():
        raise InputError(f"unknown model {str(source)!r}; known: {', '.join(PRESET_CONFIGS)} "
                         "(or a path to a config.json)")
    if not path.is_file():
        raise InputError(f"model config {str(path)!r} does not exist")
    return read_json(path, "model config"), str(path), path.parent.name.lower()


def architecture_of(config: dict) -> str | None:
    """The config's architecture: the first of `architectures` this module knows (else the first listed), else the
    one of its model_type."""
    archs = config.get("architectures") or []
    known = [a for a in archs if a in _TYPES]
    return (known or archs or [ARCHITECTURES.get(config.get("model_type"))])[0]


@dataclass(frozen=True)
class ModelSpec:
    """One decoder, read from its Hugging Face `config.json`: every field the engine builds it from, and the counts
    the cost model prices (parameters total / active / matmul, KV bytes per token). `config` keeps the file as read."""

    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    model_type: str = "qwen3"
    architecture: str | None = "Qwen3ForCausalLM"
    qk_norm: bool = True
    # mixture of experts; num_experts == 0 means a dense model
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    norm_topk_prob: bool = True
    decoder_sparse_step: int = 1
    mlp_only_layers: tuple[int, ...] = ()
    # what the engine needs beyond the shapes
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10_000.0
    rope_type: str = "default"
    use_sliding_window: bool = False
    max_position_embeddings: int = 40_960
    attention_bias: bool = False
    eos_token_ids: tuple[int, ...] = ()
    initializer_range: float = 0.02
    config: dict = field(default_factory=dict, compare=False, repr=False)
    source: str = field(default="config", compare=False, repr=False)

    # ---- construction ----
    @classmethod
    def from_config(cls, config: dict | str | Path, name: str | None = None) -> "ModelSpec":
        """From a `config.json` (a dict, a path to the file, a model directory holding it, or a preset name)."""
        config, source, read_name = read_config(config)
        return cls.parse(config, source, name or read_name)

    @classmethod
    def parse(cls, config: dict, source: str = "config", name: str | None = None) -> "ModelSpec":
        """The strict reader: every field checked, one clear line (naming `source`) for the first bad one."""
        fields = ConfigFields(config, source)
        architecture = architecture_of(config)
        model_type = config.get("model_type") or _TYPES.get(architecture, "qwen3")
        if model_type not in ARCHITECTURES:
            raise InputError(f"{source}: architecture {architecture!r} (model_type {model_type!r}) is not supported; "
                             f"supported model types: {', '.join(ARCHITECTURES)}")
        heads = fields.int("num_attention_heads")
        hidden = fields.int("hidden_size")
        experts = fields.int("num_experts", fields.int("num_local_experts", 0, minimum=0), minimum=0)
        kv_heads = fields.int("num_key_value_heads", heads)
        if heads % kv_heads:
            raise InputError(f"{source}: field num_attention_heads ({heads}) is not a multiple of "
                             f"num_key_value_heads ({kv_heads})")
        rope = config.get("rope_scaling") or config.get("rope_parameters") or {}
        rope = rope if isinstance(rope, dict) else {}
        theta = ConfigFields({"rope_theta": config.get("rope_theta", rope.get("rope_theta"))}, source)
        return cls(
            name=name or "custom",
            hidden_size=hidden,
            num_layers=fields.int("num_hidden_layers"),
            num_heads=heads,
            num_kv_heads=kv_heads,
            head_dim=fields.int("head_dim", max(hidden // heads, 1)),
            intermediate_size=fields.int("intermediate_size", minimum=0 if experts else 1),
            vocab_size=fields.int("vocab_size"),
            tie_word_embeddings=fields.flag("tie_word_embeddings", False),
            model_type=model_type,
            architecture=architecture,
            qk_norm=model_type.startswith("qwen3"),
            num_experts=experts,
            num_experts_per_tok=fields.int("num_experts_per_tok", maximum=experts) if experts else 0,
            moe_intermediate_size=fields.int("moe_intermediate_size") if experts else 0,
            norm_topk_prob=fields.flag("norm_topk_prob", True),
            decoder_sparse_step=fields.int("decoder_sparse_step", 1),
            mlp_only_layers=fields.int_list("mlp_only_layers"),
            rms_norm_eps=fields.number("rms_norm_eps", 1e-6),
            rope_theta=theta.number("rope_theta", 10_000.0),
            rope_type=rope.get("rope_type", rope.get("type", "default")) or "default",
            use_sliding_window=fields.flag("use_sliding_window", False),
            max_position_embeddings=fields.int("max_position_embeddings", 40_960),
            attention_bias=fields.flag("attention_bias", False),
            eos_token_ids=fields.int_list("eos_token_id"),
            initializer_range=fields.number("initializer_range", 0.02),
            config=dict(config),
            source=source,
        )

    def layer_is_moe(self, layer: int) -> bool:
        """Qwen3-MoE's rule: MoE every `decoder_sparse_step` layers, except the layers listed in mlp_only_layers."""
        return (self.is_moe and layer not in self.mlp_only_layers
                and (layer + 1) % self.decoder_sparse_step == 0)

    # ---- parameter counts ----
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def group_size(self) -> int:
        """Query heads per KV head (GQA group), the paper's r."""
        return self.num_heads // self.num_kv_heads

    @property
    def params_embedding(self) -> int:
        """The input embedding table (the LM head shares it when embeddings are tied)."""
        return self.vocab_size * self.hidden_size

    @property
    def params_attention_per_layer(self) -> int:
        h, d = self.hidden_size, self.head_dim
        projections = h * d * (2 * self.num_heads + 2 * self.num_kv_heads)  # q, o and k, v
        norms = 2 * d if self.qk_norm else 0
        return projections + norms

    def _mlp_params(self, active: bool) -> int:
        h = self.hidden_size
        if not self.is_moe:
            return 3 * h * self.intermediate_size
        experts = self.num_experts_per_tok if active else self.num_experts
        return h * self.num_experts + experts * 3 * h * self.moe_intermediate_size  # router + experts

    def _params(self, active: bool) -> int:
        per_layer = self.params_attention_per_layer + self._mlp_params(active) + 2 * self.hidden_size
        head = 0 if self.tie_word_embeddings else self.params_embedding
        return self.num_layers * per_layer + self.params_embedding + head + self.hidden_size

    @property
    def params_total(self) -> int:
        """Every stored parameter, tied embeddings counted once."""
        return self._params(active=False)

    @property
    def params_active(self) -> int:
        """Parameters stored and used per token (for MoE: the routed experts only)."""
        return self._params(active=True)

    @property
    def params_matmul(self) -> int:
        """Parameters that multiply each token: the active ones less the embedding lookup (a gather, no FLOPs), the
        LM head included even when it shares the embedding table. 2x this is the matrix-product FLOPs per token."""
        return self.params_active - (0 if self.tie_word_embeddings else self.params_embedding)

    # ---- KV cache ----
    @property
    def kv_elements_per_token(self) -> int:
        """K and V elements stored per token over all layers: 2 x KV heads x head_dim x layers."""
        return 2 * self.num_kv_heads * self.head_dim * self.num_layers

    def kv_bytes_per_token(self, dtype_bytes: float = 2) -> float:
        return self.kv_elements_per_token * dtype_bytes

    def to_dict(self) -> dict:
        return {"name": self.name, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "num_kv_heads": self.num_kv_heads, "head_dim": self.head_dim,
                "intermediate_size": self.intermediate_size, "vocab_size": self.vocab_size,
                "tie_word_embeddings": self.tie_word_embeddings, "num_experts": self.num_experts,
                "num_experts_per_tok": self.num_experts_per_tok, "moe_intermediate_size": self.moe_intermediate_size,
                "params_total": self.params_total, "params_active": self.params_active,
                "params_embedding": self.params_embedding, "group_size": self.group_size,
                "kv_bytes_per_token_bf16": self.kv_bytes_per_token(2)}


def canonical_name(name: str) -> str:
    """'Qwen/Qwen3-8B', 'qwen3-8b' and the traces' 'qwen3-0-6b' all name one preset: 'qwen3-8b', 'qwen3-0.6b'."""
    key = str(name).strip().lower().split("/")[-1]
    return re.sub(r"-(\d+)-(\d+)b", r"-\1.\2b", key)


def get_model(name: str | Path | dict | ModelSpec) -> ModelSpec:
    """A preset by name, or a spec from a config.json path / model directory / config dict."""
    if isinstance(name, ModelSpec):
        return name
    return ModelSpec.from_config(name)
