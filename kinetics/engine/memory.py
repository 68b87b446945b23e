"""The memory an engine needs, estimated before anything is allocated, so that a model or a cache that cannot fit
is refused with the estimate in one line instead of a failed allocation of terabytes (or a machine swapping).

The weights are counted exactly on a model built on PyTorch's meta device (shapes only, no memory); the KV cache is
pages x bytes per page; the estimate leaves out activations, which the engine bounds separately.
"""
from __future__ import annotations

import os

import torch

from kinetics.errors import InputError


def available_bytes(device: torch.device) -> int:
    """Memory a new allocation can get: free GPU memory, or on the CPU the kernel's MemAvailable (and the process's
    address-space limit, when one is set)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    import resource

    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    return min(available, limit) if limit != resource.RLIM_INFINITY else available


def check_memory(model_config, cache_spec, attention_config, dtype: torch.dtype, device: torch.device, max_len: int,
                 kv_tokens: int) -> None:
    """Refuse, with the estimate, a model plus a `kv_tokens`-token KV cache that does not fit `device`. With tensor
    parallelism the model built here is this rank's slice, and `cache_spec` the shape of this rank's cache."""
    from kinetics.engine.attention import PagedKVCache
    from kinetics.engine.block_manager import pages_for
    from kinetics.engine.qwen3 import Qwen3ForCausalLM

    element = torch.finfo(dtype).bits // 8
    with torch.device("meta"):
        model = Qwen3ForCausalLM(model_config, max_len)
    weights = sum(t.numel() for t in [*model.parameters(), *model.buffers()]) * element
    pages = pages_for(kv_tokens, attention_config.page_size)
    cache = pages * PagedKVCache.bytes_per_page(cache_spec, attention_config, dtype)
    have = available_bytes(device)
    if weights + cache > have:
        raise InputError(f"the model and its KV cache need about {(weights + cache) / 1e9:,.1f} GB (weights "
                         f"{weights / 1e9:,.1f} GB, KV cache {cache / 1e9:,.1f} GB for {kv_tokens:,} tokens at "
                         f"max_model_len {max_len:,}), more than the {have / 1e9:,.1f} GB available on {device.type}; "
                         f"ask for fewer tokens (--max-new-tokens, --max-model-len, --num-pages) or a smaller model")
