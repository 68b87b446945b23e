"""Paged decode attention, dense and sparse: split-K flash-decoding with an online softmax, then a reduction.

One program owns (sequence b, KV head h, split s). It loads the `group` query heads that share KV head h once,
walks its slice of the sequence BLOCK_N tokens at a time (each token's page looked up in the page table, so a tile
may straddle pages), and keeps a running max `m`, normaliser `l` and weighted sum `acc` per query head (online
softmax, base 2). With one split it writes the output directly; with several, each split writes its partial
output and log-sum-exp and `_combine_splits` merges them. The sparse variant walks "slots" instead of tokens:
slot j is token j % page_size of the (j // page_size)-th selected page.

Every token's K and V vector is read exactly once per (sequence, KV head): the bytes the kernel must move, and on a
memory-bound decode the time it takes.
"""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from kinetics.errors import InputError
from kinetics.kernels import _checks


@triton.jit
def _attend_slots(q, k_ptr, v_ptr, table, sel, sel_phys, seq_len, start, end, kv_base,
                  qk_scale, stride_kp, stride_kt,
                  GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr, PAGE: tl.constexpr,
                  BLOCK_N: tl.constexpr, SPARSE: tl.constexpr, UPCAST: tl.constexpr):
    """Online softmax over slots [start, end) of one (sequence, KV head): returns
    (m, l, acc) per query head.

    `table` is the sequence's row of the page table; with SPARSE, `sel` its row of
    selected logical pages and `sel_phys` the same pages' physical numbers: both loads
    depend on the slot alone, so they are issued together instead of one after the
    other (logical page -> page table -> K/V was three dependent loads per tile).
    """
    d = tl.arange(0, HEAD_DIM)
    # finite start: an empty split gives alpha = 1, not NaN
    m = tl.full([GROUP_PAD], -1.0e30, tl.float32)
    l = tl.zeros([GROUP_PAD], tl.float32)
    acc = tl.zeros([GROUP_PAD, HEAD_DIM], tl.float32)
    for slot0 in range(start, end, BLOCK_N):
        slots = slot0 + tl.arange(0, BLOCK_N)
        in_range = slots < end
        if SPARSE:
            page = tl.load(sel + slots // PAGE, mask=in_range, other=-1,
                           cache_modifier=".cg")
            phys = tl.load(sel_phys + slots // PAGE, mask=in_range, other=0,
                           cache_modifier=".cg").to(tl.int64)
            token = page * PAGE + slots % PAGE
            valid = in_range & (page >= 0) & (token < seq_len)
        else:
            page = slots // PAGE
            valid = in_range
            phys = tl.load(table + page, mask=valid, other=0).to(tl.int64)
        rows = phys * stride_kp + (slots % PAGE) * stride_kt + kv_base
        k = tl.load(k_ptr + rows[:, None] + d[None, :], mask=valid[:, None], other=0.0)
        v = tl.load(v_ptr + rows[:, None] + d[None, :], mask=valid[:, None], other=0.0)
        if UPCAST:
            k = k.to(tl.float32)
            v = v.to(tl.float32)
        s = tl.dot(q, tl.trans(k)) * qk_scale  # [GROUP_PAD, BLOCK_N]
        s = tl.where(valid[None, :], s, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, axis=1))
        alpha = tl.exp2(m - m_new)
        p = tl.exp2(s - m_new[:, None])
        l = l * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m = m_new
    return m, l, acc


@triton.jit
def _load_group_queries(q_ptr, b, h, stride_qb, stride_qh, GROUP: tl.constexpr,
                        GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr,
                        UPCAST: tl.constexpr):
    """The `GROUP` query heads of sequence b that share KV head h, as one
    [GROUP_PAD, HEAD_DIM] tile (padding rows zero), loaded once per program."""
    g = tl.arange(0, GROUP_PAD)
    d = tl.arange(0, HEAD_DIM)
    heads = h * GROUP + g
    q = tl.load(q_ptr + b * stride_qb + heads[:, None] * stride_qh + d[None, :],
                mask=(g < GROUP)[:, None], other=0.0)
    if UPCAST:
        q = q.to(tl.float32)
    return q


@triton.jit
def _decode_split_kernel(
    q_ptr, k_ptr, v_ptr, page_table_ptr, seq_lens_ptr, sel_ptr, selp_ptr, out_ptr,
    part_o_ptr, part_lse_ptr,
    qk_scale,  # sm_scale * log2(e): softmax in base 2
    stride_qb, stride_qh, stride_kp, stride_kt, stride_kh, stride_ptb, stride_sb,
    stride_sh, stride_ob, stride_oh, stride_pb, stride_ph, stride_ps,
    sel_width,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr,
    PAGE: tl.constexpr, BLOCK_N: tl.constexpr, NUM_SPLITS: tl.constexpr,
    SPARSE: tl.constexpr, UPCAST: tl.constexpr,
):
    b = tl.program_id(0)
    h = tl.program_id(1)
    split = tl.program_id(2)
    seq_len = tl.load(seq_lens_ptr + b)
    if SPARSE:
        # slot j = token j % PAGE of the (j // PAGE)-th selected page
        n_slots = sel_width * PAGE
    else:
        n_slots = seq_len
    chunk = tl.cdiv(tl.cdiv(n_slots, NUM_SPLITS), BLOCK_N) * BLOCK_N
    start = split * chunk
    end = tl.minimum(start + chunk, n_slots)

    g = tl.arange(0, GROUP_PAD)
    d = tl.arange(0, HEAD_DIM)
    heads = h * GROUP + g
    q = _load_group_queries(q_ptr, b, h, stride_qb, stride_qh, GROUP, GROUP_PAD,
                            HEAD_DIM, UPCAST)

    table = page_table_ptr + b * stride_ptb
    sel = sel_ptr + b * stride_sb + h * stride_sh
    sel_phys = selp_ptr + b * stride_sb + h * stride_sh
    m, l, acc = _attend_slots(q, k_ptr, v_ptr, table, sel, sel_phys, seq_len, start,
                              end, h * stride_kh, qk_scale, stride_kp, stride_kt,
                              GROUP_PAD, HEAD_DIM, PAGE, BLOCK_N, SPARSE, UPCAST)
    safe_l = tl.where(l > 0, l, 1.0)
    o = acc / safe_l[:, None]
    if NUM_SPLITS == 1:
        out = out_ptr + b * stride_ob + heads[:, None] * stride_oh + d[None, :]
        tl.store(out, o.to(out_ptr.dtype.element_ty), mask=(g < GROUP)[:, None])
    else:
        lse = tl.where(l > 0, m + tl.log2(safe_l), float("-inf"))
        part = b * stride_pb + heads * stride_ph + split * stride_ps
        tl.store(part_o_ptr + part[:, None] * HEAD_DIM + d[None, :], o,
                 mask=(g < GROUP)[:, None])
        tl.store(part_lse_ptr + part, lse, mask=g < GROUP)


@triton.jit
def _combine_splits(part_o_ptr, part_lse_ptr, out_ptr, stride_pb, stride_ph, stride_ob, stride_oh,
                    NUM_SPLITS: tl.constexpr, SPLITS_PAD: tl.constexpr, HEAD_DIM: tl.constexpr):
    """out = sum_s w_s o_s / sum_s w_s with w_s = 2^(lse_s - max lse): one program per (sequence, query head)."""
    b = tl.program_id(0)
    hq = tl.program_id(1)
    s = tl.arange(0, SPLITS_PAD)
    d = tl.arange(0, HEAD_DIM)
    base = b * stride_pb + hq * stride_ph + s
    lse = tl.load(part_lse_ptr + base, mask=s < NUM_SPLITS, other=float("-inf"))
    o = tl.load(part_o_ptr + base[:, None] * HEAD_DIM + d[None, :], mask=(s < NUM_SPLITS)[:, None], other=0.0)
    top = tl.max(lse, axis=0)
    w = tl.where(lse > float("-inf"), tl.exp2(lse - top), 0.0)
    out = tl.sum(o * w[:, None], axis=0) / tl.sum(w, axis=0)
    tl.store(out_ptr + b * stride_ob + hq * stride_oh + d, out.to(out_ptr.dtype.element_ty))


# Launch parameters (the benchmark's tuning step may override them; kernels/NOTES.md says why these values)
CONFIG = {
    "dense": {"block_n": {256: 32}, "block_n_default": 128, "warps": {256: 8}, "warps_default": 4, "stages": 3,
              "programs_per_sm": 4, "min_split_slots": 256},
    "sparse": {"block_n": {256: 32}, "block_n_default": 64, "warps": {256: 8}, "warps_default": 4, "stages": 3,
               "programs_per_sm": 2, "min_split_slots": 256},
}


def split_count(units: int, max_slots: int, sms: int, cfg: dict) -> int:
    """The split rule: enough programs to fill the GPU (programs_per_sm per SM over `units` = rows x KV heads), no
    split shorter than min_split_slots, at most 64. On the H200 (132 SMs) with the defaults: dense 1 split at 2048
    rows, 2 at 512; sparse 1 at 512 rows and above (kernels/NOTES.md, v5)."""
    want = -(-cfg["programs_per_sm"] * sms // max(units, 1))
    return max(1, min(want, -(-max_slots // cfg["min_split_slots"]), 64))


def _num_splits(units: int, max_slots: int, device: torch.device, cfg: dict) -> int:
    sms = torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 4
    return split_count(units, max_slots, sms, cfg)


def physical_pages(page_table, selected):
    """The physical page of every selected logical page ([batch, num_kv_heads, width] int32; -1 slots get 0)."""
    batch, heads, width = selected.shape
    flat = selected.reshape(batch, heads * width).clamp(min=0).long()
    return torch.gather(page_table, 1, flat).view(batch, heads, width)


def _launch(q, k_cache, v_cache, page_table, seq_lens, selected, sm_scale, num_splits, selected_physical=None):
    batch, num_q_heads, head_dim = q.shape
    page_size, num_kv_heads = k_cache.shape[1], k_cache.shape[2]
    group = num_q_heads // num_kv_heads
    out = torch.empty_like(q)
    if batch == 0:
        return out
    sparse = selected is not None
    max_slots = selected.shape[2] * page_size if sparse else page_table.shape[1] * page_size
    cfg = CONFIG["sparse" if sparse else "dense"]
    if num_splits is None:
        num_splits = _num_splits(batch * num_kv_heads, max_slots, q.device, cfg)
    num_splits = _checks.check_int("num_splits", num_splits, 1)
    sm_scale = 1.0 / math.sqrt(head_dim) if sm_scale is None else float(sm_scale)
    if num_splits > 1:
        part_o = torch.empty(batch, num_q_heads, num_splits, head_dim, dtype=torch.float32, device=q.device)
        part_lse = torch.empty(batch, num_q_heads, num_splits, dtype=torch.float32, device=q.device)
    else:
        part_o = part_lse = out  # unused
    sel = selected if sparse else page_table  # a placeholder pointer for the dense variant
    if sparse:  # the kernel reads both with the strides of `selected`
        selected = selected.contiguous()
        selected_physical = (physical_pages(page_table, selected) if selected_physical is None
                             else selected_physical.contiguous())
    selp = selected_physical if sparse else page_table
    block_n = cfg["block_n"].get(head_dim, cfg["block_n_default"])
    _decode_split_kernel[(batch, num_kv_heads, num_splits)](
        q, k_cache, v_cache, page_table, seq_lens, sel, selp, out, part_o, part_lse,
        sm_scale * math.log2(math.e),
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1), k_cache.stride(2), page_table.stride(0),
        sel.stride(0) if sparse else 0, sel.stride(1) if sparse else 0,
        out.stride(0), out.stride(1),
        num_q_heads * num_splits, num_splits, 1,
        selected.shape[2] if sparse else 0,
        GROUP=group, GROUP_PAD=max(16, _checks.next_pow2(group)), HEAD_DIM=head_dim, PAGE=page_size,
        BLOCK_N=block_n, NUM_SPLITS=num_splits, SPARSE=sparse, UPCAST=_checks.interpreting(),
        num_warps=cfg["warps"].get(head_dim, cfg["warps_default"]), num_stages=cfg["stages"],
    )
    if num_splits > 1:
        _combine_splits[(batch, num_q_heads)](
            part_o, part_lse, out, num_q_heads * num_splits, num_splits, out.stride(0), out.stride(1),
            NUM_SPLITS=num_splits, SPLITS_PAD=_checks.next_pow2(num_splits), HEAD_DIM=head_dim, num_warps=4,
        )
    return out


def paged_decode(q, k_cache, v_cache, page_table, seq_lens, sm_scale=None, num_splits=None, validate=True):
    """Dense decode attention over a paged NHD cache; returns [batch, num_q_heads, head_dim] like q."""
    num_pages, page_size, _, _ = _checks.check_cache(k_cache, v_cache)
    _checks.check_query(q, k_cache)
    _checks.same_device(q=q, k_cache=k_cache, v_cache=v_cache, page_table=page_table, seq_lens=seq_lens)
    if _checks.check_table(page_table, seq_lens, num_pages, page_size, validate) != q.shape[0]:
        raise InputError(f"q batch {q.shape[0]} differs from page_table rows {page_table.shape[0]}")
    return _launch(q, k_cache, v_cache, page_table, seq_lens, None, sm_scale, num_splits)


def sparse_paged_decode(q, k_cache, v_cache, page_table, seq_lens, selected, sm_scale=None, num_splits=None,
                        validate=True, selected_physical=None):
    """Decode attention over the selected logical pages ([batch, num_kv_heads, width] int32, -1 = empty).

    selected_physical: the same pages' physical numbers (what `select_pages(..., physical=True)` also returns);
    looked up in the page table here when not given.
    """
    num_pages, page_size, num_kv_heads, _ = _checks.check_cache(k_cache, v_cache)
    _checks.check_query(q, k_cache)
    _checks.same_device(q=q, k_cache=k_cache, v_cache=v_cache, page_table=page_table, seq_lens=seq_lens,
                         selected=selected)
    batch = _checks.check_table(page_table, seq_lens, num_pages, page_size, validate)
    if batch != q.shape[0]:
        raise InputError(f"q batch {q.shape[0]} differs from page_table rows {batch}")
    _checks.check_selected(selected, batch, num_kv_heads, seq_lens, page_size, validate)
    if selected_physical is not None and (selected_physical.shape != selected.shape
                                          or selected_physical.dtype != torch.int32):
        raise InputError(f"selected_physical must be int32 of shape {tuple(selected.shape)}, got "
                         f"{selected_physical.dtype} {tuple(selected_physical.shape)}")
    return _launch(q, k_cache, v_cache, page_table, seq_lens, selected, sm_scale, num_splits, selected_physical)
