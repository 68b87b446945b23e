"""Chapter 4's byte model, page-size experiment and figures (from the committed H100 benchmark)."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from kinetics.errors import InputError  # noqa: E402
from kinetics.bench.analysis import decode_traffic, needle_recall  # noqa: E402
from kinetics.plots import kernels as plots  # noqa: E402


def test_decode_traffic_counts_pages_and_metadata():
    t = decode_traffic(context=1000, budget_tokens=100, page_size=16, head_dim=64, dtype_bytes=2)
    assert t["dense"] == 2 * 1000 * 64 * 2
    assert t["selected_kv"] == 2 * 7 * 16 * 64 * 2  # ceil(100 / 16) = 7 whole pages
    assert t["metadata"] == 63 * (64 * 2 + 4)  # ceil(1000 / 16) = 63 mean keys and table entries
    assert t["ratio"] == pytest.approx(t["dense"] / (t["selected_kv"] + t["metadata"]))
    whole = decode_traffic(context=100, budget_tokens=4096, page_size=16, head_dim=64)
    assert whole["selected_kv"] == whole["dense"]  # a budget past the sequence reads it all, once


def test_larger_pages_keep_less_attention_mass_at_a_fixed_budget():
    small, large = (needle_recall(p, 256, context=1024, seeds=3) for p in (8, 64))
    assert 0 < large < small <= 1


def test_figures_from_the_saved_benchmark():
    result = plots.load_attention()
    assert result["provenance"]["device"].startswith("NVIDIA")
    for figure in (plots.speedup_vs_context, plots.bandwidth_vs_ceiling, plots.time_breakdown,
                   plots.layer_throughput):
        fig = figure(result)
        assert fig.axes and fig.axes[0].get_ylabel()


def test_missing_benchmark_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="kinetics bench attention"):
        plots.load_attention(path=tmp_path / "none.json")


def test_launch_check_reads_the_saved_run_at_todays_split_rule():
    from kinetics.plots.kernels import launch_check

    check = launch_check("nvidia-h200")
    picks = {(r["kernel"], r["rows"], r["context"]): r["splits"] for r in check["rows"]}
    assert picks[("dense", 2048, 32768)] == 1 and picks[("dense", 512, 32768)] == 2
    assert picks[("sparse", 512, 32768)] == 1
    for r in check["rows"]:
        assert r["vs_flashinfer"] == r["flashinfer_ms"] / r["ours_ms"] and r["ours_ms"] > 0
    assert launch_check("no-such-device") is None
