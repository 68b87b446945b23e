"""`kinetics generate` and `kinetics replay` end to end on CPU (tiny random models)."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from kinetics.cli import main  # noqa: E402
from kinetics.engine.replay import ReplayProblem, ReplayWorkload, load_workload  # noqa: E402
from kinetics.errors import InputError  # noqa: E402

TINY = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 300, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "max_position_embeddings": 2048, "eos_token_id": 7}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY))
    return path


def test_generate_json_is_deterministic_and_equals_the_api(config_file, capsys):
    argv = ["generate", "--model", str(config_file), "--prompt-ids", "11,22,33", "--max-new-tokens", "12",
            "--ignore-eos", "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["token_ids"] == first["token_ids"]
    assert len(first["token_ids"]) == 12 and first["finish_reason"] == "length"
    from kinetics.engine import LLM, SamplingParams

    api = LLM(str(config_file)).generate([[11, 22, 33]], SamplingParams(temperature=0, max_tokens=12, seed=0,
                                                                        stop_token_ids=()))[0]
    assert api.token_ids == first["token_ids"]


def test_generate_blocktopk_with_large_budget_equals_dense(config_file, capsys):
    base = ["generate", "--model", str(config_file), "--prompt-ids", ",".join(map(str, range(1, 40))),
            "--max-new-tokens", "10", "--ignore-eos", "--json", "--page-size", "4"]
    assert main(base) == 0
    dense = json.loads(capsys.readouterr().out)["token_ids"]
    assert main(base + ["--attention", "blocktopk", "--budget", "64"]) == 0
    assert json.loads(capsys.readouterr().out)["token_ids"] == dense


@pytest.mark.parametrize("extra, message", [
    (["--prompt-ids", "1,x"], "comma-separated"),
    (["--prompt-ids", "1,2", "--temperature", "-1"], "temperature"),
    (["--prompt-ids", "1,2", "--attention", "blocktopk", "--budget", "8"], "budget"),
    (["--prompt-ids", "1,99999"], "vocabulary"),
])
def test_generate_bad_input_is_one_line_and_exit_2(config_file, capsys, extra, message):
    assert main(["generate", "--model", str(config_file)] + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error:") and message in err and "Traceback" not in err


def test_generate_missing_weights_dir(tmp_path, capsys):
    assert main(["generate", "--weights", str(tmp_path / "nope"), "--prompt-ids", "1"]) == 2
    assert "kinetics: error:" in capsys.readouterr().err


def _workload(tmp_path):
    workload = ReplayWorkload("qwen3-8b", "aime24", "test", 3, [
        ReplayProblem(0, 30, [40, 12, 25]), ReplayProblem(1, 20, [8, 50, 33])])
    path = tmp_path / "workload.json"
    path.write_text(workload.to_json())
    return path


def test_replay_runs_every_recorded_length(tmp_path, config_file, capsys):
    argv = ["replay", "--model", str(config_file), "--trace-model", "qwen3-8b", "--traces",
            str(_workload(tmp_path)), "--trials", "3", "--page-size", "4", "--num-pages", "20",
            "--hardware", "h100", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["generated_tokens"] == 40 + 12 + 25 + 8 + 50 + 33
    assert result["prompt_tokens"] == 3 * 30 + 3 * 20
    assert result["requests"] == 6 and result["problems"] == 2
    assert result["stats"]["peak_pages"] <= 20 and result["stats"]["preemptions"] > 0
    assert result["predicted"]["seconds"] > 0 and len(result["problem_latency_s"]) == 2
    assert main(argv[:-1] + ["--attention", "blocktopk", "--budget", "8"]) == 0
    assert "tokens/s" in capsys.readouterr().out


def test_replay_needs_a_trace_model_for_a_config(config_file, capsys):
    assert main(["replay", "--model", str(config_file)]) == 2
    assert "--trace-model" in capsys.readouterr().err


def test_workload_scaling_and_limits(tmp_path):
    path = _workload(tmp_path)
    w = load_workload(path, trials=2, length_scale=0.5, max_gen_tokens=10)
    assert [p.gen_tokens for p in w.problems] == [[10, 6], [4, 10]]
    with pytest.raises(InputError, match="trials"):
        load_workload(path, trials=4)
    with pytest.raises(InputError, match="length scale"):
        load_workload(path, length_scale=0)


def test_workload_from_the_authors_tables():
    w = load_workload(None, "qwen3-8b", "aime24", trials=8, max_problems=2)
    assert w.source.startswith("aime24_qwen3-8b_dense") and len(w.problems) == 2
    assert all(len(p.gen_tokens) == 8 and p.prompt_tokens > 50 for p in w.problems)
    sparse = load_workload(None, "qwen3-8b", "aime24", trials=8, lengths_from="blocktopk-1024-16")
    assert "block16_blocktopk64" in sparse.source and len(sparse.problems) == 30


def test_generate_from_a_saved_hugging_face_directory(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.Qwen3Config(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                      eos_token_id=None, bos_token_id=None, pad_token_id=None)
    model = transformers.Qwen3ForCausalLM(config).float().eval()
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert main(["generate", "--weights", str(tmp_path), "--prompt-ids", "11,22,33", "--max-new-tokens", "6",
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["token_ids"]
    with torch.no_grad():
        want = model.generate(torch.tensor([[11, 22, 33]]), max_new_tokens=6, min_new_tokens=6,
                              do_sample=False)[0, 3:].tolist()
    assert got == want


def test_replay_saturate_keeps_the_cache_full(tmp_path, config_file, capsys):
    argv = ["replay", "--model", str(config_file), "--trace-model", "qwen3-8b", "--traces",
            str(_workload(tmp_path)), "--trials", "3", "--page-size", "4", "--num-pages", "40",
            "--saturate", "5", "--fill", "0.9", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["requests"] >= 1 and result["whole"]["preemptions"] == 0
    assert 0 < result["steady"]["occupancy_max"] <= 0.9 + 1e-9
    assert main(argv[:-1]) == 0
    assert "steady state" in capsys.readouterr().out
    assert main(argv[:-3] + ["--num-pages", "2", "--saturate", "5"]) == 2   # no request fits
    assert "cache is too small" in capsys.readouterr().err
