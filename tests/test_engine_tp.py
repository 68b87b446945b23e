"""Tensor parallel on CPU: two gloo processes give the single-process engine's logits and tokens (float32)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_engine import PROMPTS, _save_hf  # noqa: E402  (the tiny checkpoints of the engine-vs-HF tests)

from kinetics.engine import LLM, AttentionConfig, SamplingParams  # noqa: E402
from kinetics.engine import parallel  # noqa: E402
from kinetics.errors import InputError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WORKER = Path(__file__).with_name("tp_worker.py")
DECODE_STEPS = 16
DENSE = {"page_size": 4}
SPARSE = {"kind": "blocktopk", "budget": 12, "page_size": 4, "sinks": 4}   # 3 pages of up to 12: really sparse
LONG = [list(range(1, 60)), [5] * 30, list(range(200, 245))]
TINY_CONFIG = {"architectures": ["Qwen3ForCausalLM"], "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
               "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
               "max_position_embeddings": 256}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(world: int, argv: list[str], ranks=None, timeout_s: float = 20, wait_s: float = 300):
    """Start `ranks` (default all) of a `world`-process job the way torchrun does; [(returncode, stderr)]."""
    port = _free_port()
    procs = []
    for r in (range(world) if ranks is None else ranks):
        env = dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), KINETICS_TP_TIMEOUT=str(timeout_s), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return [(p.wait(wait_s), p.communicate()[1]) for p in procs]


def _case(name, weights, attention, prompts=PROMPTS, **limits):
    return {"name": name, "weights": str(weights), "attention": attention, "prompts": prompts,
            "max_tokens": DECODE_STEPS, "limits": {"max_num_batched_tokens": 8, **limits}}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("tp")
    _save_hf(root / "dense", moe=False)
    _save_hf(root / "moe", moe=True)
    return root


@pytest.fixture(scope="module")
def tp_run(checkpoints):
    """Every case under TP=2 in one two-process job (starting processes is the slow part); rank 0's results."""
    root = checkpoints
    dense, moe = root / "dense", root / "moe"
    cases = [_case("dense", dense, DENSE), _case("dense-blocktopk", dense, SPARSE),
             _case("moe", moe, DENSE), _case("moe-blocktopk", moe, SPARSE),
             _case("preempted", dense, DENSE, prompts=LONG, num_pages=20, max_num_batched_tokens=16)]
    spec, out = root / "spec.json", root / "out.pt"
    spec.write_text(json.dumps({"tp": 2, "cases": cases}))
    results = launch(2, [str(WORKER), str(spec), str(out)])
    assert all(code == 0 for code, _ in results), results
    return {c["name"]: c for c in cases}, torch.load(out)


@pytest.mark.parametrize("name", ["dense", "dense-blocktopk", "moe", "moe-blocktopk"])
def test_two_ranks_give_the_single_process_logits_and_tokens(tp_run, name):
    cases, results = tp_run
    case = cases[name]
    llm = LLM(case["weights"], weights=case["weights"], attention=AttentionConfig(**case["attention"]),
              **case["limits"])
    params = SamplingParams(temperature=0, max_tokens=DECODE_STEPS, stop_token_ids=(), return_logits=True)
    single = llm.generate(case["prompts"], params)
    tokens, logits, _ = results[name]
    assert tokens == [o.token_ids for o in single]
    for mine, ref in zip(logits, single):
        assert mine.shape == (DECODE_STEPS, 256)
        torch.testing.assert_close(mine, torch.stack(ref.logits), atol=1e-5, rtol=1e-5)


def test_a_request_preempted_under_tp_finishes_with_the_same_tokens(tp_run):
    cases, results = tp_run
    case = cases["preempted"]
    roomy = LLM(case["weights"], weights=case["weights"], attention=AttentionConfig(**DENSE))
    params = SamplingParams(temperature=0, max_tokens=DECODE_STEPS, stop_token_ids=())
    tokens, _, preemptions = results["preempted"]
    assert preemptions > 0
    assert tokens == [o.token_ids for o in roomy.generate(LONG, params)]


def test_a_rank_that_never_starts_is_one_clear_line_not_a_hang(tmp_path):
    """Rank 1 of 2 never comes up: rank 0 stops after the process-group timeout with one line, exit 2."""
    argv = ["-m", "kinetics.cli", "generate", "--model", "qwen3-0.6b", "--prompt-ids", "1,2", "--tp", "2"]
    [(code, err)] = launch(2, argv, ranks=[0], timeout_s=3, wait_s=120)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("kinetics: error: tensor parallel: rank 0 of 2 could not reach")


def test_tp_must_divide_the_kv_heads():
    config = dict(TINY_CONFIG, num_attention_heads=6, num_key_value_heads=3)
    with pytest.raises(InputError, match="--tp 2 does not divide the model's num_key_value_heads \\(3\\)"):
        LLM(config, tensor_parallel=2)


def test_tp_without_torchrun_names_the_command():
    config = TINY_CONFIG
    env_world = os.environ.pop("WORLD_SIZE", None)
    try:
        with pytest.raises(InputError, match="torchrun --nproc-per-node 2"):
            LLM(config, tensor_parallel=2)
    finally:
        if env_world is not None:
            os.environ["WORLD_SIZE"] = env_world
    assert parallel.world_size() == 1


def test_grouped_expert_products_equal_the_per_expert_loop(monkeypatch):
    from kinetics.engine import qwen3

    torch.manual_seed(0)
    experts = qwen3.Qwen3Experts(num_experts=6, hidden=16, intermediate=8)
    torch.nn.init.normal_(experts.gate_up_proj)
    torch.nn.init.normal_(experts.down_proj)
    x = torch.randn(9, 16)
    picked = torch.stack([torch.randperm(6)[:2] for _ in range(9)])   # expert 5 may go unpicked: an empty group
    weights = torch.rand(9, 2)
    grouped = experts(x, picked, weights)
    monkeypatch.setattr(qwen3, "GROUPED_MM", False)
    torch.testing.assert_close(grouped, experts(x, picked, weights), atol=1e-5, rtol=1e-5)


def _cli(argv: list[str]) -> subprocess.CompletedProcess:
    """`kinetics ARGV` in a fresh process outside any torchrun job (so --tp/--dp start their own ranks)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return subprocess.run([sys.executable, "-m", "kinetics.cli", *argv], env=dict(env, OMP_NUM_THREADS="1"),
                          capture_output=True, text=True, timeout=300)


def test_generate_tp2_started_by_the_cli_gives_the_tp1_tokens(checkpoints):
    argv = ["generate", "--weights", str(checkpoints / "dense"), "--prompt-ids", "3,14,15,92,65",
            "--max-new-tokens", "12", "--ignore-eos", "--json"]
    one, two = _cli(argv), _cli(argv + ["--tp", "2"])
    assert one.returncode == 0 == two.returncode, two.stderr
    assert len(two.stdout.strip().splitlines()) == 1                   # rank 0 alone prints
    assert json.loads(two.stdout)["token_ids"] == json.loads(one.stdout)["token_ids"]


def test_replay_data_parallel_splits_the_problems_and_merges_them_in_order(tmp_path):
    from kinetics.engine.replay import ReplayProblem, ReplayWorkload

    problems = [ReplayProblem(i, 5 + i, [3 + i, 6]) for i in range(5)]
    (tmp_path / "w.json").write_text(ReplayWorkload("qwen3-8b", "aime24", "test", 2, problems).to_json())
    (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
    argv = ["replay", "--model", str(tmp_path / "config.json"), "--trace-model", "qwen3-8b", "--traces",
            str(tmp_path / "w.json"), "--trials", "2", "--json", "--page-size", "4"]
    single, split = _cli(argv), _cli(argv + ["--dp", "2"])
    assert single.returncode == 0 == split.returncode, split.stderr
    one, two = json.loads(single.stdout), json.loads(split.stdout)
    assert two["stats"]["engines"] == 2 and two["problems"] == 5 == len(two["problem_latency_s"])
    assert two["generated_tokens"] == one["generated_tokens"] == sum(sum(p.gen_tokens) for p in problems)
    assert two["requests"] == one["requests"] == 10


def test_more_data_parallel_engines_than_problems_is_one_clear_line(tmp_path):
    from kinetics.engine.replay import ReplayProblem, ReplayWorkload

    (tmp_path / "w.json").write_text(ReplayWorkload("qwen3-8b", "aime24", "t", 1, [ReplayProblem(0, 5, [3])])
                                     .to_json())
    (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
    out = _cli(["replay", "--model", str(tmp_path / "config.json"), "--trace-model", "qwen3-8b", "--traces",
                str(tmp_path / "w.json"), "--trials", "1", "--dp", "2"])
    assert out.returncode == 2
    assert out.stderr.strip() == "kinetics: error: --dp 2 is more engines than the 1 problems to replay"


def test_eval_data_parallel_writes_the_single_engine_traces(tmp_path):
    from test_eval import _save_tiny_model

    model = _save_tiny_model(tmp_path / "tiny")
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"problem": f"Compute ${a} + 4$.", "answer": str(a + 4)}) + "\n"
                                for a in range(3)))
    traces = {}
    for flags in ([], ["--dp", "2"]):
        out = tmp_path / f"dp{len(flags)}" / "aime24_qwen3-0-6b_dense.jsonl"
        run = _cli(["eval", "--weights", str(model), "--trials", "3", "--problems", str(problems), "--out",
                    str(out), "--max-new-tokens", "24", "--device", "cpu", "--model", "qwen3-0.6b", *flags])
        assert run.returncode == 0, run.stderr
        traces[len(flags)] = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    assert len(traces[2]) == 9 and traces[2] == traces[0]      # same samples, same (problem, trial) order
