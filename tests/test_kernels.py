"""Triton kernels against the float64 torch references, on random shapes (CPU: Triton interpreter; GPU: compiled).

Hypothesis draws the shapes: ragged lengths not a multiple of the page, 1-3 sink pages, budgets below and above the
sequence's page count, group sizes 1-16, head_dim 64/128/256, pages of 16/32/64 tokens, fp16 and bf16.
"""
from __future__ import annotations

import importlib
import os

import torch

if not torch.cuda.is_available():  # before the kernels are defined: CPU runs go through the interpreter,
    os.environ.setdefault("TRITON_INTERPRET", "1")  # GPU runs compile them

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kinetics.errors import InputError  # noqa: E402
from kinetics.kernels import (block_topk_decode, new_page_summaries, paged_decode, select_pages,  # noqa: E402
                              sparse_paged_decode, update_page_summaries)
from kinetics.kernels import reference as ref  # noqa: E402

block_topk_module = importlib.import_module("kinetics.kernels.block_topk")  # the package exports the functions

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu" and os.environ.get("TRITON_INTERPRET") in (None, "", "0"):
    pytest.skip("no GPU and the Triton interpreter is off", allow_module_level=True)

# Relative error bounds: the output is rounded to the input dtype (fp16 eps 1e-3, bf16 eps 8e-3).
TOLERANCE = {torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
CASES = settings(max_examples=int(os.environ.get("KINETICS_KERNEL_EXAMPLES", "50")), deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def rel_error(out: torch.Tensor, expected: torch.Tensor) -> float:
    out = out.double().cpu()
    assert torch.isfinite(out).all(), "non-finite output"
    return float((out - expected).norm() / expected.norm())


@st.composite
def decode_cases(draw, max_tokens: int = 200):
    """A random paged decode problem: ragged lengths, shuffled physical pages, spare pages in the pool."""
    page_size = draw(st.sampled_from([16, 32, 64]))
    head_dim = draw(st.sampled_from([64, 128, 256]))
    group = draw(st.sampled_from([1, 2, 3, 4, 5, 8, 16]))
    num_kv_heads = draw(st.integers(1, 2))
    batch = draw(st.integers(1, 3))
    lens = [draw(st.integers(1, max_tokens)) for _ in range(batch)]
    dtype = draw(st.sampled_from([torch.float16, torch.bfloat16]))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    pages_needed = [-(-n // page_size) for n in lens]
    max_pages = max(pages_needed) + draw(st.integers(0, 2))  # a table wider than needed
    num_pages = sum(pages_needed) + draw(st.integers(0, 3))  # spare pages nobody uses
    perm = torch.randperm(num_pages, generator=gen)
    page_table = torch.full((batch, max_pages), -1, dtype=torch.int32)  # unused entries are out of range on purpose
    used = 0
    for b, n in enumerate(pages_needed):
        page_table[b, :n] = perm[used:used + n].int()
        used += n
    shape = (num_pages, page_size, num_kv_heads, head_dim)
    k = torch.randn(shape, generator=gen).to(dtype)
    v = torch.randn(shape, generator=gen).to(dtype)
    q = torch.randn(batch, num_kv_heads * group, head_dim, generator=gen).to(dtype)
    move = lambda x: x.to(DEVICE)  # noqa: E731
    return dict(q=move(q), k=move(k), v=move(v), page_table=move(page_table),
                seq_lens=move(torch.tensor(lens, dtype=torch.int32)), page_size=page_size, dtype=dtype, gen=gen)


FP8 = torch.float8_e4m3fn
SUMMARY_STORAGE = st.sampled_from([None, FP8])  # None: the cache's dtype


def built_summaries(case, kind, storage=None):
    summaries = new_page_summaries(case["k"].shape[0], case["k"].shape[2], case["k"].shape[3], kind,
                                   dtype=storage or case["dtype"], device=DEVICE)
    starts = torch.zeros_like(case["seq_lens"])
    return update_page_summaries(case["k"], case["page_table"], case["seq_lens"], summaries, kind, start_lens=starts)


@CASES
@given(decode_cases(), st.integers(1, 4))
def test_dense_decode_matches_reference(case, num_splits):
    out = paged_decode(case["q"], case["k"], case["v"], case["page_table"], case["seq_lens"], num_splits=num_splits)
    expected = ref.paged_decode_ref(*(case[n].cpu() for n in ("q", "k", "v", "page_table", "seq_lens")))
    assert out.dtype == case["dtype"] and out.shape == case["q"].shape
    assert rel_error(out, expected) < TOLERANCE[case["dtype"]]


@CASES
@given(decode_cases(), st.sampled_from(["mean", "minmax"]), SUMMARY_STORAGE, st.sampled_from([1.0, 2000.0]))
def test_page_summaries_match_reference(case, kind, storage, key_scale):
    """Summaries in the cache's dtype or fp8 e4m3; keys scaled by 2000 push fp8 means past +-448 (clamped)."""
    case = dict(case, k=case["k"] * key_scale)
    summaries = built_summaries(case, kind, storage)
    expected = ref.page_summaries_ref(case["k"].cpu(), case["page_table"].cpu(), case["seq_lens"].cpu(), kind)
    for (b, p), want in expected.items():
        got = summaries[int(case["page_table"][b, p])].double().cpu()
        if storage == FP8:  # clamped to e4m3's range, then one rounding: 3 mantissa bits, subnormals below 2^-6
            want = want.clamp(-448, 448)
            assert ((got - want).abs() <= 2.0**-4 * want.abs() + 2.0**-10).all(), (b, p)
        else:  # one rounding to the storage dtype: half an ulp of the largest entry, plus float32 summation noise
            eps = torch.finfo(case["dtype"]).eps
            assert (got - want).abs().max() <= eps * want.abs().max() + 1e-6 * key_scale, (b, p)


def test_summaries_follow_appended_tokens():
    """Appending tokens one at a time and refreshing only the last page gives the prefill summaries."""
    gen = torch.Generator().manual_seed(7)
    page_size, heads, dim, n = 16, 2, 64, 40
    k = torch.randn(4, page_size, heads, dim, generator=gen).half().to(DEVICE)
    table = torch.tensor([[2, 0, 3]], dtype=torch.int32, device=DEVICE)
    for kind in ("mean", "minmax"):
        stepwise = new_page_summaries(4, heads, dim, kind, dtype=torch.float16, device=DEVICE)
        for length in range(1, n + 1):
            update_page_summaries(k, table, torch.tensor([length], dtype=torch.int32, device=DEVICE), stepwise, kind)
        lens = torch.tensor([n], dtype=torch.int32, device=DEVICE)
        full = new_page_summaries(4, heads, dim, kind, dtype=torch.float16, device=DEVICE)
        update_page_summaries(k, table, lens, full, kind, start_lens=torch.zeros_like(lens))
        assert torch.equal(stepwise[[2, 0, 3]], full[[2, 0, 3]])
        assert not stepwise[1].any()  # the page nobody owns was never written


def _selection_is_top_k(selected, case, summaries, budget, kind, sinks):
    """The kernel's pages equal the reference's, except where a page swaps with one of (nearly) equal score."""
    q, table, lens = case["q"].cpu(), case["page_table"].cpu(), case["seq_lens"].cpu()
    summ = summaries.cpu()
    page_size = case["page_size"]
    expected = ref.select_pages_ref(q, summ, table, lens, page_size, budget, kind, sinks)
    group = q.shape[1] // summ.shape[1]
    for b, rows in enumerate(expected):
        for h, want in enumerate(rows):
            got = [int(p) for p in selected[b, h].cpu() if int(p) >= 0]
            assert got == sorted(got) and len(got) == len(want)
            assert all(int(p) == -1 for p in selected[b, h, len(got):].cpu())
            if got == want:
                continue
            n = int(lens[b])
            scores = ref.page_scores_ref(q, summ, table, page_size, n, b, h, group, kind)
            forced = set(range(min(sinks, len(scores)))) | {len(scores) - 1}
            assert forced <= set(got)
            kept = [float(scores[p]) for p in got if p not in forced]
            dropped = [float(scores[p]) for p in range(len(scores)) if p not in got]
            slack = 1e-4 * float(scores.abs().max()) + 1e-6
            assert min(kept) >= max(dropped) - slack, (b, h, got, want)


@CASES
@given(decode_cases(max_tokens=400), st.integers(1, 12), st.integers(1, 3), st.sampled_from(["mean", "minmax"]),
       st.sampled_from(["fused", "two_pass"]), st.sampled_from([1, 4]), SUMMARY_STORAGE)
def test_select_pages_is_block_top_k(case, budget, sinks, kind, method, radix_bits, storage):
    summaries = built_summaries(case, kind, storage)
    saved = block_topk_module.CONFIG["radix_bits"]
    block_topk_module.CONFIG["radix_bits"] = radix_bits  # both radix selects (1 or 4 bits a round)
    try:
        selected, physical = select_pages(case["q"], summaries, case["page_table"], case["seq_lens"],
                                          case["page_size"], budget, kind, num_sink_pages=sinks, method=method,
                                          physical=True)
    finally:
        block_topk_module.CONFIG["radix_bits"] = saved
    _selection_is_top_k(selected, case, summaries, budget, kind, sinks)
    selected, physical, table = selected.cpu().long(), physical.cpu(), case["page_table"].cpu()
    rows = torch.arange(selected.shape[0])[:, None, None]
    expected = torch.where(selected >= 0, table[rows, selected.clamp(min=0)], 0)
    assert torch.equal(physical, expected.int()), "physical pages are the page table's entries of the selection"


@CASES
@given(decode_cases(), st.integers(1, 3), st.data())
def test_sparse_decode_matches_reference(case, num_splits, data):
    """Any ascending selection (not only top-k ones, current page optional) is attended exactly."""
    batch, heads = case["q"].shape[0], case["k"].shape[2]
    width = data.draw(st.integers(1, 6))
    selected = torch.full((batch, heads, width), -1, dtype=torch.int32)
    for b in range(batch):
        n_pages = -(-int(case["seq_lens"][b]) // case["page_size"])
        for h in range(heads):
            count = int(torch.randint(1, min(width, n_pages) + 1, (1,), generator=case["gen"]))
            pages = torch.randperm(n_pages, generator=case["gen"])[:count].sort().values
            selected[b, h, :count] = pages.int()
    selected = selected.to(DEVICE)
    out = sparse_paged_decode(case["q"], case["k"], case["v"], case["page_table"], case["seq_lens"], selected,
                              num_splits=num_splits)
    expected = ref.sparse_paged_decode_ref(*(case[n].cpu() for n in ("q", "k", "v", "page_table", "seq_lens")),
                                           selected.cpu())
    assert rel_error(out, expected) < TOLERANCE[case["dtype"]]


@CASES
@given(decode_cases(), st.integers(0, 3), st.sampled_from(["mean", "minmax"]))
def test_budget_covering_the_sequence_equals_dense(case, extra, kind):
    summaries = built_summaries(case, kind)
    budget = case["page_table"].shape[1] + extra
    out, selected = block_topk_decode(case["q"], case["k"], case["v"], case["page_table"], case["seq_lens"],
                                      summaries, budget, kind, num_sink_pages=1 + extra % 3)
    dense = paged_decode(case["q"], case["k"], case["v"], case["page_table"], case["seq_lens"])
    for b, n in enumerate(case["seq_lens"].tolist()):
        n_pages = -(-n // case["page_size"])
        assert (selected[b, :, :n_pages].cpu() == torch.arange(n_pages, dtype=torch.int32)).all()
    expected = ref.paged_decode_ref(*(case[n].cpu() for n in ("q", "k", "v", "page_table", "seq_lens")))
    assert rel_error(out, expected) < TOLERANCE[case["dtype"]]
    assert rel_error(out, dense.double().cpu()) < TOLERANCE[case["dtype"]]


@settings(CASES, max_examples=max(1, CASES.max_examples * 3 // 5))
@given(decode_cases(max_tokens=200), st.integers(1, 8), st.integers(0, 3), st.sampled_from(["mean", "minmax"]),
       SUMMARY_STORAGE)
def test_fused_select_attend_matches_the_two_kernels(case, budget, sinks, kind, storage):
    """Top-k and attention in one kernel: the same pages as select_pages, the same output as the reference."""
    summaries = built_summaries(case, kind, storage)
    tensors = [case[n] for n in ("q", "k", "v", "page_table", "seq_lens")]
    out, selected = block_topk_decode(*tensors, summaries, budget, kind, num_sink_pages=sinks, fused=True)
    alone = select_pages(case["q"], summaries, case["page_table"], case["seq_lens"], case["page_size"], budget, kind,
                         num_sink_pages=sinks, method="two_pass")
    assert torch.equal(selected, alone)
    expected = ref.sparse_paged_decode_ref(*(t.cpu() for t in tensors), selected.cpu())
    assert rel_error(out, expected) < TOLERANCE[case["dtype"]]


# ---- bad input: one clear InputError before any launch ------------------------------------------------------------

def _small(dtype=torch.float16, head_dim=64):
    gen = torch.Generator().manual_seed(3)
    k = torch.randn(4, 16, 2, head_dim, generator=gen).to(dtype).to(DEVICE)
    v = torch.randn(4, 16, 2, head_dim, generator=gen).to(dtype).to(DEVICE)
    q = torch.randn(2, 4, head_dim, generator=gen).to(dtype).to(DEVICE)
    table = torch.tensor([[0, 1], [2, 3]], dtype=torch.int32, device=DEVICE)
    lens = torch.tensor([20, 9], dtype=torch.int32, device=DEVICE)
    return q, k, v, table, lens


@pytest.mark.parametrize("mutate, message", [
    (lambda q, k, v, t, n: (q.float(), k, v, t, n), "dtype"),
    (lambda q, k, v, t, n: (q, k.float(), v.float(), t, n), "dtype"),
    (lambda q, k, v, t, n: (q, k, v[:, :, :, :32].contiguous(), t, n), "must match"),
    (lambda q, k, v, t, n: (q, k.transpose(0, 1), v, t, n), "contiguous"),
    (lambda q, k, v, t, n: (q[:, :, ::2], k, v, t, n), "contiguous"),
    (lambda q, k, v, t, n: (q, k, v, t.long(), n), "dtype"),
    (lambda q, k, v, t, n: (q, k, v, t, n.long()), "dtype"),
    (lambda q, k, v, t, n: (q, k, v, t + 3, n), "out of range"),
    (lambda q, k, v, t, n: (q, k, v, t - 1, n), "out of range"),
    (lambda q, k, v, t, n: (q, k, v, t, n * 0), ">= 1"),
    (lambda q, k, v, t, n: (q, k, v, t, n + 20), "capacity"),
    (lambda q, k, v, t, n: (q[:, :3].contiguous(), k, v, t, n), "multiple"),
    (lambda q, k, v, t, n: (q[:1].contiguous(), k, v, t, n), "batch"),
    (lambda q, k, v, t, n: (q, k, v, t, n[:1].contiguous()), "entries"),
])
def test_bad_inputs_raise_before_launch(mutate, message):
    args = mutate(*_small())
    with pytest.raises(InputError, match=message):
        paged_decode(*args)


def test_unsupported_head_dim_raises():
    q, k, v, table, lens = _small(head_dim=64)
    pad = lambda x: torch.cat([x, x[..., :32]], dim=-1).contiguous()  # noqa: E731  head_dim 96
    with pytest.raises(InputError, match="head_dim 96"):
        paged_decode(pad(q), pad(k), pad(v), table, lens)


def test_selection_inputs_are_checked():
    q, k, v, table, lens = _small()
    summaries = new_page_summaries(4, 2, 64, "mean", dtype=torch.float16, device=DEVICE)
    with pytest.raises(InputError, match="budget"):
        select_pages(q, summaries, table, lens, 16, 0)
    with pytest.raises(InputError, match="budget"):
        block_topk_decode(q, k, v, table, lens, summaries, -3)
    with pytest.raises(InputError, match="num_sink_pages"):
        select_pages(q, summaries, table, lens, 16, 2, num_sink_pages=-1)
    with pytest.raises(InputError, match="kind"):
        update_page_summaries(k, table, lens, summaries, "median")
    with pytest.raises(InputError, match="summaries shape"):
        update_page_summaries(k, table, lens, summaries, "minmax")
    with pytest.raises(InputError, match="out of range"):
        select_pages(q, summaries, table + 2, lens, 16, 2)
    with pytest.raises(InputError, match="page_size"):
        select_pages(q, summaries, table, lens, 12, 2)
    with pytest.raises(InputError, match="method"):
        select_pages(q, summaries, table, lens, 16, 2, method="sort")
    with pytest.raises(InputError, match="fused"):
        block_topk_decode(q, k, v, table, lens, summaries, 2, fused="yes")
    with pytest.raises(InputError, match="budget"):
        block_topk_decode(q, k, v, table, lens, summaries, 0, fused=True)
    with pytest.raises(InputError, match="out of range"):
        block_topk_decode(q, k, v, table + 2, lens, summaries, 2, fused=True)
    with pytest.raises(InputError, match="start_lens"):
        update_page_summaries(k, table, lens, summaries, "mean", start_lens=lens)


def test_selected_pages_are_checked():
    q, k, v, table, lens = _small()
    bad_page = torch.tensor([[[0, 1]], [[0, 1]]], dtype=torch.int32, device=DEVICE).expand(2, 2, 2).contiguous()
    with pytest.raises(InputError, match="not a page of sequence 1"):  # sequence 1 has 9 tokens: one page
        sparse_paged_decode(q, k, v, table, lens, bad_page)
    twice = torch.zeros(2, 2, 2, dtype=torch.int32, device=DEVICE)
    with pytest.raises(InputError, match="twice"):
        sparse_paged_decode(q, k, v, table, lens, twice)
    with pytest.raises(InputError, match="shape"):
        sparse_paged_decode(q, k, v, table, lens, torch.zeros(2, 1, 1, dtype=torch.int32, device=DEVICE))
