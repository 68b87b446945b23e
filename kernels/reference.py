"""Plain torch references for every kernel: one sequence at a time, float64, written to be read.

They define what the Triton kernels must compute (the tests compare the two) and they run anywhere torch runs.
"""
from __future__ import annotations

import math

import torch


def gather_sequence(cache: torch.Tensor, page_table: torch.Tensor, b: int, seq_len: int) -> torch.Tensor:
    """The first `seq_len` tokens of sequence b from a paged NHD cache: [seq_len, num_kv_heads, head_dim]."""
    page_size = cache.shape[1]
    n_pages = -(-seq_len // page_size)
    pages = page_table[b, :n_pages].long()
    return cache[pages].reshape(n_pages * page_size, *cache.shape[2:])[:seq_len]


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, sm_scale: float) -> torch.Tensor:
    """q [group, D] against k, v [n, D] in float64."""
    logits = (q.double() @ k.double().T) * sm_scale
    return torch.softmax(logits, dim=-1) @ v.double()


def _decode_ref(q, k_cache, v_cache, page_table, seq_lens, sm_scale, tokens_of) -> torch.Tensor:
    """Decode attention of every sequence b and KV head h over the tokens `tokens_of(b, h, seq_len)` picks
    (an index into the sequence's tokens) in float64: the loop the dense and the sparse references share."""
    batch, num_q_heads, head_dim = q.shape
    num_kv_heads = k_cache.shape[2]
    group = num_q_heads // num_kv_heads
    sm_scale = 1.0 / math.sqrt(head_dim) if sm_scale is None else sm_scale
    out = torch.empty(batch, num_q_heads, head_dim, dtype=torch.float64)
    for b in range(batch):
        n = int(seq_lens[b])
        k = gather_sequence(k_cache, page_table, b, n)
        v = gather_sequence(v_cache, page_table, b, n)
        for h in range(num_kv_heads):
            tokens = tokens_of(b, h, n)
            heads = slice(h * group, (h + 1) * group)
            out[b, heads] = _attend(q[b, heads], k[tokens, h], v[tokens, h], sm_scale)
    return out


def paged_decode_ref(q, k_cache, v_cache, page_table, seq_lens, sm_scale=None) -> torch.Tensor:
    """Dense decode attention: every query head attends to all tokens of its sequence (float64 result)."""
    return _decode_ref(q, k_cache, v_cache, page_table, seq_lens, sm_scale, lambda b, h, n: slice(None))


def page_summaries_ref(k_cache, page_table, seq_lens, kind: str = "mean") -> dict:
    """{(b, logical page): [num_kv_heads, S, D] float64} summaries of every page of every sequence.

    kind="mean": the mean key over the page's valid tokens; kind="minmax": element-wise min and max keys.
    """
    page_size = k_cache.shape[1]
    out = {}
    for b in range(page_table.shape[0]):
        n = int(seq_lens[b])
        keys = gather_sequence(k_cache, page_table, b, n).double()
        for p in range(-(-n // page_size)):
            block = keys[p * page_size:(p + 1) * page_size]  # [tokens, H, D]
            if kind == "mean":
                out[b, p] = block.mean(0)[:, None, :]
            else:
                out[b, p] = torch.stack([block.amin(0), block.amax(0)], dim=1)
    return out


def page_scores_ref(q, summaries, page_table, page_size: int, seq_len: int, b: int, h: int, group: int,
                    kind: str) -> torch.Tensor:
    """Scores of the pages of sequence b for KV head h, summed over the group's query heads (float64).

    mean: sum_g q_g . kbar (the authors' mean-key score, up to a positive factor).
    minmax: sum_g sum_d max(q_gd kmin_d, q_gd kmax_d) (Quest's upper bound on q . k).
    """
    n_pages = -(-seq_len // page_size)
    phys = page_table[b, :n_pages].long()
    qg = q[b, h * group:(h + 1) * group].double()  # [group, D]
    summ = summaries[phys, h].double()  # [n_pages, S, D]
    if kind == "mean":
        return summ[:, 0] @ qg.sum(0)
    kmin, kmax = summ[:, 0], summ[:, 1]
    return (torch.maximum(qg[:, None, :] * kmin[None], qg[:, None, :] * kmax[None])).sum(dim=(0, 2))


def select_pages_ref(q, summaries, page_table, seq_lens, page_size: int, budget: int, kind: str = "mean",
                     num_sink_pages: int = 1) -> list[list[list[int]]]:
    """selected[b][h] = ascending logical pages: sinks + current page + best-scoring others, `budget` in all.

    Forced pages (the first `num_sink_pages` and the last) are always kept, even past the budget. Equal scores
    go to the lower page number.
    """
    batch, num_q_heads, _ = q.shape
    num_kv_heads = summaries.shape[1]
    group = num_q_heads // num_kv_heads
    result = []
    for b in range(batch):
        n = int(seq_lens[b])
        n_pages = -(-n // page_size)
        forced = set(range(min(num_sink_pages, n_pages))) | {n_pages - 1}
        free = [p for p in range(n_pages) if p not in forced]
        k_free = max(0, min(budget - len(forced), len(free)))
        rows = []
        for h in range(num_kv_heads):
            scores = page_scores_ref(q, summaries, page_table, page_size, n, b, h, group, kind)
            free_scores = scores[free]
            order = torch.argsort(-free_scores, stable=True)[:k_free]
            rows.append(sorted(forced | {free[int(i)] for i in order}))
        result.append(rows)
    return result


def sparse_paged_decode_ref(q, k_cache, v_cache, page_table, seq_lens, selected, sm_scale=None) -> torch.Tensor:
    """Decode attention over the selected logical pages only (selected: [B, H_kv, width], -1 = empty)."""
    page_size = k_cache.shape[1]

    def selected_tokens(b, h, n):
        pages = [int(p) for p in selected[b, h] if int(p) >= 0]
        return torch.cat([torch.arange(p * page_size, min((p + 1) * page_size, n)) for p in pages])

    return _decode_ref(q, k_cache, v_cache, page_table, seq_lens, sm_scale, selected_tokens)
