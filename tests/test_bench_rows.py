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
