"""Attention over the paged KV cache: where sparse attention plugs into the engine.

The cache of each layer is two tensors [num_pages + 1, page_size, Hkv, head_dim] (the NHD layout FlashInfer calls
it; the extra last page is scratch for padded rows of a CUDA graph). Block top-k also keeps, per page and KV head,
the sum of the page's keys in float32: the page summary (mean key x page_size) that selection scores against.

Prefill is dense (a causal attention of each chunk over its request's cache). Decode is either dense (every cached
token) or block top-k (the `budget // page_size` best pages per request and KV head). Each has a torch version
(the reference, CPU and GPU) and, on GPU, the Triton kernels of `kinetics.kernels` when they are importable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from kinetics.engine.config import AttentionConfig, ModelConfig


@dataclass
class ForwardMeta:
    """Everything the attention of one forward pass needs to find its tokens in the cache."""

    is_prefill: bool
    slot_mapping: torch.Tensor                   # [T] global slot (page * page_size + offset) each token writes
    # prefill: one entry per request: (first row in the batch, rows this step, context length after this step)
    seq_ranges: list[tuple[int, int, int]] = field(default_factory=list)
    seq_pages: list[torch.Tensor] = field(default_factory=list)   # prefill: each request's page list
    page_table: torch.Tensor | None = None        # decode: [B, W] pages of each row, padded with the scratch page
    context_lens: torch.Tensor | None = None      # decode: [B] tokens in the cache after this step's write
    # prefill rows that recompute generated tokens (after a preemption): under block top-k they are redone as
    # decode rows, so that a preempted request gets exactly the cache it had
    recompute_rows: torch.Tensor | None = None    # [R] rows of the batch
    recompute_table: torch.Tensor | None = None   # [R, W] page table of each row's request
    recompute_lens: torch.Tensor | None = None    # [R] context length seen by each row (position + 1)
    int32: dict = field(default_factory=dict)      # int32 copies for the Triton kernels, made once per pass
    dense: bool = False                           # decode: attend densely this step (AttentionConfig.dense_below)


class PagedKVCache:
    """Per-layer K and V pages (and page summaries for block top-k).

    Summaries are float32 running sums on the torch path and, with the Triton kernels, each page's mean key in
    the cache's dtype (recomputed by one kernel; half the bytes selection reads in bf16)."""

    def __init__(self, model: ModelConfig, attention: AttentionConfig, num_pages: int,
                 dtype: torch.dtype, device: torch.device, summary_dtype: torch.dtype = torch.float32):
        shape = (num_pages + 1, attention.page_size, model.num_key_value_heads, model.head_dim)
        self.num_pages, self.page_size = num_pages, attention.page_size
        self.scratch_page = num_pages
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(model.num_hidden_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(model.num_hidden_layers)]
        sparse_layers = [i for i in range(model.num_hidden_layers) if attention.sparse_layer(i)]
        sum_shape = (num_pages + 1, model.num_key_value_heads, model.head_dim)
        self.ksum = {i: torch.zeros(sum_shape, dtype=summary_dtype, device=device) for i in sparse_layers}

    @staticmethod
    def bytes_per_page(model: ModelConfig, attention: AttentionConfig, dtype: torch.dtype,
                       summary_dtype: torch.dtype = torch.float32) -> int:
        element = torch.finfo(dtype).bits // 8
        kv = 2 * model.num_hidden_layers * attention.page_size * model.num_key_value_heads * model.head_dim * element
        sparse = sum(attention.sparse_layer(i) for i in range(model.num_hidden_layers))
        return kv + sparse * model.num_key_value_heads * model.head_dim * (torch.finfo(summary_dtype).bits // 8)

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor, meta: ForwardMeta, kernels=None) -> None:
        """Store this step's keys and values [T, Hkv, D] at their slots; keep the page summaries current.

        With the Triton kernels (GPU) a summary is the page's mean key, recomputed by one kernel for every page
        written; the torch path keeps running sums instead. Either ranks full pages the same way.
        """
        kc, vc = self.k[layer], self.v[layer]
        kc.view(-1, *kc.shape[2:])[meta.slot_mapping] = k
        vc.view(-1, *vc.shape[2:])[meta.slot_mapping] = v
        if layer not in self.ksum:
            return
        ksum = self.ksum[layer]
        if kernels is not None:
            tables = meta.int32
            if meta.is_prefill:
                kernels.kernels.update_page_summaries(kc, tables["prefill_table"], tables["prefill_lens"],
                                                      ksum.unsqueeze(2), kind="mean",
                                                      start_lens=tables["prefill_starts"], validate=False)
            else:
                kernels.kernels.update_page_summaries(kc, tables["table"], tables["lens"], ksum.unsqueeze(2),
                                                      kind="mean", validate=False)
            return
        page = meta.slot_mapping // self.page_size
        first = (meta.slot_mapping % self.page_size) == 0   # a page starts over: forget what it held
        if meta.is_prefill:
            ksum[page[first]] = 0
            ksum.index_add_(0, page, k.float())
        else:
            # one token per row and distinct pages per request: a plain (graph-capturable) update
            ksum[page] = ksum[page] * (~first).float()[:, None, None] + k.float()


def prefill_attention(q: torch.Tensor, cache: PagedKVCache, layer: int, meta: ForwardMeta,
                      scale: float) -> torch.Tensor:
    """Causal attention of each request's new rows over its whole cached context. q: [T, Hq, D]."""
    kc, vc = cache.k[layer], cache.v[layer]
    page_size, hkv, d = kc.shape[1], kc.shape[2], kc.shape[3]
    out = torch.empty_like(q)
    offsets = torch.arange(page_size, device=q.device)
    # requests with the same (rows, context) shape run as one batched call
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (_, rows, ctx) in enumerate(meta.seq_ranges):
        groups.setdefault((rows, ctx), []).append(i)
    for (rows, ctx), members in groups.items():
        slots = torch.stack([(meta.seq_pages[i][:, None] * page_size + offsets).flatten()[:ctx] for i in members])
        keys = kc.view(-1, hkv, d)[slots].transpose(1, 2)          # [n, Hkv, ctx, D]
        values = vc.view(-1, hkv, d)[slots].transpose(1, 2)
        starts = [meta.seq_ranges[i][0] for i in members]
        queries = torch.stack([q[s:s + rows] for s in starts]).transpose(1, 2)   # [n, Hq, rows, D]
        if rows == ctx:
            o = F.scaled_dot_product_attention(queries, keys, values, is_causal=True, scale=scale, enable_gqa=True)
        else:
            qpos = torch.arange(ctx - rows, ctx, device=q.device)
            mask = qpos[:, None] >= torch.arange(ctx, device=q.device)[None, :]
            o = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask, scale=scale, enable_gqa=True)
        o = o.transpose(1, 2)
        for j, s in enumerate(starts):
            out[s:s + rows] = o[j]
    return out


def decode_dense_torch(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, page_table: torch.Tensor,
                       context_lens: torch.Tensor, scale: float) -> torch.Tensor:
    """Dense paged decode, the reference: every row attends to its context_lens[b] cached tokens. q: [B, Hq, D]."""
    b, hq, d = q.shape
    page_size, hkv = k_cache.shape[1], k_cache.shape[2]
    keys = k_cache[page_table].flatten(1, 2).float()      # [B, W * page, Hkv, D]
    values = v_cache[page_table].flatten(1, 2).float()
    qg = q.view(b, hkv, hq // hkv, d).float()
    scores = torch.einsum("bhgd,blhd->bhgl", qg, keys) * scale
    valid = torch.arange(keys.shape[1], device=q.device)[None, :] < context_lens[:, None]
    scores = scores.masked_fill(~valid[:, None, None, :], float("-inf"))
    out = torch.einsum("bhgl,blhd->bhgd", scores.softmax(-1), values)
    return out.reshape(b, hq, d).to(q.dtype)


def select_pages_torch(q: torch.Tensor, ksum: torch.Tensor, page_table: torch.Tensor, context_lens: torch.Tensor,
                       page_size: int, num_select: int, sink_pages: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Block top-k selection: for each (row, KV head), the logical pages to attend to and whether each is real.

    Score of page p = sum over the group's query heads of q . mean key of p. The sink pages and the page being
    written are always kept. Returns (logical page indices [B, Hkv, k], valid [B, Hkv, k]).
    """
    b, hq, d = q.shape
    hkv = ksum.shape[1]
    width = page_table.shape[1]
    num_pages = (context_lens + page_size - 1) // page_size                   # [B]
    q_sum = q.view(b, hkv, hq // hkv, d).float().sum(2)                       # [B, Hkv, D]
    scores = torch.einsum("bhd,bwhd->bhw", q_sum, ksum[page_table]) / page_size
    logical = torch.arange(width, device=q.device)[None, :]
    valid = logical < num_pages[:, None]                                      # [B, W]
    forced = (logical < sink_pages) | (logical == (num_pages[:, None] - 1))
    scores = scores.masked_fill(forced[:, None, :], float("inf"))
    scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
    top = scores.topk(min(num_select, width), dim=-1).indices                # [B, Hkv, k]
    return top, valid.gather(1, top.flatten(1)).view_as(top)


def decode_blocktopk_torch(q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, ksum: torch.Tensor,
                           page_table: torch.Tensor, context_lens: torch.Tensor, scale: float,
                           num_select: int, sink_pages: int) -> torch.Tensor:
    """Block top-k paged decode, the reference: attention restricted to the selected pages of each KV head."""
    b, hq, d = q.shape
    page_size, hkv = k_cache.shape[1], k_cache.shape[2]
    top, valid = select_pages_torch(q, ksum, page_table, context_lens, page_size, num_select, sink_pages)
    k_sel = top.shape[-1]
    physical = page_table.gather(1, top.flatten(1)).view(b, hkv, k_sel)
    heads = torch.arange(hkv, device=q.device)[None, :, None]
    keys = k_cache.permute(0, 2, 1, 3)[physical, heads].float()               # [B, Hkv, k, page, D]
    values = v_cache.permute(0, 2, 1, 3)[physical, heads].float()
    position = top[..., None] * page_size + torch.arange(page_size, device=q.device)
    mask = (position < context_lens[:, None, None, None]) & valid[..., None]  # [B, Hkv, k, page]
    qg = q.view(b, hkv, hq // hkv, d).float()
    scores = torch.einsum("bhgd,bhkpd->bhgkp", qg, keys).flatten(3) * scale
    scores = scores.masked_fill(~mask.flatten(2)[:, :, None, :], float("-inf"))
    out = torch.einsum("bhgl,bhld->bhgd", scores.softmax(-1), values.flatten(2, 3))
    return out.reshape(b, hq, d).to(q.dtype)


class Attention:
    """The attention backend of the engine: writes the cache, then prefill or (dense / block top-k) decode."""

    def __init__(self, model: ModelConfig, config: AttentionConfig, cache: PagedKVCache, use_triton: bool):
        self.model, self.config, self.cache = model, config, cache
        self.scale = model.head_dim ** -0.5
        self.kernels = _load_kernels() if use_triton else None

    @property
    def backend_name(self) -> str:
        return "triton" if self.kernels is not None else "torch"

    def __call__(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                 meta: ForwardMeta) -> torch.Tensor:
        if self.kernels is not None and not meta.int32:
            meta.int32 = self._int32_tables(meta)
        self.cache.write(layer, k, v, meta, self.kernels)
        sparse = self.config.sparse_layer(layer) and not meta.dense
        if meta.is_prefill:
            out = prefill_attention(q, self.cache, layer, meta, self.scale)
            if sparse and meta.recompute_rows is not None:
                rows = meta.recompute_rows
                out[rows] = self._decode(layer, q[rows], meta.recompute_table, meta.recompute_lens, sparse)
            return out
        table, lens = meta.page_table, meta.context_lens
        if self.kernels is not None:
            table, lens = meta.int32["table"], meta.int32["lens"]
        return self._decode(layer, q, table, lens, sparse)

    def _int32_tables(self, meta: ForwardMeta) -> dict:
        """The int32 page tables and lengths the Triton kernels read, built once per forward pass."""
        if not meta.is_prefill:
            return {"table": meta.page_table.to(torch.int32), "lens": meta.context_lens.to(torch.int32)}
        if not self.cache.ksum:
            return {"prefill": True}
        table = torch.nn.utils.rnn.pad_sequence(meta.seq_pages, batch_first=True,
                                                padding_value=self.cache.scratch_page).to(torch.int32)
        lens = torch.tensor([ctx for _, _, ctx in meta.seq_ranges], dtype=torch.int32, device=table.device)
        starts = torch.tensor([ctx - rows for _, rows, ctx in meta.seq_ranges], dtype=torch.int32,
                              device=table.device)
        return {"prefill_table": table.contiguous(), "prefill_lens": lens, "prefill_starts": starts}

    def _decode(self, layer: int, q: torch.Tensor, page_table: torch.Tensor, context_lens: torch.Tensor,
                sparse: bool) -> torch.Tensor:
        kc, vc = self.cache.k[layer], self.cache.v[layer]
        if self.kernels is not None:
            return self.kernels.decode(q, kc, vc, self.cache.ksum.get(layer), page_table, context_lens,
                                       self.scale, self.config if sparse else None)
        if sparse:
            return decode_blocktopk_torch(q, kc, vc, self.cache.ksum[layer], page_table, context_lens,
                                          self.scale, self.config.pages_per_step, self.config.sink_pages)
        return decode_dense_torch(q, kc, vc, page_table, context_lens, self.scale)


def _load_kernels():
    """The GPU decode path over kinetics.kernels (None when they cannot be used here)."""
    try:
        from kinetics.engine import gpu_attention
    except ImportError:
        return None
    return gpu_attention.load()
