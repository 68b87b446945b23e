"""The tensor-parallel step cost: the one-GPU step split N ways plus ring collectives."""
import numpy as np
import pytest

from kinetics.cost import Attention
from kinetics.errors import InputError
from kinetics.hardware import get_hardware
from kinetics.models import get_model
from kinetics.parallel_cost import Link, decode_step_seconds, fit_link, tensor_parallel_step

NVLINK = Link(hop_latency_s=5e-6, bus_bandwidth=350e9)


def test_one_rank_is_the_one_gpu_step_and_costs_no_communication():
    spec, hw = get_model("qwen3-32b"), get_hardware("h200")
    one = decode_step_seconds(spec, hw, Attention.dense(), 4, 16384)["seconds"]
    tp1 = tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, 1, NVLINK)
    assert tp1["seconds"] == pytest.approx(one) and tp1["all_reduce_seconds"] == 0 == tp1["all_gather_seconds"]


def test_the_ring_terms_by_hand():
    # 2 ranks, 1 MB all-reduce: 2 hops, each latency + half the message over the link
    assert NVLINK.all_reduce_seconds(1e6, 2) == pytest.approx(2 * (5e-6 + 0.5e6 / 350e9))
    assert NVLINK.all_gather_seconds(8e6, 8) == pytest.approx(7 * (5e-6 + 1e6 / 350e9))
    spec, hw = get_model("qwen3-32b"), get_hardware("h200")
    tp2 = tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, 2, NVLINK)
    assert tp2["all_reduce_seconds"] == pytest.approx(2 * 64 * NVLINK.all_reduce_seconds(4 * 5120 * 2, 2))
    assert tp2["seconds"] == pytest.approx(tp2["one_gpu_seconds"] / 2 + tp2["all_reduce_seconds"]
                                           + tp2["all_gather_seconds"])


def test_speedup_stays_below_the_rank_count_and_reaches_it_with_a_free_link():
    spec, hw = get_model("qwen3-32b"), get_hardware("h200")
    for ranks in (2, 4, 8):
        slow = tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, ranks, NVLINK)["speedup"]
        free = tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, ranks,
                                    Link(1e-15, 1e30))["speedup"]
        assert 1 < slow < ranks and free == pytest.approx(ranks)


def test_fit_link_recovers_latency_and_bandwidth():
    sizes = np.logspace(13, 28, 16, base=2)
    times = [NVLINK.all_reduce_seconds(s, 2) for s in sizes]
    fitted = fit_link(sizes, times, 2)
    assert fitted.hop_latency_s == pytest.approx(5e-6, rel=1e-6)
    assert fitted.bus_bandwidth == pytest.approx(350e9, rel=1e-6)


def test_bad_inputs_are_one_clear_error():
    spec, hw = get_model("qwen3-32b"), get_hardware("h200")
    with pytest.raises(InputError, match="3 ranks do not divide qwen3-32b's 8 KV heads"):
        tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, 3, NVLINK)
    with pytest.raises(InputError, match="bus bandwidth"):
        Link(5e-6, 0)
