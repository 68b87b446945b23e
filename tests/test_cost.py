"""kinetics.cost: the exact discrete sums against brute force, the paper formulas, expectations, bad input."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from kinetics import cost as C
from kinetics.cost import Attention, best_of_n_cost_arrays, generation_cost, per_sample_cost_arrays
from kinetics.errors import InputError
from kinetics.hardware import get_hardware, hardware_from_numbers
from kinetics.models import ModelSpec, get_model

B200 = get_hardware("b200")
QWEN8 = get_model("qwen3-8b")
# a small model keeps the brute force fast and the numbers easy to read
TINY = ModelSpec.from_config({"hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
                              "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 128,
                              "vocab_size": 1000, "tie_word_embeddings": False}, name="tiny")
TINY_HW = hardware_from_numbers(100, 1, memory_gb=1)


def close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


# ---- closed forms against brute force -----------------------------------------------------------------------------

@given(st.integers(1, 300), st.integers(1, 400), st.one_of(st.integers(1, 800), st.just(math.inf)))
def test_attended_keys_is_the_discrete_sum(ctx, gen, keep):
    brute = sum(min(keep, ctx + t) for t in range(gen))
    assert C.attended_keys(ctx, gen, keep) == brute


@given(st.integers(0, 500), st.integers(1, 64))
def test_floor_sum(n, block):
    assert C.floor_sum(n, block) == sum(j // block for j in range(n))


def brute_force(model, attention, ctx, gens, kv_bytes=2):
    """Step-by-step simulation of the exact convention's decode as the module docstring states it."""
    d, hq, hkv, layers = model.head_dim, model.num_heads, model.num_kv_heads, model.num_layers
    sparse = 0 if attention.kind == "dense" else layers - attention.dense_layers
    dense = layers - sparse
    kv_token_layer = 2 * hkv * d * kv_bytes
    keep = attention.keep
    selects = attention.kind == "blocktopk" or (attention.kind == "topk" and attention.priced_search)

    def score_keys(n):
        return n if attention.kind == "topk" else n // attention.block_size

    flops_attn = reads = sel_flops = sel_bytes = 0
    for t in range(max(gens)):
        alive = sum(1 for g in gens if t < g)
        if not alive:
            continue
        n = ctx + t
        # dense layers: every trial attends n keys; the prompt is read once for all, each trial reads its own t
        flops_attn += dense * alive * 4 * hq * d * n
        reads += dense * (ctx + alive * t) * kv_token_layer
        if sparse and n <= keep:
            flops_attn += sparse * alive * 4 * hq * d * n
            reads += sparse * (ctx + alive * t) * kv_token_layer
        elif sparse:
            flops_attn += sparse * alive * 4 * hq * d * keep
            reads += sparse * alive * keep * kv_token_layer
            if selects:
                sel_flops += sparse * alive * 2 * hq * d * score_keys(n)
                shared, own = score_keys(ctx), score_keys(n) - score_keys(ctx)
                sel_bytes += sparse * (shared + alive * own) * hkv * d * kv_bytes
    return {"flops_attention": flops_attn, "bytes_kv": reads, "flops_selection": sel_flops,
            "bytes_selection": sel_bytes}


attentions = st.one_of(
    st.just(Attention.dense()),
    st.builds(Attention.topk, st.integers(1, 60), st.integers(0, 8), st.integers(0, 4), st.integers(0, 4),
              st.booleans()),
    st.builds(lambda k, bs, local, sink, dl: Attention.blocktopk(k * bs, bs, local, sink, dl),
              st.integers(1, 6), st.sampled_from([1, 2, 4, 8, 16]), st.integers(0, 8), st.integers(0, 4),
              st.integers(0, 4)),
)


@settings(max_examples=150, deadline=None)
@given(attentions, st.integers(1, 80), st.lists(st.integers(1, 120), min_size=1, max_size=4))
def test_exact_terms_match_a_step_by_step_simulation(attention, ctx, gens):
    got = generation_cost(TINY, TINY_HW, ctx, gens, attention, batch_size=8).breakdown
    want = brute_force(TINY, attention, ctx, gens)
    for key, value in want.items():
        assert close(got[key], value), (key, got[key], value)
    tokens = sum(gens)
    assert close(got["flops_params"], 2 * TINY.params_matmul * tokens)
    assert close(got["bytes_kv_write"], TINY.kv_bytes_per_token(2) * tokens)
    assert close(got["bytes_weights"], TINY.params_matmul * 2 / 8 * tokens)
    prefill_attention = 4 * TINY.num_heads * TINY.head_dim * TINY.num_layers * sum(range(1, ctx))
    assert close(got["flops_prefill"], 2 * TINY.params_matmul * (ctx - 1) + prefill_attention)


def test_totals_are_the_sums_of_the_terms_and_units_hold():
    for convention in C.CONVENTIONS:
        for overlap in C.OVERLAPS:
            c = generation_cost(QWEN8, B200, 155, [4000, 9000], Attention.blocktopk(512, 32, dense_layers=1),
                                convention=convention, overlap=overlap)
            assert close(c.flops, sum(c.breakdown[k] for k in C.FLOP_TERMS))
            assert close(c.memory_bytes, sum(c.breakdown[k] for k in C.BYTE_TERMS))
            assert close(c.eflops, c.flops + c.intensity * c.memory_bytes)
            compute, memory = c.flops / B200.peak(
                "fp8" if convention == "paper" else "bf16"), c.memory_bytes / B200.hbm_bandwidth
            assert close(c.seconds, compute + memory if overlap == "additive" else max(compute, memory))
    paper = generation_cost(QWEN8, B200, 150, 16000, convention="paper")
    assert paper.intensity == 562.5
    assert close(paper.seconds, paper.eflops / 4.5e15)  # the paper's "B200 seconds" = tera-eFLOPs / 4500


def test_paper_convention_reproduces_the_worked_example():
    # their formulas by hand: 16,000 tokens, 150-token prompt, dense, N = 1, tera-eFLOPs (8B: 262 / 77 / 10,816)
    for name, (params, attention, memory) in {"qwen3-8b": (262, 77, 10816), "qwen3-0.6b": (24, 30, 8412)}.items():
        c = generation_cost(name, "b200", 150, 16000, convention="paper")
        assert round(c.breakdown["flops_params"] / 1e12) == params
        assert round(c.breakdown["flops_attention"] / 1e12) == attention
        assert round(562.5 * c.memory_bytes / 1e12) == memory


def test_paper_sign_fault_against_the_exact_sum():
    # the sum by hand: B = 1024, ctx = 150, gen = 500: exact 199,750; their + form 893,938; their - form 130,062
    assert C.attended_keys(150, 500, 1024) == 199_750
    hdl = 1.0
    for sign, want in ((+1, 893_938), (-1, 130_062)):
        terms = C.paper_terms(0, 1, 1, hdl, 150, 500, 1, Attention.topk(1024), sign=sign)
        assert round(terms["bytes_kv"] / 4) == want
        assert round(float(C.paper_attended_keys(150, 500, 1024, sign))) == want


# ---- properties ------------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2000), st.lists(st.integers(1, 5000), min_size=1, max_size=3), st.integers(0, 64))
def test_sparse_with_a_budget_covering_the_context_is_dense(ctx, gens, extra):
    budget = ctx + max(gens) + extra
    dense = generation_cost(QWEN8, B200, ctx, gens)
    for attention in (Attention.topk(budget), Attention.blocktopk(budget * 16, 16)):
        sparse = generation_cost(QWEN8, B200, ctx, gens, attention)
        for key in C.TERMS:
            assert close(sparse.breakdown[key], dense.breakdown[key]), key


def test_monotone_in_length_budget_trials_and_below_dense():
    for convention in C.CONVENTIONS:
        for attention in (Attention.dense(), Attention.topk(256), Attention.blocktopk(1024, 16)):
            by_length = [generation_cost(QWEN8, B200, 155, g, attention, convention).eflops
                         for g in (100, 1000, 10000, 30000)]
            assert by_length == sorted(by_length) and len(set(by_length)) == 4
            by_trials = [generation_cost(QWEN8, B200, 155, 8000, attention, convention, trials=n).eflops
                         for n in (1, 2, 4, 8)]
            assert by_trials == sorted(by_trials) and len(set(by_trials)) == 4
        dense = generation_cost(QWEN8, B200, 155, 20000, convention=convention).eflops
        by_budget = [generation_cost(QWEN8, B200, 155, 20000, Attention.topk(b), convention).eflops
                     for b in (32, 256, 2048)]
        assert by_budget == sorted(by_budget) and by_budget[-1] < dense


def test_prompt_is_shared_in_the_exact_convention():
    one = generation_cost(QWEN8, B200, 2000, 100)
    two = generation_cost(QWEN8, B200, 2000, [100, 100])
    prompt_reads = 2000 * 100 * QWEN8.kv_bytes_per_token(2)
    assert close(2 * one.breakdown["bytes_kv"] - two.breakdown["bytes_kv"], prompt_reads)
    assert close(two.breakdown["flops_prefill"], one.breakdown["flops_prefill"])
    # the longest trial sets the shared term: a second, shorter trial adds no prompt reads
    longer = generation_cost(QWEN8, B200, 2000, [100, 50])
    assert close(longer.breakdown["bytes_kv"] - one.breakdown["bytes_kv"],
                 50 * 49 / 2 * QWEN8.kv_bytes_per_token(2))


def test_weights_amortised_over_the_batch():
    batch = C.default_batch_size(QWEN8, B200)
    free = B200.memory_bytes - QWEN8.params_total * 2
    assert batch == int(free // (QWEN8.kv_bytes_per_token(2) * C.BATCH_CONTEXT)) and batch >= 1
    auto = generation_cost(QWEN8, B200, 155, 1000)
    assert auto.batch_size == batch
    assert close(auto.breakdown["bytes_weights"], QWEN8.params_matmul * 2 * 1000 / batch)
    one = generation_cost(QWEN8, B200, 155, 1000, batch_size=1)
    assert close(one.breakdown["bytes_weights"], QWEN8.params_matmul * 2 * 1000)
    assert generation_cost(QWEN8, B200, 155, 1000, convention="paper").breakdown["bytes_weights"] == 0
    free_weights = generation_cost(QWEN8, B200, 155, 1000, batch_size=C.WEIGHTS_FREE)
    assert free_weights.breakdown["bytes_weights"] == 0 and free_weights.breakdown["bytes_kv"] > 0
    assert close(free_weights.memory_bytes, auto.memory_bytes - auto.breakdown["bytes_weights"])
    moe = get_model("qwen3-30b-a3b")
    at_one = generation_cost(moe, "h200", 155, 10, batch_size=1).breakdown["bytes_weights"]
    assert close(at_one, moe.params_matmul * 2 * 10)
    # a large batch touches every expert: per token that is all experts' bytes over the batch
    at_many = generation_cost(moe, "h200", 155, 10, batch_size=4096).breakdown["bytes_weights"]
    all_experts = moe.params_total - moe.params_embedding
    assert close(at_many * 4096 / 10 / 2, all_experts, rel=1e-6)


def test_prior_work_flops_and_compute_only_metrics():
    arrays = per_sample_cost_arrays(QWEN8, B200, 155, np.array([1000, 2000]))
    assert np.allclose(C.metric_of(arrays, "flops"), 2 * QWEN8.params_active * np.array([1000, 2000]))
    assert np.array_equal(C.metric_of(arrays, "flops-attn"), arrays["flops"])
    assert np.array_equal(C.metric_of(arrays, "eflops"), arrays["eflops"])
    paper = per_sample_cost_arrays(QWEN8, B200, 155, 1000, convention="paper")
    assert close(float(C.metric_of(paper, "flops")), 2 * 8.19e9 * 1000)


# ---- vectorised forms agree with the scalar one -------------------------------------------------------------------------

@pytest.mark.parametrize("convention", C.CONVENTIONS)
@pytest.mark.parametrize("attention", [Attention.dense(), Attention.topk(128, local_window=64),
                                       Attention.blocktopk(512, 32, sink_tokens=4, dense_layers=1)])
def test_per_sample_arrays_equal_single_trial_costs(convention, attention):
    ctx, gen = np.array([150, 177, 90]), np.array([300, 20000, 7])
    arrays = per_sample_cost_arrays(QWEN8, B200, ctx, gen, attention, convention)
    for i in range(3):
        one = generation_cost(QWEN8, B200, int(ctx[i]), int(gen[i]), attention, convention)
        for key in ("flops", "memory_bytes", "eflops", "seconds"):
            assert close(float(arrays[key][i]), getattr(one, key))


@pytest.mark.parametrize("convention", C.CONVENTIONS)
@pytest.mark.parametrize("attention", [Attention.dense(), Attention.topk(256),
                                       Attention.blocktopk(1024, 16, dense_layers=1)])
def test_best_of_n_is_the_mean_over_every_subset(convention, attention):
    rng = np.random.default_rng(0)
    lengths = [rng.integers(50, 5000, size=6).tolist(), rng.integers(50, 5000, size=4).tolist()]
    lengths[0][2] = lengths[0][4]  # a tie
    ctx = np.array([155, 40])
    ks = [1, 2, 3, 4, 6]
    got = best_of_n_cost_arrays(QWEN8, B200, ctx, lengths, ks, attention, convention)
    for p, row in enumerate(lengths):
        for i, k in enumerate(ks):
            if k > len(row):
                assert np.isnan(got["eflops"][p, i])
                continue
            if convention == "paper":  # their expected_cost: mean over L of fn(gen=L, N=k)
                want = np.mean([generation_cost(QWEN8, B200, int(ctx[p]), L, attention, convention, trials=k).eflops
                                for L in row])
            else:
                want = np.mean([generation_cost(QWEN8, B200, int(ctx[p]), list(s), attention, convention).eflops
                                for s in itertools.combinations(row, k)])
            assert close(float(got["eflops"][p, i]), want, rel=1e-10), (p, k)
    single = C.best_of_n_expected_cost(QWEN8, B200, ctx, lengths, 2, attention, convention, cost_metric="seconds")
    assert single.shape == (2,) and np.allclose(single, got["seconds"][:, 1])


def test_max_order_weights_are_a_distribution():
    w = C.max_order_weights(np.array([32, 8]), 32, [1, 4, 8, 32])
    sums = w.sum(axis=2)
    assert np.allclose(sums[0], 1) and np.allclose(sums[1, :3], 1) and sums[1, 3] == 0


# ---- bad input ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, text", [
    (lambda: Attention.topk(0), "budget must be an integer > 0"),
    (lambda: Attention.topk(-5), "budget must be an integer > 0"),
    (lambda: Attention.topk(1.5), "budget must be an integer > 0"),
    (lambda: Attention.blocktopk(100, 16), "block size 16 does not divide the budget 100"),
    (lambda: Attention.blocktopk(128, 0), "block size must be an integer > 0"),
    (lambda: Attention.topk(64, local_window=-1), "local_window must be an integer >= 0"),
    (lambda: Attention("sliding"), "attention kind 'sliding' is unknown"),
    (lambda: generation_cost(QWEN8, B200, 0, 100), "prompt tokens must be integers >= 1"),
    (lambda: generation_cost(QWEN8, B200, -3, 100), "prompt tokens must be integers >= 1"),
    (lambda: generation_cost(QWEN8, B200, 155, 0), "generated tokens must be integers >= 1"),
    (lambda: generation_cost(QWEN8, B200, 155, [100, -1]), "generated tokens must be integers >= 1"),
    (lambda: generation_cost(QWEN8, B200, 155, 10.5), "generated tokens must be integers >= 1"),
    (lambda: generation_cost(QWEN8, B200, 155, float("nan")), "generated tokens must be integers >= 1"),
    (lambda: generation_cost(QWEN8, B200, 155, []), "generated tokens is empty"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, trials=0), "trials must be an integer >= 1"),
    (lambda: generation_cost(QWEN8, B200, 155, [1, 2], trials=3), "2 generation lengths given for 3 trials"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, convention="nope"), "convention 'nope' is unknown"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, overlap="some"), "overlap 'some' is unknown"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, batch_size=0), "batch_size must be a finite positive number"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, batch_size=float("inf")), "batch_size must be a finite"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, kv_dtype_bytes=-2), "kv_dtype_bytes must be a finite"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, compute_dtype="fp3"), "compute dtype 'fp3' is unknown"),
    (lambda: generation_cost(QWEN8, "a100", 155, 100, compute_dtype="fp8"), "no peak for dtype 'fp8'"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, Attention.topk(64, dense_layers=40)), "exceeds the model's 36"),
    (lambda: generation_cost(QWEN8, hardware_from_numbers(900, 3), 155, 100), "give batch_size explicitly"),
    (lambda: generation_cost("qwen3-32b", hardware_from_numbers(900, 3, 40), 155, 100), "leave no room"),
    (lambda: generation_cost("qwen3-9b", B200, 155, 100), "unknown model 'qwen3-9b'; known: qwen3-0.6b"),
    (lambda: generation_cost(QWEN8, "tpu", 155, 100), "unknown hardware 'tpu'; known: a100-80g"),
    (lambda: hardware_from_numbers(float("nan"), 3), "must be a finite positive number"),
    (lambda: best_of_n_cost_arrays(QWEN8, B200, [155], [[100, 200]], 0), "trials k must be integers >= 1"),
    (lambda: best_of_n_cost_arrays(QWEN8, B200, [155, 160], [[100, 200]], 1), "1 rows of lengths for 2 prompts"),
    (lambda: best_of_n_cost_arrays(QWEN8, B200, [155], [[100, np.inf]], 1), "generated tokens must be integers"),
    (lambda: C.best_of_n_expected_cost(QWEN8, B200, [155], [[100]], 1, cost_metric="joules"), "cost metric"),
    (lambda: generation_cost(QWEN8, B200, 155, 100, attention="dense"), "attention must be an Attention"),
])
def test_bad_input_raises_one_clear_input_error(make, text):
    with pytest.raises(InputError) as info:
        make()
    assert text in str(info.value)
    assert "\n" not in str(info.value)


def test_model_config_missing_a_field(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10}')
    with pytest.raises(InputError, match="missing field 'intermediate_size'"):
        generation_cost(str(path), B200, 155, 100)
