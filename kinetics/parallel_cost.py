"""The cost of one decode step split over N GPUs by tensor parallelism: kinetics.cost's step / N + communication.

Each rank holds 1/N of every weight matrix and of the KV heads, so it reads 1/N of the bytes and does 1/N of the
FLOPs of the one-GPU step (the norms and the MoE router, which every rank repeats, are under 0.1% of the
weights). What the split adds is communication: two all-reduces of the [batch, hidden] activations per layer and
one all-gather of the [batch, vocab] float32 logits per step. Each collective pays a latency (the messages of a
decode step are tens of kilobytes: latency is most of their cost) and moves 2(N-1)/N (all-reduce) or (N-1)/N
(all-gather) of the message through each GPU's link at the link's bus bandwidth, as a ring does. Chapter 6 fits
the two link numbers to NCCL on two GPUs; how the latency grows with N was not measured (see `Link`).
"""
from __future__ import annotations

from dataclasses import dataclass

from kinetics.errors import InputError, check_positive


@dataclass(frozen=True)
class Link:
    """A GPU-to-GPU interconnect as collectives see it: latency per collective (s) and bus bandwidth (bytes/s).

    The latency is taken as the same for any number of ranks: true of NCCL's tree and low-latency protocols on a
    switched NVLink fabric to first order, an optimistic assumption for a plain ring (whose latency grows with N).
    """

    latency_s: float
    bus_bandwidth: float

    def __post_init__(self):
        check_positive("link latency", self.latency_s)
        check_positive("link bus bandwidth", self.bus_bandwidth)

    def all_reduce_seconds(self, nbytes: float, ranks: int) -> float:
        return 0.0 if ranks == 1 else self.latency_s + 2 * (ranks - 1) / ranks * nbytes / self.bus_bandwidth

    def all_gather_seconds(self, nbytes: float, ranks: int) -> float:
        """nbytes: the gathered result (each rank contributes nbytes / ranks)."""
        return 0.0 if ranks == 1 else self.latency_s + (ranks - 1) / ranks * nbytes / self.bus_bandwidth


def fit_link(sizes_bytes, seconds, ranks: int) -> Link:
    """The Link whose all-reduce times best match measured (size, seconds) pairs: least squares on relative
    error, so that microsecond messages count as much as 100-millisecond ones."""
    import numpy as np

    sizes, times = np.asarray(sizes_bytes, float), np.asarray(seconds, float)
    if sizes.size < 2 or ranks < 2:
        raise InputError("fitting a link needs at least two all-reduce sizes measured on at least two ranks")
    design = np.stack([np.ones_like(sizes), 2 * (ranks - 1) / ranks * sizes], axis=1) / times[:, None]
    (latency, inverse_bw), *_ = np.linalg.lstsq(design, np.ones_like(times), rcond=None)
    return Link(latency_s=float(latency), bus_bandwidth=float(1 / inverse_bw))


def decode_step_seconds(model, hardware, attention, batch: int, context: int) -> dict:
    """kinetics.cost's time of one decode step on one GPU: `batch` requests whose cache holds `context` tokens
    after the step (the difference between generating two tokens and one, exact convention)."""
    from kinetics import cost

    def total(gen):
        return cost.generation_cost(model, hardware, context - 1, gen, attention=attention, convention="exact",
                                    batch_size=batch)

    one, two = total(1), total(2)
    return {"seconds": batch * (two.seconds - one.seconds),
            "compute_seconds": batch * (two.compute_seconds - one.compute_seconds),
            "memory_seconds": batch * (two.memory_seconds - one.memory_seconds)}


def tensor_parallel_step(model, hardware, attention, batch: int, context: int, ranks: int, link: Link,
                         activation_bytes: int = 2, per_layer_overhead_s: float = 0.0) -> dict:
    """Seconds of one decode step on `ranks` GPUs: the one-GPU step / ranks + the step's collectives, plus an
    optional fixed cost per layer (kernel launches and small-kernel latency, chapter 5) that no split shrinks."""
    if not isinstance(ranks, int) or ranks < 1:
        raise InputError(f"ranks must be a positive integer, got {ranks!r}")
    if model.num_kv_heads % ranks:
        raise InputError(f"{ranks} ranks do not divide {model.name}'s {model.num_kv_heads} KV heads")
    one = decode_step_seconds(model, hardware, attention, batch, context)["seconds"]
    reduces = 2 * model.num_layers * link.all_reduce_seconds(batch * model.hidden_size * activation_bytes, ranks)
    gather = link.all_gather_seconds(batch * model.vocab_size * 4, ranks)
    split, fixed = one / ranks, model.num_layers * per_layer_overhead_s
    total = split + fixed + reduces + gather
    return {"seconds": total, "split_seconds": split, "fixed_seconds": fixed, "all_reduce_seconds": reduces,
            "all_gather_seconds": gather, "one_gpu_seconds": one + fixed, "speedup": (one + fixed) / total}


def load_scale_out(device: str) -> dict[int, dict]:
    """{ranks: result} of benchmarks/tensor_parallel.py saved under data/results/<device>/."""
    import json

    from kinetics.paths import results_dir

    found = {}
    for path in sorted(results_dir(device).glob("tensor_parallel_tp*.json")):
        data = json.loads(path.read_text())
        found[data["tp"]] = data
    if 1 not in found or len(found) < 2:
        raise InputError(f"no tensor-parallel results (TP=1 and TP>1) in {results_dir(device)}")
    return found


def speedup_rows(results: dict[int, dict], all_reduce: str = "nccl") -> list[dict]:
    """One row per (model, attention, batch, context) timed at TP=1 and at the other TP: tokens/s and speedup.
    The largest batch at 16k differs between TP sizes: those rows pair each TP's own largest batch."""
    base, (ranks, other) = results[1], max((k, v) for k, v in results.items() if k > 1)
    rows = []
    for one in base["models"]:
        many = next((m for m in other["models"] if m["model"] == one["model"] and m["attention"] == one["attention"]
                     and m.get("all_reduce", "nccl") == all_reduce), None)
        if many is None:
            continue
        for i, p in enumerate(one["points"]):
            if i >= len(many["points"]) or not (p.get("fits") and many["points"][i].get("fits")):
                continue
            q = many["points"][i]
            rows.append({"model": one["model"], "attention": one["attention"], "context": p["context"],
                         "batch_1": p["batch"], "batch_n": q["batch"], "ranks": ranks,
                         "ms_1": p["step_ms"], "ms_n": q["step_ms"], "tokens_per_s_1": p["tokens_per_s"],
                         "tokens_per_s_n": q["tokens_per_s"],
                         "speedup": q["tokens_per_s"] / p["tokens_per_s"]})
    return rows


def link_from_results(result: dict, min_eager_bytes: int = 1 << 23) -> Link:
    """The Link fitted to one run of kinetics.bench.tensor_parallel: its large eager all-reduces (bandwidth) and
    its small in-graph ones, the decode step's own all-reduces replayed alone (latency). Eager small messages
    are left out: they time the host's launch, which a CUDA graph does not pay."""
    from kinetics.models import get_model

    nccl = result["nccl"]
    sizes = [p["bytes"] for p in nccl["sweep"] if p["bytes"] >= min_eager_bytes]
    seconds = [p["ms"] * 1e-3 for p in nccl["sweep"] if p["bytes"] >= min_eager_bytes]
    for p in nccl["per_step"]:
        if p.get("all_reduce", "nccl") == "nccl":
            spec = get_model(p["model"])
            sizes.append(p["batch"] * spec.hidden_size * 2)
            seconds.append(p["ms"] * 1e-3 / (2 * spec.num_layers))
    return fit_link(sizes, seconds, result["tp"])


def prediction_table(model, hardware, attention, cases, ranks_list, link: Link, per_layer_overhead_s: float,
                     measured: dict | None = None) -> list[dict]:
    """tensor_parallel_step for every (batch, context) of `cases` and every rank count, in milliseconds, with the
    measured step (from `measured`: {(ranks, batch, context): ms}) where there is one."""
    rows = []
    for batch, context in cases:
        for ranks in ranks_list:
            p = tensor_parallel_step(model, hardware, attention, batch, context, ranks, link,
                                     per_layer_overhead_s=per_layer_overhead_s)
            rows.append({"batch": batch, "context": context, "ranks": ranks, "predicted_ms": 1e3 * p["seconds"],
                         "split_ms": 1e3 * p["split_seconds"], "fixed_ms": 1e3 * p["fixed_seconds"],
                         "comm_ms": 1e3 * (p["all_reduce_seconds"] + p["all_gather_seconds"]),
                         "speedup": p["speedup"], "measured_ms": (measured or {}).get((ranks, batch, context))})
    return rows


def measured_steps(results: dict[int, dict], model: str, attention: str = "dense",
                   all_reduce: str = "nccl") -> dict[tuple[int, int, int], float]:
    """{(ranks, batch, context): ms} of one model's decode steps in saved tensor-parallel results."""
    return {(ranks, p["batch"], p["context"]): p["step_ms"] for ranks, result in results.items()
            for m in result["models"] if m["model"] == model and m["attention"] == attention
            and m.get("all_reduce", "nccl") == all_reduce for p in m["points"] if p.get("fits")}


def cache_sizing(result: dict, model: str = "qwen3-32b") -> dict:
    """How one run sized the KV cache of `model` on each GPU, and the pages it would have had if the memory
    PyTorch's allocator kept cached had not been handed back first."""
    m = next(m for m in result["models"] if m["model"] == model and m["attention"] == "dense")
    mem = m["memory"]
    hidden = mem["free_bytes"] - mem["returned_from_torch_cache_bytes"] - mem["reserve_bytes"]
    return {"GPUs": result["tp"], "free after hand-back (GB)": round(mem["free_bytes"] / 1e9, 1),
            "handed back (GB)": round(mem["returned_from_torch_cache_bytes"] / 1e9, 1),
            "kept in reserve (GB)": round(mem["reserve_bytes"] / 1e9, 1),
            "pages without hand-back": int(hidden // mem["bytes_per_page"]), "pages now": mem["pages"],
            "16k requests now": m["largest_batch_at_16k"]}
