"""`kinetics cost`: JSON totals in SI units, per-trial lengths, and one clear line with exit code 2 on bad input."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from kinetics.cli import main
from kinetics.cost import Attention, generation_cost

BASE = ["cost", "--model", "qwen3-8b", "--hardware", "b200", "--prompt-tokens", "155"]


def run_json(capsys, *extra):
    assert main(BASE + list(extra) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_totals_and_breakdown(capsys):
    record = run_json(capsys, "--gen-tokens", "16384", "--trials", "4")
    want = generation_cost("qwen3-8b", "b200", 155, 16384, trials=4)
    for key in ("flops", "memory_bytes", "eflops", "seconds"):
        assert math.isclose(record[key], getattr(want, key), rel_tol=1e-12)
    assert set(record["breakdown"]) >= {"flops_params", "flops_attention", "bytes_kv", "bytes_weights"}
    assert record["gen_tokens"] == [16384]


def test_comma_separated_lengths_are_one_per_trial(capsys):
    record = run_json(capsys, "--gen-tokens", "1000,5000,300", "--attention", "blocktopk", "--budget", "1024",
                      "--block-size", "16", "--convention", "paper")
    want = generation_cost("qwen3-8b", "b200", 155, [1000, 5000, 300], Attention.blocktopk(1024, 16),
                           convention="paper")
    assert math.isclose(record["eflops"], want.eflops, rel_tol=1e-12)
    assert record["intensity"] == 562.5


def test_text_output_and_raw_hardware_numbers(capsys):
    assert main(BASE + ["--gen-tokens", "2000", "--peak-tflops", "989", "--hbm-tbps", "3.35",
                        "--memory-gb", "80"]) == 0
    out = capsys.readouterr().out
    assert "tera-eFLOPs" in out and "989 TFLOP/s, 3.35 TB/s" in out


def test_console_script_runs():
    done = subprocess.run([sys.executable, "-m", "kinetics.cli"] + BASE + ["--gen-tokens", "100", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["eflops"] > 0


@pytest.mark.parametrize("extra, text", [
    (["--gen-tokens", "0"], "generated tokens must be integers >= 1"),
    (["--gen-tokens", "-10"], "generated tokens must be integers >= 1"),
    (["--gen-tokens", "100,abc"], "--gen-tokens must be an integer or a comma-separated list"),
    (["--gen-tokens", "100", "--trials", "0"], "trials must be an integer >= 1"),
    (["--gen-tokens", "100,200", "--trials", "3"], "2 generation lengths given for 3 trials"),
    (["--gen-tokens", "100", "--attention", "topk"], "--attention topk needs --budget"),
    (["--gen-tokens", "100", "--attention", "topk", "--budget", "0"], "budget must be an integer > 0"),
    (["--gen-tokens", "100", "--attention", "blocktopk", "--budget", "100", "--block-size", "16"],
     "block size 16 does not divide the budget 100"),
    (["--gen-tokens", "100", "--peak-tflops", "nan", "--hbm-tbps", "3"], "peak TFLOP/s must be a finite"),
    (["--gen-tokens", "100", "--peak-tflops", "900"], "give both --peak-tflops and --hbm-tbps"),
    (["--gen-tokens", "100", "--hardware", "tpu-v9"], "unknown hardware 'tpu-v9'; known: a100-80g"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, extra, text):
    assert main(BASE + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kinetics: error: ") and text in err and "\n" not in err


def test_bad_model_and_config(capsys, tmp_path):
    args = ["cost", "--hardware", "b200", "--prompt-tokens", "155", "--gen-tokens", "100", "--model"]
    assert main(args + ["qwen3-9b"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown model 'qwen3-9b'; known: qwen3-0.6b" in err and "\n" not in err
    config = tmp_path / "config.json"
    config.write_text('{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10}')
    assert main(args + [str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing field 'intermediate_size'" in err and "\n" not in err
    assert main(BASE[:-1] + ["-7", "--gen-tokens", "100"]) == 2
    assert "prompt tokens must be integers >= 1" in capsys.readouterr().err
