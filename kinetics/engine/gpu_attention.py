"""Decode attention through the Triton kernels of `kinetics.kernels` (chapter 4): the engine's GPU path.

The engine's cache already has the kernels' layout (NHD pages); what this adapter adds is the int32 page table and
lengths they read, and the page summaries as [pages, KV heads, 1, D] (the engine keeps the sum of each page's keys
in float32, which ranks full pages exactly as their mean does; the partial last page is always kept anyway).
Every launch skips the kernels' host-side value checks (validate=False): the engine built those tables itself,
and a check would synchronise the GPU inside a CUDA graph.
"""
from __future__ import annotations

import torch

from kinetics.engine.config import AttentionConfig


class TritonDecode:
    def __init__(self, kernels):
        self.kernels = kernels

    def decode(self, q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, ksum: torch.Tensor | None,
               page_table: torch.Tensor, context_lens: torch.Tensor, scale: float,
               sparse: AttentionConfig | None) -> torch.Tensor:
        table = page_table if page_table.dtype == torch.int32 else page_table.to(torch.int32)
        lens = context_lens if context_lens.dtype == torch.int32 else context_lens.to(torch.int32)
        q = q.contiguous()
        if sparse is None:
            return self.kernels.paged_decode(q, k_cache, v_cache, table, lens, sm_scale=scale, validate=False)
        out, _ = self.kernels.block_topk_decode(
            q, k_cache, v_cache, table, lens, ksum.unsqueeze(2), budget=sparse.pages_per_step, kind="mean",
            num_sink_pages=sparse.sink_pages, sm_scale=scale, validate=False)
        return out


def load() -> TritonDecode | None:
    """The adapter, or None when the kernels cannot be imported (no Triton, or not installed as kinetics.kernels)."""
    try:
        from kinetics import kernels
        kernels.paged_decode, kernels.block_topk_decode, kernels.update_page_summaries  # noqa: B018 - API used
    except (ImportError, AttributeError):
        return None
    return TritonDecode(kernels)
