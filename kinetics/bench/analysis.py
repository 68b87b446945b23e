"""Back-of-envelope models behind chapter 4: bytes a decode step must move, and what page size costs in precision."""
from __future__ import annotations

import math


def decode_traffic(context: int, budget_tokens: int, page_size: int, head_dim: int = 128, dtype_bytes: int = 2,
                   summary_vectors: int = 1) -> dict:
    """Bytes one (sequence, KV head) decode row must read: dense, and block top-k (selected pages + summaries).

    Block top-k reads every page's summary (summary_vectors x head_dim, plus a 4-byte page-table entry) and the K
    and V of ceil(budget / page) whole pages (never more than the sequence has).
    """
    pages = math.ceil(context / page_size)
    selected = min(math.ceil(budget_tokens / page_size), pages)
    dense = 2 * context * head_dim * dtype_bytes
    kv = 2 * min(selected * page_size, context) * head_dim * dtype_bytes
    metadata = pages * (summary_vectors * head_dim * dtype_bytes + 4)
    return {"dense": dense, "selected_kv": kv, "metadata": metadata, "topk": kv + metadata,
            "ratio": dense / (kv + metadata), "metadata_share": metadata / (kv + metadata)}


def needle_recall(page_size: int, budget_tokens: int, context: int = 4096, needles: int = 16, head_dim: int = 128,
                  strength: float = 4.0, kind: str = "mean", seeds: int = 8) -> float:
    """Share of the softmax attention mass that block top-k keeps, on keys with `needles` scattered strong matches.

    Random keys, a random query, and `needles` tokens at random positions whose keys lean towards the query
    (k = noise + strength * q / |q|): the situation where selection matters. Block top-k with a fixed token
    budget picks budget / page_size pages by their summary score; a larger page spends more of the budget on
    the needles' neighbours. Mean over `seeds` draws (torch, CPU, float64).
    """
    import torch

    from kinetics.kernels.reference import page_scores_ref

    kept = []
    for seed in range(seeds):
        gen = torch.Generator().manual_seed(seed)
        q = torch.randn(head_dim, generator=gen, dtype=torch.float64)
        k = torch.randn(context, head_dim, generator=gen, dtype=torch.float64)
        where = torch.randperm(context, generator=gen)[:needles]
        k[where] += strength * q / q.norm()
        mass = torch.softmax(k @ q / math.sqrt(head_dim), dim=0)
        pages = math.ceil(context / page_size)
        padded = torch.zeros(pages * page_size, head_dim, dtype=torch.float64)
        padded[:context] = k
        blocks = padded.view(pages, page_size, head_dim)
        counts = torch.full((pages,), page_size, dtype=torch.float64)
        counts[-1] = context - (pages - 1) * page_size
        if kind == "mean":
            summaries = (blocks.sum(1) / counts[:, None])[:, None, None, :]
        else:
            last = blocks[-1, :int(counts[-1])]
            lo, hi = blocks.amin(1), blocks.amax(1)
            lo[-1], hi[-1] = last.amin(0), last.amax(0)
            summaries = torch.stack([lo, hi], dim=1)[:, None]
        table = torch.arange(pages)[None]
        scores = page_scores_ref(q[None, None], summaries, table, page_size, context, 0, 0, 1, kind)
        chosen = scores.topk(min(max(1, budget_tokens // page_size), pages)).indices
        token_page = torch.arange(context) // page_size
        kept.append(float(mass[torch.isin(token_page, chosen)].sum()))
    return sum(kept) / len(kept)
