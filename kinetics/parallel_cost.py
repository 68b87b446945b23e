"""The cost of one decode step split over N GPUs by tensor parallelism: kinetics.cost's step / N + communication.

Each rank holds 1/N of every weight matrix and of the KV heads, so it reads 1/N of the bytes and does 1/N of the
FLOPs of the one-GPU step (the norms and the MoE router, which every rank repeats, are under 0.1% of the
weights). What the split adds is communication: two all-reduces of the [batch, hidden] activations per layer and
one all-gather of the [batch, vocab] float32 logits per step. A ring collective over N ranks takes 2(N-1) steps
(all-reduce) or N-1 (all-gather), each paying one hop's latency, and moves 2(N-1)/N (or (N-1)/N) of the message
through each link at the link's bus bandwidth. Chapter 5 fits the two link numbers to NCCL on two GPUs.
"""
from __future__ import annotations

from dataclasses import dataclass

from kinetics.errors import InputError, check_positive


@dataclass(frozen=True)
class Link:
    """A GPU-to-GPU interconnect as collectives see it: latency per ring hop (s), bus bandwidth (bytes/s)."""

    hop_latency_s: float
    bus_bandwidth: float

    def __post_init__(self):
        check_positive("link hop latency", self.hop_latency_s)
        check_positive("link bus bandwidth", self.bus_bandwidth)

    def all_reduce_seconds(self, nbytes: float, ranks: int) -> float:
        return 0.0 if ranks == 1 else 2 * (ranks - 1) * (self.hop_latency_s + nbytes / ranks / self.bus_bandwidth)

    def all_gather_seconds(self, nbytes: float, ranks: int) -> float:
        """nbytes: the gathered result (each rank contributes nbytes / ranks)."""
        return 0.0 if ranks == 1 else (ranks - 1) * (self.hop_latency_s + nbytes / ranks / self.bus_bandwidth)


def fit_link(sizes_bytes, seconds, ranks: int) -> Link:
    """The Link whose all-reduce time best matches measured (size, seconds) pairs (least squares on the
    two-term model)."""
    import numpy as np

    sizes, times = np.asarray(sizes_bytes, float), np.asarray(seconds, float)
    if sizes.size < 2 or ranks < 2:
        raise InputError("fitting a link needs at least two all-reduce sizes measured on at least two ranks")
    hops = 2 * (ranks - 1)
    design = np.stack([np.full_like(sizes, hops), hops * sizes / ranks], axis=1)
    (latency, inverse_bw), *_ = np.linalg.lstsq(design, times, rcond=None)
    return Link(hop_latency_s=float(latency), bus_bandwidth=float(1 / inverse_bw))


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
                         activation_bytes: int = 2) -> dict:
    """Seconds of one decode step on `ranks` GPUs: the one-GPU step / ranks + the step's collectives."""
    if not isinstance(ranks, int) or ranks < 1:
        raise InputError(f"ranks must be a positive integer, got {ranks!r}")
    if model.num_kv_heads % ranks:
        raise InputError(f"{ranks} ranks do not divide {model.name}'s {model.num_kv_heads} KV heads")
    one = decode_step_seconds(model, hardware, attention, batch, context)["seconds"]
    reduces = 2 * model.num_layers * link.all_reduce_seconds(batch * model.hidden_size * activation_bytes, ranks)
    gather = link.all_gather_seconds(batch * model.vocab_size * 4, ranks)
    split = one / ranks
    return {"seconds": split + reduces + gather, "split_seconds": split, "all_reduce_seconds": reduces,
            "all_gather_seconds": gather, "one_gpu_seconds": one, "speedup": one / (split + reduces + gather)}
