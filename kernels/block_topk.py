"""Block top-k page selection, fused: page scores, top-k and the forced pages in one kernel, one pass over summaries.

One program owns (sequence b, KV head h):
1. it folds the group's query heads into one or two vectors (scores are sums over the group, and both selectors
   are linear in q once split by sign): mean: qsum = sum_g q_g, score = qsum . kbar; minmax: score =
   (sum_g max(q_g, 0)) . kmax + (sum_g min(q_g, 0)) . kmin, which is Quest's sum_g sum_d max(q kmin, q kmax);
2. it walks the sequence's pages CHUNK at a time (gathering each page's summary through the page table), turns
   each float score into an order-preserving int32 key and parks it in a register buffer that holds one key per
   page: the score matrix never goes to memory;
3. it finds the k-th largest key by a radix select (32 rounds of "how many keys are >= this candidate?"), keeps
   the keys above it and the first (lowest-page) ties, adds the sink pages and the current page, and
4. writes the chosen page numbers in ascending order (their rank is a prefix sum of the chosen mask), then -1s.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kinetics.errors import InputError
from kinetics.kernels import _checks
from kinetics.kernels import paged_decode as _paged
from kinetics.kernels.paged_decode import _attend_slots, _load_group_queries, sparse_paged_decode


@triton.jit
def _folded_query(q_ptr, b, h, stride_qb, stride_qh,
                  GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr):
    """The group's query heads folded into the vectors a page score needs: (sum of q, sum of q+, sum of q-)."""
    g = tl.arange(0, GROUP_PAD)
    d = tl.arange(0, HEAD_DIM)
    q = tl.load(q_ptr + b * stride_qb + (h * GROUP + g)[:, None] * stride_qh + d[None, :],
                mask=(g < GROUP)[:, None], other=0.0).to(tl.float32)
    q_pos = tl.sum(tl.maximum(q, 0.0), axis=0)  # minmax: weights of kmax
    q_neg = tl.sum(tl.minimum(q, 0.0), axis=0)  # minmax: weights of kmin
    return q_pos + q_neg, q_pos, q_neg


@triton.jit
def _page_keys(summ_ptr, phys, h, free, q_sum, q_pos, q_neg, stride_sp, stride_sh,
               HEAD_DIM: tl.constexpr, MINMAX: tl.constexpr):
    """Order-preserving int32 keys of the scores of a chunk of pages (INT32_MIN where
    not `free`)."""
    d = tl.arange(0, HEAD_DIM)
    summary = summ_ptr + phys[:, None] * stride_sp + h * stride_sh + d[None, :]
    if MINMAX:
        kmin = tl.load(summary, mask=free[:, None], other=0.0).to(tl.float32)
        kmax = tl.load(summary + HEAD_DIM, mask=free[:, None],
                       other=0.0).to(tl.float32)
        score = tl.sum(kmax * q_pos[None, :] + kmin * q_neg[None, :], axis=1)
    else:
        kbar = tl.load(summary, mask=free[:, None], other=0.0).to(tl.float32)
        score = tl.sum(kbar * q_sum[None, :], axis=1)
    bits = score.to(tl.int32, bitcast=True)
    # float order == signed int order
    key = tl.where(bits >= 0, bits, bits ^ 0x7FFFFFFF)
    return tl.where(free, key, -2147483648)


@triton.jit
def _kth_largest(keys, k, RADIX_BITS: tl.constexpr):
    """The k-th largest int32 key (k >= 1; INT32_MAX when k == 0): the largest T with
    at least k keys >= T.

    RADIX_BITS = 1: 32 rounds of one count each, sign bit first. RADIX_BITS = 4: 8
    rounds of 16 counts each, one hexadecimal digit of T per round (fewer reductions
    across the program's threads, more compares).
    """
    if RADIX_BITS == 1:
        non_negative = tl.sum((keys >= 0).to(tl.int32), axis=0)
        threshold = tl.where(non_negative >= k, 0, -2147483648)
        for bit in tl.static_range(30, -1, -1):
            candidate = threshold | (1 << bit)
            enough = tl.sum((keys >= candidate).to(tl.int32), axis=0) >= k
            threshold = tl.where(enough, candidate, threshold)
    else:
        unsigned = keys.to(tl.int64) + 2147483648  # the same order, in [0, 2^32)
        digit = tl.arange(0, 16).to(tl.int64)
        base = tl.sum(digit * 0, axis=0)  # an int64 zero
        for shift in tl.static_range(28, -1, -4):
            candidates = base + (digit << shift)
            above = unsigned[None, :] >= candidates[:, None]
            counts = tl.sum(above.to(tl.int32), axis=1)
            base = base + ((tl.sum((counts >= k).to(tl.int64), axis=0) - 1) << shift)
        threshold = (base - 2147483648).to(tl.int32)
    return threshold


@triton.jit
def _choose_and_store(keys, n_pages, budget, num_sink, out, out_phys, table, out_width,
                      PAGES_PAD: tl.constexpr, OUT_PAD: tl.constexpr,
                      RADIX_BITS: tl.constexpr):
    """Radix-select the k_free best keys, add the forced pages, store ascending page
    numbers then -1s, and the chosen pages' physical numbers (from the sequence's
    page-table row `table`) then 0s in `out_phys`."""
    n_forced = tl.minimum(num_sink, n_pages) + (n_pages > num_sink).to(tl.int32)
    k_free = tl.maximum(tl.minimum(budget - n_forced, n_pages - n_forced), 0)
    page = tl.arange(0, PAGES_PAD)
    free = (page >= num_sink) & (page < n_pages - 1)
    keys = tl.where(free, keys, -2147483648)
    threshold = _kth_largest(keys, k_free, RADIX_BITS)
    above = free & (keys > threshold)
    ties = free & (keys == threshold)
    tie_rank = tl.cumsum(ties.to(tl.int32), axis=0)  # lower pages win ties
    need = k_free - tl.sum(above.to(tl.int32), axis=0)
    forced = (page < n_pages) & ((page < num_sink) | (page == n_pages - 1))
    chosen = forced | above | (ties & (tie_rank <= need))
    # ascending order: rank = prefix sum of the mask
    slot = tl.cumsum(chosen.to(tl.int32), axis=0) - 1
    tl.store(out + slot, page, mask=chosen)
    tl.store(out_phys + slot, tl.load(table + page, mask=chosen, other=0), mask=chosen)
    count = tl.sum(chosen.to(tl.int32), axis=0)
    o = tl.arange(0, OUT_PAD)
    pad = (o >= count) & (o < out_width)
    tl.store(out + o, tl.full([OUT_PAD], -1, tl.int32), mask=pad)
    tl.store(out_phys + o, tl.zeros([OUT_PAD], tl.int32), mask=pad)
    return count


@triton.jit
def _select_kernel(
    q_ptr, summ_ptr, page_table_ptr, seq_lens_ptr, sel_ptr, selp_ptr,
    stride_qb, stride_qh, stride_sp, stride_sh, stride_ptb, stride_ob, stride_oh,
    budget, num_sink, out_width,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr, PAGE: tl.constexpr,
    MINMAX: tl.constexpr, PAGES_PAD: tl.constexpr, CHUNK: tl.constexpr, OUT_PAD: tl.constexpr,
    RADIX_BITS: tl.constexpr,
):
    """Fused: one program per (sequence, KV head) scores all its pages into registers, then selects."""
    b = tl.program_id(0)
    h = tl.program_id(1)
    n_pages = tl.cdiv(tl.load(seq_lens_ptr + b), PAGE)
    q_sum, q_pos, q_neg = _folded_query(q_ptr, b, h, stride_qb, stride_qh, GROUP, GROUP_PAD, HEAD_DIM)
    # keys[r, c] belongs to page r * CHUNK + c; the page table is read one chunk ahead (it gates the gather)
    R: tl.constexpr = PAGES_PAD // CHUNK
    rows = tl.arange(0, R)
    c = tl.arange(0, CHUNK)
    keys = tl.full([R, CHUNK], -2147483648, tl.int32)
    table = page_table_ptr + b * stride_ptb
    phys_next = tl.load(table + c, mask=c < n_pages, other=0).to(tl.int64)
    for r in range(0, tl.cdiv(n_pages, CHUNK)):
        page = r * CHUNK + c
        phys = phys_next
        phys_next = tl.load(table + page + CHUNK, mask=page + CHUNK < n_pages, other=0).to(tl.int64)
        free = (page >= num_sink) & (page < n_pages - 1)
        key = _page_keys(summ_ptr, phys, h, free, q_sum, q_pos, q_neg, stride_sp, stride_sh, HEAD_DIM, MINMAX)
        keys = tl.where(rows[:, None] == r, key[None, :], keys)
    _choose_and_store(tl.reshape(keys, [PAGES_PAD]), n_pages, budget, num_sink,
                      sel_ptr + b * stride_ob + h * stride_oh, selp_ptr + b * stride_ob + h * stride_oh, table,
                      out_width, PAGES_PAD, OUT_PAD, RADIX_BITS)


@triton.jit
def _score_kernel(
    q_ptr, summ_ptr, page_table_ptr, seq_lens_ptr, keys_ptr,
    stride_qb, stride_qh, stride_sp, stride_sh, stride_ptb, stride_kb, stride_kh,
    num_sink,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr,
    PAGE: tl.constexpr, MINMAX: tl.constexpr, CHUNK: tl.constexpr,
):
    """Two-pass, pass 1: one program per (sequence, KV head, chunk of pages) writes the
    chunk's int32 keys."""
    b = tl.program_id(0)
    h = tl.program_id(1)
    j = tl.program_id(2)
    n_pages = tl.cdiv(tl.load(seq_lens_ptr + b), PAGE)
    if j * CHUNK < n_pages:
        q_sum, q_pos, q_neg = _folded_query(q_ptr, b, h, stride_qb, stride_qh, GROUP,
                                            GROUP_PAD, HEAD_DIM)
        page = j * CHUNK + tl.arange(0, CHUNK)
        free = (page >= num_sink) & (page < n_pages - 1)
        table = page_table_ptr + b * stride_ptb
        phys = tl.load(table + page, mask=free, other=0).to(tl.int64)
        key = _page_keys(summ_ptr, phys, h, free, q_sum, q_pos, q_neg, stride_sp,
                         stride_sh, HEAD_DIM, MINMAX)
        tl.store(keys_ptr + b * stride_kb + h * stride_kh + page, key,
                 mask=page < n_pages)


@triton.jit
def _select_from_keys_kernel(
    keys_ptr, seq_lens_ptr, page_table_ptr, sel_ptr, selp_ptr, stride_kb, stride_kh, stride_ptb, stride_ob,
    stride_oh, budget, num_sink, out_width,
    PAGE: tl.constexpr, PAGES_PAD: tl.constexpr, OUT_PAD: tl.constexpr, RADIX_BITS: tl.constexpr,
):
    """Two-pass, pass 2: one program per (sequence, KV head) reads its keys back and selects."""
    b = tl.program_id(0)
    h = tl.program_id(1)
    n_pages = tl.cdiv(tl.load(seq_lens_ptr + b), PAGE)
    page = tl.arange(0, PAGES_PAD)
    keys = tl.load(keys_ptr + b * stride_kb + h * stride_kh + page, mask=page < n_pages, other=-2147483648)
    _choose_and_store(keys, n_pages, budget, num_sink, sel_ptr + b * stride_ob + h * stride_oh,
                      selp_ptr + b * stride_ob + h * stride_oh, page_table_ptr + b * stride_ptb, out_width,
                      PAGES_PAD, OUT_PAD, RADIX_BITS)


@triton.jit
def _select_attend_kernel(
    q_ptr, k_ptr, v_ptr, keys_ptr, page_table_ptr, seq_lens_ptr, sel_ptr, selp_ptr, out_ptr, qk_scale,
    stride_qb, stride_qh, stride_kp, stride_kt, stride_kh, stride_ptb, stride_keyb, stride_keyh,
    stride_sb, stride_sh, stride_ob, stride_oh, budget, num_sink, out_width,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr, PAGE: tl.constexpr,
    PAGES_PAD: tl.constexpr, OUT_PAD: tl.constexpr, RADIX_BITS: tl.constexpr, BLOCK_N: tl.constexpr,
    UPCAST: tl.constexpr,
):
    """Two-pass selection's pass 2 fused with the sparse attention: one program per (sequence, KV head) selects
    its pages from the keys, writes them, and attends to them. While one program ranks its keys, the others on the
    same multiprocessor stream K and V, so the select pass no longer runs alone."""
    b = tl.program_id(0)
    h = tl.program_id(1)
    seq_len = tl.load(seq_lens_ptr + b)
    n_pages = tl.cdiv(seq_len, PAGE)
    page = tl.arange(0, PAGES_PAD)
    keys = tl.load(keys_ptr + b * stride_keyb + h * stride_keyh + page, mask=page < n_pages, other=-2147483648)
    sel_row = sel_ptr + b * stride_sb + h * stride_sh
    selp_row = selp_ptr + b * stride_sb + h * stride_sh
    table = page_table_ptr + b * stride_ptb
    count = _choose_and_store(keys, n_pages, budget, num_sink, sel_row, selp_row, table, out_width, PAGES_PAD,
                              OUT_PAD, RADIX_BITS)
    tl.debug_barrier()  # the page list this program just stored is read back by all its threads below

    g = tl.arange(0, GROUP_PAD)
    d = tl.arange(0, HEAD_DIM)
    heads = h * GROUP + g
    q = _load_group_queries(q_ptr, b, h, stride_qb, stride_qh, GROUP, GROUP_PAD, HEAD_DIM, UPCAST)
    m, l, acc = _attend_slots(q, k_ptr, v_ptr, table, sel_row, selp_row, seq_len, 0, count * PAGE,
                              h * stride_kh, qk_scale, stride_kp, stride_kt, GROUP_PAD, HEAD_DIM, PAGE, BLOCK_N,
                              True, UPCAST)
    o = acc / tl.where(l > 0, l, 1.0)[:, None]
    tl.store(out_ptr + b * stride_ob + heads[:, None] * stride_oh + d[None, :], o.to(out_ptr.dtype.element_ty),
             mask=(g < GROUP)[:, None])


def _kind_of(summaries, kind):
    if kind is None:
        if not isinstance(summaries, torch.Tensor) or summaries.dim() != 4 or summaries.shape[2] not in (1, 2):
            raise InputError("summaries must be [num_pages, num_kv_heads, S, head_dim] with S = 1 (mean) or 2 (minmax)")
        return "mean" if summaries.shape[2] == 1 else "minmax"
    return kind


# Launch parameters (the benchmark's tuning step may override them; kernels/NOTES.md says why these values)
CONFIG = {"fused_chunk": {16: 128, 32: 128, 64: 128, 128: 128, 256: 32}, "fused_warps": 8, "fused_max_pages": 512,
          "score_chunk": {16: 64, 32: 64, 64: 64, 128: 64, 256: 32}, "score_warps": 2, "select_warps": 4,
          "radix_bits": 1, "fused_min_rows_per_sm": 1}


def select_pages(q, summaries, page_table, seq_lens, page_size: int, budget: int, kind: str | None = None,
                 num_sink_pages: int = 1, validate=True, method: str = "auto", physical: bool = False):
    """Block top-k: [batch, num_kv_heads, width] int32 ascending logical pages per (sequence, KV head), -1 padded.

    physical=True returns (selected, selected_physical): the same pages' physical numbers (0 where -1), written
    by the same kernel; `sparse_paged_decode(..., selected_physical=...)` then skips the page-table lookup.

    `budget` counts pages, the forced ones (num_sink_pages first pages and the current page) included; forced
    pages are kept even when they alone exceed the budget. width = min(max(budget, num_sink_pages + 1), max_pages).
    method: "fused" keeps every page's score in registers (one kernel, nothing written but the selection);
    "two_pass" writes one int32 key per page (1/64 of a bf16 mean key of 128 dims) and selects in a second
    kernel, which spreads the summary reads over many more programs; "auto" picks the faster one measured
    on H100 (kernels/NOTES.md).
    """
    kind = _kind_of(summaries, kind)
    if method not in ("auto", "fused", "two_pass"):
        raise InputError(f"method must be 'auto', 'fused' or 'two_pass', got {method!r}")
    budget = _checks.check_int("budget", budget, 1)
    num_sink_pages = _checks.check_int("num_sink_pages", num_sink_pages, 0)
    page_size = _checks.check_int("page_size", page_size, 1)
    _checks.check_tensor("q", q, 3, _checks.CACHE_DTYPES)
    _checks.check_tensor("summaries", summaries, 4, _checks.SUMMARY_DTYPES)
    num_pages, num_kv_heads, _, head_dim = summaries.shape
    if head_dim not in _checks.HEAD_DIMS:
        raise InputError(f"head_dim {head_dim} is not supported; supported: {_checks.HEAD_DIMS}")
    if page_size > 256 or page_size & (page_size - 1):
        raise InputError(f"page_size {page_size} must be a power of two in [1, 256]")
    _checks.check_summaries(summaries, kind, num_pages, num_kv_heads, head_dim)
    if q.shape[2] != head_dim or q.shape[1] % num_kv_heads:
        raise InputError(f"q shape {tuple(q.shape)} does not fit summaries with {num_kv_heads} KV heads of "
                         f"head_dim {head_dim}")
    _checks.same_device(q=q, summaries=summaries, page_table=page_table, seq_lens=seq_lens)
    batch, width, selected, selected_physical, pages_pad, common = _selection_setup(
        q, page_table, seq_lens, num_pages, page_size, num_kv_heads, head_dim, kind, budget, num_sink_pages,
        validate)
    if batch == 0:
        return (selected, selected_physical) if physical else selected
    if method == "auto":  # measured on H100 (kernels/NOTES.md): fused wins while a row's keys are few
        method = "fused" if pages_pad <= CONFIG["fused_max_pages"] else "two_pass"
    if method == "fused":
        chunk = min(pages_pad, CONFIG["fused_chunk"].get(head_dim, 64))
        _select_kernel[(batch, num_kv_heads)](
            q, summaries, page_table, seq_lens, selected, selected_physical,
            q.stride(0), q.stride(1), summaries.stride(0), summaries.stride(1), page_table.stride(0),
            selected.stride(0), selected.stride(1), budget, num_sink_pages, width,
            PAGES_PAD=pages_pad, CHUNK=chunk, OUT_PAD=_checks.next_pow2(width), RADIX_BITS=CONFIG["radix_bits"],
            num_warps=CONFIG["fused_warps"] if pages_pad >= 1024 else 4, **common,
        )
    else:  # two_pass
        keys = _score_pass(q, summaries, page_table, seq_lens, pages_pad, num_sink_pages, common)
        _select_pass(keys, seq_lens, page_table, selected, selected_physical, budget, num_sink_pages, page_size)
    return (selected, selected_physical) if physical else selected


def _selection_setup(q, page_table, seq_lens, num_pages, page_size, num_kv_heads, head_dim, kind, budget,
                     num_sink_pages, validate):
    """What both selection paths (select, select + attend) share: the page table checked against q, the
    selection's outputs [batch, num_kv_heads, width] (logical and physical pages), the padded page count and the
    launch constants. Returns (batch, width, selected, selected_physical, pages_pad, common)."""
    batch = _checks.check_table(page_table, seq_lens, num_pages, page_size, validate)
    if batch != q.shape[0]:
        raise InputError(f"q batch {q.shape[0]} differs from page_table rows {batch}")
    max_pages = page_table.shape[1]
    width = max(1, min(max(budget, num_sink_pages + 1), max_pages))
    selected = torch.empty(batch, num_kv_heads, width, dtype=torch.int32, device=q.device)
    selected_physical = torch.empty_like(selected)
    group = q.shape[1] // num_kv_heads
    pages_pad = max(16, _checks.next_pow2(max_pages))
    common = dict(GROUP=group, GROUP_PAD=_checks.next_pow2(group), HEAD_DIM=head_dim, PAGE=page_size,
                  MINMAX=kind == "minmax")
    return batch, width, selected, selected_physical, pages_pad, common


def _score_pass(q, summaries, page_table, seq_lens, pages_pad, num_sink_pages, common):
    """Two-pass selection, pass 1: int32 keys [batch, num_kv_heads, pages_pad] (only the sequences' pages set)."""
    batch, max_pages = page_table.shape
    num_kv_heads, head_dim = summaries.shape[1], summaries.shape[3]
    chunk = min(pages_pad, CONFIG["score_chunk"].get(head_dim, 32))
    keys = torch.empty(batch, num_kv_heads, pages_pad, dtype=torch.int32, device=q.device)
    _score_kernel[(batch, num_kv_heads, -(-max_pages // chunk))](
        q, summaries, page_table, seq_lens, keys,
        q.stride(0), q.stride(1), summaries.stride(0), summaries.stride(1), page_table.stride(0),
        keys.stride(0), keys.stride(1), num_sink_pages, CHUNK=chunk, num_warps=CONFIG["score_warps"], **common,
    )
    return keys


def _select_pass(keys, seq_lens, page_table, selected, selected_physical, budget, num_sink_pages, page_size):
    """Two-pass selection, pass 2: the radix select over each row's keys, written into `selected` (logical pages)
    and `selected_physical` (the same pages' physical numbers)."""
    batch, num_kv_heads, pages_pad = keys.shape
    width = selected.shape[2]
    _select_from_keys_kernel[(batch, num_kv_heads)](
        keys, seq_lens, page_table, selected, selected_physical, keys.stride(0), keys.stride(1),
        page_table.stride(0), selected.stride(0), selected.stride(1), budget, num_sink_pages, width,
        PAGE=page_size, PAGES_PAD=pages_pad, OUT_PAD=_checks.next_pow2(width),
        RADIX_BITS=CONFIG["radix_bits"], num_warps=CONFIG["select_warps"] if pages_pad >= 1024 else 4,
    )


def block_topk_decode(q, k_cache, v_cache, page_table, seq_lens, summaries, budget: int, kind: str | None = None,
                      num_sink_pages: int = 1, sm_scale=None, num_splits=None, validate=True, method="auto",
                      fused="auto"):
    """Select pages from the summaries, then attend to them: returns (out like q, selected).

    fused=True runs the scores as their own pass and the top-k and the attention in one kernel (one program per
    (sequence, KV head), no split-K). On the H200 it measured faster than the separate kernels once the rows fill
    the GPU (kernels/NOTES.md); "auto" picks it with at least CONFIG["fused_min_rows_per_sm"] rows per
    multiprocessor and keeps the separate kernels (which split long selections, split-K) below that.
    """
    _checks.check_cache(k_cache, v_cache)
    if fused not in ("auto", True, False):
        raise InputError(f"fused must be 'auto', True or False, got {fused!r}")
    if fused == "auto":
        fused = _fused_pays(q, page_table, k_cache.shape[1], summaries)
    if fused:
        return _select_attend(q, k_cache, v_cache, page_table, seq_lens, summaries, budget, kind, num_sink_pages,
                              sm_scale, validate)
    selected, physical = select_pages(q, summaries, page_table, seq_lens, k_cache.shape[1], budget, kind,
                                      num_sink_pages, validate=validate, method=method, physical=True)
    out = sparse_paged_decode(q, k_cache, v_cache, page_table, seq_lens, selected, sm_scale, num_splits,
                              validate=False, selected_physical=physical)
    return out, selected


def _fused_pays(q, page_table, page_size, summaries) -> bool:
    """Measured on H100 (kernels/NOTES.md): the fused select + attend kernel wins with many rows and many pages."""
    if q.device.type != "cuda" or not isinstance(summaries, torch.Tensor) or summaries.dim() != 4:
        return False
    rows = q.shape[0] * summaries.shape[1]
    sms = torch.cuda.get_device_properties(q.device).multi_processor_count
    return rows >= CONFIG["fused_min_rows_per_sm"] * sms


def _select_attend(q, k_cache, v_cache, page_table, seq_lens, summaries, budget, kind, num_sink_pages, sm_scale,
                   validate):
    import math

    num_pages, page_size, num_kv_heads, head_dim = _checks.check_cache(k_cache, v_cache)
    _checks.check_query(q, k_cache)
    kind = _kind_of(summaries, kind)
    budget = _checks.check_int("budget", budget, 1)
    num_sink_pages = _checks.check_int("num_sink_pages", num_sink_pages, 0)
    _checks.check_summaries(summaries, kind, num_pages, num_kv_heads, head_dim)
    _checks.same_device(q=q, k_cache=k_cache, v_cache=v_cache, summaries=summaries, page_table=page_table,
                         seq_lens=seq_lens)
    batch, width, selected, selected_physical, pages_pad, common = _selection_setup(
        q, page_table, seq_lens, num_pages, page_size, num_kv_heads, head_dim, kind, budget, num_sink_pages,
        validate)
    out = torch.empty_like(q)
    if batch == 0:
        return out, selected
    group = common["GROUP"]
    keys = _score_pass(q, summaries, page_table, seq_lens, pages_pad, num_sink_pages, common)
    cfg = _paged.CONFIG["sparse"]
    sm_scale = 1.0 / math.sqrt(head_dim) if sm_scale is None else float(sm_scale)
    _select_attend_kernel[(batch, num_kv_heads)](
        q, k_cache, v_cache, keys, page_table, seq_lens, selected, selected_physical, out,
        sm_scale * math.log2(math.e),
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1), k_cache.stride(2), page_table.stride(0),
        keys.stride(0), keys.stride(1), selected.stride(0), selected.stride(1), out.stride(0), out.stride(1),
        budget, num_sink_pages, width,
        GROUP=group, GROUP_PAD=max(16, _checks.next_pow2(group)), HEAD_DIM=head_dim, PAGE=page_size,
        PAGES_PAD=pages_pad, OUT_PAD=_checks.next_pow2(width), RADIX_BITS=CONFIG["radix_bits"],
        BLOCK_N=cfg["block_n"].get(head_dim, cfg["block_n_default"]), UPCAST=_checks.interpreting(),
        num_warps=cfg["warps"].get(head_dim, cfg["warps_default"]), num_stages=cfg["stages"],
    )
    return out, selected
