"""Triton kernels for paged (sparse) decode attention, with torch references (see chapter 4).

Import as ``kinetics.kernels``. Every function runs on CUDA tensors (compiled Triton) and on CPU tensors under
``TRITON_INTERPRET=1`` (the Triton interpreter, used by the tests); the plain torch references in
``kinetics.kernels.reference`` compute the same functions in float64.

Cache layout (the engine's contract)
------------------------------------
- ``k_cache``, ``v_cache``: ``[num_pages, page_size, num_kv_heads, head_dim]`` ("NHD" pages, FlashInfer's NHD
  layout), float16 or bfloat16, contiguous. ``page_size`` is a power of two (16, 32, 64 are the tested sizes).
- ``page_table``: int32 ``[batch, max_pages]``; row ``b`` lists the physical pages of sequence ``b`` in order. Only
  the first ``ceil(seq_lens[b] / page_size)`` entries are read; the rest may hold anything (e.g. -1).
- ``seq_lens``: int32 ``[batch]``, tokens in the cache per sequence, the token being decoded included (>= 1).
- ``q``: ``[batch, num_q_heads, head_dim]``, same dtype as the cache; ``num_q_heads = group * num_kv_heads``, query
  head ``h`` reads KV head ``h // group`` (any group size). ``head_dim`` in {16, 32, 64, 128, 256}.
- ``summaries``: ``[num_pages, num_kv_heads, S, head_dim]`` per physical page: S = 1 holds the page's mean key
  (``kind="mean"``, the Kinetics authors' selector), S = 2 holds the element-wise min and max keys
  (``kind="minmax"``, Quest's selector). Allocate with ``new_page_summaries``; its ``dtype`` is the one setting
  for the summary storage: the cache's dtype, float32, or ``torch.float8_e4m3fn`` (half the bytes of bf16 for the
  selection to read; the writer clamps to +-448). Every kernel reads whichever it is given.
- ``selected``: int32 ``[batch, num_kv_heads, width]`` logical page numbers (0 = the sequence's first page),
  ascending, padded with -1; what ``select_pages`` returns and ``sparse_paged_decode`` reads.

Functions
---------
- ``paged_decode(q, k_cache, v_cache, page_table, seq_lens, sm_scale=None, num_splits=None) -> out``
  dense decode attention (split-K flash-decoding + a reduction kernel); ``out`` like ``q``.
- ``new_page_summaries(num_pages, num_kv_heads, head_dim, kind, dtype, device) -> summaries``
- ``update_page_summaries(k_cache, page_table, seq_lens, summaries, kind="mean", start_lens=None)``
  recomputes, in place, the summary of every page holding a token at positions ``[start_lens[b], seq_lens[b])``;
  with ``start_lens=None`` only the page of the last token (call it after appending one decode token; call it with
  ``start_lens=zeros`` after a prefill).
- ``select_pages(q, summaries, page_table, seq_lens, page_size, budget, kind=None, num_sink_pages=1)``
  ``-> selected`` (``kind=None`` reads it from the summaries' shape)
  block top-k per (sequence, KV head): scores every page from its summary (summed over the query heads of the
  group), keeps the ``num_sink_pages`` first pages and the current (last) page, and fills the rest of the
  ``budget`` (pages, forced pages included) with the best-scoring pages. One fused kernel: the scores stay in
  registers, the top-k is a radix select, nothing but the selected page numbers is written.
- ``sparse_paged_decode(q, k_cache, v_cache, page_table, seq_lens, selected, sm_scale=None, num_splits=None)``
  decode attention over the selected pages only. With ``budget >= ceil(seq_len / page_size)`` it equals
  ``paged_decode``.
- ``block_topk_decode(q, k_cache, v_cache, page_table, seq_lens, summaries, budget, kind=None,
  num_sink_pages=1, ..., fused="auto") -> (out, selected)``: selection then sparse decode (``fused=True``: the
  top-k and the attention in one kernel after the score pass).

Every function checks its inputs before launching (dtype, contiguity, shapes, head_dim, budget, page-table entries
in range, sequence lengths) and raises ``kinetics.errors.InputError`` (a ValueError) with one clear line. The
value checks read the page table on the host (one device sync); pass ``validate=False`` in a hot loop whose inputs
were checked once.
"""
from kinetics.kernels.block_topk import block_topk_decode, select_pages
from kinetics.kernels.page_summary import new_page_summaries, update_page_summaries
from kinetics.kernels.paged_decode import paged_decode, sparse_paged_decode

__all__ = [
    "paged_decode", "sparse_paged_decode", "new_page_summaries", "update_page_summaries", "select_pages",
    "block_topk_decode",
]
