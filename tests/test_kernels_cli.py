"""`kinetics bench attention` without a GPU: one clear error line, exit code 2; the sub-subcommand table works."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from kinetics import cli  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_bench_attention_without_gpu_is_one_clear_error(capsys):
    assert cli.main(["bench", "attention", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error:") and "CUDA GPU" in err and "Traceback" not in err


def test_bench_lists_its_benchmarks(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    assert "attention" in capsys.readouterr().out


def test_bench_without_a_benchmark_prints_help(capsys):
    assert cli.main(["bench"]) == 2


def test_bench_attention_tune_parts_are_checked_first(capsys):
    assert cli.main(["bench", "attention", "--tune", "dense,sideways"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error: --tune") and "sideways" in err and err.count("\n") == 1
