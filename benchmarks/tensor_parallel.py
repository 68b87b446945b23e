"""Tensor parallel on GPUs: decode steps of the Qwen3-32B and Qwen3-30B-A3B shapes on one rank or N, and NCCL.

    python benchmarks/tensor_parallel.py --tp 1 --out tp1.json
    torchrun --nproc-per-node 2 benchmarks/tensor_parallel.py --tp 2 --out tp2.json

Random weights (seeded), random cache contents, random page tables. One decode step = the CUDA-graph replay of
every layer (with its all-reduces) + the LM head + the logits all-gather + argmax, CUDA-event median over repeats.
Points: batch 4 at 16k and batch 16 at 4k (both fit one GPU), and the largest batch the cache holds at 16k.
`nccl` (N > 1): all-reduce time and bus bandwidth over message sizes, and the 2 x layers all-reduces of one decode
step captured in a graph and replayed alone. Rank 0 writes the JSON after every model (provenance included).
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time

import torch

from kinetics.engine import LLM, AttentionConfig
from kinetics.engine import parallel
from kinetics.engine.block_manager import pages_for
from kinetics.engine.attention import ForwardMeta
from kinetics.kernels.bench import time_ms
from kinetics.models import get_model
from kinetics.provenance import provenance

log = logging.getLogger("tensor_parallel")
CONTEXT_LONG, CONTEXT_SHORT = 16384, 4096
ALL_REDUCES = ("nccl", "one_shot", "two_shot")
ATTENTION = {"dense": AttentionConfig(), "blocktopk": AttentionConfig(kind="blocktopk", budget=1024, page_size=16)}


def nccl_sweep(device) -> list[dict]:
    """All-reduce of bf16 messages from 8 KB to 256 MB: median time and bus bandwidth 2(N-1)/N * bytes / time."""
    n = parallel.world_size()
    rows = []
    for log2 in range(13, 29, 1):
        x = torch.randn(2 ** log2 // 2, dtype=torch.bfloat16, device=device)
        ms = time_ms(lambda: parallel.all_reduce(x), repeats=20, warmup=3)["median_ms"]
        rows.append({"bytes": 2 ** log2, "ms": ms, "bus_gbps": 2 * (n - 1) / n * 2 ** log2 / (ms * 1e-3) / 1e9})
    return rows


def allreduce_per_step(device, layers: int, hidden: int, batch: int) -> float:
    """ms of the 2 x layers all-reduces of [batch, hidden] bf16 one decode step does, in one CUDA graph."""
    x = torch.randn(batch, hidden, dtype=torch.bfloat16, device=device)
    for _ in range(2):
        parallel.all_reduce(x)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(2 * layers):
            parallel.all_reduce(x)
    return time_ms(graph.replay, repeats=20, warmup=3)["median_ms"]


def check_grouped_experts(device) -> dict:
    """The MoE layer's grouped products against the per-expert loop, bf16 on this GPU, 30B-A3B expert shapes."""
    from kinetics.engine import qwen3

    torch.manual_seed(0)
    experts = qwen3.Qwen3Experts(128, 2048, 768).to(device=device, dtype=torch.bfloat16)
    torch.nn.init.normal_(experts.gate_up_proj, std=0.02)
    torch.nn.init.normal_(experts.down_proj, std=0.02)
    x = torch.randn(64, 2048, device=device, dtype=torch.bfloat16)
    picked = torch.rand(64, 128, device=device).topk(8, dim=-1).indices
    weights = torch.rand(64, 8, device=device, dtype=torch.bfloat16)
    grouped = experts(x, picked, weights).double()
    qwen3.GROUPED_MM = False
    loop = experts(x, picked, weights).double()
    qwen3.GROUPED_MM = True
    return {"rel_error_vs_loop": float((grouped - loop).norm() / loop.norm()), "rows": 64, "top_k": 8}


def time_decode_step(runner, batch: int, context: int, pages_each: int) -> float:
    """Median ms of one decode step (graph replay or eager forward, logits, argmax) for `batch` random rows."""
    size = min((s for s in runner.graphs if s >= batch), default=batch)
    page, scratch, device = runner.attention_config.page_size, runner.cache.scratch_page, runner.device
    perm = torch.randperm(runner.num_pages, device=device)[:batch * pages_each].view(batch, pages_each)
    table = torch.full((size, runner.max_pages_per_seq), scratch, dtype=torch.int64, device=device)
    table[:batch, :pages_each] = perm
    lens = torch.ones(size, dtype=torch.int64, device=device)
    lens[:batch] = context
    positions = (lens - 1).clone()
    ids = torch.randint(0, runner.model_config.vocab_size, (size,), device=device)
    slots = torch.full((size,), scratch * page, dtype=torch.int64, device=device)
    slots[:batch] = perm[:, (context - 1) // page] * page + (context - 1) % page
    if runner.graphs:
        for buffer, value in zip(runner._static_inputs, (ids, positions, slots, table, lens)):
            buffer[:size].copy_(value)

    @torch.inference_mode()
    def step():
        if runner.graphs:
            runner.graphs[size].replay()
            hidden = runner._static_hidden[size]
        else:
            meta = ForwardMeta(is_prefill=False, slot_mapping=slots, page_table=table, context_lens=lens)
            hidden = runner.model(ids, positions, runner.attention, meta)
        runner.model.logits(hidden[:batch]).argmax(-1)

    return time_ms(step, repeats=10, warmup=2)["median_ms"]


def measure_model(name: str, kind: str, tp: int, points, largest_at_long: bool, all_reduce: str) -> dict:
    """Build the model once, then time one decode step at each (batch, context)."""
    parallel.use_all_reduce(all_reduce, torch.device("cuda", torch.cuda.current_device()))
    spec = get_model(name)
    attention = ATTENTION[kind]
    started = time.perf_counter()
    llm = LLM(spec.config, device="cuda", attention=attention, seed=0, max_model_len=CONTEXT_LONG + 16,
              max_num_seqs=16, cuda_graphs=False, tensor_parallel=tp)
    runner = llm.runner
    page = attention.page_size
    largest = runner.num_pages // pages_for(CONTEXT_LONG, page)
    points = list(points) + ([(largest, CONTEXT_LONG)] if largest_at_long and largest > 0 else [])
    sizes = sorted({b for b, _ in points})
    runner.engine_config.max_num_seqs, runner.engine_config.graph_batch_sizes = max(sizes), sizes
    capture_error = None
    try:
        runner._capture_graphs()
    except RuntimeError as error:      # then time eager steps, and say so
        capture_error = str(error).splitlines()[0][:300]
        log.warning("CUDA graph capture failed (%s): timing eager decode steps", capture_error)
        runner.graphs = {}
        torch.cuda.synchronize()
    torch.manual_seed(0)
    for layer in range(spec.num_layers):        # random cache contents (never time zeros)
        runner.cache.k[layer].normal_()
        runner.cache.v[layer].normal_()
        if layer in runner.cache.ksum:
            runner.cache.ksum[layer].normal_()
    build_s = time.perf_counter() - started
    rows = []
    for batch, context in points:
        pages_each = pages_for(context, page)
        if batch * pages_each > runner.num_pages:
            rows.append({"batch": batch, "context": context, "fits": False})
            continue
        ms = time_decode_step(runner, batch, context, pages_each)
        rows.append({"batch": batch, "context": context, "fits": True, "step_ms": ms,
                     "tokens_per_s": batch / (ms * 1e-3)})
        log.info("%s %s tp=%d batch %d ctx %d: %.2f ms/step, %.0f tok/s", name, kind, tp, batch, context, ms,
                 batch / (ms * 1e-3))
    out = {"model": name, "attention": kind, "tp": tp, "all_reduce": all_reduce, "num_pages": runner.num_pages,
           "kv_tokens": runner.num_pages * page, "largest_batch_at_16k": largest, "memory": runner.memory,
           "weight_bytes_per_rank": sum(p.numel() * p.element_size() for p in runner.model.parameters()),
           "build_s": build_s, "cuda_graphs": not capture_error, "capture_error": capture_error, "points": rows}
    del llm, runner
    gc.collect()
    torch.cuda.empty_cache()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tp", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--parts", default="nccl,32b,moe")
    parser.add_argument("--seconds", type=float, default=400, help="start no new model after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    device = parallel.init(args.tp, torch.device("cuda", 0))
    torch.cuda.set_device(device)
    rank0 = parallel.rank() == 0
    parts = args.parts.split(",")
    record = provenance(" ".join(sys.argv))
    if os.environ.get("KINETICS_COMMIT"):     # the GPU's copy of the tree: git there may see another checkout
        record["commit"] = os.environ["KINETICS_COMMIT"] + " (from $KINETICS_COMMIT)"
    result = {"provenance": record, "tp": args.tp,
              "env": {k: os.environ.get(k) for k in ("NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST",
                                                      "NVSHMEM_DISABLE_NVLS")},
              "models": [], "skipped": []}

    def save():
        if rank0:
            tmp = args.out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(result, f, indent=1)
            os.replace(tmp, args.out)

    if "nccl" in parts and args.tp > 1:
        result["nccl"] = {"sweep": nccl_sweep(device), "per_step": []}
        for kind in ALL_REDUCES:
            try:
                parallel.use_all_reduce(kind, device)
                for m, b in (("qwen3-32b", 4), ("qwen3-32b", 16), ("qwen3-30b-a3b", 4), ("qwen3-30b-a3b", 16)):
                    ms = allreduce_per_step(device, get_model(m).num_layers, get_model(m).hidden_size, b)
                    result["nccl"]["per_step"].append({"all_reduce": kind, "model": m, "batch": b, "ms": ms})
            except (RuntimeError, AttributeError, ImportError) as error:
                result["nccl"][f"{kind}_error"] = str(error).splitlines()[0][:300]
        parallel.use_all_reduce("nccl", device)
        save()
    plan = []
    if "32b" in parts:
        plan += [("qwen3-32b", kind, True, "nccl") for kind in ("dense", "blocktopk")]
        if args.tp > 1:
            plan += [("qwen3-32b", "dense", False, kind) for kind in ALL_REDUCES[1:]
                     if f"{kind}_error" not in result.get("nccl", {})]
    if "moe" in parts:
        plan += [("qwen3-30b-a3b", "dense", False, "nccl"), ("qwen3-4b", "dense", False, "nccl")]
    if "moe" in parts:
        result["grouped_mm_check"] = check_grouped_experts(device)
    for name, kind, largest, all_reduce in plan:
        # every rank takes the same decision (one rank alone skipping a model would leave the others waiting)
        if not parallel.min_over_ranks(int(time.perf_counter() - start < args.seconds)):
            result["skipped"].append(f"{name} {kind}")
            continue
        try:
            result["models"].append(measure_model(name, kind, args.tp, [(4, CONTEXT_LONG), (16, CONTEXT_SHORT)],
                                                  largest, all_reduce))
        except (RuntimeError, AttributeError) as error:     # e.g. a symmetric-memory all-reduce that fails
            result["skipped"].append(f"{name} {kind} {all_reduce}: {str(error).splitlines()[0][:300]}")
        save()
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
