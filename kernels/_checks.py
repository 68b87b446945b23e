"""Input checks shared by the kernels: every bad input becomes one InputError line before any launch."""
from __future__ import annotations

import os

import torch

from kinetics.errors import InputError

HEAD_DIMS = (16, 32, 64, 128, 256)
CACHE_DTYPES = (torch.float16, torch.bfloat16)
SUMMARY_KINDS = {"mean": 1, "minmax": 2}  # kind -> vectors kept per page
# Summary storage: the cache dtypes, float32, or fp8 e4m3 (half the bytes of bf16 for the selection to read). The
# writer clamps fp8 summaries to e4m3's range, +-FP8_MAX; no scale is stored: the selection only ranks scores.
SUMMARY_DTYPES = CACHE_DTYPES + (torch.float32, torch.float8_e4m3fn)
FP8_MAX = 448.0


def interpreting() -> bool:
    """True under the Triton interpreter (TRITON_INTERPRET=1): loads are then converted to float32 at once."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def check_tensor(name: str, x, ndim: int, dtypes: tuple) -> None:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim:
        raise InputError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if x.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise InputError(f"{name} has dtype {str(x.dtype).replace('torch.', '')}; expected {names}")
    if not x.is_contiguous():
        raise InputError(f"{name} must be contiguous (call .contiguous()); got strides {x.stride()}")


def same_device(**tensors) -> None:
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        raise InputError("tensors on different devices: " + ", ".join(f"{n}={d}" for n, d in devices.items()))
    device = next(iter(devices.values()))
    if device.type != "cuda" and not interpreting():
        raise InputError(f"tensors are on {device}; the Triton kernels need CUDA tensors "
                         "(or TRITON_INTERPRET=1 for the CPU interpreter)")


def kind_vectors(kind: str) -> int:
    if kind not in SUMMARY_KINDS:
        raise InputError(f"kind must be one of {sorted(SUMMARY_KINDS)}, got {kind!r}")
    return SUMMARY_KINDS[kind]


def check_cache(k_cache, v_cache=None) -> tuple[int, int, int, int]:
    """(num_pages, page_size, num_kv_heads, head_dim) of a checked NHD cache."""
    check_tensor("k_cache", k_cache, 4, CACHE_DTYPES)
    num_pages, page_size, num_kv_heads, head_dim = k_cache.shape
    if v_cache is not None:
        check_tensor("v_cache", v_cache, 4, CACHE_DTYPES)
        if v_cache.shape != k_cache.shape or v_cache.dtype != k_cache.dtype:
            raise InputError(f"v_cache {tuple(v_cache.shape)} {v_cache.dtype} must match k_cache "
                             f"{tuple(k_cache.shape)} {k_cache.dtype}")
    if head_dim not in HEAD_DIMS:
        raise InputError(f"head_dim {head_dim} is not supported; supported: {HEAD_DIMS}")
    if page_size < 1 or page_size > 256 or page_size & (page_size - 1):
        raise InputError(f"page_size {page_size} must be a power of two in [1, 256]")
    if num_pages < 1 or num_kv_heads < 1:
        raise InputError(f"k_cache shape {tuple(k_cache.shape)} has an empty dimension")
    return num_pages, page_size, num_kv_heads, head_dim


def check_table(page_table, seq_lens, num_pages: int, page_size: int, validate: bool) -> int:
    """Checks page_table/seq_lens shapes and (if validate) values; returns the batch size."""
    check_tensor("page_table", page_table, 2, (torch.int32,))
    check_tensor("seq_lens", seq_lens, 1, (torch.int32,))
    batch, max_pages = page_table.shape
    if seq_lens.shape[0] != batch:
        raise InputError(f"seq_lens has {seq_lens.shape[0]} entries but page_table has {batch} rows")
    if validate and batch > 0:
        lens = seq_lens.to(torch.int64)
        n_pages = (lens + page_size - 1) // page_size
        used = torch.arange(max_pages, device=page_table.device)[None, :] < n_pages[:, None]
        bad_entry = used & ((page_table < 0) | (page_table >= num_pages))
        flags = torch.stack([(lens < 1).any(), (lens > max_pages * page_size).any(), bad_entry.any()]).cpu()
        if flags[0]:
            raise InputError(f"seq_lens must be >= 1 (the decoded token is in the cache); min is {int(lens.min())}")
        if flags[1]:
            raise InputError(f"seq_lens max {int(lens.max())} exceeds the page table's capacity "
                             f"{max_pages} pages x {page_size} tokens")
        if flags[2]:
            row, col = [int(i) for i in bad_entry.nonzero()[0]]
            raise InputError(f"page_table[{row}, {col}] = {int(page_table[row, col])} is out of range "
                             f"[0, {num_pages}) (num_pages of the cache)")
    return batch


def check_query(q, k_cache) -> int:
    """Checks q against the cache; returns the group size (query heads per KV head)."""
    check_tensor("q", q, 3, CACHE_DTYPES)
    num_kv_heads, head_dim = k_cache.shape[2], k_cache.shape[3]
    if q.dtype != k_cache.dtype:
        raise InputError(f"q dtype {q.dtype} differs from the cache dtype {k_cache.dtype}")
    if q.shape[2] != head_dim:
        raise InputError(f"q head_dim {q.shape[2]} differs from the cache head_dim {head_dim}")
    if q.shape[1] % num_kv_heads:
        raise InputError(f"q has {q.shape[1]} heads, not a multiple of the cache's {num_kv_heads} KV heads")
    return q.shape[1] // num_kv_heads


def check_summaries(summaries, kind: str, num_pages: int, num_kv_heads: int, head_dim: int) -> None:
    vectors = kind_vectors(kind)
    check_tensor("summaries", summaries, 4, SUMMARY_DTYPES)
    expected = (num_pages, num_kv_heads, vectors, head_dim)
    if tuple(summaries.shape) != expected:
        raise InputError(f"summaries shape {tuple(summaries.shape)} != {expected} "
                         f"(num_pages, num_kv_heads, {vectors} for kind={kind!r}, head_dim)")


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_selected(selected, batch: int, num_kv_heads: int, seq_lens, page_size: int, validate: bool) -> None:
    check_tensor("selected", selected, 3, (torch.int32,))
    if selected.shape[0] != batch or selected.shape[1] != num_kv_heads or selected.shape[2] < 1:
        raise InputError(f"selected shape {tuple(selected.shape)} must be [batch={batch}, "
                         f"num_kv_heads={num_kv_heads}, width>=1]")
    if validate and batch > 0:
        n_pages = ((seq_lens.to(torch.int64) + page_size - 1) // page_size)[:, None, None]
        sel = selected.to(torch.int64)
        bad = (sel < -1) | (sel >= n_pages)
        pages = torch.where(sel < 0, torch.iinfo(torch.int64).max, sel).sort(dim=-1).values
        repeated = (pages[..., 1:] == pages[..., :-1]) & (pages[..., 1:] != torch.iinfo(torch.int64).max)
        flags = torch.stack([bad.any(), repeated.any()]).cpu()
        if flags[0]:
            b, h, j = [int(i) for i in bad.nonzero()[0]]
            raise InputError(f"selected[{b}, {h}, {j}] = {int(selected[b, h, j])} is not a page of sequence {b} "
                             f"(it has {int(n_pages[b, 0, 0])} pages; -1 marks an empty slot)")
        if flags[1]:
            raise InputError("selected lists a page twice for some (sequence, KV head)")
