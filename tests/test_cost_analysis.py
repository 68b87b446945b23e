"""kinetics.cost analysis helpers (crossings, iso-cost lengths, the paper's simplifications) and chapter 1's figures."""
from __future__ import annotations

import math

import numpy as np
import pytest

from kinetics import cost as C
from kinetics.cost import Attention


@pytest.mark.parametrize("convention", C.CONVENTIONS)
@pytest.mark.parametrize("metric", ["eflops", "flops"])
def test_crossing_length_is_the_first_length_at_the_ratio(convention, metric):
    targets = np.array([1.0, 10.0])
    found = C.crossing_length("qwen3-4b", "h100", targets, 150, convention=convention, metric=metric)
    for target, g in zip(targets, found):
        ratio = lambda n: float(C.attention_to_parameter_ratio("qwen3-4b", "h100", 150, n, convention=convention,
                                                              metric=metric))
        assert ratio(g) >= target and (g == 1 or target > ratio(g - 1))


def test_paper_ratio_is_their_phi():
    # Phi = [2 r L_in D + (r D + I D) L_out] / 2P with their D = 2 Hkv d layers... priced per the paper's terms
    g, ctx = 8000, 150
    ratio = float(C.attention_to_parameter_ratio("qwen3-8b", "b200", ctx, g, convention="paper"))
    c = C.generation_cost("qwen3-8b", "b200", ctx, g, convention="paper").breakdown
    assert math.isclose(ratio, (c["flops_attention"] + 562.5 * c["bytes_kv"]) / c["flops_params"], rel_tol=1e-12)


def test_sparse_ratio_can_stay_below_a_mark():
    topk = Attention.topk(64)
    assert np.isnan(C.crossing_length("qwen3-32b", "b200", 100.0, 150, topk, max_tokens=1 << 20))


def test_length_for_cost():
    levels = np.array([1e15, 1e16])
    for metric in ("eflops", "flops", "seconds"):
        scaled = levels if metric != "seconds" else levels / 1e15
        g = C.length_for_cost("qwen3-8b", "b200", scaled, metric, 150)
        for level, n in zip(scaled, g):
            cost = lambda n: float(C.metric_of(C.per_sample_cost_arrays("qwen3-8b", "b200", 150, n), metric))
            assert cost(n) >= level > cost(n - 1)
    # prior-work FLOPs are linear: 2 P L = cost
    g = C.length_for_cost("qwen3-8b", "b200", 1e15, "flops", 150)
    assert abs(g - 1e15 / (2 * C.get_model("qwen3-8b").params_active)) < 1


@pytest.mark.parametrize("attention", [Attention.dense(), Attention.blocktopk(1024, 16)])
def test_simplifications_add_up(attention):
    rows = C.simplifications("qwen3-8b", "b200", 155, 16000, attention, trials=2)
    total = rows[-1]
    assert total["term"] == "total"
    assert math.isclose(sum(r["exact"] for r in rows[:-1]), total["exact"], rel_tol=1e-12)
    assert math.isclose(sum(r["paper"] for r in rows[:-1]), total["paper"], rel_tol=1e-12)
    assert math.isclose(sum(r["change"] for r in rows[:-1]), total["change"], rel_tol=1e-9)
    by_term = {r["term"]: r for r in rows}
    assert by_term["weight reads"]["paper"] == 0 and by_term["weight reads"]["exact"] > 0
    paper = C.generation_cost("qwen3-8b", "b200", 155, 16000, attention, "paper", trials=2)
    assert math.isclose(total["paper"], paper.eflops, rel_tol=1e-12)
    assert ("dense layer 0 + 4 sinks" in by_term) == (attention.kind != "dense")


def test_figures_build():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from kinetics.plots import cost as P

    lengths = np.array([200, 2000, 20000])
    models = ["qwen3-0.6b", "qwen3-8b"]
    for fig in (P.per_token_breakdown(models, "h100", 150, lengths),
                P.ratio_figure(models, "h100", 150, lengths),
                P.iso_cost_figure(models, "h100", 150, [1e14], [1e15])):
        assert fig.axes and all(ax.get_xlabel() for ax in fig.axes if ax.get_visible() and ax.lines)
        plt.close(fig)
    terms = P.per_token_terms("qwen3-8b", "h100", 150, lengths)
    per_token = sum(terms.values()) * lengths
    arrays = C.per_sample_cost_arrays("qwen3-8b", "h100", 150, lengths)
    prefill = arrays["flops_prefill"] + (arrays["eflops"] - arrays["flops"]) / arrays["memory_bytes"] \
        * arrays["bytes_prefill"]
    assert np.allclose(per_token + prefill, arrays["eflops"], rtol=1e-12)
