"""Page summaries: one small vector set per (physical page, KV head) that block top-k scores instead of the keys.

kind="mean" keeps the page's mean key (the Kinetics authors' selector: q . mean(k) is the mean of the page's
logits, by linearity). kind="minmax" keeps the element-wise min and max keys (Quest's selector: sum_d
max(q_d min_d, q_d max_d) bounds every q . k of the page from above).

A summary is recomputed from the page's keys rather than updated incrementally: a page holds at most page_size
keys, reading them costs page_size times the summary's own bytes once per appended token and per page, and the
result is exact (a running mean kept in bf16 would drift).

One program owns (sequence b, KV head h, j-th page to refresh). It loads the page's valid tokens [PAGE, D],
reduces over tokens in float32 and stores S vectors of D.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from kinetics.errors import InputError
from kinetics.kernels import _checks


@triton.jit
def _round_to_e4m3(x):
    """x (float32, within +-448) rounded to the nearest fp8 e4m3 value, still in float32: the Triton interpreter's
    float32 -> fp8 cast loses the carry when rounding up crosses a power of two (0.4851 -> 0.25), so under the
    interpreter the kernel rounds first and the cast is exact. Normals keep 3 mantissa bits (round half to even on
    the float32 bits); below 2^-6 the grid is the subnormals' fixed 2^-9."""
    bits = x.to(tl.int32, bitcast=True)
    bits = (bits + 0x7FFFF + ((bits >> 20) & 1)) & -1048576  # clear the 20 low mantissa bits, rounding
    normal = bits.to(tl.float32, bitcast=True)
    sub = tl.where(x < 0, -1.0, 1.0) * tl.floor(tl.abs(x) * 512.0 + 0.5) / 512.0
    return tl.where(tl.abs(x) >= 0.015625, normal, sub)


@triton.jit
def _summary_kernel(
    k_ptr, page_table_ptr, seq_lens_ptr, start_ptr, summ_ptr,
    stride_kp, stride_kt, stride_kh, stride_ptb, stride_sp, stride_sh,
    PAGE: tl.constexpr, HEAD_DIM: tl.constexpr, MINMAX: tl.constexpr,
    HAS_START: tl.constexpr, CLAMP: tl.constexpr, ROUND_E4M3: tl.constexpr,
):
    b = tl.program_id(0)
    h = tl.program_id(1)
    j = tl.program_id(2)
    seq_len = tl.load(seq_lens_ptr + b)
    if HAS_START:
        first_token = tl.load(start_ptr + b)
    else:
        first_token = seq_len - 1
    page = first_token // PAGE + j
    if page * PAGE < seq_len:
        n_valid = tl.minimum(seq_len - page * PAGE, PAGE)
        t = tl.arange(0, PAGE)
        d = tl.arange(0, HEAD_DIM)
        phys = tl.load(page_table_ptr + b * stride_ptb + page).to(tl.int64)
        valid = (t < n_valid)[:, None]
        rows = k_ptr + phys * stride_kp + h * stride_kh + t[:, None] * stride_kt
        keys = tl.load(rows + d[None, :], mask=valid, other=0.0).to(tl.float32)
        out = summ_ptr + phys * stride_sp + h * stride_sh + d
        if MINMAX:
            first = tl.min(tl.where(valid, keys, float("inf")), axis=0)
            second = tl.max(tl.where(valid, keys, float("-inf")), axis=0)
        else:
            first = tl.sum(keys, axis=0) / n_valid.to(tl.float32)
            second = first
        # fp8 e4m3 has no infinity: out-of-range values would become NaN
        if CLAMP > 0.0:
            first = tl.minimum(tl.maximum(first, -CLAMP), CLAMP)
            second = tl.minimum(tl.maximum(second, -CLAMP), CLAMP)
        if ROUND_E4M3:
            first = _round_to_e4m3(first)
            second = _round_to_e4m3(second)
        tl.store(out, first.to(summ_ptr.dtype.element_ty))
        if MINMAX:
            tl.store(out + HEAD_DIM, second.to(summ_ptr.dtype.element_ty))


def new_page_summaries(num_pages: int, num_kv_heads: int, head_dim: int, kind: str = "mean",
                       dtype: torch.dtype = torch.bfloat16, device="cuda") -> torch.Tensor:
    """Zeroed summaries [num_pages, num_kv_heads, S, head_dim] (S = 1 for "mean", 2 for "minmax").

    dtype is the summary storage: the cache's dtype, float32, or torch.float8_e4m3fn (half the selection's bytes
    of bf16; the writer clamps to +-448)."""
    if dtype not in _checks.SUMMARY_DTYPES:
        raise InputError(f"summary dtype {dtype} is not supported; supported: {_checks.SUMMARY_DTYPES}")
    return torch.zeros(num_pages, num_kv_heads, _checks.kind_vectors(kind), head_dim, dtype=dtype, device=device)


def update_page_summaries(k_cache, page_table, seq_lens, summaries, kind: str = "mean", start_lens=None,
                          validate=True) -> torch.Tensor:
    """Recompute (in place) the summaries of the pages holding tokens [start_lens[b], seq_lens[b]) of each sequence.

    start_lens=None means only the last token's page: the call to make after appending one decode token.
    After a prefill, pass start_lens = zeros (or the previous lengths) to refresh every page written.
    """
    num_pages, page_size, num_kv_heads, head_dim = _checks.check_cache(k_cache)
    _checks.check_summaries(summaries, kind, num_pages, num_kv_heads, head_dim)
    batch = _checks.check_table(page_table, seq_lens, num_pages, page_size, validate)
    tensors = dict(k_cache=k_cache, page_table=page_table, seq_lens=seq_lens, summaries=summaries)
    if start_lens is not None:
        _checks.check_tensor("start_lens", start_lens, 1, (torch.int32,))
        if start_lens.shape[0] != batch:
            raise InputError(f"start_lens has {start_lens.shape[0]} entries, expected {batch}")
        if validate and bool(((start_lens < 0) | (start_lens >= seq_lens)).any()):
            raise InputError("start_lens must satisfy 0 <= start_lens < seq_lens")
        tensors["start_lens"] = start_lens
    _checks.same_device(**tensors)
    if batch == 0:
        return summaries
    pages_per_row = page_table.shape[1] if start_lens is not None else 1
    fp8 = summaries.dtype == torch.float8_e4m3fn
    _summary_kernel[(batch, num_kv_heads, pages_per_row)](
        k_cache, page_table, seq_lens, start_lens if start_lens is not None else seq_lens, summaries,
        k_cache.stride(0), k_cache.stride(1), k_cache.stride(2), page_table.stride(0),
        summaries.stride(0), summaries.stride(1),
        PAGE=page_size, HEAD_DIM=head_dim, MINMAX=kind == "minmax", HAS_START=start_lens is not None,
        CLAMP=_checks.FP8_MAX if fp8 else 0.0, ROUND_E4M3=fp8 and _checks.interpreting(), num_warps=4,
    )
    return summaries
