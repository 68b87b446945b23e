"""fp8 page summaries against bf16 ones on a small problem (the Triton interpreter on CPU)."""
from __future__ import annotations

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from kinetics.bench import summary_quality  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def test_fp8_summaries_find_the_hot_pages_under_a_large_offset():
    row = summary_quality.measure_case("offset", rows=2, context=1024, budget=9, hot=4, seed=0, device=DEVICE)
    assert row["clamped_share"] == 0.0
    assert row["hot_recall_bf16"] == 1.0 and row["hot_recall_fp8"] == 1.0
    assert row["err_fp8_vs_dense"] < 0.1  # the hot pages carry most of the attention
    assert 0.0 < row["agreement"] <= 1.0


def test_bad_sizes_are_one_clear_error(tmp_path, capsys):
    assert summary_quality.main(["--out", str(tmp_path / "q.json"), "--context", "100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error: --context") and err.count("\n") == 1
    assert not (tmp_path / "q.json").exists()
