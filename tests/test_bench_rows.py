"""The attention benchmark's bookkeeping without a GPU: the ceiling, the floors and the strongest baseline."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from kinetics.bench.attention import BASELINES, set_ceiling  # noqa: E402


def timed(ms: float) -> dict:
    return {"median_ms": ms}


def row(**totals) -> dict:
    contenders = {name: {"select": timed(ms / 2), "total": timed(ms)} for name, ms in totals.items()}
    return {"bytes_dense": 4e9, "bytes_topk": 1e9, "ours_dense": {**timed(1.1), "tbps": 3.6},
            "ours_topk": timed(0.5), "ours_select": timed(0.2), "ours_sparse_attn": timed(0.3),
            "flashinfer_dense": {**timed(1.0), "tbps": 4.0}, "flashinfer_sparse_attn": timed(0.3),
            "contenders": contenders}


def test_strongest_is_the_fastest_baseline_never_our_own_selection():
    result = {"shapes": [row(torch=0.7, torch_compiled=0.6, flashinfer_topk=0.65, ours_select=0.4)]}
    set_ceiling(result)
    r = result["shapes"][0]
    assert set(BASELINES) == {"torch", "torch_compiled", "flashinfer_topk"}
    assert r["strongest"] == "torch_compiled" and r["strongest_ms"] == 0.6
    assert r["topk_vs_strongest"] == pytest.approx(0.6 / 0.5)
    assert result["ceiling_tbps"] == 4.0 and "FlashInfer" in result["ceiling_source"]
    assert r["floor_topk_ms"] == pytest.approx(1e9 / 4e12 * 1e3)
    assert r["topk_over_floor"] == pytest.approx(0.5 / 0.25)


def test_a_failed_contender_is_left_out_of_the_comparison():
    r = row(torch=0.7, flashinfer_topk=0.8)
    r["contenders"]["torch_compiled"] = {"error": "RuntimeError('no compiler')"}
    result = {"shapes": [r]}
    set_ceiling(result)
    assert result["shapes"][0]["strongest"] == "torch"


def test_fp8_contenders_compete_and_our_faster_summaries_count():
    """With fp8 summaries every baseline also runs on them: the strongest is the fastest of both rounds, and ours
    is our faster block top-k; the bf16-summary floor keeps its definition and the fp8 floor is reported too."""
    r = row(torch=0.7, torch_compiled=0.6, flashinfer_topk=0.65)
    r["bytes_topk_fp8"] = 0.75e9
    r["fp8"] = {"ours_topk": timed(0.4), "contenders": {"torch_compiled": {"total": timed(0.55)},
                                                        "flashinfer_topk": {"total": timed(0.5)}}}
    result = {"shapes": [r]}
    set_ceiling(result)
    assert r["strongest"] == "flashinfer_topk+fp8" and r["strongest_ms"] == 0.5
    assert r["ours_best_summaries"] == "fp8" and r["topk_vs_strongest"] == pytest.approx(0.5 / 0.4)
    assert r["topk_bf16_vs_strongest"] == pytest.approx(0.5 / 0.5)
    assert r["topk_fp8_over_floor"] == pytest.approx(0.4 / 0.25)
    assert r["topk_fp8_over_floor_fp8"] == pytest.approx(0.4 / (0.75e9 / 4e12 * 1e3))


def test_the_harness_runs_its_fp8_round_on_the_interpreter(monkeypatch):
    """bench_shape's code paths on the CPU (Triton interpreter, no FlashInfer; the timer replaced by one call,
    so only the correctness fields are meaningful): fp8 selections agree with bf16 ones on most pages."""
    import os

    import torch

    from kinetics.bench import attention

    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("needs the interpreter")
    monkeypatch.setattr(attention, "DEVICE", "cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(attention, "time_ms", lambda fn, runs=50: (fn(), timed(1.0))[1])
    r = attention.bench_shape(4, 1024, 16, 9, 4, torch.bfloat16, False, 50, None)
    assert r["rel_err_topk_vs_torch"] < 0.02 and r["fp8"]["rel_err_topk_vs_torch"] < 0.02
    assert 0.5 < r["fp8"]["same_pages_as_bf16"] <= 1.0
    assert r["bytes_topk_fp8"] < r["bytes_topk"]
