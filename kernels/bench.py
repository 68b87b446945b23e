"""`kinetics bench attention`: the Triton decode kernels against FlashInfer on a GPU, with provenance.

For each shape (rows = batch x KV heads, each row one KV head and `group` query heads, as the Kinetics authors split
Qwen3 over 8 GPUs) it times, with CUDA events (warm-up, median of many runs, random data):
  ours dense       paged_decode
  FlashInfer dense BatchDecodeWithPagedKVCacheWrapper over the same pages
  ours block top-k select_pages + sparse_paged_decode (selection included), and each part alone
  anchor           torch selection (scores from the mean keys, torch.topk, pages written into FlashInfer's index
                   buffer) + FlashInfer decode over those pages
and reports bytes moved, achieved TB/s, the bytes floor (bytes / FlashInfer's dense bandwidth on this GPU),
speedups and relative errors (against a float32 torch reference on a few rows, and against FlashInfer).
A layer benchmark times one Qwen3-8B decoder layer split per KV head (the authors' `benchmark/`), dense vs block
top-k, in the authors' metric: decode tokens/s per GPU = batch / (layer time x 8 GPUs x 36 layers).

Other benchmarks plug in as sub-subcommands: add a line to SUBCOMMANDS naming a module and the function that
registers its argparse sub-parser (e.g. "engine": ("kinetics.engine.bench", "register_engine", "...")).
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import statistics
import sys
from pathlib import Path

from kinetics.errors import InputError

log = logging.getLogger(__name__)

# name -> (module, function(parser) that adds the arguments and sets `func`, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "attention": ("kinetics.kernels.bench", "register_attention",
                  "our Triton paged decode kernels (dense, block top-k) vs FlashInfer"),
    "engine": ("kinetics.engine.bench", "register_engine",
               "the engine end to end: TARGETS workload vs HF, trace replay, cost model vs clock"),
}

# The shapes of TARGETS.md: (rows, context, page, selected pages = top pages + the current page)
TARGET_SHAPES = [(2048, 8192, 16, 65), (2048, 32768, 16, 65), (512, 32768, 16, 65), (2048, 32768, 64, 17)]
HEAD_DIM = 128
LAYERS, WORLD = 36, 8  # Qwen3-8B: 36 layers, split over 8 GPUs in the authors' benchmark


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCH")
    for name, (module, function, help_) in SUBCOMMANDS.items():
        child = sub.add_parser(name, help=help_, description=help_)
        getattr(importlib.import_module(module), function)(child)


def register_attention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="only the TARGETS.md shapes, fewer repeats")
    parser.add_argument("--out", type=Path, default=None,
                        help="output JSON (default data/results/<device>/attention.json)")
    parser.add_argument("--no-layer", action="store_true", help="skip the Qwen3-8B layer benchmark")
    parser.add_argument("--no-flashinfer", action="store_true", help="time our kernels only")
    parser.add_argument("--tune", action="store_true",
                        help="time launch-parameter variants of our kernels at the TARGETS.md shapes (tune.json)")
    parser.set_defaults(func=run_attention)


# ---- timing ---------------------------------------------------------------------------------------------------------

def time_ms(fn, repeats: int = 30, warmup: int = 3) -> dict:
    """Median (and spread) of `repeats` CUDA-event timings of fn() after `warmup` calls."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return {"median_ms": statistics.median(times), "p10_ms": times[len(times) // 10],
            "p90_ms": times[(9 * len(times)) // 10], "repeats": repeats}


def copy_bandwidth_tbps() -> float:
    """Device-to-device copy of 2 GiB, bytes read + written per second (the memory ceiling, for reference)."""
    import torch

    src = torch.randn(2**29, device="cuda")  # 2 GiB of float32
    dst = torch.empty_like(src)
    t = time_ms(lambda: dst.copy_(src), repeats=20)["median_ms"]
    return 2 * src.numel() * 4 / (t * 1e-3) / 1e12


# ---- one attention problem -------------------------------------------------------------------------------------------

class Problem:
    """rows decode rows of one KV head each, `context` tokens, shuffled physical pages, random bf16 data."""

    def __init__(self, rows, context, page, group, dtype, seed=0, kind="mean", shuffled=True):
        import torch

        from kinetics.kernels import new_page_summaries, update_page_summaries

        g = torch.Generator(device="cuda").manual_seed(seed)
        self.rows, self.context, self.page, self.group, self.kind = rows, context, page, group, kind
        self.pages_per_row = -(-context // page)
        num_pages = rows * self.pages_per_row
        shape = (num_pages, page, 1, HEAD_DIM)
        self.k = torch.randn(shape, generator=g, device="cuda", dtype=dtype)
        self.v = torch.randn(shape, generator=g, device="cuda", dtype=dtype)
        self.q = torch.randn(rows, group, HEAD_DIM, generator=g, device="cuda", dtype=dtype)
        perm = (torch.randperm(num_pages, generator=g, device="cuda") if shuffled
                else torch.arange(num_pages, device="cuda")).int()
        self.page_table = perm.reshape(rows, self.pages_per_row).contiguous()
        self.seq_lens = torch.full((rows,), context, dtype=torch.int32, device="cuda")
        self.summaries = new_page_summaries(num_pages, 1, HEAD_DIM, kind, dtype=dtype, device="cuda")
        update_page_summaries(self.k, self.page_table, self.seq_lens, self.summaries, kind,
                              start_lens=torch.zeros_like(self.seq_lens))

    def kv_bytes(self, tokens_per_row: int) -> int:
        return 2 * self.rows * tokens_per_row * HEAD_DIM * self.k.element_size()

    def io_bytes(self) -> int:  # q read, out written
        return 2 * self.q.numel() * self.q.element_size()

    def summary_bytes(self) -> int:  # what selection must read: summaries + the page table
        per_page = self.summaries.shape[2] * HEAD_DIM * self.summaries.element_size() + 4
        return self.rows * self.pages_per_row * per_page


def _reference_rows(problem, selected=None, rows=8):
    """float32 torch attention on the first rows (dense, or over `selected` logical pages)."""
    import torch

    outs = []
    for r in range(min(rows, problem.rows)):
        pages = problem.page_table[r].long()
        if selected is not None:
            pages = pages[selected[r, 0][selected[r, 0] >= 0].long()]
        k = problem.k[pages].reshape(-1, HEAD_DIM).float()
        v = problem.v[pages].reshape(-1, HEAD_DIM).float()
        p = torch.softmax(problem.q[r].float() @ k.T / math.sqrt(HEAD_DIM), dim=-1)
        outs.append(p @ v)
    return torch.stack(outs)


def _rel(a, b) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def _flashinfer_wrapper(problem, indices, pages_per_row, workspace, tensor_cores=False):
    import flashinfer
    import torch

    rows = problem.rows
    wrapper = flashinfer.BatchDecodeWithPagedKVCacheWrapper(workspace, "NHD", use_tensor_cores=tensor_cores)
    indptr = torch.arange(rows + 1, dtype=torch.int32, device="cuda") * pages_per_row
    last = problem.context - (problem.pages_per_row - 1) * problem.page
    last_page_len = torch.full((rows,), last, dtype=torch.int32, device="cuda")
    wrapper.plan(indptr, indices, last_page_len, problem.group, 1, HEAD_DIM, problem.page,
                 pos_encoding_mode="NONE", q_data_type=problem.q.dtype, kv_data_type=problem.k.dtype)
    return wrapper


def torch_select_into(problem, compressed, top, indices_2d, dtype=None):
    """The anchor's selection: mean-key scores summed over the group, torch.topk over all but the current page,
    physical pages written into FlashInfer's index buffer (the current page stays in the last column)."""
    import torch

    q = problem.q.sum(1, keepdim=True) if dtype is None else problem.q.to(dtype).sum(1, keepdim=True)
    scores = torch.bmm(compressed[:, :-1], q.transpose(1, 2)).squeeze(-1)
    top_pages = scores.topk(top, dim=1, sorted=False).indices
    indices_2d[:, :top] = torch.gather(problem.page_table, 1, top_pages)


def bench_shape(rows, context, page, selected_pages, group, dtype, flashinfer_on, repeats, workspace,
                shuffled=True):
    import torch

    from kinetics.kernels import block_topk_decode, paged_decode, select_pages, sparse_paged_decode

    torch.cuda.empty_cache()  # the previous shape's tensors are gone by now
    problem = Problem(rows, context, page, group, dtype, shuffled=shuffled)
    pt, lens, q, k, v, summ = (problem.page_table, problem.seq_lens, problem.q, problem.k, problem.v,
                               problem.summaries)
    budget, sink = selected_pages, 0
    row = {"rows": rows, "context": context, "page_size": page, "selected_pages": selected_pages,
           "budget_tokens": selected_pages * page, "group": group, "head_dim": HEAD_DIM,
           "dtype": str(dtype).replace("torch.", ""), "num_sink_pages": sink, "selector": problem.kind,
           "page_order": "shuffled" if shuffled else "contiguous"}

    dense = lambda: paged_decode(q, k, v, pt, lens, validate=False)  # noqa: E731
    select = lambda: select_pages(q, summ, pt, lens, page, budget, num_sink_pages=sink, validate=False)  # noqa: E731
    sel = select()
    sparse = lambda: sparse_paged_decode(q, k, v, pt, lens, sel, validate=False)  # noqa: E731
    unfused = lambda: sparse_paged_decode(q, k, v, pt, lens, select(), validate=False)  # noqa: E731
    fused = lambda: block_topk_decode(q, k, v, pt, lens, summ, budget, num_sink_pages=sink, validate=False,  # noqa
                                      fused=True)[0]
    topk = lambda: block_topk_decode(q, k, v, pt, lens, summ, budget, num_sink_pages=sink, validate=False)[0]  # noqa

    # correctness on this GPU: float32 torch on a few rows, our selection's pages
    ref_dense = _reference_rows(problem)
    ref_sparse = _reference_rows(problem, sel)
    out_dense, out_sparse = dense(), sparse()
    row["rel_err_dense_vs_torch"] = _rel(out_dense[:len(ref_dense)], ref_dense)
    row["rel_err_topk_vs_torch"] = _rel(out_sparse[:len(ref_sparse)], ref_sparse)
    out_fused, sel_fused = block_topk_decode(q, k, v, pt, lens, summ, budget, num_sink_pages=sink, fused=True)
    assert torch.equal(sel_fused, sel), "fused and separate selections differ"
    row["rel_err_topk_fused_vs_torch"] = _rel(out_fused[:len(ref_sparse)], ref_sparse)
    assert int((sel >= 0).sum(-1).min()) == min(selected_pages, problem.pages_per_row)

    row["ours_dense"] = time_ms(dense, repeats)
    row["ours_select"] = time_ms(select, repeats)
    row["ours_sparse_attn"] = time_ms(sparse, repeats)
    row["ours_topk_unfused"] = time_ms(unfused, repeats)
    row["ours_topk_fused"] = time_ms(fused, repeats)
    row["ours_topk"] = time_ms(topk, repeats)  # the API's default: block_topk_decode()

    if flashinfer_on:
        # FlashInfer's two decode paths (CUDA cores, the default; tensor cores): the faster one is the anchor
        for cores in (False, True):
            fi_dense = _flashinfer_wrapper(problem, pt.reshape(-1), problem.pages_per_row, workspace, cores)
            out_fi = fi_dense.run(q, (k, v))
            name = "tensor_cores" if cores else "cuda_cores"
            row[f"rel_err_dense_vs_flashinfer_{name}"] = _rel(out_dense, out_fi)
            row[f"rel_err_flashinfer_{name}_dense_vs_torch"] = _rel(out_fi[:len(ref_dense)], ref_dense)
            row[f"flashinfer_dense_{name}"] = time_ms(lambda: fi_dense.run(q, (k, v)), repeats)
            del fi_dense, out_fi
        cores = row["flashinfer_dense_tensor_cores"]["median_ms"] < row["flashinfer_dense_cuda_cores"]["median_ms"]
        row["flashinfer_tensor_cores"] = cores
        row["flashinfer_dense"] = dict(row[f"flashinfer_dense_{'tensor_cores' if cores else 'cuda_cores'}"])
        # FlashInfer over our selection (same pages): checks our sparse attention against FlashInfer's
        indices = torch.gather(pt, 1, sel[:, 0].clamp(min=0).long()).contiguous()
        fi_sparse = _flashinfer_wrapper(problem, indices.reshape(-1), selected_pages, workspace, cores)
        row["rel_err_topk_vs_flashinfer"] = _rel(out_sparse, fi_sparse.run(q, (k, v)))
        # the anchor: torch selection into the same index buffer, then FlashInfer
        compressed = summ[pt.long(), 0, 0].contiguous()  # [rows, pages, D]: the authors' per-request layout
        anchor_select = lambda: torch_select_into(problem, compressed, selected_pages - 1, indices)  # noqa: E731
        anchor_attn = lambda: fi_sparse.run(q, (k, v))  # noqa: E731
        exact = torch.empty_like(indices)
        exact[:, -1] = indices[:, -1]
        torch_select_into(problem, compressed.float(), selected_pages - 1, exact, torch.float32)
        chosen_torch = torch.sort(exact, dim=1).values
        chosen_ours = torch.sort(torch.gather(pt, 1, sel[:, 0].long()), dim=1).values
        row["selection_agreement_fp32"] = float((chosen_torch == chosen_ours).float().mean())
        del exact
        row["anchor_select"] = time_ms(anchor_select, repeats)
        row["flashinfer_sparse_attn"] = time_ms(anchor_attn, repeats)
        row["anchor_total"] = time_ms(lambda: (anchor_select(), anchor_attn()), repeats)
        del fi_sparse, compressed

    tokens = min(selected_pages, problem.pages_per_row) * page
    row["bytes_dense"] = problem.kv_bytes(context) + problem.io_bytes()
    row["bytes_topk"] = problem.kv_bytes(tokens) + problem.summary_bytes() + problem.io_bytes()
    row["bytes_floor_ratio"] = row["bytes_dense"] / row["bytes_topk"]
    for name, nbytes in (("ours_dense", row["bytes_dense"]), ("flashinfer_dense", row["bytes_dense"]),
                         ("flashinfer_dense_cuda_cores", row["bytes_dense"]),
                         ("flashinfer_dense_tensor_cores", row["bytes_dense"]),
                         ("ours_topk", row["bytes_topk"]), ("ours_topk_fused", row["bytes_topk"]),
                         ("ours_topk_unfused", row["bytes_topk"]), ("ours_sparse_attn", problem.kv_bytes(tokens)),
                         ("ours_select", problem.summary_bytes())):
        if name in row:
            row[name]["tbps"] = nbytes / (row[name]["median_ms"] * 1e-3) / 1e12
    return row


def set_ceiling(result: dict) -> None:
    """The practical ceiling: the best dense decode bandwidth of the run (FlashInfer's or ours, whichever is higher),
    then every row's floors and ratios from it (TARGETS.md used FlashInfer's, which was the higher there)."""
    fi = max((r["flashinfer_dense"]["tbps"] for r in result["shapes"] if "flashinfer_dense" in r), default=0.0)
    ours = max(r["ours_dense"]["tbps"] for r in result["shapes"])
    result["ceiling_tbps"] = max(fi, ours)
    result["ceiling_source"] = ("FlashInfer dense decode" if fi >= ours else "our dense decode") + \
        ", best bandwidth in this run"
    finish_rows(result["shapes"], result["ceiling_tbps"])


def finish_rows(rows: list[dict], ceiling_tbps: float) -> None:
    """Floors and speedups once the ceiling (FlashInfer's best dense bandwidth in this run) is known."""
    for row in rows:
        row["ceiling_tbps"] = ceiling_tbps
        row["floor_dense_ms"] = row["bytes_dense"] / (ceiling_tbps * 1e12) * 1e3
        row["floor_topk_ms"] = row["bytes_topk"] / (ceiling_tbps * 1e12) * 1e3
        row["topk_over_floor"] = row["ours_topk"]["median_ms"] / row["floor_topk_ms"]
        row["speedup_topk_vs_ours_dense"] = row["ours_dense"]["median_ms"] / row["ours_topk"]["median_ms"]
        row["select_share"] = row["ours_select"]["median_ms"] / row["ours_topk"]["median_ms"]
        if "flashinfer_dense" in row:
            row["dense_vs_flashinfer"] = row["flashinfer_dense"]["median_ms"] / row["ours_dense"]["median_ms"]
            row["speedup_topk_vs_flashinfer_dense"] = (row["flashinfer_dense"]["median_ms"]
                                                       / row["ours_topk"]["median_ms"])
            row["speedup_anchor_vs_flashinfer_dense"] = (row["flashinfer_dense"]["median_ms"]
                                                         / row["anchor_total"]["median_ms"])
            row["topk_vs_anchor"] = row["anchor_total"]["median_ms"] / row["ours_topk"]["median_ms"]


def sweep_shapes(quick: bool) -> list[tuple]:
    """(rows, context, page, selected pages, group, shuffled pages): TARGETS.md first, then one factor at a time."""
    shapes = [(r, c, p, s, 4, True) for r, c, p, s in TARGET_SHAPES]
    if quick:
        return shapes
    shapes += [(r, c, p, s, 4, False) for r, c, p, s in TARGET_SHAPES]  # pages of a row adjacent in memory
    base_rows, base_ctx, base_page, base_budget = 512, 32768, 16, 1024
    for ctx in (4096, 8192, 16384, 65536):
        shapes.append((base_rows, ctx, base_page, base_budget // base_page, 4, True))
    for rows in (256, 1024, 2048):
        shapes.append((rows, 16384, base_page, base_budget // base_page, 4, True))
    for page in (32, 64):
        shapes.append((base_rows, base_ctx, page, base_budget // page, 4, True))
    for budget in (256, 4096):
        shapes.append((base_rows, base_ctx, base_page, budget // base_page, 4, True))
    shapes.append((base_rows, base_ctx, base_page, base_budget // base_page, 8, True))
    shapes.append((2048, 16384, base_page, base_budget // base_page, 8, True))
    return list(dict.fromkeys(shapes))


# ---- one Qwen3-8B decoder layer, split per KV head like the authors' benchmark --------------------------------------

class Qwen3LayerShard:
    """One decoder layer of Qwen3-8B on one of 8 GPUs: 4 query heads, 1 KV head, MLP 12288/8 (random bf16)."""
    hidden, heads, inter, eps = 4096, 4, 1536, 1e-6

    def __init__(self, batch, context, page, budget, dtype, attention):
        import torch

        from kinetics.kernels import new_page_summaries, update_page_summaries

        g = torch.Generator(device="cuda").manual_seed(1)
        w = lambda *s: (torch.randn(*s, generator=g, device="cuda") / math.sqrt(s[0])).to(dtype)  # noqa: E731
        self.wqkv, self.wo = w(self.hidden, (self.heads + 2) * HEAD_DIM), w(self.heads * HEAD_DIM, self.hidden)
        self.wgu, self.wdown = w(self.hidden, 2 * self.inter), w(self.inter, self.hidden)
        self.batch, self.page, self.budget, self.attention, self.kind = batch, page, budget, attention, "mean"
        pages = -(-context // page)
        shape = (batch * pages, page, 1, HEAD_DIM)
        self.k_cache = torch.randn(shape, generator=g, device="cuda", dtype=dtype)
        self.v_cache = torch.randn(shape, generator=g, device="cuda", dtype=dtype)
        self.page_table = torch.randperm(batch * pages, generator=g, device="cuda").int().reshape(batch, pages)
        self.seq_lens = torch.full((batch,), context, dtype=torch.int32, device="cuda")
        last = (context - 1) // page
        self.write_page = self.page_table[:, last].long()
        self.write_slot = torch.full((batch,), (context - 1) % page, device="cuda", dtype=torch.long)
        self.summaries = new_page_summaries(batch * pages, 1, HEAD_DIM, "mean", dtype=dtype, device="cuda")
        update_page_summaries(self.k_cache, self.page_table, self.seq_lens, self.summaries,
                              start_lens=torch.zeros_like(self.seq_lens))
        self.x = torch.randn(batch, self.hidden, generator=g, device="cuda", dtype=dtype)

    def _norm(self, x):
        import torch

        return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)

    def step(self):
        import torch

        from kinetics.kernels import block_topk_decode, paged_decode, update_page_summaries

        x = self.x
        qkv = self._norm(x) @ self.wqkv
        q, k, v = qkv.view(self.batch, self.heads + 2, HEAD_DIM).split([self.heads, 1, 1], dim=1)
        q, k = self._norm(q).contiguous(), self._norm(k)  # Qwen3's q/k norms (weights of 1); no RoPE, as upstream
        self.k_cache[self.write_page, self.write_slot] = k
        self.v_cache[self.write_page, self.write_slot] = v
        if self.attention == "dense":
            attn = paged_decode(q, self.k_cache, self.v_cache, self.page_table, self.seq_lens, validate=False)
        else:
            update_page_summaries(self.k_cache, self.page_table, self.seq_lens, self.summaries, validate=False)
            attn, _ = block_topk_decode(q, self.k_cache, self.v_cache, self.page_table, self.seq_lens,
                                        self.summaries, self.budget, num_sink_pages=1, validate=False)
        x = x + attn.reshape(self.batch, -1) @ self.wo
        gate, up = (self._norm(x) @ self.wgu).split(self.inter, dim=-1)
        return x + (torch.nn.functional.silu(gate) * up) @ self.wdown


def bench_layer(batch, context, page, budget, dtype, repeats) -> dict:
    import torch

    row = {"batch": batch, "context": context, "page_size": page, "budget_pages": budget,
           "budget_tokens": budget * page, "model": "Qwen3-8B layer / 8 GPUs (4 q heads, 1 KV head)"}
    for attention in ("dense", "block_topk"):
        layer = Qwen3LayerShard(batch, context, page, budget, dtype, attention)
        layer.step()  # compile
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            layer.step()
        t = time_ms(graph.replay, repeats)
        row[attention] = t
        row[f"{attention}_tokens_per_s"] = batch / (t["median_ms"] * 1e-3 * WORLD * LAYERS)
        del graph, layer
        torch.cuda.empty_cache()
    row["speedup"] = row["block_topk_tokens_per_s"] / row["dense_tokens_per_s"]
    return row


def kernel_resources() -> dict:
    """Registers, spills and shared memory of every compiled variant of our kernels (Triton's report)."""
    report = {}
    try:
        _collect_resources(report)
    except Exception as error:  # the report is a diagnostic; Triton's cache layout differs between versions
        report["error"] = repr(error)
    return report


def _collect_resources(report: dict) -> None:
    for module, name in (("paged_decode", "_decode_split_kernel"), ("paged_decode", "_combine_splits"),
                         ("block_topk", "_select_kernel"), ("block_topk", "_score_kernel"),
                         ("block_topk", "_select_from_keys_kernel"), ("page_summary", "_summary_kernel")):
        fn = getattr(importlib.import_module(f"kinetics.kernels.{module}"), name)
        caches = getattr(fn, "device_caches", None) or getattr(fn, "cache", {})
        entries = []
        for cache in caches.values():
            cache = cache[0] if isinstance(cache, tuple) else cache
            for compiled in cache.values():
                entries.append({"n_regs": getattr(compiled, "n_regs", None),
                                "n_spills": getattr(compiled, "n_spills", None),
                                "shared_bytes": getattr(compiled, "shared", None),
                                "num_warps": getattr(getattr(compiled, "metadata", None), "num_warps", None)})
        report[name] = entries


def tune(out: Path, repeats: int = 15) -> None:
    """Time launch-parameter variants (kernels' CONFIG) at three TARGETS.md shapes; write a table to `out`."""
    import copy
    import itertools

    import torch

    bt = importlib.import_module("kinetics.kernels.block_topk")  # the modules (the package exports functions)
    pd = importlib.import_module("kinetics.kernels.paged_decode")
    base_bt, base_pd = copy.deepcopy(bt.CONFIG), copy.deepcopy(pd.CONFIG)
    rows_out = []
    for rows, context, page, selected in [(2048, 32768, 16, 65), (512, 32768, 16, 65), (2048, 8192, 16, 65),
                                          (2048, 32768, 64, 17)]:
        torch.cuda.empty_cache()
        p = Problem(rows, context, page, 4, torch.bfloat16)
        sel = bt.select_pages(p.q, p.summaries, p.page_table, p.seq_lens, page, selected, num_sink_pages=0,
                              validate=False, method="fused")
        shape = {"rows": rows, "context": context, "page_size": page, "selected_pages": selected}

        def record(kernel, variant, fn, nbytes):
            t = time_ms(fn, repeats)["median_ms"]
            rows_out.append({**shape, "kernel": kernel, "variant": variant, "median_ms": t,
                             "tbps": nbytes / (t * 1e-3) / 1e12})
            print(f"tune {rows} x {context} page {page}: {kernel} {variant}: {t:.3f} ms "
                  f"{rows_out[-1]['tbps']:.2f} TB/s", flush=True)

        def select(method):
            return bt.select_pages(p.q, p.summaries, p.page_table, p.seq_lens, page, selected, num_sink_pages=0,
                                   validate=False, method=method)

        pages_pad = max(16, 1 << (p.pages_per_row - 1).bit_length())
        common = dict(GROUP=4, GROUP_PAD=4, HEAD_DIM=HEAD_DIM, PAGE=page, MINMAX=False)
        for chunk, warps, radix in itertools.product((32, 128), (4, 8), (1, 4)):
            bt.CONFIG.update(copy.deepcopy(base_bt))
            bt.CONFIG["fused_chunk"][HEAD_DIM], bt.CONFIG["fused_warps"], bt.CONFIG["radix_bits"] = chunk, warps, radix
            assert torch.equal(select("fused"), sel)
            record("select_fused", f"chunk={chunk} warps={warps} radix={radix}", lambda: select("fused"),
                   p.summary_bytes())
        for chunk, warps in itertools.product((64, 128, 256), (2, 4, 8)):
            bt.CONFIG.update(copy.deepcopy(base_bt))
            bt.CONFIG["score_chunk"][HEAD_DIM], bt.CONFIG["score_warps"] = chunk, warps
            record("score_pass", f"chunk={chunk} warps={warps}", lambda: bt._score_pass(
                p.q, p.summaries, p.page_table, p.seq_lens, pages_pad, 0, common), p.summary_bytes())
        bt.CONFIG.update(copy.deepcopy(base_bt))
        keys = bt._score_pass(p.q, p.summaries, p.page_table, p.seq_lens, pages_pad, 0, common)
        chosen = torch.empty_like(sel)
        for radix, warps in itertools.product((1, 4), (4, 8, 16)):
            bt.CONFIG["radix_bits"], bt.CONFIG["select_warps"] = radix, warps
            bt._select_pass(keys, p.seq_lens, chosen, selected, 0, page)
            assert torch.equal(chosen, sel)
            record("select_pass", f"radix={radix} warps={warps}", lambda: bt._select_pass(
                keys, p.seq_lens, chosen, selected, 0, page), keys.numel() * 4)
        for chunk, warps, radix in itertools.product((64, 128), (2, 4), (1, 4)):
            bt.CONFIG.update(copy.deepcopy(base_bt))
            bt.CONFIG["score_chunk"][HEAD_DIM], bt.CONFIG["score_warps"], bt.CONFIG["radix_bits"] = chunk, warps, radix
            assert torch.equal(select("two_pass"), sel)
            record("select_two_pass", f"chunk={chunk} warps={warps} radix={radix}", lambda: select("two_pass"),
                   p.summary_bytes())
        bt.CONFIG.update(copy.deepcopy(base_bt))
        kv = p.kv_bytes(selected * page)
        for block_n, warps, stages, splits in itertools.product((32, 64), (4,), (2, 3), (1, 2)):
            pd.CONFIG["sparse"] = {**base_pd["sparse"], "block_n": {}, "block_n_default": block_n, "warps": {},
                                   "warps_default": warps, "stages": stages}
            record("sparse_attn", f"block_n={block_n} warps={warps} stages={stages} splits={splits}",
                   lambda: pd.sparse_paged_decode(p.q, p.k, p.v, p.page_table, p.seq_lens, sel, validate=False,
                                                  num_splits=splits), kv)
        pd.CONFIG.update(copy.deepcopy(base_pd))
        if rows == 0:  # dense variants: measured once (kernels/NOTES.md), off to save device time
            for block_n, stages in itertools.product((32, 64, 128), (2, 3, 4)):
                pd.CONFIG["dense"] = {**base_pd["dense"], "block_n": {}, "block_n_default": block_n,
                                      "stages": stages}
                record("dense", f"block_n={block_n} stages={stages}", lambda: pd.paged_decode(
                    p.q, p.k, p.v, p.page_table, p.seq_lens, validate=False), p.kv_bytes(context))
            pd.CONFIG.update(copy.deepcopy(base_pd))
        del p
    out.write_text(json.dumps(rows_out, indent=1))
    best = {}
    for r in rows_out:
        key = (r["rows"], r["context"], r["page_size"], r["kernel"])
        if key not in best or r["median_ms"] < best[key]["median_ms"]:
            best[key] = r
    for (rows, context, page, kernel), r in sorted(best.items()):
        print(f"best {kernel:16s} {rows:5d} x {context:6d} page {page:2d}: {r['variant']:32s} {r['median_ms']:.3f} ms "
              f"{r['tbps']:.2f} TB/s")


def run_attention(args) -> int:
    import torch

    from kinetics.paths import results_dir
    from kinetics.provenance import device_slug

    if not torch.cuda.is_available():
        raise InputError("kinetics bench attention needs a CUDA GPU; the saved results are in data/results/")
    flashinfer_on = not args.no_flashinfer
    if flashinfer_on:
        try:
            importlib.import_module("flashinfer")
        except ImportError as error:
            raise InputError(f"flashinfer is not importable ({error}); install flashinfer-python or pass "
                             "--no-flashinfer") from error
    out = args.out or results_dir(device_slug()) / "attention.json"
    if args.tune:
        tune(out.with_name("tune.json"))
        return 0
    command = "kinetics bench attention" + (" --quick" if args.quick else "") + (" --no-layer" if args.no_layer else "")
    repeats = 15 if args.quick else 30
    layer_shapes = [] if args.no_layer else ([(256, 8192), (256, 32768)] if args.quick else
                                             [(256, 8192), (256, 16384), (256, 32768), (1024, 8192), (1024, 32768)])
    result = measure(sweep_shapes(args.quick), flashinfer_on, repeats, layer_shapes, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print_table(result, sys.stdout)
    log.info("wrote %s", out)
    return 0


def measure(shapes, flashinfer_on: bool, repeats: int, layer_shapes, command: str) -> dict:
    """Time every shape (and the layer benchmark); the result dict that `kinetics bench attention` saves."""
    import torch

    from kinetics.provenance import provenance

    dtype = torch.bfloat16
    workspace = torch.zeros(256 * 2**20, dtype=torch.uint8, device="cuda")
    result = {"provenance": provenance(command), "copy_tbps": copy_bandwidth_tbps(), "shapes": [],
              "layer": []}
    log.info("device-to-device copy: %.2f TB/s", result["copy_tbps"])
    for rows, context, page, selected, group, shuffled in shapes:
        row = bench_shape(rows, context, page, selected, group, dtype, flashinfer_on, repeats, workspace, shuffled)
        result["shapes"].append(row)
        log.info("rows %5d ctx %6d page %2d sel %3d g %d | dense %.3f ms (FI %s) | top-k %.3f ms (sel %.3f + "
                 "attn %.3f; anchor %s) | err %.1e", rows, context, page, selected, group,
                 row["ours_dense"]["median_ms"], f"{row['flashinfer_dense']['median_ms']:.3f}" if flashinfer_on
                 else "-", row["ours_topk"]["median_ms"], row["ours_select"]["median_ms"],
                 row["ours_sparse_attn"]["median_ms"],
                 f"{row['anchor_total']['median_ms']:.3f}" if flashinfer_on else "-",
                 max(row["rel_err_dense_vs_torch"], row["rel_err_topk_vs_torch"]))
    set_ceiling(result)
    for batch, context in layer_shapes:
        row = bench_layer(batch, context, 16, 65, dtype, repeats)
        result["layer"].append(row)
        log.info("layer B %d ctx %d: dense %.0f tok/s, block top-k %.0f tok/s (%.2fx)", batch, context,
                 row["dense_tokens_per_s"], row["block_topk_tokens_per_s"], row["speedup"])
    result["kernel_resources"] = kernel_resources()
    result["launch_config"] = {"paged_decode": importlib.import_module("kinetics.kernels.paged_decode").CONFIG,
                               "block_topk": importlib.import_module("kinetics.kernels.block_topk").CONFIG}
    return result


def print_table(result: dict, stream) -> None:
    print(f"ceiling {result['ceiling_tbps']:.2f} TB/s ({result['ceiling_source']}); copy {result['copy_tbps']:.2f}",
          file=stream)
    print(" rows   ctx pg sel g | dense ms  TB/s  FI ms  ours/FI | topk ms sel ms  floor x  anchor ms  vs dense "
          "vs anchor | err", file=stream)
    for r in result["shapes"]:
        fi = r.get("flashinfer_dense", {}).get("median_ms", float("nan"))
        anchor = r.get("anchor_total", {}).get("median_ms", float("nan"))
        print(f"{r['rows']:5d} {r['context']:5d} {r['page_size']:2d} {r['selected_pages']:3d} {r['group']}"
              f"{'c' if r['page_order'] == 'contiguous' else ' '}| "
              f"{r['ours_dense']['median_ms']:7.3f} {r['ours_dense']['tbps']:5.2f} {fi:6.3f} "
              f"{r.get('dense_vs_flashinfer', float('nan')):7.2f} | {r['ours_topk']['median_ms']:7.3f} "
              f"{r['ours_select']['median_ms']:6.3f} {r['topk_over_floor']:7.2f} {anchor:9.3f} "
              f"{r.get('speedup_topk_vs_flashinfer_dense', float('nan')):8.1f} "
              f"{r.get('topk_vs_anchor', float('nan')):9.2f}"
              f" | {max(r['rel_err_dense_vs_torch'], r['rel_err_topk_vs_torch']):.1e}", file=stream)
    for r in result["layer"]:
        print(f"layer B {r['batch']} ctx {r['context']}: dense {r['dense_tokens_per_s']:.0f} tok/s/GPU, "
              f"block top-k {r['block_topk_tokens_per_s']:.0f} ({r['speedup']:.2f}x)", file=stream)
