"""Turn a scheduled batch into tensors, run the model, return the logits of the rows that sample.

On a GPU, decode steps replay CUDA graphs captured once per batch size (rows padded up to the next captured
size): one launch per step instead of a few hundred, which is what decode at small batch is bound by.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from kinetics.engine import parallel
from kinetics.engine.attention import Attention, ForwardMeta, PagedKVCache
from kinetics.engine.block_manager import pages_for
from kinetics.engine.config import AttentionConfig, EngineConfig
from kinetics.models import ModelSpec
from kinetics.engine.loader import load_weights
from kinetics.engine import qwen3
from kinetics.engine.memory import check_memory
from kinetics.engine.scheduler import ScheduledBatch
from kinetics.errors import InputError

log = logging.getLogger(__name__)

CPU_DEFAULT_KV_TOKENS = 1 << 16


class ModelRunner:
    def __init__(self, model_config: ModelSpec, attention_config: AttentionConfig, engine_config: EngineConfig,
                 device: torch.device, dtype: torch.dtype, weights=None, seed: int = 0):
        self.model_config, self.attention_config, self.engine_config = model_config, attention_config, engine_config
        self.device, self.dtype = device, dtype
        self.memory: dict = {}        # how the GPU cache was sized (empty on CPU or when the size was given)
        max_len = engine_config.max_model_len or model_config.max_position_embeddings
        self.local_spec = parallel.shard_config(model_config, parallel.world_size())   # this rank's slice
        check_memory(model_config, self.local_spec, attention_config, dtype, device, max_len,
                     self._num_pages(max_len) * attention_config.page_size if device.type != "cuda" else max_len)
        self.model = qwen3.Qwen3ForCausalLM.empty(model_config, max_len, dtype, device)
        error = None
        if weights is not None:
            try:
                load_weights(self.model, weights, engine_config.check_finite)
            except InputError as failure:
                error = str(failure)
        else:
            self.model.init_random(seed)
        parallel.agree(error, "load its slice of the weights")
        self.model.fuse()
        page = attention_config.page_size
        self.num_pages = parallel.min_over_ranks(self._num_pages(max_len))
        self.max_model_len = min(max_len, self.num_pages * page)
        self.max_pages_per_seq = pages_for(self.max_model_len, page)
        self.cache = PagedKVCache(self.local_spec, attention_config, self.num_pages, dtype, device,
                                  summary_dtype=self._summary_dtype())
        self.attention = Attention(self.local_spec, attention_config, self.cache, self._use_triton())
        if engine_config.attention_backend == "triton" and self.attention.kernels is None:
            raise InputError("attention_backend='triton' asked for, but kinetics.kernels cannot be imported")
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.dense_graphs: dict[int, torch.cuda.CUDAGraph] = {}   # AttentionConfig.dense_below steps
        capturable = not model_config.is_moe or qwen3.GROUPED_MM      # the MoE loop syncs with the host
        if device.type == "cuda" and engine_config.cuda_graphs and capturable:
            self._capture_graphs()

    def _use_triton(self) -> bool:
        backend = self.engine_config.attention_backend
        return backend == "triton" or (backend == "auto" and self.device.type == "cuda")

    def _summary_dtype(self) -> torch.dtype:
        """Page summaries: the kernels' mean keys in the cache dtype, or the torch path's float32 sums."""
        return self.dtype if self._use_triton() else torch.float32

    def _num_pages(self, max_len: int) -> int:
        cfg, page = self.engine_config, self.attention_config.page_size
        if cfg.num_pages is not None:
            return cfg.num_pages
        if cfg.kv_cache_tokens is not None:
            return pages_for(cfg.kv_cache_tokens, page)
        if self.device.type != "cuda":
            return pages_for(max(CPU_DEFAULT_KV_TOKENS, max_len), page)
        torch.cuda.synchronize(self.device)
        # fuse() frees the unfused q/k/v and gate/up weights into torch's caching allocator, where the driver's
        # count of free memory cannot see them: hand them back before counting
        cached = torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info(self.device)
        reserve = total * (1 - cfg.gpu_memory_utilization) + self._activation_bytes()
        per_page = PagedKVCache.bytes_per_page(self.local_spec, self.attention_config, self.dtype,
                                               self._summary_dtype())
        pages = int((free - reserve) // per_page)
        self.memory = {"free_bytes": free, "total_bytes": total, "reserve_bytes": int(reserve),
                       "returned_from_torch_cache_bytes": cached, "bytes_per_page": per_page, "pages": pages}
        log.info("KV cache: %d pages from %.1f GB free (%.1f GB of it handed back from torch's cache)", pages,
                 free / 1e9, cached / 1e9)
        if pages < pages_for(max_len, page):
            pages = max(pages, 1)
            log.warning("KV cache holds %d pages (%d tokens), less than max_model_len %d", pages, pages * page,
                        max_len)
        return pages

    def _activation_bytes(self) -> int:
        """Room for one prefill step's activations and the logits (a generous estimate)."""
        m, cfg = self.model_config, self.engine_config
        width = max(m.hidden_size * 4, m.intermediate_size * 3, m.num_heads * m.head_dim * 3)
        return int(cfg.max_num_batched_tokens * width * 4 * 2 + cfg.max_num_seqs * m.vocab_size * 4 * 3 + 2**30)

    # ---- building the inputs of one step ----

    def _prefill_inputs(self, batch: ScheduledBatch):
        page = self.attention_config.page_size
        ids, positions, slots, ranges, seq_pages, sample_rows = [], [], [], [], [], []
        redo_rows, redo_tables, redo_lens = [], [], []
        row = 0
        for i, (seq, n) in enumerate(zip(batch.seqs, batch.num_new)):
            start, stop = seq.num_cached, seq.num_cached + n
            pos = np.arange(start, stop)
            pages = np.asarray(seq.pages[:pages_for(stop, page)], dtype=np.int64)
            ids.extend(seq.tokens[start:stop])
            positions.append(pos)
            slots.append(pages[pos // page] * page + pos % page)
            ranges.append((row, n, stop))
            seq_pages.append(torch.from_numpy(pages).to(self.device))
            if batch.samples(i):
                sample_rows.append(row + n - 1)
            if self.attention_config.kind == "blocktopk" and stop > len(seq.prompt):
                first = max(start, len(seq.prompt))          # generated tokens being recomputed
                redo_rows.extend(range(row + first - start, row + n))
                redo_lens.extend(range(first + 1, stop + 1))
                redo_tables.extend([pages] * (stop - first))
            row += n
        meta = ForwardMeta(is_prefill=True, slot_mapping=self._tensor(np.concatenate(slots)),
                           seq_ranges=ranges, seq_pages=seq_pages)
        if redo_rows:
            width = max(len(t) for t in redo_tables)
            table = np.full((len(redo_rows), width), self.cache.scratch_page, dtype=np.int64)
            for j, pages in enumerate(redo_tables):
                table[j, :len(pages)] = pages
            meta.recompute_rows = self._tensor(np.asarray(redo_rows))
            meta.recompute_table = self._tensor(table)
            meta.recompute_lens = self._tensor(np.asarray(redo_lens))
        return self._tensor(np.asarray(ids)), self._tensor(np.concatenate(positions)), meta, sample_rows

    def _decode_arrays(self, batch: ScheduledBatch, rows: int, width: int):
        """Token ids, positions, slots, page table [rows, width] and lengths of a decode step; rows past the
        batch are padding (scratch page, length 1). Built with one numpy operation per array where it can: at
        batch 256 the host's per-step work is a visible share of a step."""
        page = self.attention_config.page_size
        scratch = self.cache.scratch_page
        seqs = batch.seqs
        n = len(seqs)
        ids = np.zeros(rows, dtype=np.int64)
        lens = np.ones(rows, dtype=np.int64)
        table = np.full((rows, width), scratch, dtype=np.int64)
        ids[:n] = [seq.output[-1] if seq.output else seq.prompt[-1] for seq in seqs]
        lens[:n] = [len(seq) for seq in seqs]
        for i, seq in enumerate(seqs):
            table[i, :len(seq.pages)] = seq.page_array()
        positions = lens - 1
        slots = np.full(rows, scratch * page, dtype=np.int64)
        slots[:n] = table[np.arange(n), positions[:n] // page] * page + positions[:n] % page
        return ids, positions, slots, table, lens

    def _feed(self, ids: torch.Tensor, feed: tuple[torch.Tensor, np.ndarray] | None) -> None:
        """Overwrite, on the device, the input ids of the rows whose last token is still being sampled."""
        if feed is None:
            return
        tokens, rows = feed
        src = np.full(len(ids), -1, dtype=np.int64)
        src[:len(rows)] = rows
        src = self._tensor(src)
        ids.copy_(torch.where(src >= 0, tokens[src.clamp(min=0)], ids))

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device, non_blocking=True)

    # ---- running ----

    @torch.inference_mode()
    def run(self, batch: ScheduledBatch, feed: tuple[torch.Tensor, np.ndarray] | None = None) -> torch.Tensor:
        """Logits [rows that sample, vocab] in float32, in batch order.

        feed (decode only): (tokens, rows): request i's input id is tokens[rows[i]] where rows[i] >= 0, a token
        the previous step sampled on the device and the host has not read yet."""
        if batch.is_prefill:
            ids, positions, meta, sample_rows = self._prefill_inputs(batch)
            hidden = self.model(ids, positions, self.attention, meta)
            if not sample_rows:
                return hidden.new_empty(0, self.model_config.vocab_size, dtype=torch.float32)
            return self.model.logits(hidden[torch.tensor(sample_rows, device=self.device)])
        b = len(batch.seqs)
        dense = max(len(seq) for seq in batch.seqs) < self.attention_config.dense_below
        graphs = self.dense_graphs if dense and self.dense_graphs else self.graphs
        size = next((s for s in sorted(graphs) if s >= b), None)
        if size is None:
            width = max(len(seq.pages) for seq in batch.seqs)
            ids, positions, slots, table, lens = (self._tensor(a) for a in self._decode_arrays(batch, b, width))
            self._feed(ids, feed)
            meta = ForwardMeta(is_prefill=False, slot_mapping=slots, page_table=table, context_lens=lens, dense=dense)
            hidden = self.model(ids, positions, self.attention, meta)
            return self.model.logits(hidden)
        # the page table only as wide as this batch's longest request: the kernels never read a row past its
        # length, so columns left from earlier steps are harmless, and the copy stays small for long contexts
        width = max(len(seq.pages) for seq in batch.seqs)
        arrays = self._decode_arrays(batch, size, width)
        for buffer, array in zip(self._static_inputs, arrays):
            target = buffer[:size, :width] if array.ndim == 2 else buffer[:size]
            target.copy_(torch.from_numpy(array), non_blocking=True)
        self._feed(self._static_inputs[0][:size], feed)
        graphs[size].replay()
        return self.model.logits(self._static_hidden[graphs is self.dense_graphs, size][:b])

    def _capture_graphs(self) -> None:
        cfg = self.engine_config
        sizes = cfg.graph_batch_sizes or sorted({1, 2, 4, 8, *range(16, cfg.max_num_seqs + 1, 16),
                                                 cfg.max_num_seqs})
        sizes = [s for s in sizes if s <= cfg.max_num_seqs]
        rows, width = max(sizes), self.max_pages_per_seq
        scratch = self.cache.scratch_page
        page = self.attention_config.page_size
        self._static_inputs = [
            torch.zeros(rows, dtype=torch.int64, device=self.device),                      # token ids
            torch.zeros(rows, dtype=torch.int64, device=self.device),                      # positions
            torch.full((rows,), scratch * page, dtype=torch.int64, device=self.device),    # slots
            torch.full((rows, width), scratch, dtype=torch.int64, device=self.device),     # page table
            torch.ones(rows, dtype=torch.int64, device=self.device),                       # context lengths
        ]
        self._static_hidden: dict[tuple[bool, int], torch.Tensor] = {}   # (dense fallback?, size)
        pool = None
        # block top-k with a dense fallback gets a second set of graphs (same inputs, dense attention); both keep
        # the page summaries current, since the cache write is in every graph
        modes = [(False, self.graphs)] + ([(True, self.dense_graphs)] if self.attention_config.dense_below
                                          and self.attention_config.kind != "dense" else [])
        with torch.inference_mode():
            for dense, graphs in modes:
                for size in sorted(sizes, reverse=True):
                    ids, positions, slots, table, lens = (t[:size] for t in self._static_inputs)
                    meta = ForwardMeta(is_prefill=False, slot_mapping=slots, page_table=table, context_lens=lens,
                                       dense=dense)
                    for _ in range(2):     # warm-up outside the graph (Triton compiles, cuBLAS picks kernels)
                        self.model(ids, positions, self.attention, meta)
                    torch.cuda.synchronize(self.device)
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph, pool=pool):
                        self._static_hidden[dense, size] = self.model(ids, positions, self.attention, meta)
                    pool = graph.pool()
                    graphs[size] = graph
        torch.cuda.synchronize(self.device)
        log.info("captured %d decode CUDA graphs (batch sizes %s..%s)", len(sizes) * len(modes), min(sizes),
                 max(sizes))

    def check_request(self, prompt: list[int]) -> str | None:
        """Why a request cannot run here (None if it can)."""
        if not prompt:
            return "empty prompt"
        vocab = self.model_config.vocab_size
        bad = next((t for t in prompt if not (isinstance(t, (int, np.integer)) and 0 <= t < vocab)), None)
        if bad is not None:
            return f"token id {bad!r} is outside the vocabulary [0, {vocab})"
        if len(prompt) >= self.max_model_len:
            return (f"prompt of {len(prompt)} tokens does not fit the context limit of {self.max_model_len} tokens "
                    f"(max_model_len / KV cache)")
        return None


def default_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def parse_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if dtype not in table:
        raise InputError(f"dtype must be one of {', '.join(table)}, got {dtype!r}")
    return table[dtype]


def parse_device(device) -> torch.device:
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' asked for, but no CUDA GPU is available here")
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"device must be cpu or cuda, got {device.type!r}")
    return device

