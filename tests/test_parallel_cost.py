"""The tensor-parallel step cost: the one-GPU step split N ways plus ring collectives."""
import numpy as np
import pytest

from kinetics.cost import Attention
from kinetics.errors import InputError
from kinetics.hardware import get_hardware
from kinetics.models import get_model
from kinetics.parallel_cost import Link, decode_step_seconds, fit_link, tensor_parallel_step

NVLINK = Link(latency_s=10e-6, bus_bandwidth=350e9)


def test_one_rank_is_the_one_gpu_step_and_costs_no_communication():
    spec, hw = get_model("qwen3-32b"), get_hardware("h200")
    one = decode_step_seconds(spec, hw, Attention.dense(), 4, 16384)["seconds"]
    tp1 = tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, 1, NVLINK)
    assert tp1["seconds"] == pytest.approx(one) and tp1["all_reduce_seconds"] == 0 == tp1["all_gather_seconds"]


def test_the_collective_terms_by_hand():
    # 2 ranks, 1 MB all-reduce: the latency + 2 (N-1) / N = 1 message over the link
    assert NVLINK.all_reduce_seconds(1e6, 2) == pytest.approx(10e-6 + 1e6 / 350e9)
    assert NVLINK.all_gather_seconds(8e6, 8) == pytest.approx(10e-6 + 7e6 / 350e9)
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
        fixed = tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, ranks, Link(1e-15, 1e30),
                                     per_layer_overhead_s=100e-6)
        # a cost no split shrinks caps the speedup below the rank count, however fast the link
        assert 1 < fixed["speedup"] < free and fixed["fixed_seconds"] == pytest.approx(64 * 100e-6)
        assert 1 < slow < ranks and free == pytest.approx(ranks)


def test_fit_link_recovers_latency_and_bandwidth():
    sizes = np.logspace(13, 28, 16, base=2)
    times = [NVLINK.all_reduce_seconds(s, 2) for s in sizes]
    fitted = fit_link(sizes, times, 2)
    assert fitted.latency_s == pytest.approx(10e-6, rel=1e-6)
    assert fitted.bus_bandwidth == pytest.approx(350e9, rel=1e-6)


def test_bad_inputs_are_one_clear_error():
    spec, hw = get_model("qwen3-32b"), get_hardware("h200")
    with pytest.raises(InputError, match="3 ranks do not divide qwen3-32b's 8 KV heads"):
        tensor_parallel_step(spec, hw, Attention.dense(), 4, 16384, 3, NVLINK)
    with pytest.raises(InputError, match="bus bandwidth"):
        Link(5e-6, 0)


def test_the_saved_two_gpu_results_read_back_consistently():
    from kinetics.parallel_cost import cache_sizing, link_from_results, load_scale_out, speedup_rows

    saved = load_scale_out("nvidia-h200")
    rows = speedup_rows(saved)
    assert rows and all(r["speedup"] == pytest.approx(r["tokens_per_s_n"] / r["tokens_per_s_1"])
                        for r in rows)
    assert all(r["tokens_per_s_1"] == pytest.approx(r["batch_1"] / (r["ms_1"] * 1e-3)) for r in rows)
    sizing = cache_sizing(saved[1])
    assert sizing["pages without hand-back"] < sizing["pages now"]
    link = link_from_results(saved[2])
    assert 1e-6 < link.latency_s < 1e-3 and 1e10 < link.bus_bandwidth < 1e12


def test_the_scale_out_figures_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from kinetics.cost import Attention
    from kinetics.parallel_cost import load_scale_out, prediction_table, speedup_rows
    from kinetics.plots import scale_out

    saved = load_scale_out("nvidia-h200")
    fig = scale_out.tp_throughput(speedup_rows(saved))
    assert len(fig.axes[0].patches) >= 2 * len(speedup_rows(saved))
    table = prediction_table(get_model("qwen3-32b"), get_hardware("h200"), Attention.dense(),
                             [(4, 16384)], (1, 2, 8), NVLINK, 90e-6, {(2, 4, 16384): 14.5})
    fig = scale_out.tp_prediction(table)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 3 * 3
