import json

import pytest

from kinetics.cli import main
from kinetics.errors import InputError
from kinetics.hardware import PAPER_INTENSITY, PRESETS, get_hardware, hardware_from_numbers, resolve_hardware
from kinetics.models import PRESET_CONFIGS, ModelSpec, canonical_name, get_model


def test_paper_intensity_is_b200_fp8_over_bandwidth():
    assert PAPER_INTENSITY == pytest.approx(562.5, rel=1e-12)
    assert get_hardware("B200").intensity("fp8") == pytest.approx(4.5e15 / 8e12)


def test_presets_cover_the_datasheets_and_aliases():
    assert {"a100-80g", "h100-sxm", "h200", "b200", "mi300x"} <= set(PRESETS)
    assert get_hardware("h100") is PRESETS["h100-sxm"]
    for hw in PRESETS.values():
        assert hw.source and hw.memory_bytes > 0 and hw.intensity("bf16") > 50


def test_raw_numbers_and_resolution():
    hw = hardware_from_numbers(2250, 8)
    assert hw.intensity() == pytest.approx(281.25)
    assert resolve_hardware("h200") is PRESETS["h200"]
    assert resolve_hardware(None, 1000, 4).intensity() == pytest.approx(250)


@pytest.mark.parametrize("peak, bw", [(float("nan"), 3), (1000, float("inf")), (-1, 3), (1000, 0), ("x", 3)])
def test_non_finite_hardware_numbers_are_rejected(peak, bw):
    with pytest.raises(InputError, match="finite positive"):
        hardware_from_numbers(peak, bw)


def test_unknown_hardware_lists_known():
    with pytest.raises(InputError, match="known: a100-80g"):
        get_hardware("tpu-v9")


# Official parameter counts from the Qwen3 model cards / technical report (arXiv 2505.09388, table 1 and cards):
# 0.6B -> 0.6B (0.596e9 with tied embeddings), 32B -> 32.8B; MoE: 30.5B total / 3.3B active, 235B / 22B.
@pytest.mark.parametrize("name, total, active, tol", [
    ("qwen3-0.6b", 0.596e9, 0.596e9, 0.002), ("qwen3-1.7b", 1.72e9, 1.72e9, 0.005),
    ("qwen3-4b", 4.02e9, 4.02e9, 0.005), ("qwen3-8b", 8.19e9, 8.19e9, 0.002),
    ("qwen3-14b", 14.77e9, 14.77e9, 0.002), ("qwen3-32b", 32.76e9, 32.76e9, 0.001),
    ("qwen3-30b-a3b", 30.5e9, 3.3e9, 0.02), ("qwen3-235b-a22b", 235e9, 22e9, 0.02),
])
def test_parameter_counts_match_official(name, total, active, tol):
    spec = get_model(name)
    assert spec.params_total == pytest.approx(total, rel=tol)
    assert spec.params_active == pytest.approx(active, rel=tol)


def test_tied_embeddings_counted_once_and_matmul_params():
    small = get_model("qwen3-0.6b")
    assert small.tie_word_embeddings and small.params_matmul == small.params_total
    big = get_model("qwen3-8b")
    assert big.params_matmul == big.params_total - big.params_embedding


def test_kv_bytes_per_token():
    spec = get_model("qwen3-8b")  # 8 KV heads x 128 x 36 layers x (K and V) x 2 bytes
    assert spec.kv_bytes_per_token(2) == 2 * 8 * 128 * 36 * 2
    assert spec.group_size == 4
    assert get_model("qwen3-0.6b").kv_bytes_per_token(1) == 2 * 8 * 128 * 28


def test_names_and_paths(tmp_path):
    assert canonical_name("qwen3-0-6b") == "qwen3-0.6b"
    assert canonical_name("Qwen/Qwen3-4B") == "qwen3-4b"
    assert get_model("qwen3-1-7b").name == "qwen3-1.7b"
    (tmp_path / "config.json").write_text(json.dumps(PRESET_CONFIGS["qwen3-30b-a3b"]))
    assert get_model(str(tmp_path)).params_total == get_model("qwen3-30b-a3b").params_total
    assert get_model(str(tmp_path / "config.json")).is_moe


def test_config_missing_field(tmp_path):
    config = dict(PRESET_CONFIGS["qwen3-8b"])
    del config["hidden_size"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(InputError, match="missing field 'hidden_size'"):
        ModelSpec.from_config(path)
    with pytest.raises(InputError, match="not supported"):
        ModelSpec.from_config({**PRESET_CONFIGS["qwen3-8b"], "model_type": "bert"})


def test_cli_hardware_and_models(capsys):
    assert main(["hardware", "show", "b200", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["intensity"]["fp8"] == pytest.approx(562.5)
    assert main(["models", "show", "qwen3-32b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params_total"] == get_model("qwen3-32b").params_total
    assert main(["hardware", "show", "nope"]) == 2
    assert "unknown hardware 'nope'" in capsys.readouterr().err
    assert main(["models", "show", "nope"]) == 2
    assert main(["models", "list"]) == 0 and "qwen3-235b-a22b" in capsys.readouterr().out


def test_raw_numbers_carry_an_fp8_peak_for_the_paper_convention(capsys):
    raw = resolve_hardware(None, 989, 3.35, 80, fp8_tflops=1979)
    assert raw.paper_dtype == "fp8" and raw.intensity("fp8") == pytest.approx(PRESETS["h100-sxm"].intensity("fp8"))
    assert resolve_hardware(None, 989, 3.35).paper_dtype == "bf16"
    with pytest.raises(InputError, match="FP8 peak .* goes with raw numbers"):
        resolve_hardware("h100", fp8_tflops=1979)
    common = ["cost", "--model", "qwen3-8b", "--prompt-tokens", "155", "--gen-tokens", "16000", "--convention",
              "paper", "--json"]
    records = []
    for hardware in (["--hardware", "h100"], ["--peak-tflops", "989", "--hbm-tbps", "3.35", "--memory-gb", "80",
                                              "--fp8-tflops", "1979"]):
        assert main(common + hardware) == 0
        records.append(json.loads(capsys.readouterr().out))
    assert records[0]["eflops"] == pytest.approx(records[1]["eflops"], rel=1e-12)
