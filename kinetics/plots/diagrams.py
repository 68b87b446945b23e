"""Diagrams of the book, drawn by code so that they rerun: the paged KV cache and its page table, what one decode
step reads (dense against block top-k), page summaries and the selection, split-K decode and its combine step,
and the engine's scheduler loop. Each function returns a matplotlib Figure.

Where a diagram shows numbers (bytes, scores, an error), they are computed here from the same definitions the
chapters use, never typed: `decode_reads` prices a step with `kinetics.models`, `page_selection` scores random
pages the way the block top-k kernel does, and `split_k_decode` checks its combine step against one softmax.
"""
from __future__ import annotations

import numpy as np

from kinetics.models import get_model
from kinetics.plots import ATTENTION_COLORS, style

# Three requests in the page diagrams: a colour each (light tints, so a request is never mistaken for a model)
REQUEST_COLORS = ("#F3C98B", "#9CCFE0", "#C9B3E0")
FREE, EDGE, TEXT = "#FFFFFF", "#444444", "#222222"


def _canvas(width: float, height: float):
    import matplotlib.pyplot as plt

    style()
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(ax, x, y, w, h, text="", color=FREE, size=9, **kwargs):
    """A rectangle with its lower-left corner at (x, y) and `text` centred in it."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.04", facecolor=color,
                                edgecolor=kwargs.pop("edgecolor", EDGE), lw=kwargs.pop("lw", 1.0), **kwargs))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, color=TEXT)


def _arrow(ax, start, end, color=EDGE, text="", curve=0.0, size=8.5):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=color, lw=1.2,
                                 connectionstyle=f"arc3,rad={curve}", shrinkA=2, shrinkB=2))
    if text:
        mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.text(mid[0], mid[1] + 0.05, text, fontsize=size, ha="center", va="bottom", color=TEXT)


def allocate_pages(lengths, page_size: int, num_pages: int, seed: int = 0) -> list[list[int]]:
    """Physical pages for requests of `lengths` tokens, taken in order from a free list that earlier requests
    have shuffled (as after some finished and gave their pages back): request i's token t sits in page
    pages[i][t // page_size] at offset t % page_size."""
    free = list(np.random.default_rng(seed).permutation(num_pages))
    need = [-(-n // page_size) for n in lengths]
    if sum(need) > num_pages:
        raise ValueError(f"{sum(need)} pages needed, only {num_pages} in the cache")
    pages, start = [], 0
    for n in need:
        pages.append([int(p) for p in free[start:start + n]])
        start += n
    return pages


def paged_kv_cache(lengths=(11, 6, 9), page_size: int = 4, num_pages: int = 12, seed: int = 0):
    """Requests' tokens in logical pages (left), the page table (middle), the physical pages of the cache (right)."""
    pages = allocate_pages(lengths, page_size, num_pages, seed)
    width, height = 11.0, 4.9
    fig, ax = _canvas(width, height)
    owner = {p: i for i, row in enumerate(pages) for p in row}
    ax.text(0.2, height - 0.35, "requests (logical view)", fontsize=10, weight="bold")
    ax.text(5.0, height - 0.35, "page table", fontsize=10, weight="bold")
    ax.text(8.6, height - 0.35, f"KV cache: {num_pages} pages\nof {page_size} tokens", fontsize=10,
            weight="bold", va="top")
    step = (height - 1.7) / num_pages
    phys = {}
    for p in range(num_pages):   # physical pages, one column, page 0 on top
        y = height - 1.45 - (p + 1) * step
        color = REQUEST_COLORS[owner[p] % len(REQUEST_COLORS)] if p in owner else FREE
        _box(ax, 8.6, y, 1.3, step * 0.85, f"page {p}", color, size=7.5, lw=0.7)
        phys[p] = (8.6, y + step * 0.42)
    ax.text(10.0, height - 1.6, "white:\nfree", fontsize=8.5, color=TEXT, va="top")
    for i, (n, row) in enumerate(zip(lengths, pages)):
        y = height - 1.5 - i * 1.05
        color = REQUEST_COLORS[i % len(REQUEST_COLORS)]
        ax.text(0.2, y + 0.5, f"request {i}: {n} tokens", fontsize=9)
        for j in range(len(row)):   # logical page j holds tokens [j*page_size, (j+1)*page_size)
            filled = min(page_size, n - j * page_size)
            for t in range(page_size):
                _box(ax, 0.2 + (j * page_size + t) * 0.24 + j * 0.12, y, 0.2, 0.4,
                     color=color if t < filled else FREE, lw=0.6)
        for j, p in enumerate(row):   # one table entry per logical page: the physical page that holds it
            _box(ax, 5.0 + 0.5 * j, y, 0.45, 0.4, str(p), color, size=9)
            if i == 0:   # one request's entries followed into the cache; the colours tell the rest
                _arrow(ax, (5.0 + 0.5 * j + 0.22, y + 0.4), phys[p], color="#777777", curve=-0.3)
    ax.text(0.2, 0.3, f"token t of a request lives in physical page table[t // {page_size}], at offset "
            f"t % {page_size};\na request's pages need not be contiguous, and a freed page is reused by any "
            "request", fontsize=8.5, color=TEXT)
    return fig


def decode_step_bytes(model: str, context: int, budget: int, page_size: int, batch: int,
                      dtype_bytes: float = 2) -> dict[str, dict[str, float]]:
    """Bytes one sequence's decode step reads, dense and block top-k: its share of the weights (read once per
    step for the whole batch), the K/V of the keys it attends, and (block top-k) one mean key per page."""
    spec = get_model(model)
    kv = spec.kv_bytes_per_token(dtype_bytes)
    weights = spec.params_matmul * dtype_bytes / batch
    summaries = -(-context // page_size) * kv / 2   # one mean key (K only) per page, per layer and KV head
    return {"dense": {"weights / batch": weights, "K/V": context * kv, "page summaries": 0.0},
            "block top-k": {"weights / batch": weights, "K/V": min(context, budget) * kv,
                            "page summaries": summaries}}


def decode_reads(model: str = "qwen3-8b", context: int = 16384, budget: int = 1024, page_size: int = 16,
                 batch: int = 32, pages_shown: int = 32, seed: int = 1):
    """One decode step of one sequence: the pages it reads (left) and the bytes per term (right), dense above and
    block top-k below; the bytes come from `decode_step_bytes`."""
    import matplotlib.pyplot as plt

    style()
    reads = decode_step_bytes(model, context, budget, page_size, batch)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.5, 1]})
    left.set_xlim(0, pages_shown + 1)
    left.set_ylim(-0.7, 4.2)
    left.axis("off")
    total_pages = -(-context // page_size)
    chosen = _shown_selection(pages_shown, round(pages_shown * (budget // page_size) / total_pages), seed)
    for row, (kind, color) in enumerate((("dense", ATTENTION_COLORS["dense"]),
                                         ("block top-k", ATTENTION_COLORS["blocktopk"]))):
        y = 2.6 - row * 2.2
        left.text(0, y + 1.05, kind, fontsize=10, weight="bold")
        for p in range(pages_shown):
            read = kind == "dense" or p in chosen
            left.add_patch(plt.Rectangle((p + 0.5, y), 0.85, 0.75, facecolor=color if read else FREE,
                                         edgecolor=EDGE, lw=0.6, alpha=0.85 if read else 1))
            if kind == "block top-k":   # the page's mean key, read for every page to score it
                left.add_patch(plt.Rectangle((p + 0.5, y + 0.8), 0.85, 0.15, facecolor=FREE,
                                             edgecolor=color, hatch="////", lw=0.4))
    left.text(0.5, -0.65, f"{pages_shown} of the {total_pages:,} pages of a {context:,}-token context, drawn "
              f"to scale: filled,\nK and V read; hatched strip, the mean key every page keeps for scoring",
              fontsize=8, va="bottom")
    terms = list(reads["dense"])
    hatches = {"weights / batch": "", "K/V": "", "page summaries": "////"}
    for i, (kind, color) in enumerate((("dense", ATTENTION_COLORS["dense"]),
                                       ("block top-k", ATTENTION_COLORS["blocktopk"]))):
        start = 0.0
        for term in terms:
            value = reads[kind][term] / 1e6
            right.barh(1 - i, value, left=start, lw=0.6, hatch=hatches[term],
                       color={"weights / batch": "#DDDDDD", "K/V": color}.get(term, FREE),
                       edgecolor=color if term == "page summaries" else EDGE,
                       label=term if i == 1 else None)
            start += value
        right.text(start, 1 - i, f" {start:,.0f} MB", va="center", fontsize=9)
    right.set_yticks([1, 0], ["dense", "block top-k"])
    right.set_xlabel("MB read per sequence per step")
    right.set_xlim(0, 1.35 * sum(reads["dense"].values()) / 1e6)
    right.legend(loc="lower right", fontsize=8, frameon=False)
    right.set_title(f"{get_model(model).name}: batch {batch}, budget {budget},\npage size {page_size}",
                    fontsize=9.5)
    return fig


def _shown_selection(pages: int, picks: int, seed: int) -> set[int]:
    """Pages drawn as selected: the first (sink) and last (current) page plus `picks` others."""
    rng = np.random.default_rng(seed)
    others = rng.choice(np.arange(1, pages - 1), size=min(picks, pages - 2), replace=False)
    return {0, pages - 1, *others.tolist()}


def score_pages(keys: np.ndarray, query: np.ndarray, page_size: int) -> np.ndarray:
    """Block top-k's page score, q . mean(k) over each page's keys (keys: [tokens, head_dim])."""
    pages = keys.reshape(-1, page_size, keys.shape[-1])
    return pages.mean(axis=1) @ query


def select_pages(scores: np.ndarray, picks: int, sink_pages: int = 1) -> np.ndarray:
    """The sink pages, the current (last) page and the `picks` best-scoring other pages, in ascending order
    (ties to the lowest page, as the kernel breaks them)."""
    forced = set(range(sink_pages)) | {len(scores) - 1}
    order = [int(p) for p in np.argsort(-scores, kind="stable") if p not in forced]
    return np.array(sorted(forced | set(order[:picks])))


def page_selection(num_pages: int = 16, page_size: int = 8, head_dim: int = 32, picks: int = 4, seed: int = 3):
    """Random keys with a few pages aligned with the query: each page's score q . mean(k) (bars), the pages
    block top-k keeps (coloured) and the share of the exact softmax mass those pages hold."""
    import matplotlib.pyplot as plt

    style()
    rng = np.random.default_rng(seed)
    query = rng.standard_normal(head_dim)
    keys = rng.standard_normal((num_pages * page_size, head_dim))
    relevant = rng.choice(np.arange(1, num_pages - 1), size=picks, replace=False)
    for p in relevant:   # a few pages whose keys lean towards the query: the ones attention needs
        keys[p * page_size:(p + 1) * page_size] += 0.6 * query / np.linalg.norm(query) * np.sqrt(head_dim) / 2
    scores = score_pages(keys, query, page_size)
    kept = select_pages(scores, picks)
    logits = keys @ query / np.sqrt(head_dim)
    weights = np.exp(logits - logits.max())
    mass = weights.reshape(num_pages, page_size).sum(axis=1) / weights.sum()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.2), sharex=True,
                                      gridspec_kw={"height_ratios": [2.2, 1]})
    color = ATTENTION_COLORS["blocktopk"]
    bar_colors = [color if p in kept else "#CCCCCC" for p in range(num_pages)]
    top.bar(range(num_pages), scores, color=bar_colors, edgecolor=EDGE, lw=0.6)
    token_logits = (keys @ query).reshape(num_pages, page_size)   # the bar is their mean, by linearity
    offsets = np.linspace(-0.3, 0.3, page_size)
    top.scatter((np.arange(num_pages)[:, None] + offsets).ravel(), token_logits.ravel(), s=5,
                color=EDGE, zorder=3, label="q · k of each key (the bar: their mean)")
    forced = [0, num_pages - 1]
    top.bar(forced, scores[forced], color="none", edgecolor=EDGE, hatch="//", lw=0.6,
            label="always kept: sink page and current page")
    threshold = np.sort(scores[1:-1])[-picks]
    top.axhline(threshold, color=EDGE, ls="--", lw=0.8, label=f"score of the {picks}th best page")
    top.set_ylabel("page score  q · mean(k)")
    top.set_ylim(top=1.35 * token_logits.max())
    top.legend(fontsize=8, loc="upper left", frameon=False)
    top.set_title(f"{num_pages} pages of {page_size} keys; kept pages hold {100 * mass[kept].sum():.0f}% of "
                  f"the softmax mass with {100 * len(kept) / num_pages:.0f}% of the keys", fontsize=10)
    bottom.bar(range(num_pages), 100 * mass, color=bar_colors, edgecolor=EDGE, lw=0.6)
    bottom.set_ylabel("softmax mass (%)")
    bottom.set_xlabel("page (logical order)")
    bottom.set_xticks(range(num_pages))
    return fig


def combine_splits(logits: np.ndarray, values: np.ndarray, splits: int) -> tuple[np.ndarray, np.ndarray]:
    """Split-K softmax attention: each split s returns (lse_s, o_s); the combine step weights o_s by
    exp(lse_s - max lse). Returns the combined output and the per-split log-sum-exps."""
    parts = np.array_split(np.arange(len(logits)), splits)
    lse = np.array([np.log(np.sum(np.exp(logits[i] - logits[i].max()))) + logits[i].max() for i in parts])
    outs = np.array([np.exp(logits[i] - lse[s]) @ values[i] for s, i in enumerate(parts)])
    w = np.exp(lse - lse.max())
    return (w @ outs) / w.sum(), lse


def split_k_decode(context: int = 4096, splits: int = 4, head_dim: int = 64, seed: int = 0):
    """One query's keys cut into `splits` slices, one program each (partial max, normaliser, output), then the
    combine step; the title gives the combine's error against one softmax over all keys, computed here."""
    rng = np.random.default_rng(seed)
    logits, values = rng.standard_normal(context) * 3, rng.standard_normal((context, head_dim))
    combined, _ = combine_splits(logits, values, splits)
    p = np.exp(logits - logits.max())
    error = np.max(np.abs(combined - p @ values / p.sum()))
    width, height = 10.0, 4.2
    fig, ax = _canvas(width, height)
    chunk = (width - 1.0) / splits
    ax.text(0.5, height - 0.35, f"the K/V of one (sequence, KV head): {context:,} tokens, cut into {splits} "
            "slices", fontsize=10, weight="bold")
    for s in range(splits):
        x = 0.5 + s * chunk
        lo, hi = s * context // splits, (s + 1) * context // splits
        _box(ax, x + 0.05, height - 1.15, chunk - 0.1, 0.55, f"tokens {lo:,}-{hi - 1:,}", "#E8E8E8")
        _box(ax, x + 0.15, height - 2.3, chunk - 0.3, 0.75, f"program (b, h, {s})\nonline softmax",
             "#FFFFFF")
        _arrow(ax, (x + chunk / 2, height - 1.15), (x + chunk / 2, height - 1.55))
        ax.text(x + chunk / 2, height - 2.6, f"$m_{s},\\ \\ell_{s},\\ o_{s}$", ha="center", fontsize=10)
        _arrow(ax, (x + chunk / 2, height - 2.75), (width / 2, 1.05), curve=0.0)
    _box(ax, width / 2 - 2.3, 0.3, 4.6, 0.75,
         r"combine: $o = \sum_s w_s o_s / \sum_s w_s,\ \ w_s = e^{\mathrm{lse}_s - \max \mathrm{lse}}$",
         ATTENTION_COLORS["dense"] + "22", size=9.5)
    ax.text(width / 2, 0.05, f"combined = one softmax over all keys: max |difference| {error:.1e}",
            ha="center", fontsize=8.5, color=TEXT)
    return fig


def scheduler_loop():
    """The engine's loop: schedule a prefill or a decode step, run the model, sample, retire finished requests;
    preemption when a decoding request needs a page and none is free."""
    width, height = 10.5, 4.6
    fig, ax = _canvas(width, height)
    w, h = 2.5, 0.95
    boxes = {  # name: (x, y, text)
        "waiting": (0.2, 3.2, "waiting queue\n(new and preempted\nrequests)"),
        "schedule": (3.9, 3.2, "schedule one step:\nprefill chunks if pages allow,\nelse decode all running"),
        "forward": (7.7, 3.2, "forward pass\n(paged KV cache,\ndense or block top-k)"),
        "sample": (7.7, 0.7, "sample one token\nfor each request\nat its last position"),
        "post": (3.9, 0.7, "postprocess: append tokens;\nfinished requests\nfree their pages"),
        "preempt": (0.2, 0.7, "preempt the latest\nadmitted request:\nfree its pages"),
    }
    for name, (x, y, text) in boxes.items():
        _box(ax, x, y, w, h, text, "#F4F4F4" if name != "preempt" else "#FBE3D6", size=8.5)

    def side(name, where):
        x, y, _ = boxes[name]
        return {"left": (x, y + h / 2), "right": (x + w, y + h / 2), "top": (x + w / 2, y + h),
                "bottom": (x + w / 2, y)}[where]

    _arrow(ax, side("waiting", "right"), side("schedule", "left"), text="admit")
    _arrow(ax, side("schedule", "right"), side("forward", "left"), text="batch")
    _arrow(ax, side("forward", "bottom"), side("sample", "top"), text="logits")
    _arrow(ax, side("sample", "left"), side("post", "right"), text="tokens")
    _arrow(ax, side("post", "top"), side("schedule", "bottom"), text="next step")
    _arrow(ax, (boxes["schedule"][0] + 0.4, boxes["schedule"][1]), side("preempt", "top"), curve=0.25)
    ax.text(2.3, 2.45, "decode needs a page\nand none is free", fontsize=8, ha="center")
    _arrow(ax, (boxes["preempt"][0] + 0.3, boxes["preempt"][1] + h), (boxes["waiting"][0] + 0.3,
                                                                     boxes["waiting"][1]))
    ax.text(0.05, 2.45, "to the front", fontsize=8, rotation=90, va="center")
    ax.text(width / 2, 0.1, "the loop runs while any request waits or runs; nothing is dropped", ha="center",
            fontsize=8.5, color=TEXT)
    return fig
