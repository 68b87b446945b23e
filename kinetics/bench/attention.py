"""`kinetics bench attention`: the Triton decode kernels against the strongest baselines on a GPU, with provenance.

For each shape (rows = batch x KV heads, each row one KV head and `group` query heads, as the Kinetics authors split
Qwen3 over 8 GPUs) every contender is timed by one timer (kinetics.bench.timing.TIMER: `triton.testing.do_bench`, L2 cleared before
every call, median of >= 50 calls, random data, shuffled page tables):
  ours dense               paged_decode
  FlashInfer dense         BatchDecodeWithPagedKVCacheWrapper, its CUDA-core and tensor-core paths (faster kept)
  ours block top-k         block_topk_decode (selection included), and its two parts alone
  selection + FlashInfer   four selections, each writing the same FlashInfer index buffer, then FlashInfer's decode
                           over those pages: torch (one bmm over the whole per-request summary tensor, then slice,
                           torch.topk, gather through the page table), the same compiled by torch.compile, torch
                           scores + FlashInfer's own fused top-k + page-table transform, and our selection kernel
The strongest contender is the fastest selection + FlashInfer; speedups are stated against it. The bytes floor is
the bytes a step must move over FlashInfer's dense decode bandwidth measured in the same run.
A layer benchmark times one Qwen3-8B decoder layer split per KV head (the authors' `benchmark/`), dense vs block
top-k, in the authors' metric: decode tokens/s per GPU = batch / (layer time x 8 GPUs x 36 layers).
"""
from __future__ import annotations

import importlib
import json
import logging
import math
from pathlib import Path

from kinetics.bench.timing import TIMER, copy_bandwidth_tbps, time_ms
from kinetics.output import atomic_write

log = logging.getLogger(__name__)


# The four reference shapes: (rows, context, page, selected pages = top pages + the current page)
TARGET_SHAPES = [(2048, 8192, 16, 65), (2048, 32768, 16, 65), (512, 32768, 16, 65), (2048, 32768, 64, 17)]
HEAD_DIM = 128
DEVICE = "cuda"  # the tests run the harness's code paths on the CPU (interpreter) by changing this
LAYERS, WORLD = 36, 8  # Qwen3-8B: 36 layers, split over 8 GPUs in the authors' benchmark


# ---- one attention problem -------------------------------------------------------------------------------------------

class Problem:
    """rows decode rows of one KV head each, `context` tokens, shuffled physical pages, random bf16 data."""

    def __init__(self, rows, context, page, group, dtype, seed=0, kind="mean", shuffled=True):
        import torch

        from kinetics.kernels import new_page_summaries, update_page_summaries

        g = torch.Generator(device=DEVICE).manual_seed(seed)
        self.rows, self.context, self.page, self.group, self.kind = rows, context, page, group, kind
        self.pages_per_row = -(-context // page)
        num_pages = rows * self.pages_per_row
        shape = (num_pages, page, 1, HEAD_DIM)
        self.k = torch.randn(shape, generator=g, device=DEVICE, dtype=dtype)
        self.v = torch.randn(shape, generator=g, device=DEVICE, dtype=dtype)
        self.q = torch.randn(rows, group, HEAD_DIM, generator=g, device=DEVICE, dtype=dtype)
        perm = (torch.randperm(num_pages, generator=g, device=DEVICE) if shuffled
                else torch.arange(num_pages, device=DEVICE)).int()
        self.page_table = perm.reshape(rows, self.pages_per_row).contiguous()
        self.seq_lens = torch.full((rows,), context, dtype=torch.int32, device=DEVICE)
        self.summaries = new_page_summaries(num_pages, 1, HEAD_DIM, kind, dtype=dtype, device=DEVICE)
        update_page_summaries(self.k, self.page_table, self.seq_lens, self.summaries, kind,
                              start_lens=torch.zeros_like(self.seq_lens))

    def kv_bytes(self, tokens_per_row: int) -> int:
        return 2 * self.rows * tokens_per_row * HEAD_DIM * self.k.element_size()

    def io_bytes(self) -> int:  # q read, out written
        return 2 * self.q.numel() * self.q.element_size()

    def summary_bytes(self, element_size: int | None = None) -> int:
        """What selection must read: summaries (of `element_size` bytes per value, the problem's own by default)
        and the page table."""
        per_page = self.summaries.shape[2] * HEAD_DIM * (element_size or self.summaries.element_size()) + 4
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
    indptr = torch.arange(rows + 1, dtype=torch.int32, device=DEVICE) * pages_per_row
    last = problem.context - (problem.pages_per_row - 1) * problem.page
    last_page_len = torch.full((rows,), last, dtype=torch.int32, device=DEVICE)
    wrapper.plan(indptr, indices, last_page_len, problem.group, 1, HEAD_DIM, problem.page,
                 pos_encoding_mode="NONE", q_data_type=problem.q.dtype, kv_data_type=problem.k.dtype)
    return wrapper


def torch_top_pages(q, compressed, page_table, top: int):
    """The strongest torch selection we could write: one bmm over the whole per-request summary tensor
    [rows, pages, D] (slicing the summaries first doubles its time), then slice off the current page, torch.topk,
    and the physical pages through the page table. fp8 summaries are upcast to q's dtype for the bmm (torch has
    no fp8 batched matrix-vector product). Returns [rows, top] int32."""
    import torch

    if compressed.dtype == torch.float8_e4m3fn:
        compressed = compressed.to(q.dtype)
    scores = torch.bmm(compressed, q.sum(1)[:, :, None])[:, :, 0]
    best = scores[:, :-1].topk(top, dim=1, sorted=False).indices
    return torch.gather(page_table, 1, best)


def torch_page_scores_fused(q, compressed):
    """Page scores as one elementwise product and sum in float32: torch.compile turns it into a single reduction
    that reads the summaries once in their own dtype (fp8 included), where eager torch would upcast a copy."""
    return (compressed.float() * q.sum(1).float()[:, None, :]).sum(-1)


def torch_top_pages_fused(q, compressed, page_table, top: int):
    """torch_top_pages with the fused scores (for torch.compile)."""
    import torch

    best = torch_page_scores_fused(q, compressed)[:, :-1].topk(top, dim=1, sorted=False).indices
    return torch.gather(page_table, 1, best)


def per_request_summaries(summaries, page_table):
    """[rows, pages, D] copy of one KV head's page summaries in page-table order (the authors' layout)."""
    import torch

    rows = page_table.long()
    if summaries.dtype == torch.float8_e4m3fn:  # gather the bytes: fp8 indexing is not everywhere
        return summaries.view(torch.uint8)[rows, 0, 0].contiguous().view(summaries.dtype)
    return summaries[rows, 0, 0].contiguous()


def selection_contenders(problem, top: int, workspace, tensor_cores: bool, summaries=None) -> dict:
    """name -> (selection writing the FlashInfer index buffer, FlashInfer decode over it, the buffer).

    Every buffer is [rows, top + 1]: `top` selected pages, then the current (last) page. `summaries`: the page
    summaries every selection reads (the problem's own by default; fp8 ones for the fp8 round)."""
    import flashinfer
    import torch

    from kinetics.kernels import select_pages

    pt = problem.page_table
    summaries = problem.summaries if summaries is None else summaries
    compressed = per_request_summaries(summaries, pt)  # the authors' per-request layout, given free
    lengths = torch.full((problem.rows,), problem.pages_per_row - 1, dtype=torch.int32, device=DEVICE)
    import torch._dynamo

    torch._dynamo.reset()  # a fresh compile per shape (static shapes, no recompile limit)
    fp8 = summaries.dtype == torch.float8_e4m3fn
    # fp8: the compiled contender is the fused-score form (one reduction over the fp8 bytes), which beats
    # compiling the upcast + bmm; bf16: bmm is the fastest scoring we found
    compiled = torch.compile(torch_top_pages_fused if fp8 else torch_top_pages, fullgraph=True, dynamic=False)
    if fp8:
        scores_fn = torch.compile(torch_page_scores_fused, fullgraph=True, dynamic=False)
    else:
        def scores_fn(q, compressed):
            return torch.bmm(compressed, q.sum(1)[:, :, None])[:, :, 0]

    def buffer():
        indices = torch.empty(problem.rows, top + 1, dtype=torch.int32, device=DEVICE)
        indices[:, -1] = pt[:, -1]
        return indices

    def ours(indices):
        _, physical = select_pages(problem.q, summaries, pt, problem.seq_lens, problem.page, top + 1,
                                   num_sink_pages=0, validate=False, physical=True)
        indices.copy_(physical[:, 0])

    def flashinfer_topk(indices):
        indices[:, :top] = flashinfer.top_k_page_table_transform(scores_fn(problem.q, compressed), pt, lengths, top)

    selections = {
        "torch": lambda indices: indices[:, :top].copy_(torch_top_pages(problem.q, compressed, pt, top)),
        "torch_compiled": lambda indices: indices[:, :top].copy_(compiled(problem.q, compressed, pt, top)),
        "flashinfer_topk": flashinfer_topk,
        "ours_select": ours,
    }
    out = {}
    for name, select in selections.items():
        indices = buffer()
        try:
            select(indices)  # compiles / JIT-builds outside the timed region
        except Exception as error:  # a contender that cannot run here is reported, not fatal
            log.warning("contender %s failed: %r", name, error)
            out[name] = error
            continue
        wrapper = _flashinfer_wrapper(problem, indices.reshape(-1), top + 1, workspace, tensor_cores)
        out[name] = (lambda select=select, indices=indices: select(indices),
                     lambda wrapper=wrapper: wrapper.run(problem.q, (problem.k, problem.v)), indices)
    return out


def time_contenders(contenders: dict, runs: int, out_reference, reference_pages) -> dict:
    """Each contender's selection, attention and total times, and how its output and pages compare to ours."""
    import torch

    timed = {}
    for name, contender in contenders.items():
        if isinstance(contender, Exception):
            timed[name] = {"error": repr(contender)[:300]}
            continue
        select_fn, attend_fn, indices = contender
        out = attend_fn()
        timed[name] = {"select": time_ms(select_fn, runs), "attend": time_ms(attend_fn, runs),
                       "total": time_ms(lambda: (select_fn(), attend_fn()), runs),
                       "rel_err_vs_ours": _rel(out, out_reference),
                       "same_pages_as_ours": float((torch.sort(indices, dim=1).values == reference_pages)
                                                   .float().mean())}
    return timed


BASELINES = ("torch", "torch_compiled", "flashinfer_topk")  # the contenders that use none of our kernels


def bench_fp8_summaries(problem, budget, sink, sel_bf16, out_bf16, flashinfer_on, runs, workspace,
                        tensor_cores) -> dict:
    """The same shape with fp8 (e4m3) page summaries: our selection and block top-k, and every selection
    contender reading the fp8 summaries; agreement with the bf16 selection."""
    import torch

    from kinetics.kernels import block_topk_decode, new_page_summaries, select_pages, update_page_summaries

    q, k, v, pt, lens = problem.q, problem.k, problem.v, problem.page_table, problem.seq_lens
    summ = new_page_summaries(problem.summaries.shape[0], 1, HEAD_DIM, problem.kind, dtype=torch.float8_e4m3fn,
                              device=DEVICE)
    update_page_summaries(k, pt, lens, summ, problem.kind, start_lens=torch.zeros_like(lens))

    def select():
        return select_pages(q, summ, pt, lens, problem.page, budget, num_sink_pages=sink, validate=False,
                            physical=True)

    def topk(fused="auto"):
        return block_topk_decode(q, k, v, pt, lens, summ, budget, num_sink_pages=sink, validate=False,
                                 fused=fused)[0]

    sel, _ = select()
    out = topk()
    hits = (sel[..., :, None] == sel_bf16[..., None, :]) & (sel[..., :, None] >= 0)
    entry = {"summary_dtype": "float8_e4m3fn",
             "same_pages_as_bf16": float(hits.any(-1).sum() / (sel_bf16 >= 0).sum()),
             "rel_err_topk_vs_bf16_summaries": _rel(out, out_bf16),
             "rel_err_topk_vs_torch": _rel(out[:8], _reference_rows(problem, sel)),
             "ours_select": time_ms(select, runs), "ours_topk": time_ms(topk, runs),
             "ours_topk_fused": time_ms(lambda: topk(True), runs),
             "ours_topk_separate": time_ms(lambda: topk(False), runs)}
    if flashinfer_on:
        contenders = selection_contenders(problem, budget - 1, workspace, tensor_cores, summ)
        ours_pages = torch.sort(contenders["ours_select"][2], dim=1).values
        entry["contenders"] = time_contenders(contenders, runs, out, ours_pages)
    return entry


def bench_shape(rows, context, page, selected_pages, group, dtype, flashinfer_on, runs, workspace,
                shuffled=True, fp8_summaries=True):
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

    def dense():
        return paged_decode(q, k, v, pt, lens, validate=False)

    def select():
        return select_pages(q, summ, pt, lens, page, budget, num_sink_pages=sink, validate=False, physical=True)

    sel, selp = select()

    def sparse():
        return sparse_paged_decode(q, k, v, pt, lens, sel, validate=False, selected_physical=selp)

    def topk(fused=False):
        return block_topk_decode(q, k, v, pt, lens, summ, budget, num_sink_pages=sink, validate=False,
                                 fused=fused)[0]

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

    row["ours_dense"] = time_ms(dense, runs)
    row["ours_select"] = time_ms(select, runs)
    row["ours_sparse_attn"] = time_ms(sparse, runs)
    row["ours_topk_fused"] = time_ms(lambda: topk(True), runs)
    row["ours_topk_separate"] = time_ms(lambda: topk(False), runs)
    row["ours_topk"] = time_ms(lambda: topk("auto"), runs)  # the API's default: block_topk_decode()

    if flashinfer_on:
        # FlashInfer's two decode paths (CUDA cores, the default; tensor cores): the faster one is the baseline
        for cores in (False, True):
            fi_dense = _flashinfer_wrapper(problem, pt.reshape(-1), problem.pages_per_row, workspace, cores)
            out_fi = fi_dense.run(q, (k, v))
            name = "tensor_cores" if cores else "cuda_cores"
            row[f"rel_err_dense_vs_flashinfer_{name}"] = _rel(out_dense, out_fi)
            row[f"rel_err_flashinfer_{name}_dense_vs_torch"] = _rel(out_fi[:len(ref_dense)], ref_dense)
            row[f"flashinfer_dense_{name}"] = time_ms(lambda: fi_dense.run(q, (k, v)), runs)
            del fi_dense, out_fi
        cores = row["flashinfer_dense_tensor_cores"]["median_ms"] < row["flashinfer_dense_cuda_cores"]["median_ms"]
        row["flashinfer_tensor_cores"] = cores
        row["flashinfer_dense"] = dict(row[f"flashinfer_dense_{'tensor_cores' if cores else 'cuda_cores'}"])
        contenders = selection_contenders(problem, selected_pages - 1, workspace, cores)
        ours_pages = torch.sort(contenders["ours_select"][2], dim=1).values
        row["contenders"] = time_contenders(contenders, runs, out_sparse, ours_pages)
        row["flashinfer_sparse_attn"] = dict(row["contenders"]["ours_select"]["attend"])  # FI over our pages
        del contenders
    if fp8_summaries:
        row["fp8"] = bench_fp8_summaries(problem, budget, sink, sel, out_sparse, flashinfer_on, runs, workspace,
                                         row.get("flashinfer_tensor_cores", False))

    tokens = min(selected_pages, problem.pages_per_row) * page
    row["bytes_dense"] = problem.kv_bytes(context) + problem.io_bytes()
    row["bytes_topk"] = problem.kv_bytes(tokens) + problem.summary_bytes() + problem.io_bytes()
    row["bytes_floor_ratio"] = row["bytes_dense"] / row["bytes_topk"]
    row["bytes_topk_fp8"] = problem.kv_bytes(tokens) + problem.summary_bytes(1) + problem.io_bytes()
    if "fp8" in row:
        for name in ("ours_topk", "ours_topk_fused", "ours_topk_separate"):
            row["fp8"][name]["tbps"] = row["bytes_topk_fp8"] / (row["fp8"][name]["median_ms"] * 1e-3) / 1e12
        row["fp8"]["ours_select"]["tbps"] = (problem.summary_bytes(1)
                                             / (row["fp8"]["ours_select"]["median_ms"] * 1e-3) / 1e12)
    for name, nbytes in (("ours_dense", row["bytes_dense"]), ("flashinfer_dense", row["bytes_dense"]),
                         ("flashinfer_dense_cuda_cores", row["bytes_dense"]),
                         ("flashinfer_dense_tensor_cores", row["bytes_dense"]),
                         ("ours_topk", row["bytes_topk"]), ("ours_topk_fused", row["bytes_topk"]),
                         ("ours_topk_separate", row["bytes_topk"]),
                         ("ours_sparse_attn", problem.kv_bytes(tokens)),
                         ("flashinfer_sparse_attn", problem.kv_bytes(tokens)),
                         ("ours_select", problem.summary_bytes())):
        if name in row:
            row[name]["tbps"] = nbytes / (row[name]["median_ms"] * 1e-3) / 1e12
    return row


def set_ceiling(result: dict) -> None:
    """The ceiling is FlashInfer's best dense decode bandwidth in this run (our own without FlashInfer), then every
    row's floors and ratios from it."""
    fi = [r["flashinfer_dense"]["tbps"] for r in result["shapes"] if "flashinfer_dense" in r]
    result["ceiling_tbps"] = max(fi) if fi else max(r["ours_dense"]["tbps"] for r in result["shapes"])
    result["ceiling_source"] = ("FlashInfer dense decode" if fi else "our dense decode (no FlashInfer)") + \
        ", best bandwidth in this run"
    finish_rows(result["shapes"], result["ceiling_tbps"])


def finish_rows(rows: list[dict], ceiling_tbps: float) -> None:
    """Floors, the strongest contender and the speedups once the ceiling is known."""
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
            row["sparse_attn_vs_flashinfer"] = (row["flashinfer_sparse_attn"]["median_ms"]
                                                / row["ours_sparse_attn"]["median_ms"])
        fp8 = row.get("fp8")
        if fp8:
            row["floor_topk_fp8_ms"] = row["bytes_topk_fp8"] / (ceiling_tbps * 1e12) * 1e3
            row["topk_fp8_over_floor"] = fp8["ours_topk"]["median_ms"] / row["floor_topk_ms"]
            row["topk_fp8_over_floor_fp8"] = fp8["ours_topk"]["median_ms"] / row["floor_topk_fp8_ms"]
        if "contenders" in row:
            # the strongest baseline: the fastest contender using none of our kernels, over both summary dtypes
            totals = {name: row["contenders"][name]["total"]["median_ms"] for name in BASELINES
                      if "total" in row["contenders"].get(name, {})}
            if fp8:
                totals.update({f"{name}+fp8": fp8["contenders"][name]["total"]["median_ms"] for name in BASELINES
                               if "total" in fp8.get("contenders", {}).get(name, {})})
            strongest = min(totals, key=totals.get)
            row["strongest"] = strongest
            row["strongest_ms"] = totals[strongest]
            row["topk_bf16_vs_strongest"] = totals[strongest] / row["ours_topk"]["median_ms"]
            ours = {"bf16": row["ours_topk"]["median_ms"]}
            if fp8:
                ours["fp8"] = fp8["ours_topk"]["median_ms"]
            row["ours_best_summaries"] = min(ours, key=ours.get)
            row["ours_best_ms"] = ours[row["ours_best_summaries"]]
            row["topk_vs_strongest"] = totals[strongest] / row["ours_best_ms"]
            row["speedup_strongest_vs_flashinfer_dense"] = row["flashinfer_dense"]["median_ms"] / totals[strongest]


def sweep_shapes(quick: bool) -> list[tuple]:
    """(rows, context, page, selected pages, group, shuffled pages): the reference shapes first, then one factor at a time."""
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

        g = torch.Generator(device=DEVICE).manual_seed(1)
        w = lambda *s: (torch.randn(*s, generator=g, device=DEVICE) / math.sqrt(s[0])).to(dtype)  # noqa: E731
        self.wqkv, self.wo = w(self.hidden, (self.heads + 2) * HEAD_DIM), w(self.heads * HEAD_DIM, self.hidden)
        self.wgu, self.wdown = w(self.hidden, 2 * self.inter), w(self.inter, self.hidden)
        self.batch, self.page, self.budget, self.attention, self.kind = batch, page, budget, attention, "mean"
        pages = -(-context // page)
        shape = (batch * pages, page, 1, HEAD_DIM)
        self.k_cache = torch.randn(shape, generator=g, device=DEVICE, dtype=dtype)
        self.v_cache = torch.randn(shape, generator=g, device=DEVICE, dtype=dtype)
        self.page_table = torch.randperm(batch * pages, generator=g, device=DEVICE).int().reshape(batch, pages)
        self.seq_lens = torch.full((batch,), context, dtype=torch.int32, device=DEVICE)
        last = (context - 1) // page
        self.write_page = self.page_table[:, last].long()
        self.write_slot = torch.full((batch,), (context - 1) % page, device=DEVICE, dtype=torch.long)
        self.summaries = new_page_summaries(batch * pages, 1, HEAD_DIM, "mean", dtype=dtype, device=DEVICE)
        update_page_summaries(self.k_cache, self.page_table, self.seq_lens, self.summaries,
                              start_lens=torch.zeros_like(self.seq_lens))
        self.x = torch.randn(batch, self.hidden, generator=g, device=DEVICE, dtype=dtype)

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


def bench_layer(batch, context, page, budget, dtype, runs) -> dict:
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
        t = time_ms(graph.replay, runs)
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


TUNE_DENSE_SHAPES = [(r, c) for r, c, _, _ in TARGET_SHAPES[:3]] + [(256, 16384), (512, 4096), (1024, 16384)]
TUNE_TILE_SHAPES = [(2048, 32768), (256, 16384)]  # the tile sweep: a full grid and a small one


TUNE_PARTS = ("dense", "select", "sparse")


def tune(out: Path, command: str, runs: int = 50, parts=TUNE_PARTS, quick: bool = False) -> None:
    """Time launch-parameter variants (kernels' CONFIG and split counts) at the reference shapes and the small
    grids of the sweep, FlashInfer beside them; write a table to `out` after each shape.

    parts: any of TUNE_PARTS. quick: the defaults against a few split counts and FlashInfer's tensor-core path
    only (the faster of its two at every reference shape on the H200), no tile sweep: a check of the chosen
    launch rule rather than a search."""
    import copy

    import torch

    from kinetics.bench.provenance import provenance

    bt = importlib.import_module("kinetics.kernels.block_topk")  # the modules (the package exports functions)
    pd = importlib.import_module("kinetics.kernels.paged_decode")
    base_bt, base_pd = copy.deepcopy(bt.CONFIG), copy.deepcopy(pd.CONFIG)
    rows_out = []
    workspace = torch.zeros(256 * 2**20, dtype=torch.uint8, device=DEVICE)

    def save():
        result = {"provenance": {**provenance(command), "timer": TIMER}, "base_config": {"paged_decode": base_pd,
                  "block_topk": base_bt}, "rows": rows_out}
        atomic_write(out, json.dumps(result, indent=1))   # after each part: a crash keeps the parts done

    def record(shape, kernel, variant, fn, nbytes):
        t = time_ms(fn, runs)["median_ms"]
        rows_out.append({**shape, "kernel": kernel, "variant": variant, "median_ms": t,
                         "tbps": nbytes / (t * 1e-3) / 1e12})

    def tiles():
        return [(n, w, st) for n in (32, 64, 128) for w in (4, 8) for st in (2, 3)]

    splits_tried = (None, 1, 2, 4) if quick else (None, 1, 2, 4, 8)
    fi_paths = (True,) if quick else (False, True)
    dense_shapes = TUNE_DENSE_SHAPES[:3] if quick else TUNE_DENSE_SHAPES  # quick: the reference shapes only
    for rows, context in dense_shapes if "dense" in parts else ():  # splits at the default tiles, then tiles
        torch.cuda.empty_cache()
        p = Problem(rows, context, 16, 4, torch.bfloat16)
        shape, nbytes = {"rows": rows, "context": context, "page_size": 16}, p.kv_bytes(context)
        for cores in fi_paths:
            fi = _flashinfer_wrapper(p, p.page_table.reshape(-1), p.pages_per_row, workspace, cores)
            record(shape, "flashinfer_dense", f"tensor_cores={cores}", lambda: fi.run(p.q, (p.k, p.v)), nbytes)
        for splits in splits_tried:
            record(shape, "dense", f"splits={splits or 'rule'}", lambda: pd.paged_decode(
                p.q, p.k, p.v, p.page_table, p.seq_lens, validate=False, num_splits=splits), nbytes)
        for block_n, warps, stages in tiles() if (rows, context) in TUNE_TILE_SHAPES and not quick else ():
            pd.CONFIG["dense"] = {**base_pd["dense"], "block_n": {}, "block_n_default": block_n, "warps": {},
                                  "warps_default": warps, "stages": stages}
            record(shape, "dense", f"block_n={block_n} warps={warps} stages={stages}", lambda: pd.paged_decode(
                p.q, p.k, p.v, p.page_table, p.seq_lens, validate=False), nbytes)
        pd.CONFIG.update(copy.deepcopy(base_pd))
        del p
        save()

    select_shapes = TARGET_SHAPES[2:3] if quick else TARGET_SHAPES[1:3]  # quick: 512 rows x 32k, the few-rows case
    for rows, context, page, selected in select_shapes if {"select", "sparse"} & set(parts) else ():
        torch.cuda.empty_cache()
        p = Problem(rows, context, page, 4, torch.bfloat16)
        sel, selp = bt.select_pages(p.q, p.summaries, p.page_table, p.seq_lens, page, selected, num_sink_pages=0,
                                    validate=False, physical=True)
        shape = {"rows": rows, "context": context, "page_size": page, "selected_pages": selected}
        pages_pad = max(16, 1 << (p.pages_per_row - 1).bit_length())
        common = dict(GROUP=4, GROUP_PAD=4, HEAD_DIM=HEAD_DIM, PAGE=page, MINMAX=False)
        fp8 = p.summaries.to(torch.float8_e4m3fn)
        for summaries, label, nbytes in ((p.summaries, "bf16", p.summary_bytes()), (fp8, "fp8", p.summary_bytes(1))
                                         ) if "select" in parts else ():
            for chunk, warps in [(c, w) for c in (64, 128) for w in (2, 4)]:
                bt.CONFIG["score_chunk"][HEAD_DIM], bt.CONFIG["score_warps"] = chunk, warps
                record(shape, f"score_pass_{label}", f"chunk={chunk} warps={warps}", lambda: bt._score_pass(
                    p.q, summaries, p.page_table, p.seq_lens, pages_pad, 0, common), nbytes)
            bt.CONFIG.update(copy.deepcopy(base_bt))
        keys = bt._score_pass(p.q, p.summaries, p.page_table, p.seq_lens, pages_pad, 0, common)
        chosen, chosen_phys = torch.empty_like(sel), torch.empty_like(sel)
        for warps in (2, 4, 8) if "select" in parts else ():
            bt.CONFIG["select_warps"] = warps
            bt._select_pass(keys, p.seq_lens, p.page_table, chosen, chosen_phys, selected, 0, page)
            assert torch.equal(chosen, sel)
            record(shape, "select_pass", f"warps={warps}", lambda: bt._select_pass(
                keys, p.seq_lens, p.page_table, chosen, chosen_phys, selected, 0, page), keys.numel() * 4)
        bt.CONFIG.update(copy.deepcopy(base_bt))
        kv = p.kv_bytes(selected * page)
        sparse = lambda splits=None: pd.sparse_paged_decode(  # noqa: E731
            p.q, p.k, p.v, p.page_table, p.seq_lens, sel, validate=False, num_splits=splits, selected_physical=selp)
        indices = selp[:, 0].contiguous().reshape(-1)
        for cores in fi_paths if "sparse" in parts else ():
            fi = _flashinfer_wrapper(p, indices, selected, workspace, cores)
            record(shape, "flashinfer_sparse", f"tensor_cores={cores}", lambda: fi.run(p.q, (p.k, p.v)), kv)
        for splits in splits_tried if "sparse" in parts else ():
            record(shape, "sparse_attn", f"splits={splits or 'rule'}", lambda: sparse(splits), kv)
        for block_n, warps, stages in tiles() if "sparse" in parts and not quick else ():
            pd.CONFIG["sparse"] = {**base_pd["sparse"], "block_n": {}, "block_n_default": block_n, "warps": {},
                                   "warps_default": warps, "stages": stages}
            record(shape, "sparse_attn", f"block_n={block_n} warps={warps} stages={stages}", sparse, kv)
        pd.CONFIG.update(copy.deepcopy(base_pd))
        del p, fp8
        save()
    best = {}
    for r in rows_out:
        key = (r["rows"], r["context"], r["page_size"], r["kernel"])
        if key not in best or r["median_ms"] < best[key]["median_ms"]:
            best[key] = r
    for (rows, context, page, kernel), r in sorted(best.items()):
        print(f"best {kernel:18s} {rows:5d} x {context:6d} page {page:2d}: {r['variant']:36s} {r['median_ms']:.4f} ms "
              f"{r['tbps']:.2f} TB/s")


def measure(shapes, flashinfer_on: bool, runs: int, layer_shapes, command: str) -> dict:
    """Time every shape (and the layer benchmark); the result dict that `kinetics bench attention` saves."""
    import torch

    from kinetics.bench.provenance import provenance

    dtype = torch.bfloat16
    workspace = torch.zeros(256 * 2**20, dtype=torch.uint8, device=DEVICE)
    result = {"provenance": {**provenance(command), "timer": TIMER},
              "copy_tbps": copy_bandwidth_tbps(),
              "shapes": [], "layer": []}
    log.info("device-to-device copy: %.2f TB/s", result["copy_tbps"])
    for rows, context, page, selected, group, shuffled in shapes:
        row = bench_shape(rows, context, page, selected, group, dtype, flashinfer_on, runs, workspace, shuffled)
        result["shapes"].append(row)
        totals = {n: f"{c['total']['median_ms']:.3f}" for n, c in row.get("contenders", {}).items()}
        log.info("rows %5d ctx %6d page %2d sel %3d g %d | dense %.3f ms (FI %s) | top-k %.3f ms (sel %.3f + "
                 "attn %.3f) | selection + FlashInfer %s | err %.1e", rows, context, page, selected, group,
                 row["ours_dense"]["median_ms"], f"{row['flashinfer_dense']['median_ms']:.3f}" if flashinfer_on
                 else "-", row["ours_topk"]["median_ms"], row["ours_select"]["median_ms"],
                 row["ours_sparse_attn"]["median_ms"], totals,
                 max(row["rel_err_dense_vs_torch"], row["rel_err_topk_vs_torch"]))
    set_ceiling(result)
    for batch, context in layer_shapes:
        row = bench_layer(batch, context, 16, 65, dtype, runs)
        result["layer"].append(row)
        log.info("layer B %d ctx %d: dense %.0f tok/s, block top-k %.0f tok/s (%.2fx)", batch, context,
                 row["dense_tokens_per_s"], row["block_topk_tokens_per_s"], row["speedup"])
    result["kernel_resources"] = kernel_resources()
    result["launch_config"] = {"paged_decode": importlib.import_module("kinetics.kernels.paged_decode").CONFIG,
                               "block_topk": importlib.import_module("kinetics.kernels.block_topk").CONFIG}
    return result
