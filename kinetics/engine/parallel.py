"""Tensor parallel: one model split over N processes (torchrun), one all-reduce after attention and one after the MLP.

What each rank owns (rank r of N, contiguous slices):

- attention: query heads [r*Hq/N, (r+1)*Hq/N) and the KV heads they read, [r*Hkv/N, (r+1)*Hkv/N). Whole KV heads
  stay on one rank, so its KV pages, page summaries and block top-k selection are local; q/k/v projections are
  column-parallel (a slice of output rows), o_proj is row-parallel (a slice of input columns) and its partial
  products are summed by the all-reduce after attention.
- dense MLP: gate/up column-parallel, down row-parallel, summed by the all-reduce after the MLP.
- MoE: tensor parallel inside every expert (a slice of each expert's intermediate size). The router is replicated,
  so every rank picks the same experts and the layer ends with the same single all-reduce as a dense MLP. Expert
  parallelism would need an all-to-all each way and leaves ranks idle when a decode batch picks few experts.
- embedding and LM head: a slice of the vocabulary rows. The embedding masks ids outside its slice and all-reduces;
  the LM head's logit slices are all-gathered, so every rank holds the full logits and samples the same tokens
  (sampling draws from each request's own seed, never from the rank).

World size 1 skips every collective: one code path for 1 to N processes. Start with
`torchrun --nproc-per-node N -m kinetics.cli generate ... --tp N`; across hosts add torchrun's rendezvous flags
(`--nnodes 2 --rdzv-backend c10d --rdzv-endpoint HOST:PORT`).
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import zlib

import torch
import torch.nn.functional as F
from torch import nn

from kinetics.errors import InputError

_GROUP = None          # the tensor-parallel process group; None: one process
TIMEOUT_S = float(os.environ.get("KINETICS_TP_TIMEOUT", "120"))


def world_size() -> int:
    return torch.distributed.get_world_size(_GROUP) if _GROUP is not None else 1


def rank() -> int:
    return torch.distributed.get_rank(_GROUP) if _GROUP is not None else 0


def init(tp: int, device: torch.device) -> torch.device:
    """Join the torchrun job as one of `tp` ranks; the device this rank computes on (cuda:LOCAL_RANK on GPUs)."""
    global _GROUP
    if tp == 1:
        return device
    if _GROUP is None:
        device = _join(tp, device, "--tp", "nccl" if device.type == "cuda" else "gloo")
        _GROUP = torch.distributed.group.WORLD
    elif device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def init_data_parallel(dp: int, device: torch.device) -> tuple[int, torch.device]:
    """Join a torchrun job of `dp` independent engines (one per GPU): (this rank, its device). The process group
    (gloo) only gathers results; each engine runs alone, tensor parallel 1."""
    if dp == 1:
        return 0, device
    device = _join(dp, device, "--dp", "gloo")
    return torch.distributed.get_rank(), device


def _join(world: int, device: torch.device, flag: str, backend: str) -> torch.device:
    """Check the torchrun environment, pick this rank's GPU, start the process group and meet every rank."""
    env_world = os.environ.get("WORLD_SIZE")
    if env_world is None:
        raise InputError(f"{flag} {world} needs {world} processes: start them with 'torchrun --nproc-per-node "
                         f"{world} -m kinetics.cli COMMAND ARGS {flag} {world}' (or let 'kinetics' start them)")
    if int(env_world) != world:
        raise InputError(f"{flag} {world} but torchrun started {env_world} processes (WORLD_SIZE); they must match")
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise InputError(f"{flag} {world}: local rank {local} but this host has {torch.cuda.device_count()} "
                             f"GPU(s)")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    try:
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(backend, timeout=datetime.timedelta(seconds=TIMEOUT_S))
        # a first collective: every rank is up and reachable, or a clear error after the timeout
        torch.distributed.barrier()
    except (RuntimeError, ValueError) as error:   # DistNetworkError and DistBackendError are RuntimeErrors
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise InputError(f"{'tensor' if flag == '--tp' else 'data'} parallel: rank {os.environ.get('RANK', '?')} "
                         f"of {world} could not reach the other ranks within {TIMEOUT_S:.0f} s (a rank died or "
                         f"never started: {reason})") from None
    return device


def is_helper_rank() -> bool:
    """True in the processes of a multi-process job other than rank 0: they compute, rank 0 reports and writes."""
    return int(os.environ.get("RANK", "0")) > 0


def gather_objects(value) -> list:
    """[every rank's value], on every rank ([value] in one process)."""
    if not torch.distributed.is_initialized() or torch.distributed.get_world_size() == 1:
        return [value]
    out = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, value)
    return out


def launch_local(world: int, argv: list[str], device: str | None) -> int:
    """Run `python -m kinetics.cli ARGV` as `world` ranks on this host, with the environment torchrun would give
    them; the worst exit code."""
    import socket
    import subprocess
    import sys

    if (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda"):
        gpus = torch.cuda.device_count()
        if world > gpus:
            raise InputError(f"{world} ranks asked for (--tp/--dp), but this host has {gpus} GPU(s)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, "-m", "kinetics.cli", *argv],
                              env=dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world),
                                       LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)))
             for r in range(world)]
    return max(p.wait() for p in procs)


def agree(error: str | None, what: str) -> None:
    """Raise on every rank when any rank failed `what`, with the first failing rank's reason (none waits on a
    dead peer)."""
    if world_size() > 1:
        errors = [None] * world_size()
        torch.distributed.all_gather_object(errors, error, group=_GROUP)
        failed = next((r for r, e in enumerate(errors) if e), None)
        if failed is not None:
            raise InputError(f"tensor parallel: rank {failed} could not {what}: {errors[failed]}")
    elif error:
        raise InputError(error)


def min_over_ranks(value: int) -> int:
    """The smallest `value` of all ranks (every rank must size its KV cache to the same number of pages)."""
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.int64, device=_device())
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MIN, group=_GROUP)
    return int(t.item())


def _device() -> torch.device:
    if torch.distributed.get_backend(_GROUP) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce(x: torch.Tensor) -> torch.Tensor:
    """Sum of x over the ranks (in place); x itself at world size 1."""
    if _GROUP is None:
        return x
    if _SYMMETRIC is not None and x.dtype == _SYMMETRIC.buffer.dtype and x.numel() <= _SYMMETRIC.buffer.numel():
        return _SYMMETRIC(x)
    torch.distributed.all_reduce(x, group=_GROUP)
    return x


class SymmetricAllReduce:
    """All-reduce of small bf16 tensors through a buffer every GPU of the group can read (PyTorch's symmetric
    memory, peer-to-peer over NVLink, no multicast): one kernel instead of NCCL's protocol, for the two small
    all-reduces per layer of a decode step. `kind` is one_shot (each rank reads every peer's buffer and sums) or
    two_shot (reduce-scatter then all-gather)."""

    def __init__(self, kind: str, max_bytes: int, device: torch.device):
        import torch.distributed._symmetric_memory as symmetric

        self.kind, self.group_name = kind, _GROUP.group_name
        self.buffer = symmetric.empty(max_bytes // 2, dtype=torch.bfloat16, device=device)
        symmetric.rendezvous(self.buffer, self.group_name)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        staged = self.buffer[:x.numel()]
        staged.copy_(x.view(-1))
        if self.kind == "one_shot":
            x.view(-1).copy_(torch.ops.symm_mem.one_shot_all_reduce(staged, "sum", self.group_name))
        else:
            torch.ops.symm_mem.two_shot_all_reduce_(staged, "sum", self.group_name)
            x.view(-1).copy_(staged)
        return x


_SYMMETRIC: SymmetricAllReduce | None = None


def use_all_reduce(kind: str, device: torch.device, max_bytes: int = 1 << 22) -> None:
    """Pick the all-reduce of the model's activations: "nccl" (default) or "one_shot"/"two_shot" over
    symmetric memory for tensors up to max_bytes (larger ones, e.g. prefill's, still go through NCCL)."""
    global _SYMMETRIC
    if kind not in ("nccl", "one_shot", "two_shot"):
        raise InputError(f"all-reduce must be nccl, one_shot or two_shot, got {kind!r}")
    _SYMMETRIC = None if kind == "nccl" or _GROUP is None else SymmetricAllReduce(kind, max_bytes, device)


def gather_vocab(logits: torch.Tensor) -> torch.Tensor:
    """[rows, vocab / N] logit slices of every rank -> the full [rows, vocab] on every rank."""
    if _GROUP is None:
        return logits
    parts = [torch.empty_like(logits) for _ in range(world_size())]
    torch.distributed.all_gather(parts, logits.contiguous(), group=_GROUP)
    return torch.cat(parts, dim=-1)


# ---- what one rank holds ------------------------------------------------------------------------------------------

def shard_config(config, tp: int):
    """The model shape one of `tp` ranks builds: heads, intermediate sizes and vocabulary divided by tp."""
    if tp == 1:
        return config
    checks = {"num_key_value_heads": config.num_key_value_heads, "vocab_size": config.vocab_size}
    checks["moe_intermediate_size" if config.is_moe else "intermediate_size"] = (
        config.moe_intermediate_size if config.is_moe else config.intermediate_size)
    if config.is_moe and any(not config.layer_is_moe(i) for i in range(config.num_hidden_layers)):
        checks["intermediate_size"] = config.intermediate_size
    for name, value in checks.items():
        if value % tp:
            raise InputError(f"--tp {tp} does not divide the model's {name} ({value}): each rank must own "
                             f"whole {'KV heads' if name == 'num_key_value_heads' else 'equal slices'}")
    return dataclasses.replace(
        config, num_attention_heads=config.num_attention_heads // tp,
        num_key_value_heads=config.num_key_value_heads // tp, intermediate_size=config.intermediate_size // tp,
        moe_intermediate_size=config.moe_intermediate_size // tp, vocab_size=config.vocab_size // tp)


# checkpoint name suffix -> the dimension split across ranks (names not listed are replicated)
# (a dense MLP's and each expert's gate_proj/up_proj/down_proj alike)
_SPLIT = {"q_proj.weight": 0, "k_proj.weight": 0, "v_proj.weight": 0, "q_proj.bias": 0, "k_proj.bias": 0,
          "v_proj.bias": 0, "o_proj.weight": 1, "gate_proj.weight": 0, "up_proj.weight": 0, "down_proj.weight": 1,
          "experts.down_proj": 2, "experts.gate_up_proj": 1, "embed_tokens.weight": 0, "lm_head.weight": 0}


def split_dim(name: str) -> int | None:
    """The dimension of checkpoint tensor `name` that is split across ranks (None: every rank has all of it)."""
    if name.endswith("mlp.gate.weight"):       # the MoE router
        return None
    return next((dim for suffix, dim in _SPLIT.items() if name.endswith(suffix)), None)


def read_shard(handle, name: str) -> torch.Tensor:
    """This rank's slice of tensor `name` of an open safetensors file, reading only that slice."""
    dim = split_dim(name) if world_size() > 1 else None
    if dim is None:
        tensor = handle.get_tensor(name)
        if name.endswith("o_proj.bias") and rank() > 0:
            tensor = torch.zeros_like(tensor)       # a row-parallel bias is added once, by rank 0
        return tensor
    part = handle.get_slice(name)
    shape = part.get_shape()
    n, r = world_size(), rank()
    if name.endswith("experts.gate_up_proj"):      # [E, 2I, H], gate rows then up rows: a slice of each
        half = shape[1] // 2
        step = half // n
        return torch.cat([part[:, r * step:(r + 1) * step], part[:, half + r * step:half + (r + 1) * step]], 1)
    if shape[dim] % n:
        raise InputError(f"tensor {name!r} has {shape[dim]} rows along dim {dim}, not divisible by --tp {n}")
    step = shape[dim] // n
    index = tuple(slice(None) if d != dim else slice(r * step, (r + 1) * step) for d in range(len(shape)))
    return part[index]


@torch.no_grad()
def init_random_shards(model: nn.Module, seed: int) -> None:
    """Seeded random weights for a split model: each tensor from its own generator, seeded by (seed, name, rank
    when split), so replicated tensors (the MoE router, norms) are the same on every rank."""
    std = model.config.initializer_range
    for name, param in model.named_parameters():
        if name.endswith("norm.weight"):
            param.fill_(1.0)
        elif name.endswith(".bias"):
            param.zero_()
        else:
            split = split_dim(name) is not None
            key = zlib.crc32(f"{seed}:{name}:{rank() if split else -1}".encode())
            generator = torch.Generator(device=param.device).manual_seed(key)
            param.normal_(0.0, std, generator=generator)


class VocabParallelEmbedding(nn.Embedding):
    """nn.Embedding over this rank's slice of the vocabulary; the rows of other ranks' ids are summed in."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if _GROUP is None:
            return super().forward(ids)
        local = ids - rank() * self.num_embeddings
        outside = (local < 0) | (local >= self.num_embeddings)
        out = F.embedding(local.masked_fill(outside, 0), self.weight)
        return all_reduce(out.masked_fill(outside[:, None], 0))
