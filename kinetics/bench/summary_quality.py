"""What fp8 (e4m3) page summaries cost in selection quality: the same problem selected from bf16 and from fp8 mean
keys by our kernels, compared page by page and by the attention output against exact dense attention.

Three kinds of keys (random bf16 data, one KV head per row, `group` query heads):
  random   k, v, q standard normal: no page matters more than another, the hardest case for agreement
  hot      random plus `hot` pages per row whose keys lean towards the row's summed query (a few pages that
           hold most of the attention, as retrieval heads have)
  offset   hot plus one large per-channel offset shared by every key of the row (real keys carry such offsets):
           the mean keys are then large and alike, and their fp8 rounding error (1/16 of a value) is largest
           relative to what tells pages apart

Metrics per case: `agreement` = the share of the pages chosen from bf16 summaries (the current page and sinks
excluded) also chosen from fp8 summaries; `hot_recall_*` = the share of hot pages chosen; `err_*_vs_dense` =
||sparse output - exact dense output|| / ||exact dense output|| over all rows (float32 reference);
`err_fp8_vs_bf16` = the same between the two sparse outputs.

Run: python -m kinetics.bench.summary_quality --out PATH [--rows R --context C] (CUDA, or the CPU interpreter
with TRITON_INTERPRET=1 at small sizes).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

CASES = ("random", "hot", "offset")
HEAD_DIM, GROUP, PAGE = 128, 4, 16


def make_keys(case: str, rows: int, context: int, hot: int, gen, device):
    """(q [rows, GROUP, D], k, v [rows, context, D], hot page numbers [rows, hot]) in float32."""
    import torch

    q = torch.randn(rows, GROUP, HEAD_DIM, generator=gen, device=device)
    k = torch.randn(rows, context, HEAD_DIM, generator=gen, device=device)
    v = torch.randn(rows, context, HEAD_DIM, generator=gen, device=device)
    pages = context // PAGE
    # hot pages: never the first (a sink) or the last (the current page, always kept)
    hot_pages = torch.stack([torch.randperm(pages - 2, generator=gen, device=device)[:hot] + 1 for _ in range(rows)])
    if case in ("hot", "offset"):
        direction = q.sum(1) / q.sum(1).norm(dim=-1, keepdim=True)  # [rows, D]
        lean = torch.zeros(rows, pages, device=device)
        lean.scatter_(1, hot_pages, 16.0)  # along the summed query: ~ +8 logits per query head at D = 128
        k = k + (lean.repeat_interleave(PAGE, dim=1)[:, :, None] * direction[:, None, :])
    if case == "offset":
        k = k + 4.0 * torch.randn(rows, 1, HEAD_DIM, generator=gen, device=device)
    return q, k, v, hot_pages


def measure_case(case: str, rows: int, context: int, budget: int, hot: int, seed: int, device) -> dict:
    import torch

    from kinetics.kernels import new_page_summaries, select_pages, sparse_paged_decode, update_page_summaries

    gen = torch.Generator(device=device).manual_seed(seed)
    q, k, v, hot_pages = make_keys(case, rows, context, hot, gen, device)
    pages = context // PAGE
    dtype = torch.bfloat16
    q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    # the paged cache: row r's logical page p at a shuffled physical page
    table = torch.randperm(rows * pages, generator=gen, device=device).int().reshape(rows, pages)
    cache_k = torch.empty(rows * pages, PAGE, 1, HEAD_DIM, dtype=dtype, device=device)
    cache_v = torch.empty_like(cache_k)
    cache_k[table.long()] = k.reshape(rows, pages, PAGE, 1, HEAD_DIM)
    cache_v[table.long()] = v.reshape(rows, pages, PAGE, 1, HEAD_DIM)
    lens = torch.full((rows,), context, dtype=torch.int32, device=device)
    scores = (q.float() @ k.float().transpose(1, 2)) / math.sqrt(HEAD_DIM)  # exact dense, float32
    dense = torch.softmax(scores, dim=-1) @ v.float()
    row = {"case": case, "rows": rows, "context": context, "budget_pages": budget, "hot_pages": hot,
           "page_size": PAGE, "group": GROUP, "head_dim": HEAD_DIM, "seed": seed}
    chosen, outs = {}, {}
    for name, storage in (("bf16", torch.bfloat16), ("fp8", torch.float8_e4m3fn)):
        summaries = new_page_summaries(rows * pages, 1, HEAD_DIM, "mean", dtype=storage, device=device)
        update_page_summaries(cache_k, table, lens, summaries, start_lens=torch.zeros_like(lens))
        if name == "fp8":
            row["clamped_share"] = float((summaries.float().abs() >= 448).float().mean())
        selected = select_pages(q, summaries, table, lens, PAGE, budget, num_sink_pages=1)
        outs[name] = sparse_paged_decode(q, cache_k, cache_v, table, lens, selected).float()
        mask = torch.zeros(rows, pages, dtype=torch.bool, device=device)
        sel = selected[:, 0].long()
        mask.scatter_(1, sel.clamp(min=0), sel >= 0)
        chosen[name] = mask
        row[f"hot_recall_{name}"] = float(mask.gather(1, hot_pages).float().mean())
        row[f"err_{name}_vs_dense"] = float((outs[name] - dense).norm() / dense.norm())
    free = chosen["bf16"].clone()
    free[:, 0] = free[:, -1] = False  # the sink and the current page are chosen whatever the summaries say
    row["agreement"] = float((free & chosen["fp8"]).sum() / free.sum())
    row["err_fp8_vs_bf16"] = float((outs["fp8"] - outs["bf16"]).norm() / outs["bf16"].norm())
    return row


def measure(rows: int, context: int, budget: int, hot: int, seeds: int, device) -> list[dict]:
    return [measure_case(case, rows, context, budget, hot, seed, device) for case in CASES for seed in range(seeds)]


def main(argv=None) -> int:
    import torch

    from kinetics.bench.provenance import portable_command, provenance
    from kinetics.errors import InputError
    from kinetics.output import atomic_write, check_output

    parser = argparse.ArgumentParser(prog="python -m kinetics.bench.summary_quality", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--context", type=int, default=32768)
    parser.add_argument("--budget", type=int, default=65, help="pages kept per row, sink and current page included")
    parser.add_argument("--hot", type=int, default=8, help="hot pages per row")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        out = check_output(args.out, "--out", args.force, (".json",), create_parent=True)
        if args.context % PAGE or args.context // PAGE < args.hot + 2 or args.budget < 2 or args.rows < 1:
            raise InputError(f"--context must be a multiple of {PAGE} with room for --hot {args.hot} pages, "
                             f"--budget >= 2, --rows >= 1")
    except InputError as error:
        print(f"kinetics: error: {error}", file=sys.stderr)
        return 2
    device = "cuda" if torch.cuda.is_available() else "cpu"
    command = portable_command(" ".join(["python -m kinetics.bench.summary_quality", *sys.argv[1:]]))
    result = {"provenance": provenance(command), "summary": __doc__.split("\n\n")[0],
              "cases": measure(args.rows, args.context, args.budget, args.hot, args.seeds, device)}
    atomic_write(out, json.dumps(result, indent=1))
    for r in result["cases"]:
        print(f"{r['case']:7s} seed {r['seed']}: agreement {r['agreement']:.3f} hot recall bf16 "
              f"{r['hot_recall_bf16']:.3f} fp8 {r['hot_recall_fp8']:.3f} | err vs dense bf16 "
              f"{r['err_bf16_vs_dense']:.4f} fp8 {r['err_fp8_vs_dense']:.4f} | fp8 vs bf16 {r['err_fp8_vs_bf16']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
