"""Qwen3 in plain torch: the dense models (0.6B-32B) and the MoE shape (Qwen3-30B-A3B).

Module and parameter names follow Hugging Face's Qwen3ForCausalLM / Qwen3MoeForCausalLM so that a checkpoint's
tensors load by name (the MoE experts are kept stacked as [E, ...] tensors, the layout transformers 5 uses).
Tokens of all requests in a step are packed along one axis: hidden states are [T, hidden], never padded.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kinetics.engine import parallel
from kinetics.engine.attention import Attention, ForwardMeta
from kinetics.engine.config import ModelConfig


# ---- the elementwise parts, written as plain functions so that a GPU can fuse each into one kernel ----
# Eager, a decode layer is ~65 small kernels (a norm alone is 8); at small batch the step is bound by their launches,
# even inside a CUDA graph. torch.compile turns each function below into one Triton kernel on CUDA; the CPU path
# stays eager (same arithmetic, no compile time in tests).

def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def add_rms_norm(x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float):
    """(rms_norm(x + residual), x + residual): the residual add fused into the next norm."""
    total = x + residual
    return rms_norm(total, weight, eps), total


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


def qk_norm_rope(qkv: torch.Tensor, q_weight, k_weight, cos, sin, hq: int, hkv: int, d: int, eps: float):
    """Split the fused projection, RMS-normalise q and k per head (Qwen3's qk-norm), rotate them (RoPE)."""
    t = qkv.shape[0]
    q, k, v = qkv.split([hq * d, hkv * d, hkv * d], dim=-1)
    q = rotate(rms_norm(q.reshape(t, hq, d), q_weight, eps), cos, sin)
    k = rotate(rms_norm(k.reshape(t, hkv, d), k_weight, eps), cos, sin)
    return q.contiguous(), k.contiguous(), v.reshape(t, hkv, d).contiguous()


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate) * up


_COMPILED: dict = {}
COMPILE_ON_CUDA = True


def fused(fn, *args):
    """fn(*args), compiled into fused kernels when the tensors live on a GPU."""
    if COMPILE_ON_CUDA and args[0].is_cuda:
        compiled = _COMPILED.get(fn)
        if compiled is None:
            import torch._dynamo

            # one specialisation per model shape (and batch 1): allow more than the default 8
            for knob in ("recompile_limit", "cache_size_limit"):
                if hasattr(torch._dynamo.config, knob):
                    setattr(torch._dynamo.config, knob, max(getattr(torch._dynamo.config, knob), 64))
            compiled = _COMPILED[fn] = torch.compile(fn, dynamic=True, fullgraph=True)
        return compiled(*args)
    return fn(*args)


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None):
        if residual is None:
            return fused(rms_norm, x, self.weight, self.eps)
        return fused(add_rms_norm, x, residual, self.weight, self.eps)


class RotaryEmbedding(nn.Module):
    """cos/sin tables for every position up to max_positions (RoPE with the 'rotate half' layout)."""

    def __init__(self, head_dim: int, theta: float, max_positions: int):
        super().__init__()
        self.head_dim, self.theta, self.max_positions = head_dim, theta, max_positions
        self.register_buffer("cos", torch.empty(max_positions, head_dim), persistent=False)
        self.register_buffer("sin", torch.empty(max_positions, head_dim), persistent=False)

    def reset(self, device: torch.device) -> None:
        """Fill the tables in float32 on `device` (the model is built on the meta device first)."""
        d = self.head_dim
        inv_freq = 1.0 / self.theta ** (torch.arange(0, d, 2, dtype=torch.int64, device=device).float() / d)
        freqs = torch.outer(torch.arange(self.max_positions, dtype=torch.float32, device=device), inv_freq)
        angles = torch.cat([freqs, freqs], dim=-1)
        self.cos, self.sin = angles.cos(), angles.sin()

    def forward(self, positions: torch.Tensor, dtype: torch.dtype):
        """(cos, sin) [T, 1, D] of the positions, once per forward pass for all layers."""
        return self.cos[positions].to(dtype)[:, None, :], self.sin[positions].to(dtype)[:, None, :]


class Qwen3Attention(nn.Module):
    """Loads as q_proj/k_proj/v_proj (Hugging Face names); fuse() then concatenates them into one qkv_proj."""

    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.layer = layer
        self.hq, self.hkv, self.d = config.num_attention_heads, config.num_key_value_heads, config.head_dim
        self.eps = config.rms_norm_eps
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.hq * self.d, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.hkv * self.d, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.hkv * self.d, bias=bias)
        self.o_proj = nn.Linear(self.hq * self.d, config.hidden_size, bias=bias)
        self.q_norm = RMSNorm(self.d, config.rms_norm_eps)
        self.k_norm = RMSNorm(self.d, config.rms_norm_eps)
        self.qkv_proj: nn.Linear | None = None

    @torch.no_grad()
    def fuse(self) -> None:
        parts = (self.q_proj, self.k_proj, self.v_proj)
        self.qkv_proj = _concat_linear(parts)
        del self.q_proj, self.k_proj, self.v_proj

    def forward(self, x, rope, attention: Attention, meta: ForwardMeta):
        qkv = self.qkv_proj(x) if self.qkv_proj is not None else torch.cat(
            [self.q_proj(x), self.k_proj(x), self.v_proj(x)], dim=-1)
        cos, sin = rope
        q, k, v = fused(qk_norm_rope, qkv, self.q_norm.weight, self.k_norm.weight, cos, sin,
                        self.hq, self.hkv, self.d, self.eps)
        out = attention(self.layer, q, k, v, meta)
        return parallel.all_reduce(self.o_proj(out.reshape(x.shape[0], self.hq * self.d)))


def _concat_linear(parts) -> nn.Linear:
    first = parts[0]
    bias = first.bias is not None
    fused_linear = nn.Linear(first.in_features, sum(p.out_features for p in parts), bias=bias,
                             device=first.weight.device, dtype=first.weight.dtype)
    fused_linear.weight.copy_(torch.cat([p.weight for p in parts]))
    if bias:
        fused_linear.bias.copy_(torch.cat([p.bias for p in parts]))
    return fused_linear


class Qwen3MLP(nn.Module):
    def __init__(self, hidden: int, intermediate: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)

        self.gate_up_proj: nn.Linear | None = None

    @torch.no_grad()
    def fuse(self) -> None:
        self.gate_up_proj = _concat_linear((self.gate_proj, self.up_proj))
        del self.gate_proj, self.up_proj

    def forward(self, x):
        gate_up = self.gate_up_proj(x) if self.gate_up_proj is not None else torch.cat(
            [self.gate_proj(x), self.up_proj(x)], dim=-1)
        return parallel.all_reduce(self.down_proj(fused(silu_mul, gate_up)))


class Qwen3Experts(nn.Module):
    """E SwiGLU experts stacked: gate_up_proj [E, 2I, H] (gate rows first), down_proj [E, H, I].

    The (token, expert) pairs are sorted by expert and each expert multiplies its rows in one grouped matrix
    product (torch._grouped_mm): no expert's row count ever reaches the host, so a decode step can be captured in a
    CUDA graph. Torch builds without it loop over the experts some token picked (a host sync per step).
    """

    def __init__(self, num_experts: int, hidden: int, intermediate: int):
        super().__init__()
        self.gate_up_proj = nn.Parameter(torch.empty(num_experts, 2 * intermediate, hidden))
        self.down_proj = nn.Parameter(torch.empty(num_experts, hidden, intermediate))

    def forward(self, x, experts: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        flat = experts.flatten()
        order = flat.argsort(stable=True)
        token_of = order // experts.shape[1]
        scale = weights.flatten()[order, None]
        if not GROUPED_MM or (x.is_cuda and x.dtype != torch.bfloat16):   # CUDA grouped products: bf16 only
            return self._loop(x, flat, order, token_of, scale)
        # group e's rows end where the sorted expert ids pass e
        ends = torch.searchsorted(flat[order], torch.arange(self.gate_up_proj.shape[0], device=x.device),
                                  right=True).to(torch.int32)
        gate, up = torch._grouped_mm(x[token_of], self.gate_up_proj.transpose(1, 2), offs=ends).chunk(2, dim=-1)
        y = torch._grouped_mm(F.silu(gate) * up, self.down_proj.transpose(1, 2), offs=ends)
        return torch.zeros_like(x).index_add_(0, token_of, y * scale)

    def _loop(self, x, flat, order, token_of, scale) -> torch.Tensor:
        out = torch.zeros_like(x)
        counts = torch.bincount(flat, minlength=self.gate_up_proj.shape[0]).tolist()
        start = 0
        for e, n in enumerate(counts):     # only the experts some token picked do any work
            if n == 0:
                continue
            tokens = token_of[start:start + n]
            gate, up = F.linear(x[tokens], self.gate_up_proj[e]).chunk(2, dim=-1)
            y = F.linear(F.silu(gate) * up, self.down_proj[e])
            out.index_add_(0, tokens, y * scale[start:start + n])
            start += n
        return out


GROUPED_MM = hasattr(torch, "_grouped_mm")


class Qwen3MoeBlock(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.top_k, self.norm_topk_prob = config.num_experts_per_tok, config.norm_topk_prob
        self.gate = nn.Linear(config.hidden_size, config.num_experts, bias=False)
        self.experts = Qwen3Experts(config.num_experts, config.hidden_size, config.moe_intermediate_size)

    def forward(self, x):
        probs = self.gate(x).float().softmax(-1)
        weights, experts = probs.topk(self.top_k, dim=-1)
        if self.norm_topk_prob:
            weights = weights / weights.sum(-1, keepdim=True)
        return parallel.all_reduce(self.experts(x, experts, weights.to(x.dtype)))


class Qwen3DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.self_attn = Qwen3Attention(config, layer)
        self.mlp = (Qwen3MoeBlock(config) if config.layer_is_moe(layer)
                    else Qwen3MLP(config.hidden_size, config.intermediate_size))
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x, residual, rope, attention, meta):
        """(this layer's output, the residual stream before it): each add is fused into the next norm."""
        if residual is None:
            h, residual = self.input_layernorm(x), x
        else:
            h, residual = self.input_layernorm(x, residual)
        h = self.self_attn(h, rope, attention, meta)
        h, residual = self.post_attention_layernorm(h, residual)
        return self.mlp(h), residual


class Qwen3Model(nn.Module):
    def __init__(self, config: ModelConfig, max_positions: int):
        super().__init__()
        self.embed_tokens = parallel.VocabParallelEmbedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(Qwen3DecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary = RotaryEmbedding(config.head_dim, config.rope_theta, max_positions)

    def forward(self, input_ids, positions, attention: Attention, meta: ForwardMeta):
        meta.int32 = {}     # per-pass derived tables are rebuilt from this pass's inputs (and captured with them)
        x = self.embed_tokens(input_ids)
        rope = self.rotary(positions, x.dtype)
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual, rope, attention, meta)
        return self.norm(x, residual)[0]


class Qwen3ForCausalLM(nn.Module):
    def __init__(self, config: ModelConfig, max_positions: int):
        """`config` is the whole model's shape; under tensor parallel each rank builds its slice of it."""
        super().__init__()
        self.config = config
        local = parallel.shard_config(config, parallel.world_size())
        self.model = Qwen3Model(local, max_positions)
        self.lm_head = nn.Linear(config.hidden_size, local.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids, positions, attention: Attention, meta: ForwardMeta) -> torch.Tensor:
        """Final hidden states [T, hidden] of every token; logits() turns the selected rows into logits."""
        return self.model(input_ids, positions, attention, meta)

    def fuse(self) -> None:
        """Concatenate q/k/v and gate/up projections (after loading): fewer, larger matrix products."""
        for layer in self.model.layers:
            layer.self_attn.fuse()
            if isinstance(layer.mlp, Qwen3MLP):
                layer.mlp.fuse()

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return parallel.gather_vocab(self.lm_head(hidden).float())

    @classmethod
    def empty(cls, config: ModelConfig, max_positions: int, dtype: torch.dtype,
              device: torch.device) -> Qwen3ForCausalLM:
        """The model with uninitialised weights of `dtype` on `device` (built on meta: no wasted init)."""
        with torch.device("meta"):
            model = cls(config, max_positions)
        model = model.to(dtype).to_empty(device=device)
        if config.tie_word_embeddings:
            model.lm_head.weight = model.model.embed_tokens.weight
        model.model.rotary.reset(device)
        return model.eval()

    @torch.no_grad()
    def init_random(self, seed: int) -> None:
        """Seeded random weights N(0, initializer_range), norms at 1; same seed and device type, same model."""
        if parallel.world_size() > 1:
            return parallel.init_random_shards(self, seed)
        device = self.lm_head.weight.device
        generator = torch.Generator(device=device).manual_seed(seed)
        std = self.config.initializer_range
        for name, param in self.named_parameters():
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            elif name.endswith(".bias"):
                param.zero_()
            else:
                param.normal_(0.0, std, generator=generator)
